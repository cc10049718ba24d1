// SPDX-License-Identifier: MPL-2.0
//! The per-stream live ring: fragments being ingested (and the last few finished ones) kept
//! in RAM so GetMedia readers get each frame as it arrives, before it is persisted.
//!
//! Ingest never waits for a reader: it appends to the current fragment and bumps a version
//! counter. A reader holds an `Arc` to the fragment it is sending and an index into its parts,
//! so a slow reader costs at most that one fragment's memory; once it finishes that fragment
//! it looks for the next one in storage first and in the ring second, so falling behind the
//! ring means reading from disk, never losing frames.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use kvs_core::mkv::Tag;
use tokio::sync::watch;

use super::{FragmentId, Header};

/// How a live fragment ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveEnd {
    /// All its frames arrived; it will be (or was) persisted unless retention is 0.
    Complete { duration_ms: i64 },
    /// Ingest failed part-way (error ACK, takeover, connection loss).
    Aborted,
}

/// Whether a completed fragment's bytes reached the store, as its ingest session learned it.
/// A re-sent copy recognised as a duplicate of a live fragment waits on this before it may
/// say PERSISTED with that fragment's number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Being received, or handed to the store and not yet durable.
    Pending,
    Persisted,
    /// The store refused it (ERROR 5001 was sent): it exists nowhere but in RAM.
    Failed,
    /// Received on a retention-0 stream: never written.
    NotStored,
}

/// What a reader gets from one poll of a live fragment.
pub struct LiveRead {
    /// Cluster children (Timecode, SimpleBlocks, ...) appended since the reader's index.
    pub parts: Vec<Bytes>,
    /// Set once the fragment has ended; then `tags` are its producer tags.
    pub end: Option<LiveEnd>,
    pub tags: Vec<Tag>,
}

#[derive(Default)]
struct LiveState {
    parts: Vec<Bytes>,
    bytes: usize,
    tags: Vec<Tag>,
    end: Option<LiveEnd>,
    persisted: bool,
}

/// A fragment in the ring.
pub struct LiveFragment {
    pub id: FragmentId,
    pub server_ts_ms: i64,
    pub producer_ts_ms: i64,
    pub cluster_timecode: i64,
    pub header: Arc<Header>,
    state: Mutex<LiveState>,
    durability: watch::Sender<Durability>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind; keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl LiveFragment {
    pub fn new(
        id: FragmentId,
        server_ts_ms: i64,
        producer_ts_ms: i64,
        cluster_timecode: i64,
        header: Arc<Header>,
    ) -> Self {
        Self {
            id,
            server_ts_ms,
            producer_ts_ms,
            cluster_timecode,
            header,
            state: Mutex::new(LiveState::default()),
            durability: watch::Sender::new(Durability::Pending),
        }
    }

    pub fn set_durability(&self, d: Durability) {
        self.durability.send_replace(d);
    }

    pub fn durability(&self) -> Durability {
        *self.durability.borrow()
    }

    /// Waits until the store's answer is known (returns at once if it already is).
    pub async fn settled(&self) -> Durability {
        let mut rx = self.durability.subscribe();
        match rx.wait_for(|d| *d != Durability::Pending).await {
            Ok(d) => *d,
            // Unreachable while `self` holds the sender; answer as if nothing was stored.
            Err(_) => Durability::Failed,
        }
    }

    fn push_part(&self, part: Bytes) {
        let mut s = lock(&self.state);
        s.bytes += part.len();
        s.parts.push(part);
    }

    fn finish(&self, end: LiveEnd, tags: Vec<Tag>) {
        let mut s = lock(&self.state);
        if s.end.is_none() {
            s.end = Some(end);
            s.tags = tags;
        }
    }

    /// Parts from index `from` on, and the end state.
    pub fn read_from(&self, from: usize) -> LiveRead {
        let s = lock(&self.state);
        LiveRead {
            parts: s
                .parts
                .get(from..)
                .map(<[Bytes]>::to_vec)
                .unwrap_or_default(),
            end: s.end,
            tags: if s.end.is_some() {
                s.tags.clone()
            } else {
                Vec::new()
            },
        }
    }

    pub fn end(&self) -> Option<LiveEnd> {
        lock(&self.state).end
    }

    fn bytes(&self) -> usize {
        lock(&self.state).bytes
    }

    fn evictable(&self, keep_unpersisted: bool) -> bool {
        let s = lock(&self.state);
        match s.end {
            None => false,
            Some(LiveEnd::Aborted) => true,
            Some(LiveEnd::Complete { .. }) => s.persisted || !keep_unpersisted,
        }
    }
}

/// Bounds of the ring.
#[derive(Clone, Copy, Debug)]
pub struct LiveLimits {
    /// Finished fragments kept regardless of bytes (readers at the live edge use them).
    pub keep_finished: usize,
    /// Byte budget for finished fragments.
    pub max_bytes: usize,
    /// For retention-0 streams: how long unpersisted fragments stay readable.
    pub max_age_ms: i64,
}

impl Default for LiveLimits {
    fn default() -> Self {
        Self {
            keep_finished: 3,
            max_bytes: 64 << 20,
            // The service keeps at most 5 minutes in its host buffer for retention-0 streams.
            max_age_ms: 5 * 60 * 1000,
        }
    }
}

pub struct LiveRing {
    fragments: Mutex<VecDeque<Arc<LiveFragment>>>,
    version: watch::Sender<u64>,
    limits: LiveLimits,
}

impl LiveRing {
    pub fn new(limits: LiveLimits) -> Self {
        Self {
            fragments: Mutex::new(VecDeque::new()),
            version: watch::Sender::new(0),
            limits,
        }
    }

    /// A receiver that wakes on every change to the ring or to a fragment in it.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    fn bump(&self) {
        self.version.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Adds a fragment that just started.
    pub fn start(&self, fragment: Arc<LiveFragment>, retention_zero: bool, now_ms: i64) {
        {
            let mut ring = lock(&self.fragments);
            ring.push_back(fragment);
            self.evict(&mut ring, retention_zero, now_ms);
        }
        self.bump();
    }

    pub fn push_part(&self, fragment: &LiveFragment, part: Bytes) {
        fragment.push_part(part);
        self.bump();
    }

    /// Several parts with one wake-up (a block's header and its payload).
    pub fn push_parts(&self, fragment: &LiveFragment, parts: &[Bytes]) {
        for p in parts {
            fragment.push_part(p.clone());
        }
        self.bump();
    }

    pub fn finish(&self, fragment: &LiveFragment, end: LiveEnd, tags: Vec<Tag>) {
        fragment.finish(end, tags);
        self.bump();
    }

    /// Called by the committer once the fragment's row is committed.
    pub fn mark_persisted(&self, id: FragmentId) {
        let ring = lock(&self.fragments);
        if let Some(f) = ring.iter().find(|f| f.id == id) {
            lock(&f.state).persisted = true;
        }
    }

    /// Smallest fragment id in the ring greater than `after` (any fragment when `None`).
    pub fn next_after(&self, after: Option<FragmentId>) -> Option<Arc<LiveFragment>> {
        let ring = lock(&self.fragments);
        ring.iter()
            .filter(|f| after.is_none_or(|a| f.id > a))
            .min_by_key(|f| f.id)
            .cloned()
    }

    /// Completed fragments in the ring that start at this producer timestamp, oldest first.
    pub fn complete_at_producer_ts(&self, producer_ts_ms: i64) -> Vec<Arc<LiveFragment>> {
        let ring = lock(&self.fragments);
        let mut found: Vec<Arc<LiveFragment>> = ring
            .iter()
            .filter(|f| {
                f.producer_ts_ms == producer_ts_ms
                    && matches!(f.end(), Some(LiveEnd::Complete { .. }))
            })
            .cloned()
            .collect();
        found.sort_by_key(|f| f.id);
        found
    }

    /// The newest fragment, finished or not.
    pub fn latest(&self) -> Option<Arc<LiveFragment>> {
        lock(&self.fragments).back().cloned()
    }

    /// Wakes readers, e.g. when the stream is deleted.
    pub fn poke(&self) {
        self.bump();
    }

    pub fn clear(&self) {
        lock(&self.fragments).clear();
        self.bump();
    }

    fn evict(&self, ring: &mut VecDeque<Arc<LiveFragment>>, retention_zero: bool, now_ms: i64) {
        let keep_unpersisted = !retention_zero;
        loop {
            let finished = ring.iter().filter(|f| f.end().is_some()).count();
            let bytes: usize = ring.iter().map(|f| f.bytes()).sum();
            let Some(front) = ring.front() else { break };
            if !front.evictable(keep_unpersisted) {
                break;
            }
            let too_old = retention_zero && now_ms - front.server_ts_ms > self.limits.max_age_ms;
            let aborted = front.end() == Some(LiveEnd::Aborted);
            let over =
                finished > self.limits.keep_finished || bytes > self.limits.max_bytes || too_old;
            if !(over || aborted) || ring.len() <= 1 {
                break;
            }
            ring.pop_front();
        }
    }

    #[cfg(test)]
    pub fn fragment_count(&self) -> usize {
        lock(&self.fragments).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Arc<Header> {
        Arc::new(Header {
            id: 1,
            hash: 0,
            timecode_scale_ns: 1_000_000,
            bytes: Bytes::from_static(b"h"),
        })
    }

    fn frag(ring: &LiveRing, seq: i64, zero: bool) -> Arc<LiveFragment> {
        let f = Arc::new(LiveFragment::new(
            FragmentId::new(1, seq),
            seq * 1000,
            seq * 1000,
            seq * 1000,
            header(),
        ));
        ring.start(f.clone(), zero, seq * 1000);
        f
    }

    #[test]
    fn unpersisted_fragments_stay_until_persisted() {
        let ring = LiveRing::new(LiveLimits {
            keep_finished: 1,
            max_bytes: 1,
            max_age_ms: 1,
        });
        let a = frag(&ring, 1, false);
        ring.push_part(&a, Bytes::from_static(b"abc"));
        ring.finish(&a, LiveEnd::Complete { duration_ms: 1000 }, vec![]);
        let b = frag(&ring, 2, false);
        ring.finish(&b, LiveEnd::Complete { duration_ms: 1000 }, vec![]);
        let _c = frag(&ring, 3, false);
        assert_eq!(
            ring.fragment_count(),
            3,
            "nothing persisted yet, nothing evicted"
        );
        ring.mark_persisted(a.id);
        let _d = frag(&ring, 4, false);
        assert_eq!(ring.next_after(None).map(|f| f.id), Some(b.id));
        assert_eq!(ring.next_after(Some(b.id)).map(|f| f.id.seq()), Some(3));
    }

    #[test]
    fn readers_see_parts_then_end_and_tags() {
        let ring = LiveRing::new(LiveLimits::default());
        let a = frag(&ring, 1, true);
        let mut rx = ring.subscribe();
        rx.mark_unchanged();
        ring.push_part(&a, Bytes::from_static(b"x"));
        assert!(rx.has_changed().unwrap_or(false));
        let r = a.read_from(0);
        assert_eq!(r.parts.len(), 1);
        assert!(r.end.is_none());
        ring.push_part(&a, Bytes::from_static(b"y"));
        ring.finish(
            &a,
            LiveEnd::Complete { duration_ms: 5 },
            vec![Tag::single("k", "v")],
        );
        let r = a.read_from(1);
        assert_eq!(r.parts, vec![Bytes::from_static(b"y")]);
        assert_eq!(r.end, Some(LiveEnd::Complete { duration_ms: 5 }));
        assert_eq!(r.tags.len(), 1);
    }

    #[test]
    fn retention_zero_ring_is_bounded_by_age() {
        let ring = LiveRing::new(LiveLimits {
            keep_finished: 100,
            max_bytes: usize::MAX,
            max_age_ms: 2500,
        });
        for seq in 1..=10 {
            let f = frag(&ring, seq, true);
            ring.finish(&f, LiveEnd::Complete { duration_ms: 1000 }, vec![]);
        }
        assert!(
            ring.fragment_count() <= 4,
            "ring kept {} fragments",
            ring.fragment_count()
        );
        assert_eq!(ring.latest().map(|f| f.id.seq()), Some(10));
    }
}
