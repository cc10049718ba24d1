// SPDX-License-Identifier: MPL-2.0
//! Durable fragment storage: append-only chunk files per stream plus a SQLite index
//! (DATA_DIR/media-index.db), a group-committing writer thread, crash recovery, retention,
//! and the per-stream live ring that GetMedia reads frames from as they arrive.
//!
//! What belongs here: bytes, rows, durability, ordering. What does not: HTTP, MKV parsing,
//! ACKs, API shapes (see `crate::dataplane`).

mod checkpoint;
mod chunk_file;
mod committer;
mod fragment_id;
pub mod fragment_tags;
mod live;
mod query;
mod recovery;
mod schema;
mod store;

pub use fragment_id::{FRAGMENT_NUMBER_LEN, FragmentId};
pub use live::{Durability, LiveEnd, LiveFragment, LiveLimits, LiveRead, LiveRing};
pub use query::{FragmentMeta, TimestampKind};
pub use store::{MediaOptions, MediaStore, PendingFragment, StoredFragment, StreamMedia};

use bytes::Bytes;

/// The producer's stream header as re-emitted in front of each GetMedia document: EBML
/// header, Segment start (unknown size), Info and Tracks, byte for byte.
#[derive(Debug)]
pub struct Header {
    pub id: i64,
    pub hash: i64,
    pub timecode_scale_ns: u64,
    pub bytes: Bytes,
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("media index: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("media file I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("media index is inconsistent: {0}")]
    Corrupt(String),
    #[error("stream was deleted")]
    StreamDeleted,
    #[error("media store is shut down")]
    ShutDown,
    #[error("fragment not found")]
    FragmentNotFound,
}

/// Wall clock in epoch milliseconds.
pub fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Oldest server timestamp still visible under `retention_hours` (0 keeps nothing).
pub fn retention_cutoff_ms(retention_hours: u32, now_ms: i64) -> i64 {
    if retention_hours == 0 {
        i64::MAX
    } else {
        now_ms.saturating_sub(i64::from(retention_hours) * 3_600_000)
    }
}

#[cfg(test)]
mod tests;
