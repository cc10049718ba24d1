// SPDX-License-Identifier: MPL-2.0
//! PutMedia ingest, independent of HTTP: a body of MKV chunks in, ACKs out, fragments into
//! the live ring as they arrive and into the store once complete.
//!
//! Each Cluster is one fragment. BUFFERING when its Cluster starts, RECEIVED once it is
//! complete, PERSISTED once the store made it durable (retention > 0 only). Any rule
//! violation sends one ERROR ACK and ends the session, as the service does. The body is
//! parsed incrementally; only the current fragment (≤ the size limit) is held in memory.
//!
//! A fragment that starts at the producer timestamp of one the stream already holds may be a
//! copy re-sent after a lost ACK (see `dedup`): it is held back from live readers until it
//! is complete and compared, and an identical copy is acknowledged with the first copy's
//! number instead of being stored twice. Fragments with a new timestamp are not delayed.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use kvs_core::mkv::{
    Block, MkvError, MkvEvent, MkvReader, SegmentInfo, SimpleBlockHeader, StreamHeader, Tag,
    TrackInfo, write_cluster_start, write_stream_header,
};
use kvs_core::putmedia::{Ack, AckErrorId, TimecodeType};
use kvs_core::tags::limits::{MAX_NAME_LEN, MAX_TAGS_PER_FRAGMENT, MAX_VALUE_LEN};
use kvs_core::tags::names::{END_OF_FRAGMENT, RESERVED_PREFIX};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

use super::dedup::{DupCheck, Incoming, Original, Repeat};
use crate::media::{
    Durability, FragmentId, Header, LiveEnd, LiveFragment, MediaError, MediaStore, PendingFragment,
    StreamMedia, now_ms,
};

pub const ERR_FRAGMENT_TOO_LARGE: AckErrorId = AckErrorId(4001);
pub const ERR_FRAGMENT_TOO_LONG: AckErrorId = AckErrorId(4002);
pub const ERR_TIMECODE_NOT_MONOTONIC: AckErrorId = AckErrorId(4004);
pub const ERR_INVALID_MKV: AckErrorId = AckErrorId(4006);
pub const ERR_INVALID_PRODUCER_TIMESTAMP: AckErrorId = AckErrorId(4007);
pub const ERR_STREAM_NOT_ACTIVE: AckErrorId = AckErrorId(4008);
pub const ERR_METADATA_LIMIT: AckErrorId = AckErrorId(4009);
pub const ERR_TRACK_NUMBER_MISMATCH: AckErrorId = AckErrorId(4010);
pub const ERR_FRAMES_MISSING_FOR_TRACK: AckErrorId = AckErrorId(4011);
pub const ERR_TOO_MANY_TRACKS: AckErrorId = AckErrorId(4012);
pub const ERR_INTERNAL: AckErrorId = AckErrorId(5000);
pub const ERR_ARCHIVAL: AckErrorId = AckErrorId(5001);

/// Fragments of one session that may wait for the disk before the body stops being read.
const MAX_UNPERSISTED_FRAGMENTS: usize = 16;

/// Per-fragment and per-connection limits (service quotas, see service-api §7.5).
#[derive(Clone, Debug)]
pub struct IngestLimits {
    pub max_fragment_bytes: usize,
    /// The documented limit is 10 s; kept configurable because the current quota page may
    /// have raised it.
    pub max_fragment_duration_ms: i64,
    pub max_tracks: usize,
    pub max_tags_per_fragment: usize,
    /// IDLE ACK after this long without body data.
    pub idle_ack_interval: Duration,
    /// The session ends after this long without body data.
    pub idle_timeout: Duration,
}

impl Default for IngestLimits {
    fn default() -> Self {
        Self {
            max_fragment_bytes: 50 * 1024 * 1024,
            max_fragment_duration_ms: 10_000,
            max_tracks: 3,
            max_tags_per_fragment: MAX_TAGS_PER_FRAGMENT,
            idle_ack_interval: Duration::from_secs(3),
            idle_timeout: Duration::from_secs(30),
        }
    }
}

/// The PutMedia request parameters ingest needs.
#[derive(Clone, Copy, Debug)]
pub struct IngestParams {
    pub timecode_type: TimecodeType,
    pub producer_start_ms: u64,
}

/// How a session ended, for logs and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Fragments that reached RECEIVED.
    pub fragments: u64,
    /// Of those, copies of a fragment the stream already held, acknowledged with its number
    /// and not stored again.
    pub deduplicated: u64,
    pub error: Option<u32>,
    pub taken_over: bool,
}

struct TrackSet {
    header: Arc<Header>,
    tracks: Vec<TrackInfo>,
    track_numbers: Vec<u64>,
    timecode_scale_ns: u64,
}

/// The fragment whose Cluster is being received (or just ended, awaiting the next element
/// to learn whether trailing Tags belong to it).
struct OpenFragment {
    id: FragmentId,
    number: String,
    cluster_timecode: u64,
    server_ts_ms: i64,
    producer_ts_ms: i64,
    live: Arc<LiveFragment>,
    header: Arc<Header>,
    timecode_scale_ns: u64,
    parts: Vec<Bytes>,
    bytes: usize,
    frames: i64,
    max_rel_timecode: i64,
    distinct_offsets: Vec<i64>,
    tracks_seen: Vec<u64>,
    tags: Vec<Tag>,
    ended: bool,
    /// Earlier fragments this one may repeat. While set, the fragment is held back: not in
    /// the live ring, no BUFFERING sent (it would carry a number that may not be final).
    dup: Option<DupCheck>,
}

impl OpenFragment {
    fn units_to_ms(&self, units: i64) -> i64 {
        let ns = i128::from(units) * i128::from(self.timecode_scale_ns);
        i64::try_from(ns / 1_000_000).unwrap_or(i64::MAX)
    }

    fn duration_ms(&self) -> i64 {
        // The last frame's duration is unknown; assume the average frame spacing.
        let span = self.units_to_ms(self.max_rel_timecode);
        let distinct = self.distinct_offsets.len() as i64;
        if distinct > 1 {
            span + span / (distinct - 1)
        } else {
            span
        }
    }
}

struct Failure(AckErrorId, String);

type Step = Result<(), Failure>;

fn fail(id: AckErrorId, why: impl Into<String>) -> Failure {
    Failure(id, why.into())
}

pub struct Ingest<'a> {
    store: &'a Arc<MediaStore>,
    stream: &'a Arc<StreamMedia>,
    params: IngestParams,
    limits: IngestLimits,
    acks: UnboundedSender<Ack>,
    is_active: &'a (dyn Fn() -> bool + Send + Sync),
    reader: MkvReader,
    info: Option<SegmentInfo>,
    tracks: Option<TrackSet>,
    current: Option<OpenFragment>,
    pending_tags: Vec<Tag>,
    last_cluster_timecode: Option<u64>,
    outcome: IngestOutcome,
    shutdown: Option<tokio::sync::watch::Receiver<bool>>,
    /// One permit per fragment handed to the store and not yet persisted.
    inflight: Arc<tokio::sync::Semaphore>,
    /// Fires once the previous fragment's PERSISTED (or ERROR) ACK has been sent.
    previous_persist_ack: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl<'a> Ingest<'a> {
    pub fn new(
        store: &'a Arc<MediaStore>,
        stream: &'a Arc<StreamMedia>,
        params: IngestParams,
        limits: IngestLimits,
        acks: UnboundedSender<Ack>,
        is_active: &'a (dyn Fn() -> bool + Send + Sync),
    ) -> Self {
        Self {
            store,
            stream,
            params,
            limits,
            acks,
            is_active,
            reader: MkvReader::new(),
            info: None,
            tracks: None,
            current: None,
            pending_tags: Vec::new(),
            last_cluster_timecode: None,
            outcome: IngestOutcome::default(),
            shutdown: None,
            inflight: Arc::new(tokio::sync::Semaphore::new(MAX_UNPERSISTED_FRAGMENTS)),
            previous_persist_ack: None,
        }
    }

    /// Ends the session (completing a fragment whose Cluster already ended) once `shutdown`
    /// turns true.
    pub fn with_shutdown(mut self, shutdown: tokio::sync::watch::Receiver<bool>) -> Self {
        self.shutdown = Some(shutdown);
        self
    }

    fn ack(&self, ack: Ack) {
        // A closed ACK channel means the client went away; the body read notices too.
        let _ = self.acks.send(ack);
    }

    /// Reads the whole body; returns once the session is over (body end, error, takeover,
    /// idle timeout). PERSISTED ACKs may still follow from spawned tasks holding ACK senders.
    pub async fn run<B>(mut self, mut body: B) -> IngestOutcome
    where
        B: hyper::body::Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let (generation, mut takeover) = self.stream.begin_ingest();
        let mut idle_since = tokio::time::Instant::now();
        let mut idle_tick = tokio::time::interval(self.limits.idle_ack_interval);
        idle_tick.reset();
        let mut shutdown = self.shutdown.take();
        let inflight = self.inflight.clone();
        loop {
            tokio::select! {
                () = stopping(&mut shutdown) => {
                    let _ = self.close_ended();
                    self.abort();
                    break;
                }
                // Backpressure: with too many fragments waiting for the disk, stop reading
                // the body (TCP then slows the producer) until one is persisted.
                _ = inflight.acquire(), if inflight.available_permits() == 0 => {}
                frame = body.frame(), if inflight.available_permits() > 0 => {
                    match frame {
                        Some(Ok(frame)) => {
                            let Ok(data) = frame.into_data() else { continue };
                            if data.is_empty() {
                                continue;
                            }
                            idle_since = tokio::time::Instant::now();
                            idle_tick.reset();
                            self.reader.push(data);
                            if let Err(f) = self.drain().await {
                                self.error(f);
                                break;
                            }
                        }
                        Some(Err(e)) => {
                            tracing::info!(stream = %self.stream.arn, error = %e, "PutMedia body failed");
                            self.abort();
                            break;
                        }
                        None => {
                            self.end_of_input().await;
                            break;
                        }
                    }
                }
                changed = takeover.changed() => {
                    if changed.is_err() || *takeover.borrow() != generation {
                        tracing::info!(stream = %self.stream.arn, "PutMedia session taken over or stream deleted");
                        self.outcome.taken_over = true;
                        if self.stream.is_deleted() {
                            self.error(fail(ERR_STREAM_NOT_ACTIVE, "stream deleted"));
                        } else {
                            self.abort();
                        }
                        break;
                    }
                }
                _ = idle_tick.tick() => {
                    if idle_since.elapsed() >= self.limits.idle_timeout {
                        // The service closes an idle session as if the body had ended.
                        self.end_of_input().await;
                        break;
                    }
                    self.ack(Ack::idle());
                }
            }
        }
        self.outcome
    }

    /// The body ended: an unknown-size Cluster still open ends cleanly here; input cut
    /// inside any other element is invalid MKV.
    async fn end_of_input(&mut self) {
        let r = match self.reader.finish() {
            Ok(()) => self.drain().await,
            Err(e) => Err(mkv_failure(&e)),
        };
        match r.and_then(|()| self.close_ended()) {
            Ok(()) => self.abort(),
            Err(f) => self.error(f),
        }
    }

    async fn drain(&mut self) -> Step {
        loop {
            let event = match self.reader.next_event() {
                Ok(Some(ev)) => ev.event,
                Ok(None) => return Ok(()),
                Err(e) => return Err(mkv_failure(&e)),
            };
            self.on_event(event).await?;
        }
    }

    async fn on_event(&mut self, event: MkvEvent) -> Step {
        // Any level-1 element after an ended Cluster decides where trailing Tags go; only a
        // Tags element can still attach to it.
        if !matches!(event, MkvEvent::Tags(_)) {
            self.close_ended()?;
        }
        match event {
            MkvEvent::EbmlHeader(_) => {
                // A new document in the same body: reconnect or codec change. Timecodes may
                // restart (RELATIVE producers reset their time base with a new header).
                self.finish_current()?;
                self.info = None;
                self.tracks = None;
                self.last_cluster_timecode = None;
            }
            MkvEvent::SegmentStart { .. } | MkvEvent::SegmentEnd | MkvEvent::Skipped { .. } => {}
            MkvEvent::Info(info) => self.info = Some(info),
            MkvEvent::Tracks(tracks) => self.on_tracks(tracks)?,
            MkvEvent::ClusterStart { timecode, .. } => self.on_cluster_start(timecode).await?,
            MkvEvent::Block(block) => self.on_block(block)?,
            MkvEvent::Tags(tags) => self.on_tags(tags)?,
            MkvEvent::ClusterEnd => {
                if let Some(f) = self.current.as_mut() {
                    f.ended = true;
                }
            }
        }
        Ok(())
    }

    fn on_tracks(&mut self, tracks: Vec<TrackInfo>) -> Step {
        if tracks.len() > self.limits.max_tracks {
            return Err(fail(
                ERR_TOO_MANY_TRACKS,
                format!(
                    "{} tracks declared, at most {} allowed",
                    tracks.len(),
                    self.limits.max_tracks
                ),
            ));
        }
        if tracks.is_empty() {
            return Err(fail(ERR_INVALID_MKV, "Tracks element without tracks"));
        }
        let info = self.info.clone().unwrap_or_default();
        let timecode_scale_ns = if info.timecode_scale == 0 {
            kvs_core::mkv::DEFAULT_TIMECODE_SCALE_NS
        } else {
            info.timecode_scale
        };
        let track_numbers = tracks.iter().map(|t| t.number).collect();
        let mut out = BytesMut::with_capacity(1024);
        let stream_header = StreamHeader { info, tracks };
        write_stream_header(&stream_header, &mut out)
            .map_err(|e| fail(ERR_INVALID_MKV, format!("unusable stream header: {e}")))?;
        let header = self.store.intern_header(out.freeze(), timecode_scale_ns);
        self.tracks = Some(TrackSet {
            header,
            tracks: stream_header.tracks,
            track_numbers,
            timecode_scale_ns,
        });
        Ok(())
    }

    async fn on_cluster_start(&mut self, timecode: u64) -> Step {
        self.finish_current()?;
        let Some(tracks) = &self.tracks else {
            return Err(fail(ERR_INVALID_MKV, "Cluster before Tracks"));
        };
        let header = tracks.header.clone();
        let scale = tracks.timecode_scale_ns;
        let previous = self.last_cluster_timecode.replace(timecode);
        if let Some(last) = previous
            && timecode <= last
        {
            // The ERROR ACK names the offending cluster's timecode.
            return Err(fail(
                ERR_TIMECODE_NOT_MONOTONIC,
                format!("cluster timecode {timecode} not after {last}"),
            ));
        }
        if self.stream.is_deleted() || !(self.is_active)() {
            return Err(fail(ERR_STREAM_NOT_ACTIVE, "stream is not ACTIVE"));
        }
        let tc_ms =
            i64::try_from(u128::from(timecode) * u128::from(scale) / 1_000_000).map_err(|_| {
                fail(
                    ERR_INVALID_PRODUCER_TIMESTAMP,
                    "cluster timecode out of range",
                )
            })?;
        let producer_ts_ms = match self.params.timecode_type {
            TimecodeType::Absolute => tc_ms,
            TimecodeType::Relative => i64::try_from(self.params.producer_start_ms)
                .ok()
                .and_then(|s| s.checked_add(tc_ms))
                .ok_or_else(|| {
                    fail(
                        ERR_INVALID_PRODUCER_TIMESTAMP,
                        "producer timestamp out of range",
                    )
                })?,
        };
        let id = self
            .store
            .next_fragment_id(self.stream)
            .await
            .map_err(|e| fail(ERR_INTERNAL, format!("numbering fragment: {e}")))?;
        let dup = self.find_duplicates(producer_ts_ms).await;
        let server_ts_ms = now_ms();
        let live = Arc::new(LiveFragment::new(
            id,
            server_ts_ms,
            producer_ts_ms,
            i64::try_from(timecode).unwrap_or(i64::MAX),
            header.clone(),
        ));
        let mut start = BytesMut::with_capacity(kvs_core::mkv::writer::CLUSTER_START_LEN);
        write_cluster_start(timecode, &mut start);
        let start = start.freeze();
        let number = id.to_number();
        let fragment = OpenFragment {
            id,
            number,
            cluster_timecode: timecode,
            server_ts_ms,
            producer_ts_ms,
            live,
            header,
            timecode_scale_ns: scale,
            bytes: start.len(),
            parts: vec![start],
            frames: 0,
            max_rel_timecode: 0,
            distinct_offsets: Vec::new(),
            tracks_seen: Vec::new(),
            tags: std::mem::take(&mut self.pending_tags),
            ended: false,
            dup,
        };
        if fragment.dup.is_none() {
            publish(self.stream, &self.acks, &fragment);
        }
        self.current = Some(fragment);
        Ok(())
    }

    /// Earlier fragments starting at `producer_ts_ms` that this one may repeat. A lookup
    /// failure only costs the de-duplication: the fragment is then stored as new.
    async fn find_duplicates(&self, producer_ts_ms: i64) -> Option<DupCheck> {
        if !self.stream.may_hold_producer_ts(producer_ts_ms) {
            return None;
        }
        let tracks = self.tracks.as_ref()?;
        let incoming = Incoming {
            producer_ts_ms,
            header: &tracks.header,
            tracks: &tracks.tracks,
            retention_zero: self.stream.retention_hours() == 0,
        };
        match DupCheck::find(self.store, self.stream, incoming).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(stream = %self.stream.arn, error = %e, "duplicate lookup failed");
                None
            }
        }
    }

    fn on_block(&mut self, block: Block) -> Step {
        let limits_bytes = self.limits.max_fragment_bytes;
        let limits_ms = self.limits.max_fragment_duration_ms;
        let known = self
            .tracks
            .as_ref()
            .is_some_and(|t| t.track_numbers.contains(&block.track_number));
        let Some(f) = self.current.as_mut().filter(|f| !f.ended) else {
            return Err(fail(ERR_INVALID_MKV, "block outside a Cluster"));
        };
        if !known {
            return Err(fail(
                ERR_TRACK_NUMBER_MISMATCH,
                format!("block for undeclared track {}", block.track_number),
            ));
        }
        let rel = i64::from(block.relative_timecode);
        if f.units_to_ms(rel) > limits_ms {
            return Err(fail(
                ERR_FRAGMENT_TOO_LONG,
                format!("fragment longer than {limits_ms} ms"),
            ));
        }
        let mut flags = 0u8;
        if block.keyframe {
            flags |= kvs_core::mkv::writer::block_flags::KEYFRAME;
        }
        if block.invisible {
            flags |= kvs_core::mkv::writer::block_flags::INVISIBLE;
        }
        if block.discardable {
            flags |= kvs_core::mkv::writer::block_flags::DISCARDABLE;
        }
        let hdr = SimpleBlockHeader::with_flags(
            block.track_number,
            block.relative_timecode,
            flags,
            block.payload.len(),
        )
        .map_err(|e| fail(ERR_INVALID_MKV, format!("unusable block: {e}")))?;
        let len = SimpleBlockHeader::LEN + block.payload.len();
        if f.bytes + len > limits_bytes {
            return Err(fail(
                ERR_FRAGMENT_TOO_LARGE,
                format!("fragment larger than {limits_bytes} bytes"),
            ));
        }
        // The payload stays a slice of the received body: no copy per frame.
        let parts = [Bytes::copy_from_slice(hdr.as_bytes()), block.payload];
        let held = match f.dup.as_mut() {
            Some(check) => {
                for p in &parts {
                    check.feed(p);
                }
                !check.is_empty()
            }
            None => false,
        };
        f.bytes += len;
        f.frames += 1;
        f.max_rel_timecode = f.max_rel_timecode.max(rel);
        if !f.tracks_seen.contains(&block.track_number) {
            f.tracks_seen.push(block.track_number);
        }
        if !f.distinct_offsets.contains(&rel) {
            f.distinct_offsets.push(rel);
        }
        if f.dup.is_none() {
            self.stream.live().push_parts(&f.live, &parts);
            f.parts.extend(parts);
        } else {
            f.parts.extend(parts);
            if !held {
                // It differs from every candidate: a new fragment, live from here on.
                f.dup = None;
                publish(self.stream, &self.acks, f);
            }
        }
        Ok(())
    }

    fn on_tags(&mut self, tags: Vec<Tag>) -> Step {
        let mut end_of_fragment = false;
        // Tags stay grouped as sent: an event is one Tag of several SimpleTags and GetMedia
        // must serve it that way.
        let mut kept = Vec::with_capacity(tags.len());
        for mut tag in tags {
            for st in &tag.simple_tags {
                if st.name == END_OF_FRAGMENT {
                    end_of_fragment = true;
                } else if st.name.is_empty()
                    || st.name.len() > MAX_NAME_LEN
                    || st.value.len() > MAX_VALUE_LEN
                {
                    return Err(fail(
                        ERR_METADATA_LIMIT,
                        format!("fragment metadata {:?} exceeds name/value limits", st.name),
                    ));
                }
            }
            tag.simple_tags.retain(|st| st.name != END_OF_FRAGMENT);
            if !tag.simple_tags.is_empty() {
                kept.push(tag);
            }
        }
        // Metadata goes before the Cluster it belongs to, so Tags after an ended Cluster wait
        // for the next one; but if END_OF_FRAGMENT follows, they (and the Tags element that
        // carries it) belong to the fragment it ends: the producer flushes its not-yet-sent
        // metadata right before that tag.
        self.pending_tags.extend(kept);
        let max = self.limits.max_tags_per_fragment;
        let target = match self.current.as_mut() {
            Some(f) if end_of_fragment || !f.ended => {
                f.tags.append(&mut self.pending_tags);
                &f.tags
            }
            _ => &self.pending_tags,
        };
        let user = target
            .iter()
            .flat_map(|t| &t.simple_tags)
            .filter(|st| !st.name.starts_with(RESERVED_PREFIX))
            .count();
        if user > max {
            // Whichever fragment the excess belongs to, one whose Cluster already ended is
            // complete and stays.
            if !end_of_fragment {
                self.close_ended()?;
            }
            return Err(fail(
                ERR_METADATA_LIMIT,
                format!("more than {max} metadata tags in a fragment"),
            ));
        }
        if end_of_fragment {
            self.finish_current()?;
        }
        Ok(())
    }

    /// Completes the current fragment if its Cluster already ended.
    fn close_ended(&mut self) -> Step {
        if self.current.as_ref().is_some_and(|f| f.ended) {
            self.finish_current()?;
        }
        Ok(())
    }

    /// Completes the current fragment: RECEIVED, then persist in the background.
    fn finish_current(&mut self) -> Step {
        if let (Some(f), Some(t)) = (&self.current, &self.tracks)
            && let Some(missing) = t.track_numbers.iter().find(|n| !f.tracks_seen.contains(n))
        {
            return Err(fail(
                ERR_FRAMES_MISSING_FOR_TRACK,
                format!("track {missing} has no frame in the fragment"),
            ));
        }
        let Some(mut f) = self.current.take() else {
            return Ok(());
        };
        let duration_ms = f.duration_ms();
        let retention_zero = self.stream.retention_hours() == 0;
        self.stream.note_producer_ts(f.producer_ts_ms);
        self.outcome.fragments += 1;
        if let Some(check) = f.dup.take() {
            if let Some(repeat) = check.finish(&f.tags, retention_zero) {
                self.finish_repeat(f, repeat, duration_ms, retention_zero);
                return Ok(());
            }
            publish(self.stream, &self.acks, &f);
        }
        self.stream
            .live()
            .finish(&f.live, LiveEnd::Complete { duration_ms }, f.tags.clone());
        self.ack(Ack::received(f.cluster_timecode, &f.number));
        if retention_zero {
            // Nothing is persisted without retention, and no PERSISTED ACK is sent.
            f.live.set_durability(Durability::NotStored);
            return Ok(());
        }
        let (timecode, number, live) = (f.cluster_timecode, f.number.clone(), f.live.clone());
        // Queued now, so commits keep the fragments' order.
        let persisted = self
            .store
            .persist(pending_fragment(self.stream, f, duration_ms));
        self.spawn_persisted_ack(timecode, true, async move {
            let result = persisted.await;
            live.set_durability(if result.is_ok() {
                Durability::Persisted
            } else {
                Durability::Failed
            });
            (number, result)
        });
        Ok(())
    }

    /// A complete fragment equal to one the stream holds: the usual ACKs, carrying the first
    /// copy's number; nothing stored, nothing shown to live readers.
    fn finish_repeat(
        &mut self,
        f: OpenFragment,
        repeat: Repeat,
        duration_ms: i64,
        retention_zero: bool,
    ) {
        let number = repeat.id.to_number();
        let timecode = f.cluster_timecode;
        tracing::debug!(stream = %self.stream.arn, fragment = %number, timecode,
            "re-sent fragment equals a stored one; not stored again");
        self.ack(Ack::buffering(timecode, &number));
        self.ack(Ack::received(timecode, &number));
        self.outcome.deduplicated += 1;
        if retention_zero {
            return;
        }
        let first = match repeat.original {
            Original::Live(first) if first.durability() != Durability::Persisted => first,
            _ => {
                self.spawn_persisted_ack(timecode, false, async move { (number, Ok(())) });
                return;
            }
        };
        // The first copy is still on its way to the disk. Should that fail, this copy is
        // stored under its own number, so the fragment is not lost.
        let store = self.store.clone();
        let own = pending_fragment(self.stream, f, duration_ms);
        self.spawn_persisted_ack(timecode, true, async move {
            if first.settled().await == Durability::Persisted {
                return (number, Ok(()));
            }
            let own_number = own.id.to_number();
            tracing::warn!(fragment = %number, replacement = %own_number,
                "first copy of a re-sent fragment was not stored; storing the copy");
            (own_number, store.persist(own).await)
        });
    }

    /// Sends PERSISTED (or ERROR 5001) once `work` says how storing went; `work` yields the
    /// fragment number the ACK names.
    fn spawn_persisted_ack<W>(&mut self, timecode: u64, holds_disk: bool, work: W)
    where
        W: Future<Output = (String, Result<(), MediaError>)> + Send + 'static,
    {
        let acks = self.acks.clone();
        // Several fragments may complete in one body chunk, so this can exceed the limit
        // briefly; the read loop waits for permits before reading more.
        let permit = holds_disk
            .then(|| self.inflight.clone().try_acquire_owned().ok())
            .flatten();
        // PERSISTED ACKs must leave in fragment order: AWS's producer SDK trims its buffer
        // up to the fragment a PERSISTED names, and consumers read them as a watermark. The
        // store may complete several fragments in one group commit and these tasks then run
        // in any order, so each one waits for its predecessor's ACK before sending its own.
        let previous = self.previous_persist_ack.take();
        let (sent_tx, sent_rx) = oneshot::channel();
        self.previous_persist_ack = Some(sent_rx);
        tokio::spawn(async move {
            let _permit = permit;
            let (number, result) = work.await;
            if let Some(previous) = previous {
                // An error only means the previous task is gone; nothing left to wait for.
                let _ = previous.await;
            }
            match result {
                Ok(()) => {
                    let _ = acks.send(Ack::persisted(timecode, &number));
                }
                Err(e) => {
                    tracing::error!(fragment = %number, error = %e, "persisting fragment failed");
                    let _ = acks.send(Ack::error(Some(timecode), Some(&number), ERR_ARCHIVAL));
                }
            }
            let _ = sent_tx.send(());
        });
    }

    /// Ends the session without an ERROR ACK; an unfinished fragment is dropped.
    fn abort(&mut self) {
        if let Some(f) = self.current.take() {
            self.stream
                .live()
                .finish(&f.live, LiveEnd::Aborted, Vec::new());
        }
    }

    fn error(&mut self, Failure(id, why): Failure) {
        tracing::info!(stream = %self.stream.arn, error_id = id.0, reason = %why, "PutMedia ERROR");
        let (timecode, number) = match &self.current {
            Some(f) => (Some(f.cluster_timecode), Some(f.number.clone())),
            None => (self.last_cluster_timecode, None),
        };
        self.ack(Ack::error(timecode, number.as_deref(), id));
        self.outcome.error = Some(id.0);
        self.abort();
    }
}

/// Shows a fragment to live readers (with everything received so far) and sends its
/// BUFFERING ACK.
fn publish(stream: &StreamMedia, acks: &UnboundedSender<Ack>, f: &OpenFragment) {
    let live = stream.live();
    live.start(f.live.clone(), stream.retention_hours() == 0, now_ms());
    live.push_parts(&f.live, &f.parts);
    let _ = acks.send(Ack::buffering(f.cluster_timecode, &f.number));
}

fn pending_fragment(
    stream: &Arc<StreamMedia>,
    f: OpenFragment,
    duration_ms: i64,
) -> PendingFragment {
    PendingFragment {
        stream: stream.clone(),
        id: f.id,
        header: f.header,
        cluster: f.parts,
        producer_ts_ms: f.producer_ts_ms,
        server_ts_ms: f.server_ts_ms,
        duration_ms,
        cluster_timecode: i64::try_from(f.cluster_timecode).unwrap_or(i64::MAX),
        frame_count: f.frames,
        tags: f.tags,
    }
}

async fn stopping(shutdown: &mut Option<tokio::sync::watch::Receiver<bool>>) {
    match shutdown {
        Some(rx) => {
            if rx.wait_for(|s| *s).await.is_err() {
                // The server is gone without a signal: nothing to wait for.
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

fn mkv_failure(e: &MkvError) -> Failure {
    fail(ERR_INVALID_MKV, format!("invalid MKV: {e}"))
}
