// SPDX-License-Identifier: MPL-2.0
//! Exponential backoff between reconnection attempts.

use std::time::Duration;

const FIRST: Duration = Duration::from_millis(100);
const MAX: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub(crate) struct Backoff {
    /// Consecutive failures since the last success.
    failures: u32,
}

impl Backoff {
    /// Records a failure and returns how long to wait before the next attempt.
    pub(crate) fn fail(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let exp = self.failures.saturating_sub(1).min(16);
        FIRST.saturating_mul(1 << exp).min(MAX)
    }

    pub(crate) fn failures(&self) -> u32 {
        self.failures
    }

    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap() {
        let mut b = Backoff::default();
        assert_eq!(b.fail(), Duration::from_millis(100));
        assert_eq!(b.fail(), Duration::from_millis(200));
        for _ in 0..20 {
            b.fail();
        }
        assert_eq!(b.fail(), MAX);
        b.reset();
        assert_eq!(b.failures(), 0);
    }
}
