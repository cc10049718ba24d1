// SPDX-License-Identifier: MPL-2.0
//! The `kvs-loadgen` load generator (used only by that binary): N PutMedia producers at the
//! recording's bit rate plus one live GetMedia reader per stream, against a kvs-local server
//! run as a separate process; prints CPU, memory and latency figures.

pub mod client;
pub mod procstat;
pub mod producer;
pub mod reader;
pub mod recording;
pub mod report;
pub mod run;
pub mod sendlog;
pub mod server_proc;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("recording: {0}")]
    Recording(String),
    #[error("setup: {0}")]
    Setup(String),
    #[error("http: {0}")]
    Http(String),
}

/// Maps monotonic instants to wall-clock milliseconds, fixed once so every stream's
/// timecodes and every latency come from the same monotonic clock.
#[derive(Clone, Copy)]
pub struct Clock {
    instant: Instant,
    wall_ms: u64,
}

impl Clock {
    pub fn now() -> Clock {
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Clock {
            instant: Instant::now(),
            wall_ms,
        }
    }

    pub fn wall_ms(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.instant);
        self.wall_ms
            .saturating_add(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
    }
}

/// The measurement window: samples are kept for frames and fragments sent inside it.
#[derive(Clone, Copy)]
pub struct Window {
    pub start: Instant,
    pub end: Instant,
}

impl Window {
    pub fn contains(&self, t: Instant) -> bool {
        t >= self.start && t < self.end
    }

    pub fn length(&self) -> Duration {
        self.end.saturating_duration_since(self.start)
    }
}
