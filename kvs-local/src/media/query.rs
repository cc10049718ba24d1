// SPDX-License-Identifier: MPL-2.0
//! Read-only index queries. Every query takes the retention cutoff so that a shorter
//! retention hides expired fragments at once, before the sweep deletes them.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{FragmentId, MediaError};

/// Which timestamp a selector refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampKind {
    Server,
    Producer,
}

/// One row of the `fragment` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FragmentMeta {
    pub id: FragmentId,
    pub chunk_id: i64,
    pub offset_bytes: i64,
    pub length_bytes: i64,
    pub producer_ts_ms: i64,
    pub server_ts_ms: i64,
    pub duration_ms: i64,
    pub cluster_timecode: i64,
    pub frame_count: i64,
    pub header_id: i64,
    pub tags: Vec<kvs_core::mkv::Tag>,
}

const COLUMNS: &str = "fragment_id, chunk_id, offset_bytes, length_bytes, producer_ts_ms, \
     server_ts_ms, duration_ms, cluster_timecode, frame_count, header_id, tags_json";

impl TimestampKind {
    /// The one of a fragment's two start times this kind names.
    pub fn pick(self, server_ts_ms: i64, producer_ts_ms: i64) -> i64 {
        match self {
            TimestampKind::Server => server_ts_ms,
            TimestampKind::Producer => producer_ts_ms,
        }
    }
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<FragmentMeta> {
    let tags_json: String = r.get(10)?;
    let tags = super::fragment_tags::from_json(&tags_json);
    Ok(FragmentMeta {
        id: FragmentId::from_raw(r.get(0)?),
        chunk_id: r.get(1)?,
        offset_bytes: r.get(2)?,
        length_bytes: r.get(3)?,
        producer_ts_ms: r.get(4)?,
        server_ts_ms: r.get(5)?,
        duration_ms: r.get(6)?,
        cluster_timecode: r.get(7)?,
        frame_count: r.get(8)?,
        header_id: r.get(9)?,
        tags,
    })
}

pub fn by_id(
    c: &Connection,
    id: FragmentId,
    cutoff_ms: i64,
) -> Result<Option<FragmentMeta>, MediaError> {
    let sql =
        format!("SELECT {COLUMNS} FROM fragment WHERE fragment_id = ?1 AND server_ts_ms >= ?2");
    Ok(c.query_row(&sql, params![id.raw(), cutoff_ms], from_row)
        .optional()?)
}

pub fn after(
    c: &Connection,
    stream_id: i64,
    after: Option<FragmentId>,
    cutoff_ms: i64,
    limit: usize,
) -> Result<Vec<FragmentMeta>, MediaError> {
    let lower = after.map_or(
        FragmentId::stream_start(stream_id).raw() - 1,
        FragmentId::raw,
    );
    let sql = format!(
        "SELECT {COLUMNS} FROM fragment WHERE fragment_id > ?1 AND fragment_id < ?2 \
         AND server_ts_ms >= ?3 ORDER BY fragment_id LIMIT ?4"
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![
            lower,
            FragmentId::stream_end(stream_id).raw(),
            cutoff_ms,
            i64::try_from(limit).unwrap_or(i64::MAX)
        ],
        from_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn latest(
    c: &Connection,
    stream_id: i64,
    cutoff_ms: i64,
) -> Result<Option<FragmentMeta>, MediaError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM fragment WHERE fragment_id >= ?1 AND fragment_id < ?2 \
         AND server_ts_ms >= ?3 ORDER BY fragment_id DESC LIMIT 1"
    );
    Ok(c.query_row(
        &sql,
        params![
            FragmentId::stream_start(stream_id).raw(),
            FragmentId::stream_end(stream_id).raw(),
            cutoff_ms
        ],
        from_row,
    )
    .optional()?)
}

fn ts_column(kind: TimestampKind) -> &'static str {
    match kind {
        TimestampKind::Server => "server_ts_ms",
        TimestampKind::Producer => "producer_ts_ms",
    }
}

fn ts_index(kind: TimestampKind) -> &'static str {
    match kind {
        TimestampKind::Server => "fragment_by_server_ts",
        TimestampKind::Producer => "fragment_by_producer_ts",
    }
}

/// The fragment GetMedia starts at for a timestamp selector: the one with the latest start at
/// or before `ts_ms` if it still covers `ts_ms`, else the first one starting after it.
///
/// Fragments overlap (audio runs a few ms past the next key frame; fast uploads give
/// overlapping server-time spans), so "the first fragment whose span contains ts" would pick
/// the fragment *before* the one a caller names by its exact start. Both lookups are seeks in
/// the timestamp index (`INDEXED BY`: without statistics SQLite may choose another index and
/// scan).
pub fn containing(
    c: &Connection,
    stream_id: i64,
    kind: TimestampKind,
    ts_ms: i64,
    cutoff_ms: i64,
) -> Result<Option<FragmentMeta>, MediaError> {
    let col = ts_column(kind);
    let index = ts_index(kind);
    let at_or_before = format!(
        "SELECT {COLUMNS} FROM fragment INDEXED BY {index} WHERE stream_id = ?1 AND {col} <= ?2 \
         AND server_ts_ms >= ?3 ORDER BY {col} DESC, fragment_id DESC LIMIT 1"
    );
    let covering = c
        .prepare_cached(&at_or_before)?
        .query_row(params![stream_id, ts_ms, cutoff_ms], from_row)
        .optional()?
        .filter(|f| {
            kind.pick(f.server_ts_ms, f.producer_ts_ms)
                .saturating_add(f.duration_ms)
                > ts_ms
        });
    if covering.is_some() {
        return Ok(covering);
    }
    let after = format!(
        "SELECT {COLUMNS} FROM fragment INDEXED BY {index} WHERE stream_id = ?1 AND {col} > ?2 \
         AND server_ts_ms >= ?3 ORDER BY {col}, fragment_id LIMIT 1"
    );
    Ok(c.prepare_cached(&after)?
        .query_row(params![stream_id, ts_ms, cutoff_ms], from_row)
        .optional()?)
}

#[allow(clippy::too_many_arguments)]
pub fn in_range(
    c: &Connection,
    stream_id: i64,
    kind: TimestampKind,
    start_ms: i64,
    end_ms: i64,
    after: Option<FragmentId>,
    cutoff_ms: i64,
    limit: usize,
) -> Result<Vec<FragmentMeta>, MediaError> {
    let col = ts_column(kind);
    let lower = after.map_or(i64::MIN, FragmentId::raw);
    let sql = format!(
        "SELECT {COLUMNS} FROM fragment WHERE stream_id = ?1 AND {col} >= ?2 AND {col} <= ?3 \
         AND fragment_id > ?4 AND server_ts_ms >= ?5 ORDER BY fragment_id LIMIT ?6"
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![
            stream_id,
            start_ms,
            end_ms,
            lower,
            cutoff_ms,
            i64::try_from(limit).unwrap_or(i64::MAX)
        ],
        from_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// `INDEXED BY`: without statistics SQLite prefers the server-timestamp index for the
/// retention range, which scans every live fragment of the stream and sorts them.
pub(super) fn at_producer_ts_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM fragment INDEXED BY fragment_by_producer_ts \
         WHERE stream_id = ?1 AND producer_ts_ms = ?2 \
         AND server_ts_ms >= ?3 ORDER BY fragment_id DESC LIMIT ?4"
    )
}

/// Fragments starting exactly at `producer_ts_ms`, newest first (a seek in
/// `fragment_by_producer_ts`).
pub fn at_producer_ts(
    c: &Connection,
    stream_id: i64,
    producer_ts_ms: i64,
    cutoff_ms: i64,
    limit: usize,
) -> Result<Vec<FragmentMeta>, MediaError> {
    let mut stmt = c.prepare_cached(&at_producer_ts_sql())?;
    let rows = stmt.query_map(
        params![
            stream_id,
            producer_ts_ms,
            cutoff_ms,
            i64::try_from(limit).unwrap_or(i64::MAX)
        ],
        from_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn header(c: &Connection, id: i64) -> Result<(i64, u64, Vec<u8>), MediaError> {
    let (hash, scale, bytes): (i64, i64, Vec<u8>) = c
        .query_row(
            "SELECT hash, timecode_scale_ns, bytes FROM header WHERE id = ?1",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?
        .ok_or_else(|| MediaError::Corrupt(format!("fragment refers to missing header {id}")))?;
    Ok((hash, u64::try_from(scale).unwrap_or(1_000_000), bytes))
}
