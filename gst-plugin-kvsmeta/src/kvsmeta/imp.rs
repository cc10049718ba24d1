// SPDX-License-Identifier: MPL-2.0
//! The element: an in-place passthrough that emits kvs-core metadata events in
//! the streaming thread, right before the buffer they belong to.
//!
//! Applications add tags from their own threads (action signals, property
//! changes); those are queued and pushed before the next buffer, because a
//! serialized event pushed from another thread could overtake or trail frames
//! already in flight.

use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use kvs_core::motion::{MotionDetector, MotionEvent, PixelLayout};
use kvs_core::tags::limits::check_user_name;
use kvs_core::tags::queue::DEFAULT_MAX_PENDING;
use kvs_core::tags::{
    EventKind, EventMetadata, FragmentMetadataQueue, FragmentTag, MetadataEvent, TagError,
    custom_event::{KIND_IMAGE_GENERATION, KIND_NOTIFICATION},
};

use super::fields::{self, to_event};
use super::luma;
use super::settings::{self, PROP_TAGS, Settings};

pub(crate) static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "kvsmeta",
        gst::DebugColorFlags::empty(),
        Some("KVS fragment tags, events and motion"),
    )
});

/// Name of the element message posted on motion start and end.
pub const MOTION_MESSAGE: &str = "kvs-motion";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock has already become an element error; keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Motion {
    detector: MotionDetector,
    info: gst_video::VideoInfo,
    layout: PixelLayout,
}

#[derive(Default)]
struct State {
    /// Persistent tags from the `tags` property and from `add-tag`, kept in a
    /// kvs-core queue so replacement, removal by empty value and the
    /// per-fragment limit behave exactly as in kvssink.
    persistent: FragmentMetadataQueue,
    /// Names that came from the `tags` property, so that a new value of the
    /// property removes the tags it no longer lists.
    property_names: Vec<String>,
    /// Events to push before the next buffer.
    pending: Vec<MetadataEvent>,
    /// All persistent tags are to be sent again before the next buffer: at start,
    /// after stream-start and after a flush, so a restarted stream carries them.
    resend_persistent: bool,
    motion: Option<Motion>,
}

impl State {
    fn push_pending(&mut self, event: MetadataEvent) -> Result<(), TagError> {
        if self.pending.len() >= DEFAULT_MAX_PENDING {
            return Err(TagError::QueueFull {
                max: DEFAULT_MAX_PENDING,
            });
        }
        self.pending.push(event);
        Ok(())
    }

    fn take_events(&mut self) -> Vec<MetadataEvent> {
        let mut events = Vec::new();
        if std::mem::take(&mut self.resend_persistent) {
            let current = self.persistent.persistent_tags();
            events.extend(current.iter().cloned().map(MetadataEvent::AddTag));
            // A persistent tag added before the resend is already in the set.
            self.pending.retain(
                |e| !matches!(e, MetadataEvent::AddTag(t) if t.is_persistent() && current.contains(t)),
            );
        }
        events.append(&mut self.pending);
        events
    }
}

#[derive(Default)]
pub struct KvsMeta {
    settings: Mutex<Settings>,
    state: Mutex<State>,
    /// Warnings raised before the element had a bus (properties set by
    /// gst-launch before the pipeline exists); posted at start.
    deferred_warnings: Mutex<Vec<String>>,
}

impl KvsMeta {
    /// A warning on the bus (or, without a bus yet, at the next start) and in the log.
    fn warn(&self, text: String) {
        gst::warning!(CAT, imp = self, "{text}");
        if self.obj().bus().is_some() {
            gst::element_imp_warning!(self, gst::LibraryError::Settings, ("{}", text));
        } else {
            lock(&self.deferred_warnings).push(text);
        }
    }

    fn apply_tags_property(&self, tags: Option<&gst::Structure>) {
        let mut valid = Vec::new();
        let mut problems = Vec::new();
        for pair in tags.map(|s| fields::pairs(s)).unwrap_or_default() {
            match pair.map_err(|e| e.to_string()).and_then(|(name, value)| {
                FragmentTag::persistent(name, value).map_err(|e| e.to_string())
            }) {
                Ok(tag) => valid.push(tag),
                Err(e) => problems.push(format!("tags: {e}; this tag is skipped")),
            }
        }
        {
            let mut st = lock(&self.state);
            let old_names = std::mem::take(&mut st.property_names);
            for name in old_names {
                if !valid.iter().any(|t| t.name() == name)
                    && st.persistent.remove_persistent(&name)
                    && let Err(e) = st.push_pending(MetadataEvent::RemoveTag(name.clone()))
                {
                    problems.push(format!("tags: cannot remove '{name}': {e}"));
                }
            }
            for tag in valid {
                let name = tag.name().to_owned();
                match st.persistent.add_tag(tag) {
                    Ok(()) => st.property_names.push(name),
                    Err(e) => problems.push(format!("tags: '{name}' skipped: {e}")),
                }
            }
            st.resend_persistent = true;
        }
        for p in problems {
            self.warn(p);
        }
    }

    /// The `add-tag` action signal.
    pub(super) fn add_tag(&self, name: &str, value: &str, persistent: bool) -> bool {
        let result = FragmentTag::new(name, value, persistent).and_then(|tag| {
            let mut st = lock(&self.state);
            if persistent {
                st.persistent.add_tag(tag.clone())?;
            }
            st.push_pending(MetadataEvent::AddTag(tag))
        });
        self.report("add-tag", result)
    }

    /// The `remove-tag` action signal. The event is sent even for a name this
    /// element never added: another element upstream may have.
    pub(super) fn remove_tag(&self, name: &str) -> bool {
        let result = check_user_name(name).and_then(|()| {
            let mut st = lock(&self.state);
            st.persistent.remove_persistent(name);
            st.property_names.retain(|n| n != name);
            st.push_pending(MetadataEvent::RemoveTag(name.to_owned()))
        });
        self.report("remove-tag", result)
    }

    /// The `add-event` action signal.
    pub(super) fn add_event(
        &self,
        kind: &str,
        prefix: Option<String>,
        pairs: Option<&gst::StructureRef>,
    ) -> bool {
        let kind = match kind {
            KIND_IMAGE_GENERATION => EventKind::ImageGeneration {
                image_prefix: prefix.filter(|p| !p.is_empty()),
            },
            KIND_NOTIFICATION => EventKind::Notification,
            other => {
                self.warn(format!(
                    "add-event: kind '{other}' is unknown; use '{KIND_IMAGE_GENERATION}' or \
                     '{KIND_NOTIFICATION}'"
                ));
                return false;
            }
        };
        let mut list = Vec::new();
        for pair in pairs.map(fields::pairs).unwrap_or_default() {
            match pair {
                Ok(p) => list.push(p),
                Err(e) => {
                    self.warn(format!("add-event: {e}; the event is not sent"));
                    return false;
                }
            }
        }
        let result = EventMetadata::new(kind, list)
            .and_then(|event| lock(&self.state).push_pending(MetadataEvent::AddEvent(event)));
        self.report("add-event", result)
    }

    fn report(&self, what: &str, result: Result<(), TagError>) -> bool {
        match result {
            Ok(()) => true,
            Err(e) => {
                self.warn(format!("{what}: {e}"));
                false
            }
        }
    }

    fn push_events(&self, events: Vec<MetadataEvent>) {
        if events.is_empty() {
            return;
        }
        let pad = self.obj().static_pad("src");
        for event in events {
            gst::debug!(CAT, imp = self, "sending {event:?}");
            let sent = pad.as_ref().is_some_and(|p| p.push_event(to_event(&event)));
            if !sent {
                gst::debug!(CAT, imp = self, "downstream did not take {event:?}");
            }
        }
    }

    /// Runs the detector on `buf` if motion detection is on.
    fn detect(
        &self,
        st: &mut State,
        buf: &gst::BufferRef,
    ) -> Option<(MotionEvent, gst::ClockTime)> {
        let motion = st.motion.as_mut()?;
        // Running time, not PTS: it keeps increasing across segments (concat,
        // looping sources), which the cooldown and durations rely on.
        let segment = self.obj().segment();
        let running_time = match segment.downcast_ref::<gst::ClockTime>() {
            Some(s) => s.to_running_time(buf.pts()),
            None => buf.pts(),
        };
        let Some(running_time) = running_time else {
            gst::debug!(
                CAT,
                imp = self,
                "buffer without running time, motion not checked"
            );
            return None;
        };
        let frame = match gst_video::VideoFrameRef::from_buffer_ref_readable(buf, &motion.info) {
            Ok(f) => f,
            Err(e) => {
                gst::warning!(CAT, imp = self, "cannot map frame: {e}");
                return None;
            }
        };
        let view = match luma::view(&frame, motion.layout) {
            Ok(v) => v,
            Err(e) => {
                gst::warning!(CAT, imp = self, "frame skipped: {e}");
                return None;
            }
        };
        let at = Duration::from_nanos(running_time.nseconds());
        motion
            .detector
            .process(&view, at)
            .map(|e| (e, running_time))
    }

    /// The tag, the optional KVS events and the bus message for a motion event.
    fn on_motion(&self, event: MotionEvent, running_time: gst::ClockTime) {
        let (tag_name, image_generation, notification, prefix) = {
            let s = lock(&self.settings);
            (
                s.motion_tag_name.clone(),
                s.image_generation_on_motion,
                s.notification_on_motion,
                s.image_prefix.clone(),
            )
        };
        let value = event.tag_value();
        gst::info!(CAT, imp = self, "motion {value} at {running_time}");
        let mut events = Vec::new();
        let mut problems = Vec::new();
        match FragmentTag::one_shot(tag_name.clone(), value.clone()) {
            Ok(tag) => events.push(MetadataEvent::AddTag(tag)),
            Err(e) => problems.push(format!("motion tag not sent: {e}")),
        }
        if matches!(event, MotionEvent::Start { .. }) {
            let pairs = vec![(tag_name, value)];
            if image_generation {
                match EventMetadata::image_generation(prefix, pairs.clone()) {
                    Ok(ev) => events.push(MetadataEvent::AddEvent(ev)),
                    Err(e) => problems.push(format!("image-generation event not sent: {e}")),
                }
            }
            if notification {
                match EventMetadata::notification(pairs) {
                    Ok(ev) => events.push(MetadataEvent::AddEvent(ev)),
                    Err(e) => problems.push(format!("notification event not sent: {e}")),
                }
            }
        }
        self.push_events(events);
        for p in problems {
            self.warn(p);
        }
        let structure = match event {
            MotionEvent::Start { area_percent } => gst::Structure::builder(MOTION_MESSAGE)
                .field("state", "start")
                .field("area-percent", area_percent),
            MotionEvent::End { duration } => gst::Structure::builder(MOTION_MESSAGE)
                .field("state", "end")
                .field(
                    "duration",
                    gst::ClockTime::from_nseconds(duration.as_nanos() as u64),
                ),
        }
        .field("running-time", running_time)
        .build();
        let msg = gst::message::Element::builder(structure)
            .src(&*self.obj())
            .build();
        if self.obj().post_message(msg).is_err() {
            gst::debug!(CAT, imp = self, "no bus for the motion message");
        }
    }

    /// Sets up motion detection for `caps`, or explains why it cannot run.
    fn motion_for_caps(&self, caps: &gst::CapsRef) -> Result<Motion, String> {
        let fix = "place kvsmeta before the encoder (… ! videoconvert ! kvsmeta motion=true ! \
                   x264enc ! …) or set motion=false";
        let is_raw_video = caps.structure(0).is_some_and(|s| s.name() == "video/x-raw");
        let system_memory = caps.features(0).is_none_or(|f| {
            f.is_any() || f.contains(gst::CAPS_FEATURE_MEMORY_SYSTEM_MEMORY) || f.is_empty()
        });
        if !is_raw_video || !system_memory {
            return Err(format!(
                "motion=true needs raw video in system memory, but the input is {caps}: {fix}"
            ));
        }
        let info = gst_video::VideoInfo::from_caps(caps)
            .map_err(|e| format!("motion=true cannot read the video caps {caps}: {e}"))?;
        let layout = luma::layout(info.format()).ok_or_else(|| {
            format!(
                "motion=true cannot read {} video; convert it first (… ! videoconvert ! \
                 kvsmeta …) to one of {}",
                info.format(),
                luma::supported_formats()
            )
        })?;
        let config = lock(&self.settings).motion_config;
        Ok(Motion {
            detector: MotionDetector::new(config),
            info,
            layout,
        })
    }

    /// Checks the motion settings that can only fail at start.
    fn check_motion_settings(&self) -> Result<(), gst::ErrorMessage> {
        let s = lock(&self.settings).clone();
        if !s.motion {
            return Ok(());
        }
        if let Err(e) = check_user_name(&s.motion_tag_name) {
            return Err(gst::error_msg!(
                gst::LibraryError::Settings,
                ("motion-tag-name is not a valid tag name: {}", e)
            ));
        }
        if s.image_generation_on_motion
            && let Err(e) = EventMetadata::image_generation(s.image_prefix, Vec::new())
        {
            return Err(gst::error_msg!(
                gst::LibraryError::Settings,
                ("image-prefix is not valid: {}", e)
            ));
        }
        Ok(())
    }
}

#[glib::object_subclass]
impl ObjectSubclass for KvsMeta {
    const NAME: &'static str = "GstRsKvsMeta";
    type Type = super::KvsMeta;
    type ParentType = gst_base::BaseTransform;
}

fn signal_arg<T: for<'a> glib::value::FromValue<'a>>(args: &[glib::Value], i: usize) -> Option<T> {
    args.get(i).and_then(|v| v.get::<T>().ok())
}

fn signal_element(args: &[glib::Value]) -> Option<super::KvsMeta> {
    signal_arg::<super::KvsMeta>(args, 0)
}

impl ObjectImpl for KvsMeta {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(settings::param_specs);
        PROPERTIES.as_ref()
    }

    fn signals() -> &'static [glib::subclass::Signal] {
        static SIGNALS: LazyLock<Vec<glib::subclass::Signal>> = LazyLock::new(|| {
            vec![
                /**
                 * GstRsKvsMeta::add-tag:
                 * @name: tag name (1-128 bytes, not starting with AWS)
                 * @value: tag value (at most 256 bytes; empty with @persistent removes)
                 * @persistent: send with every fragment (TRUE) or the next one only
                 *
                 * Returns: whether the tag was accepted (a warning says why not)
                 */
                glib::subclass::Signal::builder("add-tag")
                    .param_types([
                        String::static_type(),
                        String::static_type(),
                        bool::static_type(),
                    ])
                    .return_type::<bool>()
                    .action()
                    .class_handler(|args| {
                        let element = signal_element(args)?;
                        let name = signal_arg::<Option<String>>(args, 1).flatten();
                        let value = signal_arg::<Option<String>>(args, 2).flatten();
                        let persistent = signal_arg::<bool>(args, 3).unwrap_or(false);
                        let ok = element.imp().add_tag(
                            name.as_deref().unwrap_or(""),
                            value.as_deref().unwrap_or(""),
                            persistent,
                        );
                        Some(ok.to_value())
                    })
                    .build(),
                /**
                 * GstRsKvsMeta::remove-tag:
                 * @name: name of a persistent tag
                 *
                 * Returns: whether the name was valid (a warning says why not)
                 */
                glib::subclass::Signal::builder("remove-tag")
                    .param_types([String::static_type()])
                    .return_type::<bool>()
                    .action()
                    .class_handler(|args| {
                        let element = signal_element(args)?;
                        let name = signal_arg::<Option<String>>(args, 1).flatten();
                        let ok = element.imp().remove_tag(name.as_deref().unwrap_or(""));
                        Some(ok.to_value())
                    })
                    .build(),
                /**
                 * GstRsKvsMeta::add-event:
                 * @kind: "image-generation" or "notification"
                 * @prefix: S3 key prefix of generated images (image-generation only), or NULL
                 * @pairs: a structure whose fields are the event's name/value pairs (at most 10), or NULL
                 *
                 * Returns: whether the event was accepted (a warning says why not)
                 */
                glib::subclass::Signal::builder("add-event")
                    .param_types([
                        String::static_type(),
                        String::static_type(),
                        gst::Structure::static_type(),
                    ])
                    .return_type::<bool>()
                    .action()
                    .class_handler(|args| {
                        let element = signal_element(args)?;
                        let kind = signal_arg::<Option<String>>(args, 1).flatten();
                        let prefix = signal_arg::<Option<String>>(args, 2).flatten();
                        let pairs = signal_arg::<Option<gst::Structure>>(args, 3).flatten();
                        let ok = element.imp().add_event(
                            kind.as_deref().unwrap_or(""),
                            prefix,
                            pairs.as_deref(),
                        );
                        Some(ok.to_value())
                    })
                    .build(),
            ]
        });
        SIGNALS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let config = {
            let mut s = lock(&self.settings);
            s.set(pspec.name(), value);
            s.motion_config
        };
        if pspec.name() == PROP_TAGS {
            let tags = value.get::<Option<gst::Structure>>().ok().flatten();
            self.apply_tags_property(tags.as_ref());
        } else if let Some(m) = lock(&self.state).motion.as_mut() {
            m.detector.set_config(config);
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        lock(&self.settings).get(pspec.name())
    }

    fn constructed(&self) {
        self.parent_constructed();
        // Buffers are only read, never changed: no copies, no writability checks.
        self.obj().set_passthrough(true);
    }
}

impl GstObjectImpl for KvsMeta {}

impl ElementImpl for KvsMeta {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "KVS fragment metadata",
                "Filter/Metadata",
                "Adds Kinesis Video Streams fragment tags and image-generation/notification \
                 events for kvssink, with optional motion detection on raw video",
                "gst-kvs developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst::Caps::new_any();
            [
                ("src", gst::PadDirection::Src),
                ("sink", gst::PadDirection::Sink),
            ]
            .into_iter()
            .filter_map(|(name, dir)| {
                gst::PadTemplate::new(name, dir, gst::PadPresence::Always, &caps).ok()
            })
            .collect()
        });
        TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for KvsMeta {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = true;

    fn transform_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        let caps = self.parent_transform_caps(direction, caps, filter)?;
        if !lock(&self.settings).motion {
            return Some(caps);
        }
        Some(luma::restrict_raw(caps))
    }

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        for text in std::mem::take(&mut *lock(&self.deferred_warnings)) {
            gst::element_imp_warning!(self, gst::LibraryError::Settings, ("{}", text));
        }
        self.check_motion_settings()?;
        let mut st = lock(&self.state);
        st.resend_persistent = true;
        st.motion = None;
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        lock(&self.state).motion = None;
        Ok(())
    }

    fn set_caps(&self, incaps: &gst::Caps, _outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        if !lock(&self.settings).motion {
            return Ok(());
        }
        match self.motion_for_caps(incaps) {
            Ok(m) => {
                gst::debug!(CAT, imp = self, "motion detection on {:?}", m.layout);
                lock(&self.state).motion = Some(m);
                Ok(())
            }
            Err(text) => {
                lock(&self.state).motion = None;
                gst::element_imp_error!(self, gst::StreamError::Format, ("{}", text));
                Err(gst::loggable_error!(CAT, "{}", text))
            }
        }
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::StreamStart(_) => lock(&self.state).resend_persistent = true,
            gst::EventView::FlushStop(_) => {
                let mut st = lock(&self.state);
                st.resend_persistent = true;
                if let Some(m) = st.motion.as_mut() {
                    m.detector.reset();
                }
            }
            gst::EventView::Eos(_) => {
                // One-shot tags added after the last frame still reach kvssink,
                // which writes them before the end of the stream.
                let pending = std::mem::take(&mut lock(&self.state).pending);
                self.push_events(pending);
            }
            _ => {}
        }
        self.parent_sink_event(event)
    }

    fn transform_ip_passthrough(
        &self,
        buf: &gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let (events, motion) = {
            let mut st = lock(&self.state);
            let events = st.take_events();
            let motion = self.detect(&mut st, buf);
            (events, motion)
        };
        self.push_events(events);
        if let Some((event, running_time)) = motion {
            self.on_motion(event, running_time);
        }
        Ok(gst::FlowSuccess::Ok)
    }
}
