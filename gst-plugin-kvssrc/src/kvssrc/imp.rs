// SPDX-License-Identifier: MPL-2.0
//! The kvssrc element: a PushSrc whose `create` hands out what the session task merged. The
//! trait implementations are here; what they do lives in the modules below.

mod messages;
mod new_stream;
mod output;
mod properties;
mod seeking;
mod settings;

use std::sync::{LazyLock, Mutex, MutexGuard};

use gst::glib;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::base_src::CreateSuccess;
use gst_base::subclass::prelude::*;

use kvs_core::mkv::StreamHeader;

use super::uri::KvsUri;
use crate::client::{Session, SessionStatus};
use output::Canceller;
use seeking::SeekWatch;
use settings::{DEFAULT_IS_LIVE, Settings};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "kvssrc",
        gst::DebugColorFlags::empty(),
        Some("Kinesis Video Streams source"),
    )
});

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

#[derive(Default)]
pub struct KvsSrc {
    settings: Mutex<Settings>,
    state: Mutex<State>,
    canceller: Mutex<Canceller>,
    seek_watch: Mutex<Option<SeekWatch>>,
    /// A demuxer reset for new tracks whose new pads are still to be settled (see
    /// `new_stream`).
    switch: Mutex<Option<new_stream::Switch>>,
    /// Continuation token of the last fragment whose data went downstream. The session reads
    /// ahead of that, so its own token may be several fragments further; kept after stop so
    /// an application can read it once the pipeline is down.
    played_token: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere poisoned it; the data is still usable for our plain values.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl KvsSrc {
    pub(super) fn status(&self) -> SessionStatus {
        match &*lock(&self.state) {
            State::Started {
                session: Some(s), ..
            } => s.status(),
            State::Started { last_status, .. } => last_status.clone(),
            State::Stopped => SessionStatus::default(),
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
        properties::specs()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        self.set_prop(value, pspec);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        self.get_prop(pspec)
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
        *lock(&self.played_token) = None;
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
        *lock(&self.switch) = None;
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
        self.restart_range(segment)
    }

    fn unlock(&self) -> Result<(), gst::ErrorMessage> {
        self.cancel()
    }

    fn unlock_stop(&self) -> Result<(), gst::ErrorMessage> {
        self.uncancel()
    }
}

impl PushSrcImpl for KvsSrc {
    fn create(
        &self,
        _buffer: Option<&mut gst::BufferRef>,
    ) -> Result<CreateSuccess, gst::FlowError> {
        self.produce()
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
