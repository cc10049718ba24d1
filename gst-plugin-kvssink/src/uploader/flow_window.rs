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

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Where the window starts (and stays while ACKs come quickly).
pub const INITIAL_WINDOW: u64 = 1024 * 1024;
/// A wait at least this long grows the window.
pub const GROW_AFTER: Duration = Duration::from_millis(200);

/// Read on every frame, changed only after a long wait: an atomic, not a lock.
#[derive(Debug)]
pub struct FlowWindow {
    current: AtomicU64,
    cap: u64,
}

impl FlowWindow {
    pub fn new(cap: u64) -> Self {
        Self {
            current: AtomicU64::new(INITIAL_WINDOW.min(cap)),
            cap,
        }
    }

    pub fn current(&self) -> u64 {
        self.current.load(Ordering::Relaxed)
    }

    /// Accounts for one wait for room that lasted `waited`.
    pub fn after_wait(&self, waited: Duration) {
        if waited >= GROW_AFTER {
            let grown = self.current().saturating_mul(2).min(self.cap);
            self.current.store(grown, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_small_and_grows_only_after_long_waits_up_to_the_cap() {
        let w = FlowWindow::new(32 * 1024 * 1024);
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
