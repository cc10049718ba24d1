// SPDX-License-Identifier: MPL-2.0
//! The control-plane database (DATA_DIR/kvs-local.db): streams, their tags and their image and
//! notification configuration. Fragment data and its index live elsewhere (`crate::media`).
//!
//! One connection behind a mutex: control-plane calls are rare and each statement is short,
//! so a pool would only add ways to see half-applied updates.

mod schema;
pub(crate) mod streams;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

pub(crate) use streams as sql;
pub use streams::{ConfigColumn, NewStream, StreamRecord, StreamUpdate};

pub const DB_FILE_NAME: &str = "kvs-local.db";

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("control-plane database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error(
        "control-plane database {path}: schema version {found} is newer than this build knows ({known})"
    )]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("control-plane database holds a bad row: {0}")]
    Corrupt(String),
}

pub struct Db {
    conn: Mutex<Connection>,
}

impl Db {
    /// Opens (creating if needed) the database in `data_dir`, in WAL mode, and brings its
    /// schema up to date.
    pub fn open(data_dir: &Path) -> Result<Db, DbError> {
        let path = data_dir.join(DB_FILE_NAME);
        let mut conn = Connection::open(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL in WAL mode makes every commit durable; control-plane writes are rare.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        schema::upgrade(&mut conn, &path.display().to_string())?;
        Ok(Db {
            conn: Mutex::new(conn),
        })
    }

    /// Opens an in-memory database, for unit tests.
    pub fn open_in_memory() -> Result<Db, DbError> {
        let mut conn = Connection::open_in_memory()?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::upgrade(&mut conn, ":memory:")?;
        Ok(Db {
            conn: Mutex::new(conn),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (statements are
        // atomic), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}
