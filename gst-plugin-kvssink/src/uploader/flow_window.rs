// SPDX-License-Identifier: MPL-2.0
//! The flow-control window for non-live input: how many unacknowledged bytes the producer may
//! get ahead of the service's ACKs.
//!
//! A fixed window is wrong on one side or the other: against a nearby service (ACKs in a few
//! ms) a small one already keeps the connection busy and saves memory; over a long link
//! (PERSISTED about a second after a fragment's last byte) the upload only goes at the window
//! per round trip. So the window starts small and doubles, up to the configured cap, each time
//! the producer had to wait long for room: a long wait means the ACK round trip, not the
//! producer, sets the pace.

use std::time::Duration;

/// Where the window starts (and stays while ACKs come quickly).
pub const INITIAL_WINDOW: u64 = 1024 * 1024;
/// A wait at least this long grows the window.
pub const GROW_AFTER: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowWindow {
    current: u64,
    cap: u64,
}

impl FlowWindow {
    pub fn new(cap: u64) -> Self {
        Self {
            current: INITIAL_WINDOW.min(cap),
            cap,
        }
    }

    pub fn current(&self) -> u64 {
        self.current
    }

    /// Accounts for one wait for room that lasted `waited`.
    pub fn after_wait(&mut self, waited: Duration) {
        if waited >= GROW_AFTER {
            self.current = self.current.saturating_mul(2).min(self.cap);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_small_and_grows_only_after_long_waits_up_to_the_cap() {
        let mut w = FlowWindow::new(32 * 1024 * 1024);
        assert_eq!(w.current(), INITIAL_WINDOW);
        w.after_wait(Duration::from_millis(5));
        assert_eq!(w.current(), INITIAL_WINDOW, "quick ACKs keep it small");
        w.after_wait(GROW_AFTER);
        assert_eq!(w.current(), 2 * INITIAL_WINDOW);
        for _ in 0..10 {
            w.after_wait(Duration::from_secs(1));
        }
        assert_eq!(w.current(), 32 * 1024 * 1024, "never beyond the cap");
    }

    #[test]
    fn a_cap_below_the_initial_window_is_the_window() {
        let w = FlowWindow::new(256 * 1024);
        assert_eq!(w.current(), 256 * 1024);
    }
}
