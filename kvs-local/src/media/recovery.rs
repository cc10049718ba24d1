// SPDX-License-Identifier: MPL-2.0
//! Startup recovery: make the chunk files and the index agree again after a crash.
//!
//! - A row whose bytes are missing or short is dropped (it cannot be served).
//! - Bytes past a chunk's last committed fragment are an uncommitted tail: truncated.
//! - Files and directories with no row are leftovers (uncommitted chunks, or deletions
//!   interrupted between the commit and the unlink): removed.
//!
//! New fragments never go into a chunk that existed before the restart.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::path::Path;

use rusqlite::{Connection, params};

use super::MediaError;
use super::chunk_file::{
    chunk_id, chunk_path, parse_chunk_file_name, parse_stream_dir_name, sync_dir,
};

pub fn recover(conn: &mut Connection, root: &Path) -> Result<(), MediaError> {
    let tx = conn.transaction()?;
    // Rows of streams that no longer exist (an interrupted delete cannot leave these, but a
    // hand-edited index could).
    tx.execute(
        "DELETE FROM fragment WHERE stream_id NOT IN (SELECT id FROM stream)",
        [],
    )?;
    tx.execute(
        "DELETE FROM chunk WHERE stream_id NOT IN (SELECT id FROM stream)",
        [],
    )?;
    let chunks: Vec<(i64, i64)> = {
        let mut stmt = tx.prepare("SELECT id, committed_bytes FROM chunk")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    let mut dropped_rows = 0usize;
    let mut truncated = 0usize;
    for (chunk, committed) in chunks {
        let path = chunk_path(root, chunk);
        let file_len = match std::fs::metadata(&path) {
            Ok(m) => Some(i64::try_from(m.len()).unwrap_or(i64::MAX)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        match file_len {
            None => {
                dropped_rows +=
                    tx.execute("DELETE FROM fragment WHERE chunk_id = ?1", params![chunk])?;
                tx.execute("DELETE FROM chunk WHERE id = ?1", params![chunk])?;
            }
            Some(len) if len < committed => {
                dropped_rows += tx.execute(
                    "DELETE FROM fragment WHERE chunk_id = ?1 AND offset_bytes + length_bytes > ?2",
                    params![chunk, len],
                )?;
                let end: Option<i64> = tx.query_row(
                    "SELECT MAX(offset_bytes + length_bytes) FROM fragment WHERE chunk_id = ?1",
                    params![chunk],
                    |r| r.get(0),
                )?;
                match end {
                    Some(end) => {
                        tx.execute(
                            "UPDATE chunk SET committed_bytes = ?1 WHERE id = ?2",
                            params![end, chunk],
                        )?;
                        truncate(&path, end)?;
                    }
                    None => {
                        tx.execute("DELETE FROM chunk WHERE id = ?1", params![chunk])?;
                    }
                }
            }
            Some(len) if len > committed => {
                truncate(&path, committed)?;
                truncated += 1;
            }
            Some(_) => {}
        }
    }
    let known_chunks: HashSet<i64> = {
        let mut stmt = tx.prepare("SELECT id FROM chunk")?;
        stmt.query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    let known_streams: HashSet<i64> = {
        let mut stmt = tx.prepare("SELECT id FROM stream")?;
        stmt.query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    tx.commit()?;

    let mut removed_files = 0usize;
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(stream_id) = name.to_str().and_then(parse_stream_dir_name) else {
            continue;
        };
        if !known_streams.contains(&stream_id) {
            std::fs::remove_dir_all(entry.path())?;
            removed_files += 1;
            continue;
        }
        let mut changed = false;
        for file in std::fs::read_dir(entry.path())? {
            let file = file?;
            let fname = file.file_name();
            let Some(seq) = fname.to_str().and_then(parse_chunk_file_name) else {
                continue;
            };
            if !known_chunks.contains(&chunk_id(stream_id, seq)) {
                std::fs::remove_file(file.path())?;
                removed_files += 1;
                changed = true;
            }
        }
        if changed {
            sync_dir(&entry.path())?;
        }
    }
    if removed_files > 0 {
        sync_dir(root)?;
    }
    if dropped_rows + truncated + removed_files > 0 {
        tracing::warn!(
            dropped_rows,
            truncated,
            removed_files,
            "media recovery repaired the store"
        );
    }
    Ok(())
}

fn truncate(path: &Path, len: i64) -> Result<(), MediaError> {
    let f = OpenOptions::new().write(true).open(path)?;
    f.set_len(u64::try_from(len).unwrap_or(0))?;
    f.sync_all()?;
    Ok(())
}
