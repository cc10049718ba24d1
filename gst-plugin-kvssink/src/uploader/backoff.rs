// SPDX-License-Identifier: MPL-2.0
//! Exponential backoff with jitter between reconnection attempts.

use std::time::Duration;

const BASE: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    attempt: u32,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new(max: Duration) -> Self {
        Self { attempt: 0, max }
    }

    /// Attempts since the last success.
    pub(crate) fn attempt(&self) -> u32 {
        self.attempt
    }

    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The ceiling for the current attempt: 100 ms × 2ⁿ, capped.
    pub(crate) fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(20)).unwrap_or(u32::MAX);
        BASE.saturating_mul(factor).min(self.max.max(BASE))
    }

    /// The next delay: between half the ceiling and the ceiling, so that many producers that
    /// lost the same link do not reconnect in step, yet none retries at once in a tight loop.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        let extra = if jitter_ms == 0 {
            0
        } else {
            rand::random_range(0..=jitter_ms)
        };
        half + Duration::from_millis(extra)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps() {
        let mut b = Backoff::new(Duration::from_secs(2));
        let mut last_ceiling = Duration::ZERO;
        for _ in 0..10 {
            let ceiling = b.ceiling();
            let d = b.next_delay();
            assert!(d >= ceiling / 2 && d <= ceiling, "{d:?} vs {ceiling:?}");
            assert!(ceiling >= last_ceiling);
            last_ceiling = ceiling;
        }
        assert_eq!(last_ceiling, Duration::from_secs(2));
        b.reset();
        assert_eq!(b.ceiling(), BASE);
        assert_eq!(b.attempt(), 0);
    }
}
