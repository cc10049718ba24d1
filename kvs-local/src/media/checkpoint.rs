// SPDX-License-Identifier: MPL-2.0
//! WAL checkpoints off the commit path: SQLite would otherwise run one inside whichever
//! commit crosses the auto-checkpoint size, adding a database fsync to that group commit's
//! PERSISTED latency. A PASSIVE checkpoint never blocks the committer.

use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::MediaError;

const INTERVAL: Duration = Duration::from_secs(1);

pub fn spawn(
    db_path: &Path,
    stop: Receiver<()>,
) -> Result<std::thread::JoinHandle<()>, MediaError> {
    let conn = Connection::open_with_flags(
        db_path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    Ok(std::thread::Builder::new()
        .name("kvs-media-checkpoint".into())
        .spawn(move || {
            // Anything but a timeout (a stop message, or the store gone) ends the thread.
            while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(INTERVAL) {
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
        })?)
}
