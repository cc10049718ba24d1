// SPDX-License-Identifier: MPL-2.0
//! The kvssrc element: a PushSrc whose `create` hands out what the session task merged.

use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use futures::future::{AbortHandle, Abortable};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::base_src::CreateSuccess;
use gst_base::subclass::prelude::*;

use kvs_core::consumer::{FragmentInfo, TimestampSource};
use kvs_core::mkv::StreamHeader;

use super::uri::{KvsUri, UriStart};
use super::{StartSelector, TimestampType};
use crate::client::error::ErrorClass;
use crate::client::{
    CredentialsConfig, Item, Session, SessionConfig, SessionStatus, SourceError, StartPosition,
    StreamId,
};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "kvssrc",
        gst::DebugColorFlags::empty(),
        Some("Kinesis Video Streams source"),
    )
});

const DEFAULT_IS_LIVE: bool = false;
const DEFAULT_RETRY_ATTEMPTS: u32 = 10;
const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 15_000;
const MIN_REQUEST_TIMEOUT_MS: u64 = 100;
/// Name of the element message posted per fragment.
pub const FRAGMENT_MESSAGE: &str = "kvs-fragment";
/// A TIME seek position at or above this (≈ 1973 in epoch nanoseconds) is an absolute output
/// time; below it, it is stream time counted from the first frame played.
const ABSOLUTE_SEEK_NS: u64 = 100_000_000 * 1_000_000_000;

#[derive(Debug, Clone)]
struct Settings {
    stream_name: Option<String>,
    stream_arn: Option<String>,
    region: Option<String>,
    credentials: CredentialsConfig,
    endpoint_uri: Option<String>,
    start_selector: StartSelector,
    start_fragment_number: Option<String>,
    start_continuation_token: Option<String>,
    start_timestamp_ms: u64,
    end_timestamp_ms: u64,
    timestamp_type: TimestampType,
    is_live: bool,
    retry_attempts: u32,
    request_timeout_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            stream_name: None,
            stream_arn: None,
            region: None,
            credentials: CredentialsConfig::default(),
            endpoint_uri: None,
            start_selector: StartSelector::default(),
            start_fragment_number: None,
            start_continuation_token: None,
            start_timestamp_ms: 0,
            end_timestamp_ms: 0,
            timestamp_type: TimestampType::default(),
            is_live: DEFAULT_IS_LIVE,
            retry_attempts: DEFAULT_RETRY_ATTEMPTS,
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
        }
    }
}

impl Settings {
    fn session_config(&self) -> Result<SessionConfig, SourceError> {
        let stream = match (&self.stream_arn, &self.stream_name) {
            (Some(arn), _) => StreamId::Arn(arn.clone()),
            (None, Some(name)) => StreamId::Name(name.clone()),
            (None, None) => {
                return Err(SourceError::Config(
                    "set stream-name (or stream-arn) to the stream to play".into(),
                ));
            }
        };
        let need_ts = |what: &str| {
            if self.start_timestamp_ms == 0 {
                Err(SourceError::Config(format!(
                    "start-selector {what} needs start-timestamp (epoch milliseconds)"
                )))
            } else {
                Ok(self.start_timestamp_ms)
            }
        };
        let start = match self.start_selector {
            StartSelector::Now => StartPosition::Now,
            StartSelector::Earliest => StartPosition::Earliest,
            StartSelector::FragmentNumber => StartPosition::AfterFragment(
                self.start_fragment_number.clone().ok_or_else(|| {
                    SourceError::Config(
                        "start-selector fragment-number needs start-fragment-number".into(),
                    )
                })?,
            ),
            StartSelector::ProducerTimestamp => {
                StartPosition::ProducerTimestamp(need_ts("producer-timestamp")?)
            }
            StartSelector::ServerTimestamp => {
                StartPosition::ServerTimestamp(need_ts("server-timestamp")?)
            }
            StartSelector::ContinuationToken => StartPosition::ContinuationToken(
                self.start_continuation_token.clone().unwrap_or_default(),
            ),
        };
        let mut cfg = SessionConfig::new(stream);
        cfg.region = self.region.clone();
        cfg.credentials = self.credentials.clone();
        cfg.endpoint_uri = self.endpoint_uri.clone();
        cfg.start = start;
        cfg.end_ms = Some(self.end_timestamp_ms).filter(|&ms| ms != 0);
        cfg.timestamp_source = match self.timestamp_type {
            TimestampType::Producer => TimestampSource::Producer,
            TimestampType::Server => TimestampSource::Server,
        };
        cfg.retry_attempts = self.retry_attempts;
        cfg.request_timeout = Duration::from_millis(self.request_timeout_ms);
        cfg.validate()?;
        Ok(cfg)
    }

    fn to_uri(&self) -> Option<String> {
        if self.stream_name.is_none() && self.stream_arn.is_none() {
            return None;
        }
        let ts = self.start_timestamp_ms;
        let start = match self.start_selector {
            StartSelector::Now => None,
            StartSelector::Earliest => Some(UriStart::Earliest),
            StartSelector::FragmentNumber => {
                self.start_fragment_number.clone().map(UriStart::Fragment)
            }
            StartSelector::ContinuationToken => {
                self.start_continuation_token.clone().map(UriStart::Token)
            }
            StartSelector::ProducerTimestamp => Some(UriStart::Producer(ts)),
            StartSelector::ServerTimestamp => Some(UriStart::Server(ts)),
        };
        let uri = KvsUri {
            stream_name: self.stream_name.clone(),
            stream_arn: self.stream_arn.clone(),
            region: self.region.clone(),
            start,
            end_ms: Some(self.end_timestamp_ms).filter(|&ms| ms != 0),
            endpoint: self.endpoint_uri.clone(),
            server_timestamps: (self.timestamp_type == TimestampType::Server).then_some(true),
        };
        Some(uri.to_uri_string())
    }

    fn apply_uri(&mut self, uri: KvsUri) {
        self.stream_name = uri.stream_name;
        self.stream_arn = uri.stream_arn;
        if uri.region.is_some() {
            self.region = uri.region;
        }
        if uri.endpoint.is_some() {
            self.endpoint_uri = uri.endpoint;
        }
        if let Some(server) = uri.server_timestamps {
            self.timestamp_type = if server {
                TimestampType::Server
            } else {
                TimestampType::Producer
            };
        }
        self.end_timestamp_ms = uri.end_ms.unwrap_or(0);
        match uri.start {
            None | Some(UriStart::Now) => self.start_selector = StartSelector::Now,
            Some(UriStart::Earliest) => self.start_selector = StartSelector::Earliest,
            Some(UriStart::Fragment(n)) => {
                self.start_selector = StartSelector::FragmentNumber;
                self.start_fragment_number = Some(n);
            }
            Some(UriStart::Token(t)) => {
                self.start_selector = StartSelector::ContinuationToken;
                self.start_continuation_token = Some(t);
            }
            Some(UriStart::Producer(ms)) => {
                self.start_selector = StartSelector::ProducerTimestamp;
                self.start_timestamp_ms = ms;
            }
            Some(UriStart::Server(ms)) => {
                self.start_selector = StartSelector::ServerTimestamp;
                self.start_timestamp_ms = ms;
            }
            Some(UriStart::Time(ms)) => {
                self.start_selector = match self.timestamp_type {
                    TimestampType::Producer => StartSelector::ProducerTimestamp,
                    TimestampType::Server => StartSelector::ServerTimestamp,
                };
                self.start_timestamp_ms = ms;
            }
        }
    }
}

// One per element: boxing the started state would save nothing worth the indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Default)]
enum State {
    #[default]
    Stopped,
    Started {
        /// Taken out while `create` waits on it, so the lock is not held.
        session: Option<Session>,
        offset: u64,
        /// Kept after the session is gone so `stats` still answers.
        last_status: SessionStatus,
        /// Output time of the first frame played since start: stream time 0 downstream
        /// (matroskademux counts stream time from its first frame).
        stream_start_ns: Option<u64>,
        /// The output stream's header, which a session started by a seek continues.
        header: Option<StreamHeader>,
        /// Where the next `do_seek` restarts the range (epoch ms).
        pending_seek_ms: Option<u64>,
        /// The last seek handled, so the same seek arriving through several demuxer pads
        /// restarts the range once.
        seek_seqnum: Option<gst::Seqnum>,
    },
}

/// The seek interception installed on the element downstream (the demuxer).
struct SeekWatch {
    element: glib::WeakRef<gst::Element>,
    pad_added: Option<glib::SignalHandlerId>,
}

#[derive(Default)]
enum Canceller {
    #[default]
    None,
    Handle(AbortHandle),
    Cancelled,
}

#[derive(Default)]
pub struct KvsSrc {
    settings: Mutex<Settings>,
    state: Mutex<State>,
    canceller: Mutex<Canceller>,
    seek_watch: Mutex<Option<SeekWatch>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere poisoned it; the data is still usable for our plain values.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl KvsSrc {
    fn status(&self) -> SessionStatus {
        match &*lock(&self.state) {
            State::Started {
                session: Some(s), ..
            } => s.status(),
            State::Started { last_status, .. } => last_status.clone(),
            State::Stopped => SessionStatus::default(),
        }
    }

    fn stats(&self) -> gst::Structure {
        let st = self.status();
        let m = st.merger;
        gst::Structure::builder("application/x-kvssrc-stats")
            .field("fragments", m.fragments)
            .field("frames", m.frames)
            .field("frames-deduplicated", m.frames_deduplicated)
            .field("headers-merged", m.headers_merged)
            .field("streams", m.streams)
            .field("bytes", m.bytes_out)
            .field("service-errors", m.service_errors)
            .field("reconnects", st.reconnects)
            .field("requests", st.requests)
            .field("fragments-listed", st.fragments_listed)
            .field(
                "millis-behind-now",
                st.millis_behind_now
                    .map_or(-1i64, |v| i64::try_from(v).unwrap_or(i64::MAX)),
            )
            .field(
                "last-fragment-number",
                st.last_fragment_number.unwrap_or_default(),
            )
            .build()
    }

    /// Waits for the next item, giving up when `unlock` is called.
    fn next_item(&self) -> Result<Item, gst::FlowError> {
        let mut session = {
            let mut state = lock(&self.state);
            match &mut *state {
                State::Started { session, .. } => session.take(),
                State::Stopped => None,
            }
        };
        let Some(sess) = session.as_mut() else {
            gst::element_imp_error!(self, gst::CoreError::Failed, ["Not started yet"]);
            return Err(gst::FlowError::Error);
        };
        let (handle, registration) = AbortHandle::new_pair();
        {
            let mut canceller = lock(&self.canceller);
            if matches!(*canceller, Canceller::Cancelled) {
                drop(canceller);
                self.put_back(session);
                return Err(gst::FlowError::Flushing);
            }
            *canceller = Canceller::Handle(handle);
        }
        // Not a tokio runtime: the streaming thread may belong to an application that runs
        // one itself, and the channel works with any executor.
        let res = futures::executor::block_on(Abortable::new(sess.next(), registration));
        {
            let mut canceller = lock(&self.canceller);
            if matches!(*canceller, Canceller::Handle(_)) {
                *canceller = Canceller::None;
            }
        }
        self.put_back(session);
        res.map_err(|_| gst::FlowError::Flushing)
    }

    fn put_back(&self, session: Option<Session>) {
        if let State::Started {
            session: slot,
            last_status,
            stream_start_ns,
            header,
            ..
        } = &mut *lock(&self.state)
        {
            if let Some(s) = &session {
                *last_status = s.status();
                if stream_start_ns.is_none() {
                    *stream_start_ns = last_status.first_pts_ns;
                }
                if last_status.output_header.is_some() {
                    header.clone_from(&last_status.output_header);
                }
            }
            *slot = session;
        }
    }

    fn is_range(&self) -> bool {
        lock(&self.settings).end_timestamp_ms != 0
    }

    /// matroskademux in push mode refuses TIME seeks on a stream without Cues and does not
    /// pass them upstream, so a seek from the application never reaches a source behind it.
    /// In range mode kvssrc therefore watches the upstream events on the pads of the element
    /// it feeds and takes the flushing TIME seeks there, before the demuxer drops them.
    fn watch_downstream_seeks(&self) {
        let mut watch = lock(&self.seek_watch);
        if watch.is_some() {
            return;
        }
        let Some(element) = self
            .obj()
            .static_pad("src")
            .and_then(|p| p.peer())
            .and_then(|p| p.parent_element())
        else {
            return;
        };
        let weak = self.obj().downgrade();
        let install = move |pad: &gst::Pad| {
            if pad.direction() != gst::PadDirection::Src {
                return;
            }
            let weak = weak.clone();
            pad.add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
                let Some(gst::PadProbeData::Event(event)) = &info.data else {
                    return gst::PadProbeReturn::Ok;
                };
                let Some(src) = weak.upgrade() else {
                    return gst::PadProbeReturn::Ok;
                };
                if src.imp().take_seek(event) {
                    gst::PadProbeReturn::Handled
                } else {
                    gst::PadProbeReturn::Ok
                }
            });
        };
        for pad in element.src_pads() {
            install(&pad);
        }
        let pad_added = element.connect_pad_added(move |_, pad| install(pad));
        gst::debug!(
            CAT,
            imp = self,
            "taking TIME seeks from {}'s source pads",
            element.name()
        );
        *watch = Some(SeekWatch {
            element: element.downgrade(),
            pad_added: Some(pad_added),
        });
    }

    fn unwatch_downstream_seeks(&self) {
        if let Some(mut w) = lock(&self.seek_watch).take()
            && let (Some(element), Some(id)) = (w.element.upgrade(), w.pad_added.take())
        {
            element.disconnect(id);
        }
    }

    /// Handles a seek seen on the demuxer's pads; false lets it continue to the demuxer.
    fn take_seek(&self, event: &gst::Event) -> bool {
        let gst::EventView::Seek(seek) = event.view() else {
            return false;
        };
        if seek.get().3.format() != gst::Format::Time {
            return false;
        }
        if let State::Started { seek_seqnum, .. } = &*lock(&self.state)
            && *seek_seqnum == Some(event.seqnum())
        {
            // The same seek through another of the demuxer's pads: already done.
            return true;
        }
        self.obj()
            .static_pad("src")
            .is_some_and(|p| p.send_event(event.clone()))
    }

    /// A TIME seek: remembers the target and lets BaseSrc run a flushing BYTES seek, whose
    /// `do_seek` restarts the range at the fragment holding the target.
    fn time_seek(&self, event: &gst::Event, seek: &gst::event::Seek) -> bool {
        let (rate, flags, start_type, start, _, _) = seek.get();
        if !self.is_range() {
            gst::debug!(CAT, imp = self, "live playback cannot seek");
            return false;
        }
        if rate != 1.0 || !flags.contains(gst::SeekFlags::FLUSH) || start_type != gst::SeekType::Set
        {
            gst::warning!(
                CAT,
                imp = self,
                "only flushing seeks to a position at normal rate are supported"
            );
            return false;
        }
        let gst::GenericFormattedValue::Time(Some(position)) = start else {
            return false;
        };
        let offset = {
            let mut state = lock(&self.state);
            let State::Started {
                stream_start_ns,
                last_status,
                session,
                pending_seek_ms,
                seek_seqnum,
                offset,
                ..
            } = &mut *state
            else {
                return false;
            };
            let origin = stream_start_ns
                .or_else(|| session.as_ref().and_then(|s| s.status().first_pts_ns))
                .or(last_status.first_pts_ns)
                .unwrap_or_else(|| {
                    lock(&self.settings)
                        .start_timestamp_ms
                        .saturating_mul(1_000_000)
                });
            let target_ns = if position.nseconds() >= ABSOLUTE_SEEK_NS {
                position.nseconds()
            } else {
                origin.saturating_add(position.nseconds())
            };
            *pending_seek_ms = Some(target_ns / 1_000_000);
            *seek_seqnum = Some(event.seqnum());
            gst::info!(
                CAT,
                imp = self,
                "seek to {position} (output time {} ms)",
                target_ns / 1_000_000
            );
            *offset
        };
        let bytes = gst::event::Seek::builder(
            1.0,
            flags & (gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE),
            gst::SeekType::Set,
            gst::format::Bytes::from_u64(offset),
            gst::SeekType::None,
            gst::format::Bytes::NONE,
        )
        .seqnum(event.seqnum())
        .build();
        self.parent_event(&bytes)
    }

    fn post_fragment(&self, info: &FragmentInfo) {
        let mut b = gst::Structure::builder(FRAGMENT_MESSAGE);
        if let Some(n) = &info.fragment_number {
            b = b.field("fragment-number", n);
        }
        if let Some(ms) = info.producer_timestamp_ms {
            b = b.field("producer-timestamp", ms);
        }
        if let Some(ms) = info.server_timestamp_ms {
            b = b.field("server-timestamp", ms);
        }
        if let Some(ms) = info.millis_behind_now {
            b = b.field("millis-behind-now", ms);
        }
        if let Some(t) = &info.continuation_token {
            b = b.field("continuation-token", t);
        }
        if let Some(ns) = info.start_ns {
            b = b.field("pts", gst::ClockTime::from_nseconds(ns));
        }
        let tags = gst::Array::new(info.tags.iter().map(|t| {
            gst::Structure::builder("tag")
                .field("name", &t.name)
                .field("value", &t.value)
                .build()
                .to_send_value()
        }));
        let s = b.field("frames", info.frames).field("tags", tags).build();
        gst::debug!(
            CAT,
            imp = self,
            "fragment {:?}: {} frames",
            info.fragment_number,
            info.frames
        );
        let msg = gst::message::Element::builder(s).src(&*self.obj()).build();
        if self.obj().post_message(msg).is_err() {
            gst::debug!(CAT, imp = self, "no bus to post the fragment message on");
        }
    }

    fn post_source_error(&self, err: &SourceError) {
        let text = err.to_string();
        gst::error!(CAT, imp = self, "{text}");
        let details = gst::Structure::builder("kvssrc-error")
            .field("class", format!("{:?}", err.class()))
            .build();
        match err.class() {
            ErrorClass::Settings => gst::element_imp_error!(
                self,
                gst::ResourceError::Settings,
                ("{}", text),
                details: details
            ),
            ErrorClass::NotFound => gst::element_imp_error!(
                self,
                gst::ResourceError::NotFound,
                ("{}", text),
                details: details
            ),
            ErrorClass::NotAuthorized => gst::element_imp_error!(
                self,
                gst::ResourceError::NotAuthorized,
                ("{}", text),
                details: details
            ),
            ErrorClass::Read => gst::element_imp_error!(
                self,
                gst::ResourceError::Read,
                ("{}", text),
                details: details
            ),
            ErrorClass::Format => gst::element_imp_error!(
                self,
                gst::StreamError::Format,
                ("{}", text),
                details: details
            ),
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for KvsSrc {
    const NAME: &'static str = "GstRsKvsSrc";
    type Type = super::KvsSrc;
    type ParentType = gst_base::PushSrc;
    type Interfaces = (gst::URIHandler,);
}

impl ObjectImpl for KvsSrc {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("stream-name")
                    .nick("Stream name")
                    .blurb("Name of the stream to play")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("stream-arn")
                    .nick("Stream ARN")
                    .blurb("ARN of the stream to play (used instead of stream-name when set)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("aws-region")
                    .nick("AWS region")
                    .blurb("Region of the stream; unset = AWS_REGION or the AWS profile")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("access-key")
                    .nick("Access key")
                    .blurb("AWS access key id (with secret-key; unset = the default AWS chain)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("secret-key")
                    .nick("Secret key")
                    .blurb("AWS secret access key")
                    .write_only()
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("session-token")
                    .nick("Session token")
                    .blurb("AWS session token for temporary credentials")
                    .write_only()
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("endpoint-uri")
                    .nick("Endpoint URI")
                    .blurb(
                        "Control-plane endpoint (e.g. kvs-local's http://127.0.0.1:PORT); unset = \
                         CONTROL_PLANE_URI, AWS_ENDPOINT_URL_KINESIS_VIDEO, AWS_ENDPOINT_URL, then AWS",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("start-selector", StartSelector::default())
                    .nick("Start selector")
                    .blurb("Where playback starts")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("start-fragment-number")
                    .nick("Start fragment number")
                    .blurb("With start-selector=fragment-number: play from the fragment after this one")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("start-continuation-token")
                    .nick("Start continuation token")
                    .blurb(
                        "With start-selector=continuation-token: a continuation-token value \
                         saved from an earlier session",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt64::builder("start-timestamp")
                    .nick("Start timestamp")
                    .blurb(
                        "Epoch milliseconds: start for start-selector producer-timestamp / \
                         server-timestamp, and of the archived range (0 = unset)",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt64::builder("end-timestamp")
                    .nick("End timestamp")
                    .blurb(
                        "Epoch milliseconds: when set, plays the archived fragments between \
                         start-timestamp and this, then ends (0 = live, no end)",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("timestamp-type", TimestampType::default())
                    .nick("Timestamp type")
                    .blurb("Fragment timestamps the output times and the archived range follow")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("is-live")
                    .nick("Is live")
                    .blurb("Act as a live source (produce only in PLAYING)")
                    .default_value(DEFAULT_IS_LIVE)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("retry-attempts")
                    .nick("Retry attempts")
                    .blurb(
                        "Failed attempts in a row (connect errors, 5xx, throttling) before \
                         giving up with an error; 0 = retry forever",
                    )
                    .default_value(DEFAULT_RETRY_ATTEMPTS)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt64::builder("request-timeout")
                    .nick("Request timeout")
                    .blurb("Milliseconds a request may take to start answering")
                    .minimum(MIN_REQUEST_TIMEOUT_MS)
                    .default_value(DEFAULT_REQUEST_TIMEOUT_MS)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("continuation-token")
                    .nick("Continuation token")
                    .blurb(
                        "Token of the last fragment played: give it back as \
                         start-continuation-token to continue there later",
                    )
                    .read_only()
                    .build(),
                glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                    .nick("Statistics")
                    .blurb("Fragments, frames, merged headers, reconnects and the like")
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = lock(&self.settings);
        let string = || {
            value
                .get::<Option<String>>()
                .expect("type checked upstream")
                .filter(|v| !v.is_empty())
        };
        match pspec.name() {
            "stream-name" => s.stream_name = string(),
            "stream-arn" => s.stream_arn = string(),
            "aws-region" => s.region = string(),
            "access-key" => s.credentials.access_key = string(),
            "secret-key" => s.credentials.secret_key = string(),
            "session-token" => s.credentials.session_token = string(),
            "endpoint-uri" => s.endpoint_uri = string(),
            "start-selector" => s.start_selector = value.get().expect("type checked upstream"),
            "start-fragment-number" => s.start_fragment_number = string(),
            "start-continuation-token" => s.start_continuation_token = string(),
            "start-timestamp" => s.start_timestamp_ms = value.get().expect("type checked upstream"),
            "end-timestamp" => s.end_timestamp_ms = value.get().expect("type checked upstream"),
            "timestamp-type" => s.timestamp_type = value.get().expect("type checked upstream"),
            "is-live" => {
                s.is_live = value.get().expect("type checked upstream");
                let live = s.is_live;
                drop(s);
                self.obj().set_live(live);
                return;
            }
            "retry-attempts" => s.retry_attempts = value.get().expect("type checked upstream"),
            "request-timeout" => {
                s.request_timeout_ms = value.get().expect("type checked upstream");
            }
            _ => unimplemented!(),
        }
        // Secrets stay out of the log: only the property name is logged for them.
        if matches!(pspec.name(), "secret-key" | "session-token") {
            gst::debug!(CAT, imp = self, "{} set", pspec.name());
        } else {
            gst::debug!(CAT, imp = self, "{} set to {:?}", pspec.name(), value);
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        if pspec.name() == "stats" {
            return self.stats().to_value();
        }
        if pspec.name() == "continuation-token" {
            return self.status().continuation_token.to_value();
        }
        let s = lock(&self.settings);
        match pspec.name() {
            "stream-name" => s.stream_name.to_value(),
            "stream-arn" => s.stream_arn.to_value(),
            "aws-region" => s.region.to_value(),
            "access-key" => s.credentials.access_key.to_value(),
            "endpoint-uri" => s.endpoint_uri.to_value(),
            "start-selector" => s.start_selector.to_value(),
            "start-fragment-number" => s.start_fragment_number.to_value(),
            "start-continuation-token" => s.start_continuation_token.to_value(),
            "start-timestamp" => s.start_timestamp_ms.to_value(),
            "end-timestamp" => s.end_timestamp_ms.to_value(),
            "timestamp-type" => s.timestamp_type.to_value(),
            "is-live" => s.is_live.to_value(),
            "retry-attempts" => s.retry_attempts.to_value(),
            "request-timeout" => s.request_timeout_ms.to_value(),
            // Write-only secrets never come back out.
            _ => None::<String>.to_value(),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.set_format(gst::Format::Bytes);
        obj.set_live(DEFAULT_IS_LIVE);
    }
}

impl GstObjectImpl for KvsSrc {}

impl ElementImpl for KvsSrc {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Kinesis Video Streams source",
                "Source/Network",
                "Plays a Kinesis Video Streams stream live (GetMedia) or an archived range \
                 (GetMediaForFragmentList) as one Matroska stream",
                "gst-kvs developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst::Caps::builder("video/x-matroska").build();
            match gst::PadTemplate::new(
                "src",
                gst::PadDirection::Src,
                gst::PadPresence::Always,
                &caps,
            ) {
                Ok(t) => vec![t],
                Err(_) => Vec::new(),
            }
        });
        TEMPLATES.as_ref()
    }
}

impl BaseSrcImpl for KvsSrc {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        let cfg = settings
            .session_config()
            .map_err(|e| gst::error_msg!(gst::ResourceError::Settings, ("{}", e.to_string())))?;
        gst::info!(
            CAT,
            imp = self,
            "starting {:?} from {:?}{}",
            cfg.stream,
            cfg.start,
            cfg.end_ms
                .map(|e| format!(" to {e} (archive)"))
                .unwrap_or_default()
        );
        let session = Session::start(cfg);
        *lock(&self.state) = State::Started {
            session: Some(session),
            offset: 0,
            last_status: SessionStatus::default(),
            stream_start_ns: None,
            header: None,
            pending_seek_ms: None,
            seek_seqnum: None,
        };
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        // Dropping the session aborts its task and closes the connection.
        *lock(&self.state) = State::Stopped;
        self.unwatch_downstream_seeks();
        Ok(())
    }

    fn is_seekable(&self) -> bool {
        // Only through TIME seeks (see `time_seek`); `query` keeps downstream from pulling.
        self.is_range()
    }

    fn query(&self, query: &mut gst::QueryRef) -> bool {
        if let gst::QueryViewMut::Scheduling(q) = query.view_mut() {
            // Seekable would make BaseSrc offer pull mode, in which matroskademux would read
            // the stream as a file; the bytes only exist in order.
            q.set(gst::SchedulingFlags::SEQUENTIAL, 1, -1, 0);
            q.add_scheduling_modes([gst::PadMode::Push]);
            return true;
        }
        BaseSrcImplExt::parent_query(self, query)
    }

    fn event(&self, event: &gst::Event) -> bool {
        if let gst::EventView::Seek(seek) = event.view()
            && seek.get().3.format() == gst::Format::Time
        {
            return self.time_seek(event, seek);
        }
        self.parent_event(event)
    }

    fn do_seek(&self, segment: &mut gst::Segment) -> bool {
        let settings = lock(&self.settings).clone();
        let mut state = lock(&self.state);
        let State::Started {
            session,
            pending_seek_ms,
            header,
            last_status,
            offset,
            ..
        } = &mut *state
        else {
            return false;
        };
        // BaseSrc's start-up seek and BYTES seeks from elsewhere change nothing.
        let Some(target_ms) = pending_seek_ms.take() else {
            return true;
        };
        let mut cfg = match settings.session_config() {
            Ok(cfg) => cfg,
            Err(e) => {
                gst::error!(CAT, imp = self, "cannot seek: {e}");
                return false;
            }
        };
        if let Some(s) = session.as_ref() {
            *last_status = s.status();
            if last_status.output_header.is_some() {
                header.clone_from(&last_status.output_header);
            }
        }
        cfg.seek_ms = Some(target_ms);
        cfg.continue_header = header.clone();
        // Dropping the old session aborts its requests.
        *session = Some(Session::start(cfg));
        if let Some(start) = segment
            .downcast_ref::<gst::format::Bytes>()
            .and_then(|s| s.start())
        {
            *offset = *start;
        }
        true
    }

    fn unlock(&self) -> Result<(), gst::ErrorMessage> {
        let mut canceller = lock(&self.canceller);
        if let Canceller::Handle(h) = &*canceller {
            h.abort();
        }
        *canceller = Canceller::Cancelled;
        Ok(())
    }

    fn unlock_stop(&self) -> Result<(), gst::ErrorMessage> {
        *lock(&self.canceller) = Canceller::None;
        Ok(())
    }
}

impl PushSrcImpl for KvsSrc {
    fn create(
        &self,
        _buffer: Option<&mut gst::BufferRef>,
    ) -> Result<CreateSuccess, gst::FlowError> {
        if self.is_range() {
            self.watch_downstream_seeks();
        }
        loop {
            match self.next_item()? {
                Item::Data { chunks, new_stream } => {
                    let mut buffer = gst::Buffer::new();
                    let len: usize = chunks.iter().map(|c| c.len()).sum();
                    let mut state = lock(&self.state);
                    let State::Started { offset, .. } = &mut *state else {
                        return Err(gst::FlowError::Flushing);
                    };
                    {
                        let b = buffer.get_mut().ok_or(gst::FlowError::Error)?;
                        for c in chunks {
                            b.append_memory(gst::Memory::from_slice(c));
                        }
                        b.set_offset(*offset);
                        b.set_offset_end(*offset + len as u64);
                        if new_stream {
                            // New tracks: downstream gets a fresh EBML header here.
                            b.set_flags(gst::BufferFlags::DISCONT);
                        }
                    }
                    *offset += len as u64;
                    if new_stream {
                        gst::info!(
                            CAT,
                            imp = self,
                            "tracks changed: a new Matroska stream starts"
                        );
                    }
                    return Ok(CreateSuccess::NewBuffer(buffer));
                }
                Item::Fragment(info) => self.post_fragment(&info),
                Item::Reconnecting { reason, attempt } => {
                    gst::warning!(
                        CAT,
                        imp = self,
                        "reconnecting (attempt {attempt}): {reason}"
                    );
                }
                Item::Eos => {
                    gst::info!(CAT, imp = self, "archived range played to the end");
                    return Err(gst::FlowError::Eos);
                }
                Item::Error(err) => {
                    self.post_source_error(&err);
                    return Err(gst::FlowError::Error);
                }
            }
        }
    }
}

impl URIHandlerImpl for KvsSrc {
    const URI_TYPE: gst::URIType = gst::URIType::Src;

    fn protocols() -> &'static [&'static str] {
        &[super::uri::SCHEME]
    }

    fn uri(&self) -> Option<String> {
        lock(&self.settings).to_uri()
    }

    fn set_uri(&self, uri: &str) -> Result<(), glib::Error> {
        let parsed = KvsUri::parse(uri)
            .map_err(|e| glib::Error::new(gst::URIError::BadUri, &e.to_string()))?;
        if !matches!(*lock(&self.state), State::Stopped) {
            return Err(glib::Error::new(
                gst::URIError::BadState,
                "the URI can only change in the NULL or READY state",
            ));
        }
        lock(&self.settings).apply_uri(parsed);
        Ok(())
    }
}
