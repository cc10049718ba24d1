// SPDX-License-Identifier: MPL-2.0
//! `MediaStore`: the handle the rest of kvs-local uses. It owns the committer thread, a small
//! pool of read-only index connections, the header cache and the per-stream state.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use bytes::Bytes;
use rusqlite::Connection;
use tokio::sync::{oneshot, watch};

use super::chunk_file::{self, media_root};
use super::committer::{self, Command, CommitStats};
use super::live::{LiveLimits, LiveRing};
use super::query::{self, FragmentMeta, TimestampKind};
use super::{FragmentId, Header, MediaError, schema};

/// Seqs reserved durably ahead of use (see `stream.reserved_seq`).
pub(super) const RESERVE_BLOCK: i64 = 4096;

#[derive(Clone, Debug)]
pub struct MediaOptions {
    /// A chunk file is closed and a new one started past this size.
    pub chunk_max_bytes: u64,
    /// ... or when its first fragment is older than this.
    pub chunk_max_age_ms: i64,
    /// How often expired chunks are deleted.
    pub retention_sweep_interval: Duration,
    pub live: LiveLimits,
}

impl Default for MediaOptions {
    fn default() -> Self {
        Self {
            chunk_max_bytes: 64 << 20,
            chunk_max_age_ms: 60_000,
            retention_sweep_interval: Duration::from_secs(60),
            live: LiveLimits::default(),
        }
    }
}

pub(super) struct SeqState {
    pub next: i64,
    /// Seqs below this are durably reserved.
    pub reserved: i64,
}

/// Per-stream media state.
pub struct StreamMedia {
    pub id: i64,
    pub arn: String,
    pub(super) seq: Mutex<SeqState>,
    retention_hours: AtomicU32,
    deleted: AtomicBool,
    live: LiveRing,
    /// Bumped by every PutMedia that starts; the older one sees the change and stops.
    ingest_generation: watch::Sender<u64>,
    /// The newest producer timestamp of any fragment completed on this stream (stored or
    /// live). A fragment starting after it cannot repeat an earlier one, so ingest skips the
    /// duplicate lookup for it: the common case costs one atomic load.
    max_producer_ts_ms: AtomicI64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl StreamMedia {
    pub(super) fn new(
        id: i64,
        arn: String,
        next: i64,
        reserved: i64,
        retention_hours: u32,
        live: LiveLimits,
        max_producer_ts_ms: Option<i64>,
    ) -> Self {
        Self {
            id,
            arn,
            seq: Mutex::new(SeqState { next, reserved }),
            retention_hours: AtomicU32::new(retention_hours),
            deleted: AtomicBool::new(false),
            live: LiveRing::new(live),
            ingest_generation: watch::Sender::new(0),
            max_producer_ts_ms: AtomicI64::new(max_producer_ts_ms.unwrap_or(i64::MIN)),
        }
    }

    /// Records that a fragment starting at `ts_ms` completed.
    pub fn note_producer_ts(&self, ts_ms: i64) {
        self.max_producer_ts_ms.fetch_max(ts_ms, Ordering::AcqRel);
    }

    /// False when no fragment completed so far starts at `ts_ms` (true means "maybe").
    pub fn may_hold_producer_ts(&self, ts_ms: i64) -> bool {
        ts_ms <= self.max_producer_ts_ms.load(Ordering::Acquire)
    }

    pub fn live(&self) -> &LiveRing {
        &self.live
    }

    pub fn retention_hours(&self) -> u32 {
        self.retention_hours.load(Ordering::Relaxed)
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Relaxed)
    }

    /// Registers a new PutMedia session; any older session's receiver sees a newer value.
    pub fn begin_ingest(&self) -> (u64, watch::Receiver<u64>) {
        let mut generation = 0;
        self.ingest_generation.send_modify(|g| {
            *g += 1;
            generation = *g;
        });
        (generation, self.ingest_generation.subscribe())
    }

    fn try_take_seq(&self) -> Option<i64> {
        let mut s = lock(&self.seq);
        if s.next < s.reserved {
            let seq = s.next;
            s.next += 1;
            Some(seq)
        } else {
            None
        }
    }
}

/// A fragment handed to the committer.
pub struct PendingFragment {
    pub stream: Arc<StreamMedia>,
    pub id: FragmentId,
    pub header: Arc<Header>,
    /// The Cluster as received (unknown-size start, Timecode, Position, SimpleBlocks), in
    /// the pieces ingest holds it in; written back to back.
    pub cluster: Vec<Bytes>,
    pub producer_ts_ms: i64,
    pub server_ts_ms: i64,
    pub duration_ms: i64,
    pub cluster_timecode: i64,
    pub frame_count: i64,
    /// The producer's Tags, grouped as received.
    pub tags: Vec<kvs_core::mkv::Tag>,
}

/// A persisted fragment read back: its row, its header and its Cluster children.
pub struct StoredFragment {
    pub meta: FragmentMeta,
    pub header: Arc<Header>,
    pub cluster: Bytes,
}

pub struct MediaStore {
    root: PathBuf,
    db_path: PathBuf,
    options: MediaOptions,
    commands: Mutex<Option<std::sync::mpsc::Sender<Command>>>,
    committer: Mutex<Option<std::thread::JoinHandle<()>>>,
    stats: Arc<CommitStats>,
    checkpointer: Mutex<Option<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>)>>,
    streams: RwLock<HashMap<String, Arc<StreamMedia>>>,
    headers: Mutex<HeaderCache>,
    readers: Mutex<Vec<Connection>>,
}

#[derive(Default)]
struct HeaderCache {
    by_hash: HashMap<i64, Vec<Arc<Header>>>,
    by_id: HashMap<i64, Arc<Header>>,
    next_id: i64,
}

fn header_hash(bytes: &[u8]) -> i64 {
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish() as i64
}

impl MediaStore {
    /// Opens (or creates) the store under `data_dir`, recovers from any crash, loads the
    /// streams and starts the committer thread.
    pub fn open(data_dir: &Path, options: MediaOptions) -> Result<Arc<Self>, MediaError> {
        let root = media_root(data_dir);
        std::fs::create_dir_all(&root)?;
        let db_path = data_dir.join("media-index.db");
        let mut conn = schema::open_writer(&db_path)?;
        super::recovery::recover(&mut conn, &root)?;

        // Hand out seqs from the old reserved mark on, and reserve a fresh block durably
        // before anything is numbered, so no number given before the restart is reused.
        let mut streams = HashMap::new();
        {
            let tx = conn.transaction()?;
            let rows: Vec<(i64, String, i64, i64)> = {
                let mut stmt =
                    tx.prepare("SELECT id, arn, retention_hours, reserved_seq FROM stream")?;
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                    .collect::<Result<_, _>>()?
            };
            for (id, arn, retention, reserved) in rows {
                // Served by the (stream_id, producer_ts_ms) index: one seek per stream.
                let max_producer_ts: Option<i64> = tx.query_row(
                    "SELECT MAX(producer_ts_ms) FROM fragment WHERE stream_id = ?1",
                    [id],
                    |r| r.get(0),
                )?;
                let new_reserved = reserved + RESERVE_BLOCK;
                tx.execute(
                    "UPDATE stream SET reserved_seq = ?1 WHERE id = ?2",
                    rusqlite::params![new_reserved, id],
                )?;
                let sm = StreamMedia::new(
                    id,
                    arn.clone(),
                    reserved,
                    new_reserved,
                    u32::try_from(retention).unwrap_or(0),
                    options.live,
                    max_producer_ts,
                );
                streams.insert(arn, Arc::new(sm));
            }
            tx.commit()?;
        }
        let next_header_id: i64 =
            conn.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM header", [], |r| {
                r.get(0)
            })?;

        let (tx, rx) = std::sync::mpsc::channel();
        let stats = Arc::new(CommitStats::default());
        let committer = committer::spawn(conn, root.clone(), options.clone(), rx, stats.clone())?;
        let (stop_tx, stop_rx) = std::sync::mpsc::channel();
        let checkpointer = super::checkpoint::spawn(&db_path, stop_rx)?;
        Ok(Arc::new(Self {
            stats,
            checkpointer: Mutex::new(Some((stop_tx, checkpointer))),
            root,
            db_path,
            options,
            commands: Mutex::new(Some(tx)),
            committer: Mutex::new(Some(committer)),
            streams: RwLock::new(streams),
            headers: Mutex::new(HeaderCache {
                next_id: next_header_id,
                ..HeaderCache::default()
            }),
            readers: Mutex::new(Vec::new()),
        }))
    }

    fn send(&self, cmd: Command) -> Result<(), MediaError> {
        let guard = lock(&self.commands);
        let sender = guard.as_ref().ok_or(MediaError::ShutDown)?;
        sender.send(cmd).map_err(|_| MediaError::ShutDown)
    }

    /// Stops the committer after it has finished everything queued. Later writes fail with
    /// `ShutDown`; reads keep working.
    pub fn close(&self) {
        let _ = self.send(Command::Shutdown);
        lock(&self.commands).take();
        if let Some(handle) = lock(&self.committer).take() {
            let _ = handle.join();
        }
        if let Some((stop, handle)) = lock(&self.checkpointer).take() {
            let _ = stop.send(());
            let _ = handle.join();
        }
    }

    /// The stream's media state, if it ever received media.
    pub fn stream(&self, arn: &str) -> Option<Arc<StreamMedia>> {
        self.streams
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(arn)
            .cloned()
    }

    /// The stream's media state, created (durably) if needed.
    pub async fn ensure_stream(
        &self,
        arn: &str,
        retention_hours: u32,
    ) -> Result<Arc<StreamMedia>, MediaError> {
        if let Some(s) = self.stream(arn) {
            if s.retention_hours() != retention_hours {
                self.set_retention(arn, retention_hours);
            }
            return Ok(s);
        }
        let (reply, rx) = oneshot::channel();
        self.send(Command::EnsureStream {
            arn: arn.to_owned(),
            retention_hours,
            reply,
        })?;
        let (id, next, reserved) = rx.await.map_err(|_| MediaError::ShutDown)??;
        let mut map = self.streams.write().unwrap_or_else(|p| p.into_inner());
        let entry = map.entry(arn.to_owned()).or_insert_with(|| {
            Arc::new(StreamMedia::new(
                id,
                arn.to_owned(),
                next,
                reserved,
                retention_hours,
                self.options.live,
                // New to the media store, so it holds no fragment yet.
                None,
            ))
        });
        Ok(entry.clone())
    }

    /// Applies a new DataRetentionInHours: queries filter with it at once; expired chunks
    /// are deleted by the committer right after.
    pub fn set_retention(&self, arn: &str, hours: u32) {
        if let Some(s) = self.stream(arn) {
            s.retention_hours.store(hours, Ordering::Relaxed);
            let _ = self.send(Command::SetRetention {
                stream_id: s.id,
                hours,
            });
        }
    }

    /// Removes every fragment, row and file of the stream. Fragment numbers are never reused:
    /// a new stream under the same ARN gets a new stream id.
    pub fn delete_stream(&self, arn: &str) {
        let removed = self
            .streams
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(arn);
        if let Some(s) = removed {
            s.deleted.store(true, Ordering::Relaxed);
            s.live.clear();
            // Wake the PutMedia session so it stops.
            s.ingest_generation.send_modify(|g| *g += 1);
            let _ = self.send(Command::DeleteStream { stream_id: s.id });
        }
    }

    /// (group commits, fragments made durable) since open.
    pub fn commit_counts(&self) -> (u64, u64) {
        (
            self.stats.rounds.load(Ordering::Relaxed),
            self.stats.fragments.load(Ordering::Relaxed),
        )
    }

    /// Waits until every command sent before this call has been carried out.
    pub async fn sync(&self) -> Result<(), MediaError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Barrier(reply))?;
        rx.await.map_err(|_| MediaError::ShutDown)
    }

    /// Runs a retention sweep now and waits for it.
    pub async fn sweep_retention(&self) -> Result<(), MediaError> {
        self.send(Command::Sweep)?;
        self.sync().await
    }

    /// Takes the next fragment id of the stream, reserving a new block durably if needed.
    pub async fn next_fragment_id(
        &self,
        stream: &Arc<StreamMedia>,
    ) -> Result<FragmentId, MediaError> {
        loop {
            if stream.is_deleted() {
                return Err(MediaError::StreamDeleted);
            }
            if let Some(seq) = stream.try_take_seq() {
                return Ok(FragmentId::new(stream.id, seq));
            }
            let (reply, rx) = oneshot::channel();
            self.send(Command::Reserve {
                stream: stream.clone(),
                reply,
            })?;
            rx.await.map_err(|_| MediaError::ShutDown)??;
        }
    }

    /// The shared header value for these bytes (deduplicated; inserted into the index with
    /// the first fragment that uses it).
    pub fn intern_header(&self, bytes: Bytes, timecode_scale_ns: u64) -> Arc<Header> {
        let hash = header_hash(&bytes);
        let mut cache = lock(&self.headers);
        if let Some(found) = cache.by_hash.get(&hash).and_then(|v| {
            v.iter()
                .find(|h| h.bytes == bytes && h.timecode_scale_ns == timecode_scale_ns)
        }) {
            return found.clone();
        }
        let id = cache.next_id;
        cache.next_id += 1;
        let header = Arc::new(Header {
            id,
            hash,
            timecode_scale_ns,
            bytes,
        });
        cache.by_hash.entry(hash).or_default().push(header.clone());
        cache.by_id.insert(id, header.clone());
        header
    }

    /// Queues a complete fragment for the next group commit; resolves once it is durable
    /// (bytes fsynced and row committed), i.e. when PERSISTED may be sent.
    pub fn persist(
        &self,
        fragment: PendingFragment,
    ) -> impl Future<Output = Result<(), MediaError>> + Send + 'static {
        let (reply, rx) = oneshot::channel();
        let sent = self.send(Command::Commit(Box::new(fragment), reply));
        async move {
            sent?;
            rx.await.map_err(|_| MediaError::ShutDown)?
        }
    }

    // ---- reads ----------------------------------------------------------------------

    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, MediaError>,
    ) -> Result<T, MediaError> {
        let conn = match lock(&self.readers).pop() {
            Some(c) => c,
            None => schema::open_reader(&self.db_path)?,
        };
        let result = f(&conn);
        let mut pool = lock(&self.readers);
        if pool.len() < 4 {
            pool.push(conn);
        }
        result
    }

    fn cutoff(stream: &StreamMedia) -> i64 {
        super::retention_cutoff_ms(stream.retention_hours(), super::now_ms())
    }

    /// Persisted fragments of the stream with id > `after`, oldest first.
    pub fn fragments_after(
        &self,
        stream: &StreamMedia,
        after: Option<FragmentId>,
        limit: usize,
    ) -> Result<Vec<FragmentMeta>, MediaError> {
        let cutoff = Self::cutoff(stream);
        self.with_reader(|c| query::after(c, stream.id, after, cutoff, limit))
    }

    /// The first persisted fragment containing or following `ts_ms`.
    pub fn fragment_at(
        &self,
        stream: &StreamMedia,
        kind: TimestampKind,
        ts_ms: i64,
    ) -> Result<Option<FragmentMeta>, MediaError> {
        let cutoff = Self::cutoff(stream);
        self.with_reader(|c| query::containing(c, stream.id, kind, ts_ms, cutoff))
    }

    /// The newest persisted fragment.
    pub fn latest_fragment(
        &self,
        stream: &StreamMedia,
    ) -> Result<Option<FragmentMeta>, MediaError> {
        let cutoff = Self::cutoff(stream);
        self.with_reader(|c| query::latest(c, stream.id, cutoff))
    }

    /// ListFragments: start timestamps in [start, end], ids > `after`, ascending ids.
    pub fn list_fragments(
        &self,
        stream: &StreamMedia,
        kind: TimestampKind,
        start_ms: i64,
        end_ms: i64,
        after: Option<FragmentId>,
        limit: usize,
    ) -> Result<Vec<FragmentMeta>, MediaError> {
        let cutoff = Self::cutoff(stream);
        self.with_reader(|c| {
            query::in_range(c, stream.id, kind, start_ms, end_ms, after, cutoff, limit)
        })
    }

    /// Persisted fragments starting at this producer timestamp, newest first, at most
    /// `limit` (duplicate candidates for a re-sent fragment).
    pub fn fragments_at_producer_ts(
        &self,
        stream: &StreamMedia,
        producer_ts_ms: i64,
        limit: usize,
    ) -> Result<Vec<FragmentMeta>, MediaError> {
        let cutoff = Self::cutoff(stream);
        self.with_reader(|c| query::at_producer_ts(c, stream.id, producer_ts_ms, cutoff, limit))
    }

    /// One persisted fragment's row, if visible under the stream's retention.
    pub fn fragment_meta(
        &self,
        stream: &StreamMedia,
        id: FragmentId,
    ) -> Result<Option<FragmentMeta>, MediaError> {
        if id.stream_id() != stream.id {
            return Ok(None);
        }
        let cutoff = Self::cutoff(stream);
        self.with_reader(|c| query::by_id(c, id, cutoff))
    }

    pub fn header(&self, id: i64) -> Result<Arc<Header>, MediaError> {
        if let Some(h) = lock(&self.headers).by_id.get(&id) {
            return Ok(h.clone());
        }
        let (hash, scale, bytes) = self.with_reader(|c| query::header(c, id))?;
        let header = Arc::new(Header {
            id,
            hash,
            timecode_scale_ns: scale,
            bytes: Bytes::from(bytes),
        });
        let mut cache = lock(&self.headers);
        cache.by_hash.entry(hash).or_default().push(header.clone());
        cache.by_id.insert(id, header.clone());
        Ok(header)
    }

    /// Reads a persisted fragment's bytes (blocking file I/O: call from a blocking context).
    pub fn read_fragment(&self, meta: &FragmentMeta) -> Result<StoredFragment, MediaError> {
        let header = self.header(meta.header_id)?;
        let len = usize::try_from(meta.length_bytes)
            .map_err(|_| MediaError::Corrupt("negative fragment length".into()))?;
        let offset = u64::try_from(meta.offset_bytes)
            .map_err(|_| MediaError::Corrupt("negative fragment offset".into()))?;
        let bytes = chunk_file::read_range(&self.root, meta.chunk_id, offset, len)?;
        Ok(StoredFragment {
            meta: meta.clone(),
            header,
            cluster: Bytes::from(bytes),
        })
    }
}

impl Drop for MediaStore {
    fn drop(&mut self) {
        self.close();
    }
}
