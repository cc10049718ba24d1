// SPDX-License-Identifier: MPL-2.0
//! The state machine that merges GetMedia documents into one Matroska stream.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use super::error::ConsumerError;
use super::fragment::{FragmentInfo, ServiceErrorChunk};
use super::resume::ResumePoint;
use super::timestamps::{TimestampSource, frame_time_ns, map_cluster_timecode};
use crate::getmedia::{self, FragmentServiceTags};
use crate::mkv::{
    Block, Lacing, MkvEvent, MkvReader, ReaderLimits, SegmentInfo, SimpleBlockHeader, SimpleTag,
    StreamHeader, Tag, TrackInfo, write_cluster_start, write_stream_header,
};

/// When a fragment counts as fully received, so its continuation token may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompletionRule {
    /// GetMedia: once MILLIS_BEHIND_NOW and CONTINUATION_TOKEN arrive (as AWS's parser
    /// library decides), or when the next document starts.
    #[default]
    TrailingTags,
    /// GetMediaForFragmentList, which may not send the trailing tags: also when the response
    /// ends cleanly after the document.
    DocumentEnd,
}

/// What the merger hands out, in stream order.
#[derive(Debug, Clone, PartialEq)]
pub enum ConsumerEvent {
    /// A new output stream starts with `bytes` (EBML header, Segment, Info, Tracks). `first` is
    /// false when the tracks changed mid-stream: downstream must treat it as a new stream.
    StreamHeader {
        header: StreamHeader,
        bytes: Bytes,
        first: bool,
    },
    /// Matroska bytes (a cluster start, a SimpleBlock header or a frame payload). `pts_ns` is
    /// set on a SimpleBlock header: the output time of the frame that follows.
    Media { bytes: Bytes, pts_ns: Option<u64> },
    /// A fragment's data has all been emitted.
    Fragment(FragmentInfo),
    /// The service sent an error chunk and will stop the session.
    ServiceError(ServiceErrorChunk),
    /// A fragment with the same producer start timestamp and the same tracks as the fragment
    /// before it was dropped whole: a producer re-sent a fragment whose ACK it lost, and the
    /// service stored both (AWS's HLS likewise keeps one of equal-start duplicates). The
    /// output continues after it, like after any fragment.
    DuplicateSkipped(FragmentInfo),
}

/// Counters for the element's `stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MergerStats {
    pub fragments: u64,
    pub frames: u64,
    /// Frames received again after a reconnection and dropped because they had been emitted.
    pub frames_deduplicated: u64,
    /// Documents whose header was identical to the current output's and was dropped.
    pub headers_merged: u64,
    /// Output streams started (1 + track changes).
    pub streams: u64,
    pub bytes_out: u64,
    pub service_errors: u64,
    pub connections: u64,
    /// Fragments dropped as duplicates of the one before (see
    /// [`ConsumerEvent::DuplicateSkipped`]).
    pub duplicates_skipped: u64,
}

// GetMediaForFragmentList is documented with other spellings for the same tags.
const ALIASES: [(&str, &str); 3] = [
    (
        "AWS_KINESISVIDEO_SERVER_SIDE_TIMESTAMP",
        getmedia::TAG_SERVER_TIMESTAMP,
    ),
    (
        "AWS_KINESISVIDEO_PRODUCER_SIDE_TIMESTAMP",
        getmedia::TAG_PRODUCER_TIMESTAMP,
    ),
    (
        "AWS_KINESISVIDEO_EXCEPTION_ERROR_CODE",
        getmedia::TAG_ERROR_ID,
    ),
];

/// One document (= one fragment) being received.
#[derive(Debug, Default)]
struct Doc {
    info: Option<SegmentInfo>,
    tracks: Option<Vec<TrackInfo>>,
    service: FragmentServiceTags,
    tags: Vec<SimpleTag>,
    /// Frames seen so far in this document, including ones dropped as replays.
    frames: u64,
    /// Frames at the start of this document already emitted by an earlier connection.
    replayed: u64,
    first_cluster_timecode: Option<u64>,
    /// Output timecode of the current cluster; `written` once its start went out.
    cluster: Option<(u64, bool)>,
    /// Set once the output header for this document has been settled.
    scale: Option<u64>,
    start_ns: Option<u64>,
    end_ns: Option<u64>,
    reported: bool,
    error_reported: bool,
    /// Decided at the first frame: whether this document repeats the previous fragment.
    duplicate: Option<bool>,
}

impl Doc {
    fn name(&self) -> String {
        self.service
            .fragment_number
            .clone()
            .unwrap_or_else(|| "(unnumbered)".into())
    }

    fn has_content(&self) -> bool {
        self.frames > 0 || self.service.fragment_number.is_some() || !self.tags.is_empty()
    }
}

/// Push-style merger: `push` each received chunk, drain `next_event`, and call
/// `finish_response` or `connection_lost` when a response ends.
#[derive(Debug)]
pub struct GetMediaMerger {
    limits: ReaderLimits,
    reader: MkvReader,
    source: TimestampSource,
    rule: CompletionRule,
    out_header: Option<StreamHeader>,
    last_info: Option<SegmentInfo>,
    last_tracks: Option<Vec<TrackInfo>>,
    doc: Option<Doc>,
    events: VecDeque<ConsumerEvent>,
    /// The fragment cut by the last connection loss and how many of its frames went out.
    pending_replay: Option<(String, u64)>,
    /// That fragment's server timestamp, for resuming before any fragment completed.
    interrupted: Option<(String, Option<u64>)>,
    last_token: Option<String>,
    last_fragment: Option<String>,
    /// Producer timestamp of the last fragment written out, for spotting a re-sent one.
    last_producer_ms: Option<u64>,
    stats: MergerStats,
}

impl GetMediaMerger {
    pub fn new(source: TimestampSource, rule: CompletionRule) -> Self {
        Self::with_limits(source, rule, ReaderLimits::default())
    }

    pub fn with_limits(
        source: TimestampSource,
        rule: CompletionRule,
        limits: ReaderLimits,
    ) -> Self {
        GetMediaMerger {
            limits,
            reader: MkvReader::with_limits(limits),
            source,
            rule,
            out_header: None,
            last_info: None,
            last_tracks: None,
            doc: None,
            events: VecDeque::new(),
            pending_replay: None,
            interrupted: None,
            last_token: None,
            last_fragment: None,
            last_producer_ms: None,
            stats: MergerStats {
                connections: 1,
                ..MergerStats::default()
            },
        }
    }

    /// Continues an output stream whose header went out earlier (e.g. through another merger
    /// before a seek): documents with the same tracks then add no header, so downstream sees
    /// one stream. Call before the first `push`.
    pub fn continue_stream(&mut self, header: StreamHeader) {
        self.last_info = Some(header.info.clone());
        self.last_tracks = Some(header.tracks.clone());
        self.out_header = Some(header);
    }

    /// Parses a chunk of the response body; the resulting events wait in `next_event`.
    pub fn push(&mut self, chunk: Bytes) -> Result<(), ConsumerError> {
        self.reader.push(chunk);
        self.drain_reader(false)
    }

    /// The next event, in output order.
    pub fn next_event(&mut self) -> Option<ConsumerEvent> {
        self.events.pop_front()
    }

    /// The response body ended without a transport error. A document cut short (no trailing
    /// tags under [`CompletionRule::TrailingTags`], or cut inside an element) is treated like
    /// a lost connection so it is resumed without duplicates.
    pub fn finish_response(&mut self) -> Result<(), ConsumerError> {
        // A finish error means "cut inside an element": not malformed, just short, so what
        // was complete before the cut is used and the rest is resumed.
        let cut = self.reader.finish().is_err();
        let drained = loop {
            match self.reader.next_event() {
                Ok(Some(ev)) => {
                    if let Err(e) = self.handle(ev.event, true) {
                        break Err(e);
                    }
                }
                Ok(None) => break Ok(()),
                Err(_) if cut => break Ok(()),
                Err(e) => break Err(e.into()),
            }
        };
        if let Some(doc) = self.doc.as_ref()
            && !doc.reported
            && self.rule == CompletionRule::DocumentEnd
            && doc.has_content()
            && !cut
            && drained.is_ok()
        {
            self.complete_doc();
        }
        self.connection_lost();
        drained
    }

    /// The response broke (network error, timeout, reset). Everything parsed so far has
    /// already been emitted; an unfinished fragment is remembered so that its replay by the
    /// next connection continues where the output stopped.
    pub fn connection_lost(&mut self) {
        if let Some(doc) = self.doc.take()
            && !doc.reported
            && let Some(number) = doc.service.fragment_number.clone()
        {
            if doc.frames > 0 {
                self.pending_replay = Some((number.clone(), doc.frames));
            }
            self.interrupted = Some((number, doc.service.server_timestamp_ms));
        }
        self.reader = MkvReader::with_limits(self.limits);
        self.stats.connections += 1;
    }

    /// Where the next request should start so that the output continues seamlessly.
    pub fn resume_point(&self) -> ResumePoint {
        if let Some(token) = &self.last_token {
            return ResumePoint::ContinuationToken(token.clone());
        }
        if let Some(number) = &self.last_fragment {
            return ResumePoint::AfterFragment(number.clone());
        }
        if let Some((fragment_number, Some(ms))) = &self.interrupted {
            return ResumePoint::ServerTimestamp {
                fragment_number: fragment_number.clone(),
                ms: *ms,
            };
        }
        ResumePoint::Original
    }

    /// The continuation token of the last fragment fully emitted.
    pub fn continuation_token(&self) -> Option<&str> {
        self.last_token.as_deref()
    }

    /// The number of the last fragment fully emitted.
    pub fn last_fragment_number(&self) -> Option<&str> {
        self.last_fragment.as_deref()
    }

    /// The header of the current output stream.
    pub fn output_header(&self) -> Option<&StreamHeader> {
        self.out_header.as_ref()
    }

    pub fn stats(&self) -> MergerStats {
        self.stats
    }

    fn drain_reader(&mut self, finishing: bool) -> Result<(), ConsumerError> {
        while let Some(ev) = self.reader.next_event()? {
            self.handle(ev.event, finishing)?;
        }
        Ok(())
    }

    fn handle(&mut self, event: MkvEvent, finishing: bool) -> Result<(), ConsumerError> {
        match event {
            MkvEvent::EbmlHeader(_) => {
                // The next document starting means the previous one is over.
                if self
                    .doc
                    .as_ref()
                    .is_some_and(|d| !d.reported && d.has_content())
                {
                    self.complete_doc();
                }
                self.doc = Some(Doc::default());
            }
            MkvEvent::SegmentStart { .. } => {
                if self.doc.is_none() {
                    self.doc = Some(Doc::default());
                }
            }
            MkvEvent::Info(info) => {
                self.doc_mut().info = Some(info.clone());
                self.last_info = Some(info);
            }
            MkvEvent::Tracks(tracks) => {
                self.doc_mut().tracks = Some(tracks.clone());
                self.last_tracks = Some(tracks);
            }
            MkvEvent::Tags(tags) => self.on_tags(tags)?,
            MkvEvent::ClusterStart { timecode, .. } => self.on_cluster(timecode),
            MkvEvent::Block(block) => self.on_block(block)?,
            MkvEvent::SegmentEnd => {
                // A known-size Segment ended inside the stream; at the end of the response
                // `finish_response` decides.
                if !finishing && self.doc.as_ref().is_some_and(|d| !d.reported) {
                    self.complete_doc();
                }
            }
            MkvEvent::ClusterEnd | MkvEvent::Skipped { .. } => {}
        }
        Ok(())
    }

    fn doc_mut(&mut self) -> &mut Doc {
        self.doc.get_or_insert_with(Doc::default)
    }

    fn on_tags(&mut self, tags: Vec<Tag>) -> Result<(), ConsumerError> {
        let pending = self.pending_replay.clone();
        let doc = self.doc.get_or_insert_with(Doc::default);
        let had_number = doc.service.fragment_number.is_some();
        for st in tags.into_iter().flat_map(|t| t.simple_tags) {
            let name = ALIASES
                .iter()
                .find(|(alias, _)| *alias == st.name)
                .map_or(st.name.as_str(), |(_, canonical)| canonical);
            if !doc.service.apply(name, &st.value)? && !doc.tags.contains(&st) {
                doc.tags.push(st);
            }
        }
        if !had_number && let Some(number) = doc.service.fragment_number.as_deref() {
            // The service resent the fragment the last connection cut: skip what went out.
            if let Some((cut, frames)) = &pending {
                if cut == number {
                    doc.replayed = *frames;
                }
                self.pending_replay = None;
            }
        }
        if doc.service.is_error() && !doc.error_reported {
            doc.error_reported = true;
            let chunk = ServiceErrorChunk {
                fragment_number: doc.service.fragment_number.clone(),
                error_code: doc.service.error_code.clone(),
                error_id: doc.service.error_id,
            };
            self.stats.service_errors += 1;
            self.events.push_back(ConsumerEvent::ServiceError(chunk));
        }
        if doc.service.is_complete() && !doc.reported {
            self.complete_doc();
        }
        Ok(())
    }

    fn on_cluster(&mut self, timecode: u64) {
        let source = self.source;
        // A document without its own Info uses the previous one's, as `ensure_header` does.
        let inherited_scale = self.last_info.as_ref().map(|i| i.timecode_scale);
        let doc = self.doc_mut();
        let first = *doc.first_cluster_timecode.get_or_insert(timecode);
        let fragment_ms = match source {
            TimestampSource::Producer => doc.service.producer_timestamp_ms,
            TimestampSource::Server => doc.service.server_timestamp_ms,
        };
        let scale = doc
            .info
            .as_ref()
            .map(|i| i.timecode_scale)
            .or(inherited_scale)
            .unwrap_or(crate::mkv::DEFAULT_TIMECODE_SCALE_NS);
        let mapped = map_cluster_timecode(fragment_ms, first, timecode, scale);
        doc.cluster = Some((mapped, false));
    }

    fn on_block(&mut self, block: Block) -> Result<(), ConsumerError> {
        if self.doc_is_duplicate() {
            if let Some(doc) = self.doc.as_mut() {
                doc.frames += 1;
            }
            return Ok(());
        }
        self.ensure_header()?;
        let Some(doc) = self.doc.as_mut() else {
            return Ok(());
        };
        let scale = doc.scale.unwrap_or(crate::mkv::DEFAULT_TIMECODE_SCALE_NS);
        let Some((cluster_tc, written)) = doc.cluster else {
            return Ok(());
        };
        let pts = frame_time_ns(cluster_tc, block.relative_timecode, scale);
        doc.start_ns = Some(doc.start_ns.map_or(pts, |s| s.min(pts)));
        doc.end_ns = Some(doc.end_ns.map_or(pts, |e| e.max(pts)));
        doc.frames += 1;
        if doc.frames <= doc.replayed {
            self.stats.frames_deduplicated += 1;
            return Ok(());
        }
        if !written {
            doc.cluster = Some((cluster_tc, true));
            let mut out = BytesMut::with_capacity(crate::mkv::writer::CLUSTER_START_LEN);
            write_cluster_start(cluster_tc, &mut out);
            self.emit_media(out.freeze(), None);
        }
        let header = block_header(&block).map_err(|source| ConsumerError::Write {
            fragment: self.doc.as_ref().map(Doc::name).unwrap_or_default(),
            source,
        })?;
        self.stats.frames += 1;
        self.emit_media(Bytes::copy_from_slice(&header), Some(pts));
        if !block.payload.is_empty() {
            self.emit_media(block.payload, None);
        }
        Ok(())
    }

    /// Whether the current document repeats the fragment written before it: the same producer
    /// start timestamp and the same tracks. Decided once, at its first frame (the service's
    /// tags come before the clusters).
    fn doc_is_duplicate(&mut self) -> bool {
        let Some(doc) = self.doc.as_ref() else {
            return false;
        };
        if let Some(known) = doc.duplicate {
            return known;
        }
        let tracks = doc.tracks.as_ref().or(self.last_tracks.as_ref());
        let duplicate = doc.service.producer_timestamp_ms.is_some()
            && doc.service.producer_timestamp_ms == self.last_producer_ms
            && tracks.is_some_and(|t| self.out_header.as_ref().is_some_and(|h| &h.tracks == t));
        if let Some(doc) = self.doc.as_mut() {
            doc.duplicate = Some(duplicate);
        }
        duplicate
    }

    /// Settles the output header for the current document before its first frame goes out.
    fn ensure_header(&mut self) -> Result<(), ConsumerError> {
        let Some(doc) = self.doc.as_ref() else {
            return Ok(());
        };
        if doc.scale.is_some() {
            return Ok(());
        }
        let tracks = doc.tracks.clone().or_else(|| self.last_tracks.clone());
        let Some(tracks) = tracks else {
            return Err(ConsumerError::MissingTracks {
                fragment: doc.name(),
            });
        };
        let info = doc
            .info
            .clone()
            .or_else(|| self.last_info.clone())
            .unwrap_or_default();
        if info.timecode_scale == 0 {
            return Err(ConsumerError::ZeroTimecodeScale {
                fragment: doc.name(),
            });
        }
        let scale = info.timecode_scale;
        let same = self
            .out_header
            .as_ref()
            .is_some_and(|h| h.tracks == tracks && h.info.timecode_scale == info.timecode_scale);
        if same {
            self.stats.headers_merged += 1;
        } else {
            let header = StreamHeader { info, tracks };
            let mut out = BytesMut::with_capacity(512);
            write_stream_header(&header, &mut out).map_err(|source| ConsumerError::Write {
                fragment: doc.name(),
                source,
            })?;
            let bytes = out.freeze();
            self.stats.streams += 1;
            self.stats.bytes_out += bytes.len() as u64;
            self.events.push_back(ConsumerEvent::StreamHeader {
                header: header.clone(),
                bytes,
                first: self.out_header.is_none(),
            });
            self.out_header = Some(header);
        }
        // A document whose own scale differs from the output's was given a new header above,
        // so the output scale is the document's.
        if let Some(doc) = self.doc.as_mut() {
            doc.scale = Some(scale);
            // Cluster timecodes were mapped with the document's scale; nothing to redo.
        }
        Ok(())
    }

    fn emit_media(&mut self, bytes: Bytes, pts_ns: Option<u64>) {
        self.stats.bytes_out += bytes.len() as u64;
        self.events
            .push_back(ConsumerEvent::Media { bytes, pts_ns });
    }

    fn complete_doc(&mut self) {
        let Some(doc) = self.doc.as_mut() else {
            return;
        };
        if doc.reported {
            return;
        }
        doc.reported = true;
        let duplicate = doc.duplicate == Some(true);
        let info = FragmentInfo {
            fragment_number: doc.service.fragment_number.clone(),
            producer_timestamp_ms: doc.service.producer_timestamp_ms,
            server_timestamp_ms: doc.service.server_timestamp_ms,
            millis_behind_now: doc.service.millis_behind_now,
            continuation_token: doc.service.continuation_token.clone(),
            tags: doc.tags.clone(),
            frames: doc.frames,
            start_ns: doc.start_ns,
            end_ns: doc.end_ns,
        };
        // An error chunk is not a fragment.
        if doc.service.is_error() {
            return;
        }
        if let Some(token) = &info.continuation_token {
            self.last_token = Some(token.clone());
        }
        if let Some(number) = &info.fragment_number {
            self.last_fragment = Some(number.clone());
        }
        self.interrupted = None;
        if duplicate {
            self.stats.duplicates_skipped += 1;
            self.events.push_back(ConsumerEvent::DuplicateSkipped(info));
            return;
        }
        if info.producer_timestamp_ms.is_some() {
            self.last_producer_ms = info.producer_timestamp_ms;
        }
        self.stats.fragments += 1;
        self.events.push_back(ConsumerEvent::Fragment(info));
    }
}

/// A SimpleBlock header equivalent to the received block (BlockGroups become SimpleBlocks).
fn block_header(block: &Block) -> Result<[u8; SimpleBlockHeader::LEN], crate::mkv::MkvWriteError> {
    use crate::mkv::writer::block_flags;
    let mut flags = 0u8;
    if block.keyframe {
        flags |= block_flags::KEYFRAME;
    }
    if block.invisible {
        flags |= block_flags::INVISIBLE;
    }
    if block.discardable {
        flags |= block_flags::DISCARDABLE;
    }
    let header = SimpleBlockHeader::with_flags(
        block.track_number,
        block.relative_timecode,
        flags,
        block.payload.len(),
    )?;
    let mut bytes = *header.as_bytes();
    // The payload still holds its lace header, so the lacing bits must survive.
    let lacing = match block.lacing {
        Lacing::None => 0,
        Lacing::Xiph => 0x02,
        Lacing::Ebml => 0x06,
        Lacing::FixedSize => 0x04,
    };
    if let Some(last) = bytes.last_mut() {
        *last |= lacing;
    }
    Ok(bytes)
}
