// SPDX-License-Identifier: MPL-2.0
//! SQL over the `stream` and `stream_tag` tables. Callers hold the connection lock, so a
//! read-check-write sequence in one caller is atomic with respect to other requests.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kvs_core::api::StreamStatus;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::DbError;

/// A stream as the control plane stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamRecord {
    /// Row id: stable for the stream's life, never reused while the database lives.
    pub id: i64,
    pub name: String,
    pub arn: String,
    pub status: StreamStatus,
    pub data_retention_hours: u32,
    pub media_type: Option<String>,
    pub kms_key_id: Option<String>,
    pub version: String,
    /// Epoch milliseconds (also the last part of the ARN).
    pub creation_time_ms: i64,
    pub device_name: Option<String>,
    /// `HOT` or `WARM`.
    pub storage_tier: String,
}

impl StreamRecord {
    pub fn creation_time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(u64::try_from(self.creation_time_ms).unwrap_or(0))
    }

    pub fn is_active(&self) -> bool {
        self.status == StreamStatus::Active
    }
}

/// What CreateStream stores.
pub struct NewStream<'a> {
    pub name: &'a str,
    pub arn: &'a str,
    pub status: StreamStatus,
    pub version: &'a str,
    pub device_name: Option<&'a str>,
    pub media_type: Option<&'a str>,
    pub kms_key_id: Option<&'a str>,
    pub retention_hours: u32,
    pub creation_time_ms: i64,
    pub storage_tier: &'a str,
}

/// Columns an update may replace; `None` leaves a column alone.
#[derive(Default)]
pub struct StreamUpdate {
    pub version: Option<String>,
    pub status: Option<StreamStatus>,
    pub device_name: Option<String>,
    pub media_type: Option<String>,
    pub retention_hours: Option<u32>,
}

const COLUMNS: &str = "id, name, arn, status, version, device_name, media_type, kms_key_id, \
                       retention_hours, creation_time_ms, storage_tier";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Result<StreamRecord, DbError>> {
    let status: String = row.get(3)?;
    let retention: i64 = row.get(8)?;
    let Some(status) = StreamStatus::parse(&status) else {
        return Ok(Err(DbError::Corrupt(format!(
            "unknown stream status {status:?}"
        ))));
    };
    let Ok(retention) = u32::try_from(retention) else {
        return Ok(Err(DbError::Corrupt(format!("bad retention {retention}"))));
    };
    Ok(Ok(StreamRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        arn: row.get(2)?,
        status,
        version: row.get(4)?,
        device_name: row.get(5)?,
        media_type: row.get(6)?,
        kms_key_id: row.get(7)?,
        data_retention_hours: retention,
        creation_time_ms: row.get(9)?,
        storage_tier: row.get(10)?,
    }))
}

fn query_one(
    conn: &Connection,
    where_clause: &str,
    value: &dyn rusqlite::ToSql,
) -> Result<Option<StreamRecord>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM stream WHERE {where_clause}");
    conn.query_row(&sql, [value], from_row)
        .optional()?
        .transpose()
}

pub fn by_name(conn: &Connection, name: &str) -> Result<Option<StreamRecord>, DbError> {
    query_one(conn, "name = ?1", &name)
}

pub fn by_arn(conn: &Connection, arn: &str) -> Result<Option<StreamRecord>, DbError> {
    query_one(conn, "arn = ?1", &arn)
}

pub fn by_id(conn: &Connection, id: i64) -> Result<Option<StreamRecord>, DbError> {
    query_one(conn, "id = ?1", &id)
}

pub fn count(conn: &Connection) -> Result<i64, DbError> {
    Ok(conn.query_row("SELECT count(*) FROM stream", [], |r| r.get(0))?)
}

/// Streams in name order whose name starts with `prefix`, after the name `after`.
pub fn list(
    conn: &Connection,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<StreamRecord>, DbError> {
    // `substr` rather than LIKE: names may contain `_`, a LIKE wildcard.
    let sql = format!(
        "SELECT {COLUMNS} FROM stream WHERE substr(name, 1, ?1) = ?2 AND name > ?3 \
         ORDER BY name LIMIT ?4"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(
        params![
            prefix.chars().count() as i64,
            prefix,
            after.unwrap_or(""),
            i64::try_from(limit).unwrap_or(i64::MAX)
        ],
        from_row,
    )?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row??);
    }
    Ok(out)
}

pub fn with_status(conn: &Connection, status: StreamStatus) -> Result<Vec<StreamRecord>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM stream WHERE status = ?1 ORDER BY id");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([status.as_str()], from_row)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row??);
    }
    Ok(out)
}

pub fn insert(
    conn: &mut Connection,
    new: &NewStream<'_>,
    tags: &BTreeMap<String, String>,
) -> Result<i64, DbError> {
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO stream (name, arn, status, version, device_name, media_type, kms_key_id, \
         retention_hours, creation_time_ms, storage_tier) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            new.name,
            new.arn,
            new.status.as_str(),
            new.version,
            new.device_name,
            new.media_type,
            new.kms_key_id,
            i64::from(new.retention_hours),
            new.creation_time_ms,
            new.storage_tier
        ],
    )?;
    let id = tx.last_insert_rowid();
    put_tags(&tx, id, tags)?;
    tx.commit()?;
    Ok(id)
}

pub fn update(conn: &Connection, id: i64, u: &StreamUpdate) -> Result<(), DbError> {
    conn.execute(
        "UPDATE stream SET version = coalesce(?2, version), status = coalesce(?3, status), \
         device_name = coalesce(?4, device_name), media_type = coalesce(?5, media_type), \
         retention_hours = coalesce(?6, retention_hours) WHERE id = ?1",
        params![
            id,
            u.version.as_deref(),
            u.status.map(StreamStatus::as_str),
            u.device_name.as_deref(),
            u.media_type.as_deref(),
            u.retention_hours.map(i64::from)
        ],
    )?;
    Ok(())
}

/// Marks every stream still `CREATING` that was created at or before `cutoff_ms` `ACTIVE`.
pub fn promote_creating(conn: &Connection, cutoff_ms: i64) -> Result<usize, DbError> {
    Ok(conn.execute(
        "UPDATE stream SET status = 'ACTIVE' WHERE status = 'CREATING' AND creation_time_ms <= ?1",
        [cutoff_ms],
    )?)
}

pub fn delete(conn: &Connection, id: i64) -> Result<(), DbError> {
    conn.execute("DELETE FROM stream WHERE id = ?1", [id])?;
    Ok(())
}

pub fn tags(conn: &Connection, id: i64) -> Result<BTreeMap<String, String>, DbError> {
    let mut stmt = conn.prepare("SELECT key, value FROM stream_tag WHERE stream_id = ?1")?;
    let rows = stmt.query_map([id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = BTreeMap::new();
    for row in rows {
        let (k, v) = row?;
        out.insert(k, v);
    }
    Ok(out)
}

pub fn put_tags(
    conn: &Connection,
    id: i64,
    tags: &BTreeMap<String, String>,
) -> Result<(), DbError> {
    let mut stmt = conn.prepare(
        "INSERT INTO stream_tag (stream_id, key, value) VALUES (?1, ?2, ?3) \
         ON CONFLICT (stream_id, key) DO UPDATE SET value = excluded.value",
    )?;
    for (k, v) in tags {
        stmt.execute(params![id, k, v])?;
    }
    Ok(())
}

pub fn remove_tags(conn: &Connection, id: i64, keys: &[String]) -> Result<(), DbError> {
    let mut stmt = conn.prepare("DELETE FROM stream_tag WHERE stream_id = ?1 AND key = ?2")?;
    for k in keys {
        stmt.execute(params![id, k])?;
    }
    Ok(())
}

/// Which JSON configuration column to read or write.
#[derive(Clone, Copy, Debug)]
pub enum ConfigColumn {
    ImageGeneration,
    Notification,
}

impl ConfigColumn {
    fn name(self) -> &'static str {
        match self {
            ConfigColumn::ImageGeneration => "image_generation_config",
            ConfigColumn::Notification => "notification_config",
        }
    }
}

pub fn config(conn: &Connection, id: i64, col: ConfigColumn) -> Result<Option<String>, DbError> {
    let sql = format!("SELECT {} FROM stream WHERE id = ?1", col.name());
    Ok(conn
        .query_row(&sql, [id], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

pub fn set_config(
    conn: &Connection,
    id: i64,
    col: ConfigColumn,
    json: Option<&str>,
) -> Result<(), DbError> {
    let sql = format!("UPDATE stream SET {} = ?2 WHERE id = ?1", col.name());
    conn.execute(&sql, params![id, json])?;
    Ok(())
}
