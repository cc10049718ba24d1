// SPDX-License-Identifier: MPL-2.0
//! Schema and its upgrades, tracked by `PRAGMA user_version`.

use rusqlite::Connection;

use super::DbError;

/// Each entry upgrades from version `index` to `index + 1`.
const UPGRADES: &[&str] = &[r#"
CREATE TABLE stream (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    arn TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    version TEXT NOT NULL,
    device_name TEXT,
    media_type TEXT,
    kms_key_id TEXT,
    retention_hours INTEGER NOT NULL,
    creation_time_ms INTEGER NOT NULL,
    storage_tier TEXT NOT NULL DEFAULT 'HOT',
    -- JSON of the API shapes; absent = not configured.
    image_generation_config TEXT,
    notification_config TEXT
);
CREATE TABLE stream_tag (
    stream_id INTEGER NOT NULL REFERENCES stream (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (stream_id, key)
) WITHOUT ROWID;
"#];

pub fn upgrade(conn: &mut Connection, path: &str) -> Result<(), DbError> {
    let known = UPGRADES.len() as i64;
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > known {
        return Err(DbError::TooNew {
            path: path.to_owned(),
            found,
            known,
        });
    }
    for (from, sql) in UPGRADES.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", from as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
