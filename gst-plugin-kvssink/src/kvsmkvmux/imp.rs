// SPDX-License-Identifier: MPL-2.0
//! The fragmenter as a `GstAggregator`: the aggregator queues each pad and, in live
//! pipelines, calls `aggregate(timeout = true)` once its latency has passed, which is the
//! bounded wait for a quiet track. The decisions themselves live in `kvs_core::producer`.

use std::sync::{LazyLock, Mutex};

use bytes::BytesMut;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use kvs_core::mkv::{self, SimpleBlockHeader, Tag};
use kvs_core::producer::{
    FrameIn, Pick, Placement, ProducerWarning, SkipReason, TrackHead, pick_next,
};
use kvs_core::tags::{FieldValue, MetadataEvent, end_of_fragment_tag};

use super::caps::{audio_caps, video_caps};
use super::state::{Notice, Started, dts_clamp_warning, now_epoch_ns, signed_ns};
use super::track::{self, TrackInput};
use crate::chunk::BufferRole;
use crate::fragmenter_settings::{self, FragmenterSettings};
use crate::lock::lock;

pub(crate) static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "kvsmkvmux",
        gst::DebugColorFlags::empty(),
        Some("KVS MKV fragmenter"),
    )
});

const VIDEO_TEMPLATE: &str = "video_%u";
const AUDIO_TEMPLATE: &str = "audio_%u";
/// How long, in live pipelines, a track with nothing queued holds the others back before
/// they go on without it (and a warning names it). The aggregator's `latency` property.
pub const TRACK_WAIT: gst::ClockTime = gst::ClockTime::from_seconds(1);
/// Before the first stream header, in live pipelines, how much running time of the tracks
/// that already deliver is held back while another track has not sent its first frame
/// (devices and encoders can take seconds to start). A header without that track would be
/// followed by a second one once it shows up, which readers of the stream cannot follow.
/// Past this limit the stream goes on without the quiet track (and a warning names it).
pub const STARTUP_WAIT: gst::ClockTime = gst::ClockTime::from_seconds(5);
/// Frames held back during the start-up wait, all tracks together: bounds memory for
/// sources with tiny buffers; reaching it ends the wait like [`STARTUP_WAIT`] does.
const MAX_HELD_FRAMES: usize = 4096;
/// One video and one audio pad at most (AWS's limit too).
const MAX_TRACKS: usize = 2;

#[derive(Default)]
pub struct KvsMkvMux {
    settings: Mutex<FragmenterSettings>,
    state: Mutex<Option<Started>>,
    /// The buffer list of the last `aggregate`, emptied, for the next one: a list per frame
    /// would be a GLib allocation per frame.
    spare_list: Mutex<Option<gst::BufferList>>,
}

/// A buffer from an upstream buffer pool must go back to it: the uploader keeps what it
/// sends until the service acknowledges it (seconds), which would starve a pool of a few
/// buffers (a hardware encoder's outputs) and stall the pipeline. Such buffers are copied,
/// as AWS's kvssink copies every frame; all others are kept by reference.
fn detach_from_pool(buffer: gst::Buffer) -> gst::Buffer {
    // SAFETY: `pool` is a public field of every valid GstBuffer; it is only read.
    let pooled = unsafe { !(*buffer.as_ptr()).pool.is_null() };
    if !pooled {
        return buffer;
    }
    match buffer.copy_deep() {
        Ok(copy) => copy,
        Err(_) => buffer,
    }
}

fn bytes_buffer(bytes: BytesMut, role: BufferRole) -> gst::Buffer {
    let mut buffer = gst::Buffer::from_slice(bytes.freeze());
    if let Some(b) = buffer.get_mut() {
        role.apply(b);
    }
    buffer
}

impl KvsMkvMux {
    fn sink_pads(&self) -> Vec<gst::Pad> {
        self.obj().sink_pads()
    }

    fn post_notices(&self, notices: Vec<Notice>) {
        for n in notices {
            match n {
                Notice::Warning(text) => {
                    gst::element_imp_warning!(self, gst::StreamError::Mux, ("{}", text));
                }
                Notice::Info(text) => {
                    gst::info!(CAT, imp = self, "{text}");
                    gst::element_imp_info!(self, gst::StreamError::Mux, ("{}", text));
                }
            }
        }
    }

    fn running_times(
        settings: &FragmenterSettings,
        segment: &gst::FormattedSegment<gst::ClockTime>,
        buffer: &gst::BufferRef,
    ) -> (Option<i64>, Option<i64>) {
        if settings.use_original_pts {
            let ns = |t: Option<gst::ClockTime>| {
                t.map(|t| i64::try_from(t.nseconds()).unwrap_or(i64::MAX))
            };
            return (ns(buffer.pts()), ns(buffer.dts()));
        }
        let rt = |t: Option<gst::ClockTime>| {
            t.and_then(|t| segment.to_running_time_full(t))
                .map(signed_ns)
        };
        (rt(buffer.pts()), rt(buffer.dts()))
    }

    /// Turns one input buffer into output buffers. Errors are already posted.
    fn process(
        &self,
        st: &mut Started,
        idx: usize,
        buffer: gst::Buffer,
        out: &mut gst::BufferList,
        notices: &mut Vec<Notice>,
    ) -> Result<(), gst::FlowError> {
        let Some(track) = st.tracks.get(idx) else {
            return Ok(());
        };
        let pad = track.pad.clone();
        let is_video = track.is_video;
        if buffer
            .flags()
            .intersects(gst::BufferFlags::CORRUPTED | gst::BufferFlags::DECODE_ONLY)
            || buffer.size() == 0
        {
            gst::debug!(
                CAT,
                obj = pad,
                "dropping corrupted/decode-only/empty buffer"
            );
            return Ok(());
        }
        let keyframe = !is_video || !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT);

        let payload = match &track.input {
            None => {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Negotiation,
                    (
                        "{} received data before its caps; the upstream element did not negotiate a format",
                        pad.name()
                    )
                );
                return Err(gst::FlowError::NotNegotiated);
            }
            Some(TrackInput::Audio(_)) => buffer,
            Some(TrackInput::Video { codec, framing, .. }) => {
                let (codec, framing) = (*codec, *framing);
                let prepared = {
                    let map = buffer.map_readable().map_err(|_| {
                        gst::element_imp_error!(
                            self,
                            gst::StreamError::Failed,
                            ["cannot map buffer"]
                        );
                        gst::FlowError::Error
                    })?;
                    track::prepare_video(codec, framing, track.config.as_ref(), keyframe, &map)
                };
                let prepared = match prepared {
                    Ok(p) => p,
                    Err(err) => {
                        gst::element_imp_error!(
                            self,
                            gst::StreamError::Format,
                            ("{}: {}", pad.name(), err),
                            ["{:?}", err]
                        );
                        return Err(gst::FlowError::Error);
                    }
                };
                if let Some(cfg) = prepared.new_config
                    && let Some(n) = st.set_config(idx, cfg)
                {
                    notices.push(n);
                }
                match prepared.converted {
                    Some(avcc) => {
                        let mut converted = gst::Buffer::from_mut_slice(avcc);
                        if let Some(b) = converted.get_mut() {
                            b.set_pts(buffer.pts());
                            b.set_dts(buffer.dts());
                            b.set_duration(buffer.duration());
                        }
                        converted
                    }
                    None => buffer,
                }
            }
        };

        let has_config = st.tracks.get(idx).is_some_and(|t| t.config.is_some());
        if !has_config {
            st.dropped_frames += 1;
            gst::debug!(CAT, obj = pad, "no codec configuration yet, dropping frame");
            return Ok(());
        }

        let (pts, dts) = st.tracks.get(idx).map_or((None, None), |t| {
            Self::running_times(&st.settings, &t.segment, &payload)
        });
        let times = match st.mapper.map(pts, dts, now_epoch_ns) {
            Ok(t) => t,
            Err(err) => {
                st.dropped_frames += 1;
                gst::warning!(CAT, obj = pad, "dropping frame: {err}");
                return Ok(());
            }
        };
        let placement = st.planner.place(FrameIn {
            track: idx,
            is_video,
            keyframe,
            pts_ns: times.pts_ns,
            dts_ns: times.dts_ns,
        });
        let (new_fragment, relative_timecode, warning) = match placement {
            Placement::Skip(reason) => {
                match reason {
                    SkipReason::WaitingForKeyFrame => {
                        gst::log!(CAT, obj = pad, "waiting for a key frame, dropping frame")
                    }
                    SkipReason::TooLate => notices.push(Notice::Warning(format!(
                        "{}: dropped a frame that arrived too late to fit its fragment",
                        pad.name()
                    ))),
                }
                return Ok(());
            }
            Placement::Block {
                new_fragment,
                relative_timecode,
                warning,
            } => (new_fragment, relative_timecode, warning),
        };
        match warning {
            Some(w @ ProducerWarning::FragmentClosedEarly { .. }) => {
                notices.push(Notice::Warning(w.to_string()))
            }
            Some(w @ ProducerWarning::DtsClamped { by_ns, .. }) => {
                gst::warning!(CAT, obj = pad, "{w}");
                if let Some(t) = st.tracks.get_mut(idx)
                    && !std::mem::replace(&mut t.dts_clamp_reported, true)
                {
                    notices.push(Notice::Warning(dts_clamp_warning(
                        pad.name().as_str(),
                        by_ns,
                    )));
                }
            }
            None => {}
        }

        if let Some(fragment) = new_fragment {
            if st.header_stale {
                let header = st.stream_header();
                let mut bytes = BytesMut::with_capacity(512);
                if let Err(err) = mkv::write_stream_header(&header, &mut bytes) {
                    gst::element_imp_error!(
                        self,
                        gst::StreamError::Mux,
                        ("cannot write the stream header: {}", err)
                    );
                    return Err(gst::FlowError::Error);
                }
                gst::info!(
                    CAT,
                    imp = self,
                    "new stream header with {} track(s)",
                    header.tracks.len()
                );
                out.make_mut().add(bytes_buffer(bytes, BufferRole::Header));
                st.header_stale = false;
            }
            let tags = st.metadata.take_for_next_fragment();
            // KVS refuses fragments with more than 10 metadata entries, so the rest wait
            // for later fragments; the application is told, since its tags arrive late.
            if tags.deferred > 0 {
                notices.push(Notice::Warning(format!(
                    "more fragment tags/events than a fragment may carry; {} deferred to the \
                     next fragment(s)",
                    tags.deferred
                )));
            }
            let mut bytes = BytesMut::with_capacity(mkv::writer::CLUSTER_START_LEN + 64);
            for tag in &tags.tags {
                if let Err(err) = mkv::write_tags(std::slice::from_ref(tag), &mut bytes) {
                    gst::warning!(CAT, imp = self, "dropping fragment tag: {err}");
                }
            }
            mkv::write_cluster_start(fragment.cluster_timecode, &mut bytes);
            let mut buf = bytes_buffer(
                bytes,
                BufferRole::FragmentStart {
                    timecode: fragment.cluster_timecode,
                },
            );
            if let Some(b) = buf.get_mut() {
                b.set_pts(
                    pts.and_then(|p| u64::try_from(p).ok())
                        .map(gst::ClockTime::from_nseconds),
                );
            }
            out.make_mut().add(buf);
            st.fragment_open = true;
            gst::debug!(
                CAT,
                imp = self,
                "fragment {} starts ({} tag(s))",
                fragment.cluster_timecode,
                tags.tags.len()
            );
        }

        let header = match SimpleBlockHeader::new(
            st.track_number(idx),
            relative_timecode,
            keyframe,
            payload.size(),
        ) {
            Ok(h) => h,
            Err(err) => {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Mux,
                    ("cannot write a block: {}", err)
                );
                return Err(gst::FlowError::Error);
            }
        };
        let block = st
            .block_headers
            .filled(header.as_bytes(), |b| BufferRole::Data.apply(b));
        let mut payload = detach_from_pool(payload);
        {
            let b = payload.make_mut();
            BufferRole::Data.apply(b);
            b.set_dts(gst::ClockTime::NONE);
            b.set_pts(
                pts.and_then(|p| u64::try_from(p).ok())
                    .map(gst::ClockTime::from_nseconds),
            );
        }
        let l = out.make_mut();
        l.add(block);
        l.add(payload);
        if let Some(rt) = dts.or(pts).and_then(|t| u64::try_from(t).ok()) {
            self.obj().set_position(gst::ClockTime::from_nseconds(rt));
        }
        Ok(())
    }

    /// Start-up wait (live, before the first header, some track still silent): takes the
    /// frames queued on the pads off them and holds them, so upstream is not blocked and
    /// the output position moves on (the aggregator then waits for the clock or for data
    /// instead of timing out at once again). Returns false when the wait is over.
    fn hold_for_start(&self, st: &mut Started) -> bool {
        let limit = i64::try_from(STARTUP_WAIT.nseconds()).unwrap_or(i64::MAX);
        let mut held: usize = st.tracks.iter().map(|t| t.held.len()).sum();
        let mut position = None;
        for t in &mut st.tracks {
            while let Some(buffer) = t.pad.peek_buffer() {
                let (pts, dts) = Self::running_times(&st.settings, &t.segment, &buffer);
                let dts = dts.or(pts).unwrap_or(i64::MIN);
                let first = *st.held_since_ns.get_or_insert(dts);
                if dts.saturating_sub(first) >= limit || held >= MAX_HELD_FRAMES {
                    gst::info!(
                        CAT,
                        imp = self,
                        "start-up wait over, going on without the silent track(s)"
                    );
                    return false;
                }
                if t.pad.pop_buffer().is_none() {
                    break;
                }
                gst::log!(
                    CAT,
                    obj = t.pad,
                    "holding a frame until every track started"
                );
                t.held.push_back((buffer, dts));
                held += 1;
                position = position.max(u64::try_from(dts).ok());
            }
        }
        if let Some(rt) = position {
            self.obj().set_position(gst::ClockTime::from_nseconds(rt));
        }
        true
    }

    /// While frames are held for the start-up wait and the pads are empty, there is no
    /// point in timing out: only new data can change anything.
    fn start_wait_idle(&self) -> bool {
        lock(&self.state).as_ref().is_some_and(|st| {
            !st.start_settled
                && st.tracks.iter().any(|t| !t.held.is_empty())
                && st.tracks.iter().all(|t| t.pad.peek_buffer().is_none())
        })
    }

    fn finish_stream(&self, st: &mut Started) -> Option<gst::Buffer> {
        if !st.fragment_open {
            return None;
        }
        st.fragment_open = false;
        // One-shot entries not sent yet go out with the final tag; persistent ones belong
        // to fragments, and no fragment follows (they come first in the list).
        let persistent = st.metadata.persistent_tags().len();
        let mut tags: Vec<Tag> = st
            .metadata
            .take_for_next_fragment()
            .tags
            .into_iter()
            .skip(persistent)
            .collect();
        tags.push(end_of_fragment_tag());
        let mut bytes = BytesMut::with_capacity(256);
        for tag in &tags {
            if let Err(err) = mkv::write_tags(std::slice::from_ref(tag), &mut bytes) {
                gst::warning!(CAT, imp = self, "dropping final tag: {err}");
            }
        }
        Some(bytes_buffer(bytes, BufferRole::Data))
    }

    fn handle_metadata_event(&self, st: &mut Started, s: &gst::StructureRef) -> bool {
        let lookup = |field: &str| -> Option<FieldValue> {
            let value = s.value(field).ok()?;
            Some(if let Ok(v) = value.get::<String>() {
                FieldValue::Str(v)
            } else if let Ok(v) = value.get::<bool>() {
                FieldValue::Bool(v)
            } else if let Ok(arr) = value.get::<gst::ArrayRef>() {
                let strings: Option<Vec<String>> =
                    arr.iter().map(|v| v.get::<String>().ok()).collect();
                strings.map_or_else(
                    || FieldValue::Other(value.type_().name().to_owned()),
                    FieldValue::StrList,
                )
            } else {
                FieldValue::Other(value.type_().name().to_owned())
            })
        };
        match MetadataEvent::from_fields(s.name().as_str(), lookup) {
            Ok(None) => false,
            Ok(Some(event)) => {
                if let Err(err) = st.metadata.apply(event) {
                    gst::element_imp_warning!(
                        self,
                        gst::StreamError::Mux,
                        ("fragment metadata refused: {}", err)
                    );
                }
                true
            }
            Err(err) => {
                gst::element_imp_warning!(
                    self,
                    gst::StreamError::Mux,
                    ("malformed {} event: {}", s.name(), err)
                );
                true
            }
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for KvsMkvMux {
    const NAME: &'static str = "GstRsKvsMkvMux";
    type Type = super::KvsMkvMux;
    type ParentType = gst_base::Aggregator;
}

impl ObjectImpl for KvsMkvMux {
    fn constructed(&self) {
        self.parent_constructed();
        // Default names from the element name (kvsmkvmux0), not from the GType.
        let obj = self.obj();
        if let Some(rest) = obj.name().strip_prefix("rs") {
            obj.set_property("name", rest);
        }
        // In live pipelines a quiet track is waited for this long, then left behind.
        obj.set_property("latency", TRACK_WAIT.nseconds());
    }

    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> =
            LazyLock::new(fragmenter_settings::param_specs);
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        lock(&self.settings).set(pspec.name(), value);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        lock(&self.settings)
            .get(pspec.name())
            .unwrap_or_else(|| pspec.default_value().clone())
    }
}

impl GstObjectImpl for KvsMkvMux {}

impl ElementImpl for KvsMkvMux {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "KVS MKV fragmenter",
                "Codec/Muxer",
                "Interleaves H.264/H.265 video and AAC/G.711 audio into the fragmented \
                 Matroska stream Kinesis Video Streams ingests",
                "gst-kvs developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let src = gst::PadTemplate::with_gtype(
                "src",
                gst::PadDirection::Src,
                gst::PadPresence::Always,
                &gst::Caps::builder("video/x-matroska").build(),
                gst_base::AggregatorPad::static_type(),
            );
            let video = gst::PadTemplate::with_gtype(
                VIDEO_TEMPLATE,
                gst::PadDirection::Sink,
                gst::PadPresence::Request,
                &video_caps(),
                gst_base::AggregatorPad::static_type(),
            );
            let audio = gst::PadTemplate::with_gtype(
                AUDIO_TEMPLATE,
                gst::PadDirection::Sink,
                gst::PadPresence::Request,
                &audio_caps(),
                gst_base::AggregatorPad::static_type(),
            );
            [src, video, audio]
                .into_iter()
                .filter_map(Result::ok)
                .collect()
        });
        TEMPLATES.as_ref()
    }

    fn request_new_pad(
        &self,
        templ: &gst::PadTemplate,
        name: Option<&str>,
        caps: Option<&gst::Caps>,
    ) -> Option<gst::Pad> {
        let prefix = templ.name_template().trim_end_matches("%u").to_owned();
        if self
            .sink_pads()
            .iter()
            .any(|p| p.name().starts_with(prefix.as_str()))
        {
            gst::warning!(
                CAT,
                imp = self,
                "only one {prefix}* pad is supported (KVS streams carry one video and one audio track)"
            );
            return None;
        }
        if lock(&self.state).is_some() {
            gst::warning!(CAT, imp = self, "pads cannot be added while streaming");
            return None;
        }
        self.parent_request_new_pad(templ, name, caps)
    }
}

impl AggregatorImpl for KvsMkvMux {
    fn create_new_pad(
        &self,
        templ: &gst::PadTemplate,
        _req_name: Option<&str>,
        _caps: Option<&gst::Caps>,
    ) -> Option<gst_base::AggregatorPad> {
        // One pad per kind, so the serial is always 0 (AWS names them the same way).
        let name = templ.name_template().replace("%u", "0");
        Some(
            gst::PadBuilder::<gst_base::AggregatorPad>::from_template(templ)
                .name(name)
                .build(),
        )
    }

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        let mut started = Started::new(settings);
        started.sync_tracks(&self.sink_pads());
        *lock(&self.state) = Some(started);
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        if let Some(st) = lock(&self.state).take()
            && st.dropped_frames > 0
        {
            gst::info!(CAT, imp = self, "{} frame(s) dropped", st.dropped_frames);
        }
        Ok(())
    }

    fn flush(&self) -> Result<gst::FlowSuccess, gst::FlowError> {
        // Frames held for the start-up wait belong to the data being flushed.
        if let Some(st) = lock(&self.state).as_mut() {
            for t in &mut st.tracks {
                t.held.clear();
            }
            st.held_since_ns = None;
        }
        self.parent_flush()
    }

    fn next_time(&self) -> Option<gst::ClockTime> {
        if self.start_wait_idle() {
            return None;
        }
        self.obj().simple_get_next_time()
    }

    fn sink_event_pre_queue(
        &self,
        pad: &gst_base::AggregatorPad,
        event: gst::Event,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        if let gst::EventView::Caps(c) = event.view()
            && let Err(err) = track::parse_caps(c.caps())
        {
            // Refused here, on the upstream thread, so upstream sees not-negotiated at once.
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("{}: {}", pad.name(), err),
                ["caps: {}", c.caps()]
            );
            return Err(gst::FlowError::NotNegotiated);
        }
        self.parent_sink_event_pre_queue(pad, event)
    }

    fn sink_event(&self, pad: &gst_base::AggregatorPad, event: gst::Event) -> bool {
        let mut notices = Vec::new();
        let consumed = {
            let mut guard = lock(&self.state);
            match (guard.as_mut(), event.view()) {
                (Some(st), gst::EventView::Caps(c)) => {
                    st.sync_tracks(&self.sink_pads());
                    if let (Some(idx), Ok(input)) =
                        (st.track_index(pad), track::parse_caps(c.caps()))
                    {
                        gst::debug!(CAT, obj = pad, "caps {}", c.caps());
                        let config = input.config().cloned();
                        if let Some(t) = st.tracks.get_mut(idx) {
                            t.input = Some(input);
                        }
                        if let Some(cfg) = config
                            && let Some(n) = st.set_config(idx, cfg)
                        {
                            notices.push(n);
                        }
                    }
                    false
                }
                (Some(st), gst::EventView::Segment(e)) => {
                    if let (Some(idx), Some(seg)) = (
                        st.track_index(pad),
                        e.segment().downcast_ref::<gst::ClockTime>(),
                    ) && let Some(t) = st.tracks.get_mut(idx)
                    {
                        t.segment = seg.clone();
                        t.dts_clamp_reported = false;
                    }
                    false
                }
                (Some(st), gst::EventView::CustomDownstream(c)) => c
                    .structure()
                    .is_some_and(|s| self.handle_metadata_event(st, s)),
                _ => false,
            }
        };
        self.post_notices(notices);
        if consumed {
            return true;
        }
        self.parent_sink_event(pad, event)
    }

    fn aggregate(&self, timeout: bool) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut notices = Vec::new();
        let mut list = lock(&self.spare_list)
            .take()
            .unwrap_or_else(|| gst::BufferList::new_sized(MAX_TRACKS * 2));
        let mut caps_to_send = false;
        let mut eos = false;
        let result = {
            let mut guard = lock(&self.state);
            let Some(st) = guard.as_mut() else {
                return Err(gst::FlowError::Flushing);
            };
            // Listing the pads allocates; only a new pad changes the count.
            if usize::from(self.obj().num_sink_pads()) != st.tracks.len() {
                st.sync_tracks(&self.sink_pads());
            }
            // At most one video and one audio track: no per-frame allocation for the heads.
            let mut all_heads = [TrackHead::default(); MAX_TRACKS];
            for (head, t) in all_heads.iter_mut().zip(&st.tracks) {
                let next = t.held.front().map(|(_, dts)| *dts).or_else(|| {
                    t.pad.peek_buffer().map(|b| {
                        let (pts, dts) = Self::running_times(&st.settings, &t.segment, &b);
                        dts.or(pts).unwrap_or(i64::MIN)
                    })
                });
                *head = TrackHead {
                    next_dts_ns: next,
                    eos: next.is_none() && t.pad.is_eos(),
                };
            }
            let heads = &all_heads[..st.tracks.len().min(MAX_TRACKS)];
            if !st.start_settled && heads.iter().all(|h| h.next_dts_ns.is_some() || h.eos) {
                st.start_settled = true;
            }
            match pick_next(heads, timeout) {
                Pick::NeedData => Err(gst_base::AGGREGATOR_FLOW_NEED_DATA),
                Pick::AllEos => {
                    if let Some(buf) = self.finish_stream(st) {
                        list.make_mut().add(buf);
                    }
                    eos = true;
                    Ok(())
                }
                Pick::Track(idx) => {
                    if timeout && !st.start_settled {
                        if self.hold_for_start(st) {
                            return Ok(gst::FlowSuccess::Ok);
                        }
                        st.start_settled = true;
                    }
                    if timeout {
                        let now = heads
                            .get(idx)
                            .and_then(|h| h.next_dts_ns)
                            .and_then(|t| u64::try_from(t).ok())
                            .unwrap_or(0);
                        for quiet in st.quiet.on_timeout(heads, now) {
                            if let Some(t) = st.tracks.get(quiet) {
                                notices.push(Notice::Warning(format!(
                                    "track {} sent nothing within the wait limit (latency); \
                                     continuing without it until it catches up",
                                    t.pad.name()
                                )));
                            }
                        }
                    }
                    if let Some(since) = st.quiet.on_data(idx) {
                        gst::info!(
                            CAT,
                            imp = self,
                            "track {idx} is back (quiet since {since} ns)"
                        );
                    }
                    let next = st.tracks.get_mut(idx).and_then(|t| {
                        t.held
                            .pop_front()
                            .map(|(b, _)| b)
                            .or_else(|| t.pad.pop_buffer())
                    });
                    match next {
                        Some(buffer) => {
                            let r = self.process(st, idx, buffer, &mut list, &mut notices);
                            if r.is_ok() && !list.is_empty() && !st.caps_sent {
                                st.caps_sent = true;
                                caps_to_send = true;
                            }
                            r
                        }
                        None => Ok(()),
                    }
                }
            }
        };
        self.post_notices(notices);
        result?;
        if caps_to_send {
            self.obj()
                .set_src_caps(&gst::Caps::builder("video/x-matroska").build());
        }
        if !list.is_empty() {
            // Downstream takes references to the buffers, not to the list; once the push
            // returns, the list is ours alone again (unless something kept it).
            self.obj().finish_buffer_list(list.clone())?;
            if let Some(l) = list.get_mut() {
                l.remove(..);
            }
        }
        if list.is_writable() {
            *lock(&self.spare_list) = Some(list);
        }
        if eos {
            return Err(gst::FlowError::Eos);
        }
        Ok(gst::FlowSuccess::Ok)
    }
}
