// SPDX-License-Identifier: MPL-2.0
//! The media index schema (DATA_DIR/media-index.db) and how connections to it are opened.
//!
//! Invariant: every `fragment` row points at bytes that were fsynced before the row was
//! committed. `chunk.committed_bytes` is the end of the last committed fragment in that
//! chunk file; anything in the file past it is an uncommitted tail.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::MediaError;

pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS version (
    id INTEGER PRIMARY KEY,
    applied_ms INTEGER NOT NULL
);

-- One row per stream that ever received media. AUTOINCREMENT so that a stream created
-- after a DeleteStream never reuses an id, which keeps fragment numbers unique forever.
CREATE TABLE IF NOT EXISTS stream (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    arn TEXT NOT NULL UNIQUE,
    retention_hours INTEGER NOT NULL,
    -- Every seq below this may have been handed out (in an ACK); seqs are taken from a
    -- block reserved durably ahead of use, so numbers are never reused after a crash.
    reserved_seq INTEGER NOT NULL
);

-- The producer's EBML header + Segment start + Info + Tracks, stored once per distinct value
-- and re-emitted verbatim in front of every GetMedia document.
CREATE TABLE IF NOT EXISTS header (
    id INTEGER PRIMARY KEY,
    hash INTEGER NOT NULL,
    timecode_scale_ns INTEGER NOT NULL,
    bytes BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS header_hash ON header (hash);

-- Append-only media files, one sequence per stream; id = stream_id << 32 | chunk_seq.
CREATE TABLE IF NOT EXISTS chunk (
    id INTEGER PRIMARY KEY,
    stream_id INTEGER NOT NULL,
    committed_bytes INTEGER NOT NULL,
    max_server_ts_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunk_stream ON chunk (stream_id, max_server_ts_ms);

-- One row per persisted fragment (= one producer Cluster). fragment_id = stream_id << 40 | seq.
-- offset/length locate the Cluster's children (Timecode, SimpleBlocks...) in the chunk file.
CREATE TABLE IF NOT EXISTS fragment (
    fragment_id INTEGER PRIMARY KEY,
    stream_id INTEGER NOT NULL,
    chunk_id INTEGER NOT NULL,
    offset_bytes INTEGER NOT NULL,
    length_bytes INTEGER NOT NULL,
    producer_ts_ms INTEGER NOT NULL,
    server_ts_ms INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    cluster_timecode INTEGER NOT NULL,
    frame_count INTEGER NOT NULL,
    header_id INTEGER NOT NULL,
    -- Producer fragment metadata as a JSON array of [name, value] pairs.
    tags_json TEXT NOT NULL
);
-- Covering indexes: ListFragments by either timestamp never touches the table.
CREATE INDEX IF NOT EXISTS fragment_by_server_ts ON fragment
    (stream_id, server_ts_ms, fragment_id, length_bytes, producer_ts_ms, duration_ms);
CREATE INDEX IF NOT EXISTS fragment_by_producer_ts ON fragment
    (stream_id, producer_ts_ms, fragment_id, length_bytes, server_ts_ms, duration_ms);
CREATE INDEX IF NOT EXISTS fragment_by_chunk ON fragment (chunk_id);
";

/// Opens the single read-write connection (owned by the committer) and creates the schema.
pub fn open_writer(path: &Path) -> Result<Connection, MediaError> {
    let conn = Connection::open(path)?;
    // WAL + synchronous=FULL: a commit returns only once the WAL is fsynced, and readers on
    // other connections never wait for the writer.
    conn.pragma_update(None, "journal_mode", "wal")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Checkpoints run on their own thread (see checkpoint.rs), not inside commits.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.pragma_update(None, "foreign_keys", "on")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch(SCHEMA)?;
    let now = super::now_ms();
    conn.execute(
        "INSERT OR IGNORE INTO version (id, applied_ms) VALUES (?1, ?2)",
        rusqlite::params![SCHEMA_VERSION, now],
    )?;
    let newest: i64 = conn.query_row("SELECT MAX(id) FROM version", [], |r| r.get(0))?;
    if newest > SCHEMA_VERSION {
        return Err(MediaError::Corrupt(format!(
            "media index has schema version {newest}, this build knows {SCHEMA_VERSION}"
        )));
    }
    Ok(conn)
}

/// Opens a read-only connection for queries that must not wait behind a commit.
pub fn open_reader(path: &Path) -> Result<Connection, MediaError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}
