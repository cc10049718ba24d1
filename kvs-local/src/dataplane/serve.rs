// SPDX-License-Identifier: MPL-2.0
//! Sending fragments as MKV documents, independent of HTTP: the GetMedia cursor (storage
//! first, then the live ring, waiting through producer gaps) and GetMediaForFragmentList.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::documents::{leading, trailing};
use crate::media::{
    FragmentId, FragmentMeta, LiveEnd, LiveFragment, MediaError, MediaStore, StreamMedia,
    TimestampKind, now_ms,
};

/// Where a GetMedia session starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartAt {
    Earliest,
    /// The fragment being received now, else the next one to arrive.
    Now,
    /// The fragment after this one (AfterFragmentNumber, ContinuationToken).
    After(FragmentId),
    /// The fragment containing this timestamp (epoch ms), or the first after it.
    Timestamp(TimestampKind, i64),
}

/// Why sending stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum ServeEnd {
    ClientGone,
    StreamDeleted,
    Shutdown,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, MediaError> + Send + 'static,
) -> Result<T, MediaError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| MediaError::Io(std::io::Error::other(e.to_string())))?
}

fn behind_now(server_ts_ms: i64, duration_ms: i64) -> i64 {
    (now_ms() - server_ts_ms - duration_ms).max(0)
}

/// The exclusive lower bound (`after`) a start selector means.
pub async fn resolve_start(
    store: &Arc<MediaStore>,
    stream: &Arc<StreamMedia>,
    start: StartAt,
) -> Result<Option<FragmentId>, MediaError> {
    let before = |id: FragmentId| Some(FragmentId::from_raw(id.raw() - 1));
    let latest_known = |store: Arc<MediaStore>, stream: Arc<StreamMedia>| async move {
        let s2 = stream.clone();
        let stored = blocking(move || store.latest_fragment(&s2)).await?;
        let live = stream.live().latest().map(|f| f.id);
        Ok::<_, MediaError>(stored.map(|m| m.id).max(live))
    };
    match start {
        StartAt::Earliest => Ok(None),
        StartAt::After(id) => Ok(Some(id)),
        StartAt::Now => {
            if let Some(f) = stream.live().latest()
                && f.end().is_none()
            {
                return Ok(before(f.id));
            }
            latest_known(store.clone(), stream.clone()).await
        }
        StartAt::Timestamp(kind, ts) => {
            let (st, s2) = (store.clone(), stream.clone());
            let stored = blocking(move || st.fragment_at(&s2, kind, ts)).await?;
            let mut pick = TimestampPick::new(ts);
            if let Some(m) = &stored {
                let start = kind.pick(m.server_ts_ms, m.producer_ts_ms);
                pick.offer(m.id, start, m.duration_ms);
            }
            // Fragments not persisted yet (or just persisted) are in the ring.
            let mut after = None;
            while let Some(f) = stream.live().next_after(after) {
                let start = kind.pick(f.server_ts_ms, f.producer_ts_ms);
                let dur = match f.end() {
                    Some(LiveEnd::Complete { duration_ms }) => duration_ms,
                    _ => i64::MAX / 4,
                };
                pick.offer(f.id, start, dur);
                after = Some(f.id);
            }
            match pick.best() {
                Some(id) => Ok(before(id)),
                // Nothing at or after `ts` yet: wait for what comes next.
                None => latest_known(store.clone(), stream.clone()).await,
            }
        }
    }
}

/// The fragment a timestamp selector names, among candidates from the store and the ring: the
/// latest start at or before the time if it still covers it (fragments overlap by a few ms, so
/// "the first one covering" would name the fragment before the one asked for by its start),
/// else the earliest start after it.
struct TimestampPick {
    ts: i64,
    covering: Option<(i64, FragmentId)>,
    following: Option<(i64, FragmentId)>,
}

impl TimestampPick {
    fn new(ts: i64) -> Self {
        Self {
            ts,
            covering: None,
            following: None,
        }
    }

    fn offer(&mut self, id: FragmentId, start: i64, duration_ms: i64) {
        if start <= self.ts {
            if start.saturating_add(duration_ms) > self.ts
                && self.covering.is_none_or(|best| (start, id) > best)
            {
                self.covering = Some((start, id));
            }
        } else if self.following.is_none_or(|best| (start, id) < best) {
            self.following = Some((start, id));
        }
    }

    fn best(&self) -> Option<FragmentId> {
        self.covering.or(self.following).map(|(_, id)| id)
    }
}

enum Next {
    Stored(FragmentMeta),
    Live(Arc<LiveFragment>),
}

/// Sends fragments after `after`, forever: stored ones from disk, recent ones from the live
/// ring frame by frame, then waits for new ones. Stops when the client goes away, the stream
/// is deleted or `shutdown` resolves.
pub async fn stream_fragments(
    store: Arc<MediaStore>,
    stream: Arc<StreamMedia>,
    mut after: Option<FragmentId>,
    out: mpsc::Sender<Bytes>,
    shutdown: impl Future<Output = ()>,
) -> ServeEnd {
    tokio::pin!(shutdown);
    let mut changes = stream.live().subscribe();
    loop {
        changes.borrow_and_update();
        if stream.is_deleted() {
            return ServeEnd::StreamDeleted;
        }
        let next = match next_fragment(&store, &stream, after).await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(stream = %stream.arn, error = %e, "GetMedia lookup failed");
                None
            }
        };
        let sent = match next {
            Some(Next::Stored(meta)) => {
                after = Some(meta.id);
                send_stored(&store, meta, &out).await
            }
            Some(Next::Live(f)) => {
                after = Some(f.id);
                tokio::select! {
                    r = send_live(&stream, &f, &out) => r,
                    () = &mut shutdown => return ServeEnd::Shutdown,
                }
            }
            None => {
                tokio::select! {
                    _ = changes.changed() => {}
                    () = out.closed() => return ServeEnd::ClientGone,
                    () = &mut shutdown => return ServeEnd::Shutdown,
                    // Retention and deletion do not touch the ring; look again now and then.
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                Ok(())
            }
        };
        if sent.is_err() {
            return ServeEnd::ClientGone;
        }
    }
}

async fn next_fragment(
    store: &Arc<MediaStore>,
    stream: &Arc<StreamMedia>,
    after: Option<FragmentId>,
) -> Result<Option<Next>, MediaError> {
    let (st, s2) = (store.clone(), stream.clone());
    let stored = blocking(move || st.fragments_after(&s2, after, 1)).await?;
    let stored = stored.into_iter().next();
    let mut live_after = after;
    let live = loop {
        match stream.live().next_after(live_after) {
            // A fragment whose ingest failed has nothing worth sending.
            Some(f) if f.end() == Some(LiveEnd::Aborted) => live_after = Some(f.id),
            other => break other,
        }
    };
    Ok(match (stored, live) {
        (Some(s), Some(l)) if l.id <= s.id => Some(Next::Live(l)),
        (Some(s), _) => Some(Next::Stored(s)),
        (None, Some(l)) => Some(Next::Live(l)),
        (None, None) => None,
    })
}

type Sent = Result<(), ()>;

async fn send(out: &mpsc::Sender<Bytes>, b: Bytes) -> Sent {
    out.send(b).await.map_err(|_| ())
}

/// One persisted fragment as a complete document.
pub async fn stored_document(
    store: &Arc<MediaStore>,
    meta: FragmentMeta,
) -> Result<Bytes, MediaError> {
    let st = store.clone();
    let f = blocking(move || st.read_fragment(&meta)).await?;
    let m = &f.meta;
    let head = leading(&f.header, m.id, m.server_ts_ms, m.producer_ts_ms);
    let tail = trailing(&m.tags, m.id, behind_now(m.server_ts_ms, m.duration_ms));
    let mut doc = Vec::with_capacity(head.len() + f.cluster.len() + tail.len());
    doc.extend_from_slice(&head);
    doc.extend_from_slice(&f.cluster);
    doc.extend_from_slice(&tail);
    Ok(Bytes::from(doc))
}

async fn send_stored(
    store: &Arc<MediaStore>,
    meta: FragmentMeta,
    out: &mpsc::Sender<Bytes>,
) -> Sent {
    let id = meta.id;
    match stored_document(store, meta).await {
        Ok(doc) => send(out, doc).await,
        Err(e) => {
            // Expired or deleted between lookup and read: skip it.
            tracing::warn!(fragment = %id, error = %e, "GetMedia could not read fragment");
            Ok(())
        }
    }
}

async fn send_live(stream: &StreamMedia, f: &LiveFragment, out: &mpsc::Sender<Bytes>) -> Sent {
    let mut changes = stream.live().subscribe();
    send(
        out,
        leading(&f.header, f.id, f.server_ts_ms, f.producer_ts_ms),
    )
    .await?;
    let mut index = 0;
    loop {
        changes.borrow_and_update();
        let read = f.read_from(index);
        index += read.parts.len();
        for part in read.parts {
            send(out, part).await?;
        }
        if let Some(end) = read.end {
            let duration = match end {
                LiveEnd::Complete { duration_ms } => duration_ms,
                LiveEnd::Aborted => 0,
            };
            let behind = behind_now(f.server_ts_ms, duration);
            return send(out, trailing(&read.tags, f.id, behind)).await;
        }
        tokio::select! {
            r = changes.changed() => if r.is_err() { return Err(()) },
            () = out.closed() => return Err(()),
        }
    }
}

/// GetMediaForFragmentList: the listed (already validated) fragments, in the given order.
pub async fn send_fragment_list(
    store: Arc<MediaStore>,
    fragments: Vec<FragmentMeta>,
    out: mpsc::Sender<Bytes>,
) {
    for meta in fragments {
        if send_stored(&store, meta, &out).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod timestamp_pick_tests {
    use super::*;

    fn id(n: i64) -> FragmentId {
        FragmentId::from_raw(n)
    }

    #[test]
    fn exact_start_wins_over_an_overlapping_predecessor() {
        let mut p = TimestampPick::new(2000);
        p.offer(id(1), 1000, 1010);
        p.offer(id(2), 2000, 1000);
        p.offer(id(3), 3000, 1000);
        assert_eq!(p.best(), Some(id(2)));
    }

    #[test]
    fn a_gap_selects_the_next_start_and_nothing_means_wait() {
        let mut p = TimestampPick::new(2500);
        p.offer(id(3), 4000, 1000);
        p.offer(id(1), 1000, 1000);
        p.offer(id(2), 3000, 1000);
        assert_eq!(p.best(), Some(id(2)));
        let mut empty = TimestampPick::new(9000);
        empty.offer(id(1), 1000, 1000);
        assert_eq!(empty.best(), None);
    }

    #[test]
    fn an_open_fragment_covers_everything_after_its_start() {
        let mut p = TimestampPick::new(50_000);
        p.offer(id(1), 1000, 1000);
        p.offer(id(2), 2000, i64::MAX / 4);
        assert_eq!(p.best(), Some(id(2)));
    }
}
