// SPDX-License-Identifier: MPL-2.0
//! The committer: one OS thread that owns the index's only write connection and every chunk
//! file being appended to.
//!
//! Group commit: it blocks for one command, then drains everything else queued, so under load
//! one round covers many fragments of many streams. Per round: append each fragment's bytes to
//! its stream's chunk file → fdatasync every touched file (in parallel) → fsync directories
//! that gained a file → one SQLite transaction (WAL, synchronous=FULL) → wake the waiters.
//! A fragment is reported durable only after all four steps. No timer: batches grow with load.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Instant;

use rusqlite::{Connection, params};
use tokio::sync::oneshot;

use super::chunk_file::{self, ChunkWriter, chunk_id, chunk_path, stream_dir, sync_dir};
use super::store::{MediaOptions, PendingFragment, RESERVE_BLOCK, StreamMedia};
use super::{MediaError, now_ms, retention_cutoff_ms};

/// Threads fsyncing chunk files at once in one group commit.
const MAX_SYNC_THREADS: usize = 16;

type Reply<T> = oneshot::Sender<Result<T, MediaError>>;

pub enum Command {
    Commit(Box<PendingFragment>, Reply<()>),
    EnsureStream {
        arn: String,
        retention_hours: u32,
        /// (stream id, next seq, reserved seq)
        reply: Reply<(i64, i64, i64)>,
    },
    Reserve {
        stream: Arc<StreamMedia>,
        reply: Reply<()>,
    },
    SetRetention {
        stream_id: i64,
        hours: u32,
    },
    DeleteStream {
        stream_id: i64,
    },
    Sweep,
    Barrier(oneshot::Sender<()>),
    Shutdown,
}

pub fn spawn(
    conn: Connection,
    root: PathBuf,
    options: MediaOptions,
    rx: Receiver<Command>,
    stats: Arc<CommitStats>,
) -> Result<std::thread::JoinHandle<()>, MediaError> {
    let mut committer = Committer {
        stats,
        conn,
        root,
        options,
        writers: HashMap::new(),
        next_chunk_seq: HashMap::new(),
        inserted_headers: HashSet::new(),
    };
    Ok(std::thread::Builder::new()
        .name("kvs-media-commit".into())
        .spawn(move || committer.run(&rx))?)
}

/// Counters of the group commit, for logs, tests and benchmarks.
#[derive(Debug, Default)]
pub struct CommitStats {
    /// Group commits that wrote at least one fragment.
    pub rounds: AtomicU64,
    /// Fragments made durable.
    pub fragments: AtomicU64,
}

struct Committer {
    stats: Arc<CommitStats>,
    conn: Connection,
    root: PathBuf,
    options: MediaOptions,
    /// The chunk each stream is appending to.
    writers: HashMap<i64, ChunkWriter>,
    next_chunk_seq: HashMap<i64, i64>,
    inserted_headers: HashSet<i64>,
}

struct Placed {
    chunk_id: i64,
    offset: i64,
}

impl Committer {
    fn run(&mut self, rx: &Receiver<Command>) {
        let mut next_sweep = Instant::now() + self.options.retention_sweep_interval;
        loop {
            let timeout = next_sweep.saturating_duration_since(Instant::now());
            let first = match rx.recv_timeout(timeout) {
                Ok(cmd) => cmd,
                Err(RecvTimeoutError::Timeout) => {
                    self.sweep();
                    next_sweep = Instant::now() + self.options.retention_sweep_interval;
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let mut cmds = vec![first];
            cmds.extend(rx.try_iter());
            let mut batch = Vec::new();
            let mut stop = false;
            for cmd in cmds {
                match cmd {
                    Command::Commit(f, reply) => batch.push((f, reply)),
                    other => {
                        // Keep command order: earlier commits land before e.g. a delete.
                        self.flush(std::mem::take(&mut batch));
                        if matches!(other, Command::Shutdown) {
                            stop = true;
                        } else {
                            self.handle(other);
                        }
                    }
                }
            }
            self.flush(batch);
            if stop {
                break;
            }
        }
        for w in self.writers.values_mut() {
            if w.is_dirty() {
                let _ = w.sync();
            }
        }
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Commit(..) | Command::Shutdown => {}
            Command::EnsureStream {
                arn,
                retention_hours,
                reply,
            } => {
                let _ = reply.send(self.ensure_stream(&arn, retention_hours));
            }
            Command::Reserve { stream, reply } => {
                let _ = reply.send(self.reserve(&stream));
            }
            Command::SetRetention { stream_id, hours } => {
                if let Err(e) = self.conn.execute(
                    "UPDATE stream SET retention_hours = ?1 WHERE id = ?2",
                    params![hours, stream_id],
                ) {
                    tracing::error!(stream_id, error = %e, "storing retention failed");
                }
                self.sweep();
            }
            Command::DeleteStream { stream_id } => {
                if let Err(e) = self.delete_stream(stream_id) {
                    tracing::error!(stream_id, error = %e, "deleting stream media failed");
                }
            }
            Command::Sweep => self.sweep(),
            Command::Barrier(reply) => {
                let _ = reply.send(());
            }
        }
    }

    fn ensure_stream(&mut self, arn: &str, retention: u32) -> Result<(i64, i64, i64), MediaError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR IGNORE INTO stream (arn, retention_hours, reserved_seq) VALUES (?1, ?2, 0)",
            params![arn, retention],
        )?;
        let (id, reserved): (i64, i64) = tx.query_row(
            "SELECT id, reserved_seq FROM stream WHERE arn = ?1",
            params![arn],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if id > super::fragment_id::MAX_STREAM_ID {
            return Err(MediaError::Corrupt("stream id space exhausted".into()));
        }
        let new_reserved = reserved + RESERVE_BLOCK;
        tx.execute(
            "UPDATE stream SET reserved_seq = ?1, retention_hours = ?2 WHERE id = ?3",
            params![new_reserved, retention, id],
        )?;
        tx.commit()?;
        Ok((id, reserved, new_reserved))
    }

    fn reserve(&mut self, stream: &StreamMedia) -> Result<(), MediaError> {
        let target = {
            let s = stream.seq.lock().unwrap_or_else(|p| p.into_inner());
            if s.next + RESERVE_BLOCK / 2 < s.reserved {
                return Ok(());
            }
            s.next + RESERVE_BLOCK
        };
        self.conn.execute(
            "UPDATE stream SET reserved_seq = MAX(reserved_seq, ?1) WHERE id = ?2",
            params![target, stream.id],
        )?;
        let mut s = stream.seq.lock().unwrap_or_else(|p| p.into_inner());
        s.reserved = s.reserved.max(target);
        Ok(())
    }

    /// The writer for `stream_id`, rolled over when full or old. Returns whether a file was
    /// created (its directory then needs an fsync).
    fn writer_for(&mut self, stream_id: i64, incoming: u64, now: i64) -> Result<bool, MediaError> {
        if let Some(w) = self.writers.get(&stream_id) {
            let full = w.len > 0 && w.len + incoming > self.options.chunk_max_bytes;
            let old = now - w.created_ms > self.options.chunk_max_age_ms;
            if !full && !old {
                return Ok(false);
            }
            self.writers.remove(&stream_id);
        }
        let seq = match self.next_chunk_seq.get(&stream_id) {
            Some(s) => *s,
            None => {
                let max: Option<i64> = self.conn.query_row(
                    "SELECT MAX(id) FROM chunk WHERE stream_id = ?1",
                    params![stream_id],
                    |r| r.get(0),
                )?;
                max.map_or(0, |m| chunk_file::chunk_seq_of(m) + 1)
            }
        };
        self.next_chunk_seq.insert(stream_id, seq + 1);
        let dir = stream_dir(&self.root, stream_id);
        if !dir.exists() {
            std::fs::create_dir_all(&dir)?;
            sync_dir(&self.root)?;
        }
        let w = ChunkWriter::create(&self.root, chunk_id(stream_id, seq), now)?;
        self.writers.insert(stream_id, w);
        Ok(true)
    }

    fn flush(&mut self, batch: Vec<(Box<PendingFragment>, Reply<()>)>) {
        if batch.is_empty() {
            return;
        }
        let now = now_ms();
        // 1. Append.
        let mut placed: Vec<Result<Placed, MediaError>> = Vec::with_capacity(batch.len());
        let mut new_files: HashSet<i64> = HashSet::new();
        for (f, _) in &batch {
            placed.push(self.append(f, now, &mut new_files));
        }
        // 2. fdatasync every touched file, in parallel when there are several.
        let failed_chunks = self.sync_writers();
        // 3. Directory entries of new files.
        let mut failed_dirs: HashSet<i64> = HashSet::new();
        for stream_id in &new_files {
            if let Err(e) = sync_dir(&stream_dir(&self.root, *stream_id)) {
                tracing::error!(stream_id, error = %e, "fsync of stream directory failed");
                failed_dirs.insert(*stream_id);
                self.writers.remove(stream_id);
            }
        }
        for (p, (f, _)) in placed.iter_mut().zip(&batch) {
            if let Ok(ok) = p
                && (failed_chunks.contains(&ok.chunk_id) || failed_dirs.contains(&f.stream.id))
            {
                *p = Err(MediaError::Io(std::io::Error::other("fsync failed")));
            }
        }
        // 4. One transaction for all of them.
        let commit = self.insert_rows(&batch, &placed);
        if let Err(e) = &commit {
            tracing::error!(error = %e, "media index commit failed");
            // The rows are not there; start fresh chunks so nothing depends on this tail.
            self.writers.clear();
        }
        let committed = batch.len();
        let durable = placed.iter().filter(|p| p.is_ok()).count() as u64;
        // Counted before anyone is told, so a waiter that reads the counts sees its own round.
        if commit.is_ok() {
            self.stats.rounds.fetch_add(1, Ordering::Relaxed);
            self.stats.fragments.fetch_add(durable, Ordering::Relaxed);
        }
        for ((f, reply), p) in batch.into_iter().zip(placed) {
            let result = match (&commit, p) {
                (Ok(()), Ok(_)) => {
                    f.stream.live().mark_persisted(f.id);
                    Ok(())
                }
                (Err(e), _) => Err(MediaError::Io(std::io::Error::other(e.to_string()))),
                (_, Err(e)) => Err(e),
            };
            let _ = reply.send(result);
        }
        tracing::trace!(fragments = committed, durable, "group commit");
    }

    fn append(
        &mut self,
        f: &PendingFragment,
        now: i64,
        new_files: &mut HashSet<i64>,
    ) -> Result<Placed, MediaError> {
        if f.stream.is_deleted() {
            return Err(MediaError::StreamDeleted);
        }
        let stream_id = f.stream.id;
        let len: usize = f.cluster.iter().map(bytes::Bytes::len).sum();
        if self.writer_for(stream_id, len as u64, now)? {
            new_files.insert(stream_id);
        }
        let w = self
            .writers
            .get_mut(&stream_id)
            .ok_or_else(|| MediaError::Corrupt("writer vanished".into()))?;
        match w.append(&f.cluster) {
            Ok(offset) => Ok(Placed {
                chunk_id: w.chunk_id,
                offset: i64::try_from(offset).unwrap_or(i64::MAX),
            }),
            Err(e) => {
                // Unknown state of the tail: never write to this chunk again.
                self.writers.remove(&stream_id);
                Err(e.into())
            }
        }
    }

    /// fsyncs every dirty writer; returns the chunks whose fsync failed (those writers are
    /// retired: after a failed fsync the file's contents are unknown).
    fn sync_writers(&mut self) -> HashSet<i64> {
        let mut dirty: Vec<&mut ChunkWriter> =
            self.writers.values_mut().filter(|w| w.is_dirty()).collect();
        let results: Vec<(i64, std::io::Result<()>)> = if dirty.len() <= 1 {
            dirty.iter_mut().map(|w| (w.chunk_id, w.sync())).collect()
        } else {
            // fsyncs of different files proceed in parallel on the device; a bounded number
            // of threads keeps 200 streams from spawning 200 threads per round.
            let per_thread = dirty.len().div_ceil(MAX_SYNC_THREADS);
            std::thread::scope(|s| {
                let handles: Vec<_> = dirty
                    .chunks_mut(per_thread)
                    .map(|group| {
                        s.spawn(move || {
                            group
                                .iter_mut()
                                .map(|w| (w.chunk_id, w.sync()))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .filter_map(|h| h.join().ok())
                    .flatten()
                    .collect()
            })
        };
        let mut failed = HashSet::new();
        for (chunk, r) in results {
            if let Err(e) = r {
                tracing::error!(chunk, error = %e, "fdatasync of chunk failed");
                failed.insert(chunk);
            }
        }
        // A writer still dirty was not synced (e.g. its thread panicked): not durable either.
        failed.extend(
            self.writers
                .values()
                .filter(|w| w.is_dirty())
                .map(|w| w.chunk_id),
        );
        self.writers.retain(|_, w| !failed.contains(&w.chunk_id));
        failed
    }

    fn insert_rows(
        &mut self,
        batch: &[(Box<PendingFragment>, Reply<()>)],
        placed: &[Result<Placed, MediaError>],
    ) -> Result<(), MediaError> {
        let tx = self.conn.transaction()?;
        let mut new_headers = Vec::new();
        let mut streams: HashMap<i64, &Arc<StreamMedia>> = HashMap::new();
        {
            let mut ins_fragment = tx.prepare_cached(
                "INSERT INTO fragment (fragment_id, stream_id, chunk_id, offset_bytes, length_bytes, \
                 producer_ts_ms, server_ts_ms, duration_ms, cluster_timecode, frame_count, header_id, \
                 tags_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            let mut upsert_chunk = tx.prepare_cached(
                "INSERT INTO chunk (id, stream_id, committed_bytes, max_server_ts_ms) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT(id) DO UPDATE SET \
                 committed_bytes = MAX(committed_bytes, excluded.committed_bytes), \
                 max_server_ts_ms = MAX(max_server_ts_ms, excluded.max_server_ts_ms)",
            )?;
            let mut ins_header = tx.prepare_cached(
                "INSERT OR IGNORE INTO header (id, hash, timecode_scale_ns, bytes) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for ((f, _), p) in batch.iter().zip(placed) {
                let Ok(p) = p else { continue };
                if !self.inserted_headers.contains(&f.header.id) {
                    ins_header.execute(params![
                        f.header.id,
                        f.header.hash,
                        i64::try_from(f.header.timecode_scale_ns).unwrap_or(i64::MAX),
                        f.header.bytes.as_ref()
                    ])?;
                    new_headers.push(f.header.id);
                }
                let len = f.cluster.iter().map(bytes::Bytes::len).sum::<usize>();
                let len = i64::try_from(len).unwrap_or(i64::MAX);
                let tags = super::fragment_tags::to_json(&f.tags);
                ins_fragment.execute(params![
                    f.id.raw(),
                    f.stream.id,
                    p.chunk_id,
                    p.offset,
                    len,
                    f.producer_ts_ms,
                    f.server_ts_ms,
                    f.duration_ms,
                    f.cluster_timecode,
                    f.frame_count,
                    f.header.id,
                    tags
                ])?;
                upsert_chunk.execute(params![
                    p.chunk_id,
                    f.stream.id,
                    p.offset + len,
                    f.server_ts_ms
                ])?;
                streams.insert(f.stream.id, &f.stream);
            }
        }
        // Keep the durable reservation well ahead of use, inside the same transaction.
        let mut raised = Vec::new();
        for s in streams.values() {
            let (next, reserved) = {
                let g = s.seq.lock().unwrap_or_else(|p| p.into_inner());
                (g.next, g.reserved)
            };
            if reserved - next < RESERVE_BLOCK / 2 {
                let target = next + RESERVE_BLOCK;
                tx.execute(
                    "UPDATE stream SET reserved_seq = MAX(reserved_seq, ?1) WHERE id = ?2",
                    params![target, s.id],
                )?;
                raised.push((Arc::clone(s), target));
            }
        }
        tx.commit()?;
        self.inserted_headers.extend(new_headers);
        for (s, target) in raised {
            let mut g = s.seq.lock().unwrap_or_else(|p| p.into_inner());
            g.reserved = g.reserved.max(target);
        }
        Ok(())
    }

    /// Deletes whole chunks whose newest fragment is past retention. Rows go first (one
    /// transaction), files after: a crash in between leaves only orphan files, which
    /// recovery removes.
    fn sweep(&mut self) {
        if let Err(e) = self.try_sweep() {
            tracing::error!(error = %e, "retention sweep failed");
        }
    }

    fn try_sweep(&mut self) -> Result<(), MediaError> {
        let now = now_ms();
        let streams: Vec<(i64, i64)> = {
            let mut stmt = self
                .conn
                .prepare("SELECT id, retention_hours FROM stream")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?
        };
        let mut expired: Vec<(i64, i64)> = Vec::new();
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id FROM chunk WHERE stream_id = ?1 AND max_server_ts_ms < ?2",
            )?;
            for (stream_id, hours) in streams {
                let cutoff = retention_cutoff_ms(u32::try_from(hours).unwrap_or(0), now);
                let ids: Vec<i64> = stmt
                    .query_map(params![stream_id, cutoff], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                expired.extend(ids.into_iter().map(|c| (stream_id, c)));
            }
        }
        if expired.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        for (_, chunk) in &expired {
            tx.execute("DELETE FROM fragment WHERE chunk_id = ?1", params![chunk])?;
            tx.execute("DELETE FROM chunk WHERE id = ?1", params![chunk])?;
        }
        tx.commit()?;
        let mut dirs = HashSet::new();
        for (stream_id, chunk) in expired {
            if self
                .writers
                .get(&stream_id)
                .is_some_and(|w| w.chunk_id == chunk)
            {
                self.writers.remove(&stream_id);
            }
            remove_file_if_present(&chunk_path(&self.root, chunk));
            dirs.insert(stream_id);
        }
        for stream_id in dirs {
            let _ = sync_dir(&stream_dir(&self.root, stream_id));
        }
        Ok(())
    }

    fn delete_stream(&mut self, stream_id: i64) -> Result<(), MediaError> {
        self.writers.remove(&stream_id);
        self.next_chunk_seq.remove(&stream_id);
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM fragment WHERE stream_id = ?1",
            params![stream_id],
        )?;
        tx.execute("DELETE FROM chunk WHERE stream_id = ?1", params![stream_id])?;
        tx.execute("DELETE FROM stream WHERE id = ?1", params![stream_id])?;
        tx.commit()?;
        let dir = stream_dir(&self.root, stream_id);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => sync_dir(&self.root)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }
}

fn remove_file_if_present(path: &Path) {
    if let Err(e) = std::fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %e, "removing expired chunk failed");
    }
}
