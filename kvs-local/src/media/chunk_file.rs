// SPDX-License-Identifier: MPL-2.0
//! Chunk files: append-only files holding the Cluster bytes of consecutive fragments of one
//! stream, named by their chunk id so the index and the directory agree without a lookup.
//!
//! Layout: `DATA_DIR/media/<stream_id as 8 hex>/<chunk_seq as 8 hex>.chunk`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub const CHUNK_EXT: &str = "chunk";

pub fn chunk_id(stream_id: i64, chunk_seq: i64) -> i64 {
    (stream_id << 32) | (chunk_seq & 0xffff_ffff)
}

pub fn chunk_seq_of(chunk_id: i64) -> i64 {
    chunk_id & 0xffff_ffff
}

pub fn stream_of_chunk(chunk_id: i64) -> i64 {
    chunk_id >> 32
}

pub fn media_root(data_dir: &Path) -> PathBuf {
    data_dir.join("media")
}

pub fn stream_dir(root: &Path, stream_id: i64) -> PathBuf {
    root.join(format!("{stream_id:08x}"))
}

pub fn chunk_path(root: &Path, chunk_id: i64) -> PathBuf {
    stream_dir(root, stream_of_chunk(chunk_id))
        .join(format!("{:08x}.{CHUNK_EXT}", chunk_seq_of(chunk_id)))
}

/// Parses a directory entry name back into a stream id (`None` for foreign names).
pub fn parse_stream_dir_name(name: &str) -> Option<i64> {
    if name.len() != 8 {
        return None;
    }
    i64::from_str_radix(name, 16).ok()
}

/// Parses a chunk file name back into its chunk seq (`None` for foreign names).
pub fn parse_chunk_file_name(name: &str) -> Option<i64> {
    let stem = name.strip_suffix(CHUNK_EXT)?.strip_suffix('.')?;
    if stem.len() != 8 {
        return None;
    }
    i64::from_str_radix(stem, 16).ok()
}

/// fsyncs a directory so that entries created or removed in it survive a power loss.
pub fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// A chunk being appended to by the committer.
pub struct ChunkWriter {
    pub chunk_id: i64,
    file: File,
    /// Bytes written so far (the next fragment's offset).
    pub len: u64,
    pub created_ms: i64,
    /// Bytes written since the last fsync.
    dirty: bool,
}

impl ChunkWriter {
    /// Creates a new, empty chunk file. A leftover file of the same name can only be an
    /// uncommitted one from before a crash (recovery deletes those), so it is truncated.
    pub fn create(root: &Path, chunk_id: i64, now_ms: i64) -> io::Result<Self> {
        let path = chunk_path(root, chunk_id);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(Self {
            chunk_id,
            file,
            len: 0,
            created_ms: now_ms,
            dirty: false,
        })
    }

    /// Appends `parts` back to back; returns the offset of the first byte.
    pub fn append(&mut self, parts: &[bytes::Bytes]) -> io::Result<u64> {
        let offset = self.len;
        self.dirty = true;
        for p in parts {
            self.file.write_all(p)?;
            self.len += p.len() as u64;
        }
        Ok(offset)
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()?;
        self.dirty = false;
        Ok(())
    }
}

/// Reads `len` bytes at `offset` of a chunk.
pub fn read_range(root: &Path, chunk_id: i64, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let file = File::open(chunk_path(root, chunk_id))?;
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let id = chunk_id(7, 0x1234);
        let root = Path::new("/x");
        let path = chunk_path(root, id);
        assert_eq!(path, Path::new("/x/00000007/00001234.chunk"));
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        assert_eq!(parse_chunk_file_name(name), Some(0x1234));
        assert_eq!(parse_stream_dir_name("00000007"), Some(7));
        assert_eq!(parse_chunk_file_name("00001234.tmp"), None);
        assert_eq!(stream_of_chunk(id), 7);
        assert_eq!(chunk_seq_of(id), 0x1234);
    }
}
