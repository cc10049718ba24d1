// SPDX-License-Identifier: MPL-2.0
//! Helpers shared by the MKV integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use bytes::Bytes;
use kvs_core::mkv::{MkvError, MkvEvent, MkvEventAt, MkvReader};

/// /work/shared/test-vectors, checked out beside the repository.
pub fn vectors_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/test-vectors"
    ));
    assert!(
        dir.is_dir(),
        "test vectors missing: expected the shared/ directory beside the repository at {}",
        dir.display()
    );
    dir
}

/// The `.mkv` files of one vector directory, sorted.
pub fn mkv_files(sub: &str) -> Vec<PathBuf> {
    let dir = vectors_dir().join(sub);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "mkv"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .mkv in {}", dir.display());
    files
}

pub fn read(path: &std::path::Path) -> Bytes {
    Bytes::from(std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Feeds `data` in `chunk`-byte pieces (slices of `data`, no copies) and collects every event
/// up to the end of input or the first error.
pub fn parse_collect(data: &Bytes, chunk: usize) -> (Vec<MkvEventAt>, Option<MkvError>) {
    let mut reader = MkvReader::new();
    let mut events = Vec::new();
    let drain = |reader: &mut MkvReader, events: &mut Vec<MkvEventAt>| loop {
        match reader.next_event() {
            Ok(Some(ev)) => events.push(ev),
            Ok(None) => return None,
            Err(e) => return Some(e),
        }
    };
    let mut pos = 0;
    while pos < data.len() {
        let end = (pos + chunk).min(data.len());
        reader.push(data.slice(pos..end));
        pos = end;
        if let Some(e) = drain(&mut reader, &mut events) {
            return (events, Some(e));
        }
    }
    let finished = reader.finish();
    let drained = drain(&mut reader, &mut events);
    (events, finished.err().or(drained))
}

/// Like [`parse_collect`], failing on any error.
pub fn parse_chunked(data: &Bytes, chunk: usize) -> Result<Vec<MkvEventAt>, MkvError> {
    match parse_collect(data, chunk) {
        (events, None) => Ok(events),
        (_, Some(e)) => Err(e),
    }
}

pub fn parse_whole(data: &Bytes) -> Vec<MkvEventAt> {
    parse_chunked(data, data.len().max(1)).expect("parse")
}

pub fn count(events: &[MkvEventAt], pred: impl Fn(&MkvEvent) -> bool) -> usize {
    events.iter().filter(|e| pred(&e.event)).count()
}
