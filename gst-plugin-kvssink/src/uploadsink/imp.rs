// SPDX-License-Identifier: MPL-2.0
//! Buffers → chunks. `render` queues (the uploader never blocks on the network) and, for
//! non-live input, waits while too much is unacknowledged (flow control); EOS waits, bounded
//! by `stop-stream-timeout`, for the last acknowledgement.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;

use crate::chunk::{BufferRole, Chunk, buffer_to_bytes, is_directly_sendable};
use crate::kvssink::CAT;
use crate::lock::lock;
use crate::uploader::{
    AckErrorId, AckEventType, Uploader, UploaderConfig, UploaderError, UploaderEvent, UploaderStats,
};

/// Structure name of the element message posted for every ACK.
pub const ACK_MESSAGE: &str = "kvs-fragment-ack";
/// Structure name of the element message posted when the uploader reconnects.
pub const RECONNECT_MESSAGE: &str = "kvs-reconnecting";

/// Everything needed to start uploading.
#[derive(Clone)]
pub struct UploadSetup {
    pub config: UploaderConfig,
    /// The element messages and errors are posted from (the `kvssink` bin).
    pub element: glib::WeakRef<gst::Element>,
    /// `streaming-type=offline`: flow control even when the input is live.
    pub offline: bool,
}

#[derive(Debug, Clone, Default)]
pub struct UploadStats {
    pub fragments_sent: u64,
    pub bytes_queued: u64,
    /// Times non-live input waited for ACKs (flow control).
    pub flow_control_waits: u64,
    pub uploader: Option<UploaderStats>,
}

struct Active {
    uploader: Arc<Uploader>,
    fragment_open: bool,
}

#[derive(Default)]
pub struct KvsUploadSink {
    setup: Mutex<Option<UploadSetup>>,
    media_type: Mutex<Option<String>>,
    state: Mutex<Option<Active>>,
    fragments_sent: AtomicU64,
    bytes_queued: AtomicU64,
    flow_control_waits: AtomicU64,
    /// The uploader's last counters, kept after it stopped.
    last_uploader_stats: Mutex<Option<UploaderStats>>,
    failed: Arc<AtomicBool>,
    /// EOS is waiting for the last ACK; `unlock` (shutdown) cuts that wait short.
    finishing: AtomicBool,
    /// Between `unlock` and `unlock_stop`: an EOS arriving now must not start waiting.
    unlocked: AtomicBool,
}

/// The GStreamer error domain that fits an uploader error.
pub fn error_domain(err: &UploaderError) -> gst::ResourceError {
    match err {
        UploaderError::InvalidConfig(_) | UploaderError::RegionMissing => {
            gst::ResourceError::Settings
        }
        UploaderError::CredentialsUnavailable(_)
        | UploaderError::CredentialFile { .. }
        | UploaderError::AccessDenied { .. }
        | UploaderError::InvalidCredentials { .. } => gst::ResourceError::NotAuthorized,
        UploaderError::StreamMissing { .. } | UploaderError::StreamNotActive { .. } => {
            gst::ResourceError::NotFound
        }
        UploaderError::EndpointUnreachable { .. } => gst::ResourceError::OpenWrite,
        _ => gst::ResourceError::Write,
    }
}

fn post_error(element: &gst::Element, err: &UploaderError) {
    gst::element_error!(element, error_domain(err), ("{}", err), ["{:?}", err]);
}

fn ack_message(ack: &crate::uploader::Ack) -> gst::Structure {
    let mut b = gst::Structure::builder(ACK_MESSAGE).field("event-type", ack.event_type.as_str());
    if let Some(tc) = ack.fragment_timecode {
        b = b.field("fragment-timecode", tc);
    }
    if let Some(n) = &ack.fragment_number {
        b = b.field("fragment-number", n.as_str());
    }
    if let Some(id) = ack.error_id {
        b = b
            .field("error-id", id)
            .field("error-name", AckErrorId(id).name());
    }
    if let Some(code) = &ack.error_code {
        b = b.field("error-code", code.as_str());
    }
    b.build()
}

fn on_event(element: &gst::Element, failed: &AtomicBool, event: UploaderEvent) {
    match event {
        UploaderEvent::Ack(ack) => {
            if ack.event_type == AckEventType::Idle {
                return;
            }
            gst::debug!(CAT, obj = element, "ACK {:?}", ack);
            let _ = element.post_message(
                gst::message::Element::builder(ack_message(&ack))
                    .src(element)
                    .build(),
            );
        }
        UploaderEvent::FragmentsDropped { count, reason } => {
            gst::element_warning!(
                element,
                gst::ResourceError::Write,
                (
                    "dropped {} fragment(s) that were not yet acknowledged: {}; raise storage-size/buffer-duration or check the network",
                    count,
                    reason
                )
            );
        }
        UploaderEvent::Reconnecting { attempt, reason } => {
            gst::warning!(
                CAT,
                obj = element,
                "reconnecting (attempt {attempt}): {reason}"
            );
            let _ = element.post_message(
                gst::message::Element::builder(
                    gst::Structure::builder(RECONNECT_MESSAGE)
                        .field("attempt", attempt)
                        .field("reason", reason)
                        .build(),
                )
                .src(element)
                .build(),
            );
        }
        UploaderEvent::Warning(text) => {
            gst::element_warning!(element, gst::ResourceError::Write, ("{}", text));
        }
        UploaderEvent::Error(err) => {
            failed.store(true, Ordering::SeqCst);
            post_error(element, &err);
        }
    }
}

impl KvsUploadSink {
    /// Hands the buffers to the uploader as chunks, under one lock and with one wake-up.
    /// Takes buffers by reference (a reference count, not a copy: `BufferRef::to_owned`
    /// would copy the buffer and make its memories shared, which costs allocations per frame
    /// and keeps the fragmenter from reusing its header buffers).
    fn queue(
        &self,
        buffers: impl Iterator<Item = gst::Buffer>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        if self.failed.load(Ordering::SeqCst) {
            return Err(gst::FlowError::Error);
        }
        let mut guard = lock(&self.state);
        if guard.is_none() {
            *guard = Some(self.start_uploader()?);
        }
        let Some(active) = guard.as_mut() else {
            return Err(gst::FlowError::Error);
        };
        let mut fragment_open = active.fragment_open;
        let mut fragments = 0;
        let mut queued = 0;
        let mut unreadable = false;
        let chunks = buffers.flat_map(|buffer| {
            let role = BufferRole::of(&buffer);
            let chunk = if role == BufferRole::Data && is_directly_sendable(&buffer) {
                Some(Chunk::Buffer(buffer))
            } else {
                match buffer_to_bytes(buffer) {
                    Ok(bytes) => Some(match role {
                        BufferRole::Header => Chunk::Header(bytes),
                        BufferRole::FragmentStart { timecode } => {
                            Chunk::FragmentStart { timecode, bytes }
                        }
                        BufferRole::Data => Chunk::Data(bytes),
                    }),
                    Err(_) => {
                        unreadable = true;
                        None
                    }
                }
            };
            let end = match (&chunk, role) {
                (Some(_), BufferRole::Header) => std::mem::take(&mut fragment_open),
                (Some(_), BufferRole::FragmentStart { .. }) => {
                    fragments += 1;
                    std::mem::replace(&mut fragment_open, true)
                }
                _ => false,
            };
            queued += chunk.as_ref().map_or(0, |c| c.len() as u64);
            [end.then_some(Chunk::FragmentEnd), chunk]
                .into_iter()
                .flatten()
        });
        active.uploader.send_all(chunks);
        active.fragment_open = fragment_open;
        let uploader = active.uploader.clone();
        drop(guard);
        self.fragments_sent.fetch_add(fragments, Ordering::Relaxed);
        self.bytes_queued.fetch_add(queued, Ordering::Relaxed);
        if unreadable {
            gst::element_imp_error!(self, gst::ResourceError::Read, ["cannot map buffer"]);
            return Err(gst::FlowError::Error);
        }
        // Non-live input waits here for ACKs rather than filling memory (or dropping).
        if uploader.wait_for_room(&self.unlocked) {
            self.flow_control_waits.fetch_add(1, Ordering::Relaxed);
            gst::log!(CAT, imp = self, "waited for ACKs (flow control)");
        }
        Ok(gst::FlowSuccess::Ok)
    }

    /// Flow control applies to input that is not live (a file) and to offline streaming:
    /// there the producer can wait, and waiting loses nothing. Live real-time input never
    /// waits: a camera cannot be paused.
    fn upstream_can_wait(&self, offline: bool) -> bool {
        if offline {
            return true;
        }
        let mut query = gst::query::Latency::new();
        let live = self
            .obj()
            .static_pad("sink")
            .is_some_and(|pad| pad.peer_query(&mut query) && query.result().0);
        !live
    }

    pub fn configure(&self, setup: UploadSetup) {
        *lock(&self.setup) = Some(setup);
    }

    pub fn stats(&self) -> UploadStats {
        let uploader = match lock(&self.state).as_ref() {
            Some(active) => Some(active.uploader.stats()),
            None => lock(&self.last_uploader_stats).clone(),
        };
        UploadStats {
            fragments_sent: self.fragments_sent.load(Ordering::Relaxed),
            bytes_queued: self.bytes_queued.load(Ordering::Relaxed),
            flow_control_waits: self.flow_control_waits.load(Ordering::Relaxed),
            uploader,
        }
    }

    fn report_element(&self) -> gst::Element {
        lock(&self.setup)
            .as_ref()
            .and_then(|s| s.element.upgrade())
            .unwrap_or_else(|| self.obj().clone().upcast())
    }

    fn start_uploader(&self) -> Result<Active, gst::FlowError> {
        let Some(setup) = lock(&self.setup).clone() else {
            gst::element_imp_error!(
                self,
                gst::CoreError::StateChange,
                ("the upload sink was started without a configuration (it only works inside kvssink)")
            );
            return Err(gst::FlowError::Error);
        };
        let mut config = setup.config;
        if let Some(mt) = lock(&self.media_type).clone() {
            config.media_type = mt;
        }
        if config.flow_control_window.is_some() && !self.upstream_can_wait(setup.offline) {
            config.flow_control_window = None;
        }
        let element = setup
            .element
            .upgrade()
            .unwrap_or_else(|| self.obj().clone().upcast());
        gst::info!(
            CAT,
            obj = element,
            "starting upload to stream {} ({})",
            config.stream_name,
            config.media_type
        );
        let weak = element.downgrade();
        let failed = self.failed.clone();
        let events = Box::new(move |event: UploaderEvent| {
            if let Some(element) = weak.upgrade() {
                on_event(&element, &failed, event);
            }
        });
        match Uploader::start(config, events) {
            Ok(uploader) => Ok(Active {
                uploader: Arc::new(uploader),
                fragment_open: false,
            }),
            Err(err) => {
                post_error(&element, &err);
                Err(gst::FlowError::Error)
            }
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for KvsUploadSink {
    const NAME: &'static str = "GstRsKvsUploadSink";
    type Type = super::KvsUploadSink;
    type ParentType = gst_base::BaseSink;
}

impl ObjectImpl for KvsUploadSink {
    fn constructed(&self) {
        self.parent_constructed();
        // A network sink: frames go out as they come, never held back for the clock.
        self.obj().set_sync(false);
        // Nobody reads the last sample of this internal sink; keeping it would hold the last
        // frame and its buffer list alive until the next one.
        self.obj().set_enable_last_sample(false);
    }
}

impl GstObjectImpl for KvsUploadSink {}

impl ElementImpl for KvsUploadSink {
    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            gst::PadTemplate::new(
                "sink",
                gst::PadDirection::Sink,
                gst::PadPresence::Always,
                &gst::Caps::builder("video/x-matroska").build(),
            )
            .into_iter()
            .collect()
        });
        TEMPLATES.as_ref()
    }
}

impl BaseSinkImpl for KvsUploadSink {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        self.failed.store(false, Ordering::SeqCst);
        self.unlocked.store(false, Ordering::SeqCst);
        self.fragments_sent.store(0, Ordering::Relaxed);
        self.bytes_queued.store(0, Ordering::Relaxed);
        self.flow_control_waits.store(0, Ordering::Relaxed);
        *lock(&self.last_uploader_stats) = None;
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        if let Some(active) = lock(&self.state).take() {
            *lock(&self.last_uploader_stats) = Some(active.uploader.stats());
            active.uploader.stop();
        }
        Ok(())
    }

    fn unlock(&self) -> Result<(), gst::ErrorMessage> {
        // A flush must not end the upload; it only cuts a flow-control wait short. A shutdown
        // during the EOS wait must not hang for stop-stream-timeout.
        self.unlocked.store(true, Ordering::SeqCst);
        if let Some(active) = lock(&self.state).as_ref() {
            active.uploader.wake();
        }
        if self.finishing.swap(false, Ordering::SeqCst)
            && let Some(active) = lock(&self.state).as_ref()
        {
            gst::info!(CAT, imp = self, "shutting down while EOS waits for ACKs");
            active.uploader.stop();
        }
        Ok(())
    }

    fn unlock_stop(&self) -> Result<(), gst::ErrorMessage> {
        self.unlocked.store(false, Ordering::SeqCst);
        Ok(())
    }

    fn set_caps(&self, caps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let media_type = caps
            .structure(0)
            .and_then(|s| s.get::<String>("content-type").ok());
        *lock(&self.media_type) = media_type;
        Ok(())
    }

    fn render(&self, buffer: &gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        self.queue(std::iter::once(buffer.clone()))
    }

    fn render_list(&self, list: &gst::BufferList) -> Result<gst::FlowSuccess, gst::FlowError> {
        // The fragmenter sends a frame as one list (block header, payload): queued together,
        // they leave together.
        self.queue(list.iter_owned())
    }

    fn event(&self, event: gst::Event) -> bool {
        if let gst::EventView::Eos(_) = event.view() {
            let pending = {
                let mut guard = lock(&self.state);
                guard.as_mut().map(|active| {
                    if std::mem::take(&mut active.fragment_open) {
                        active.uploader.send(Chunk::FragmentEnd);
                    }
                    active.uploader.clone()
                })
            };
            if let Some(uploader) = pending {
                let timeout = lock(&self.setup)
                    .as_ref()
                    .map_or(Duration::from_secs(120), |s| s.config.stop_stream_timeout);
                gst::info!(
                    CAT,
                    imp = self,
                    "EOS: waiting up to {timeout:?} for the last ACK"
                );
                // Blocking here is what makes the application's EOS mean "stored".
                self.finishing.store(true, Ordering::SeqCst);
                let finished = if self.unlocked.load(Ordering::SeqCst) {
                    Err(crate::uploader::UploaderError::Stopped)
                } else {
                    uploader.finish(timeout)
                };
                let interrupted = !self.finishing.swap(false, Ordering::SeqCst)
                    || self.unlocked.load(Ordering::SeqCst);
                if let Err(err) = finished {
                    if interrupted {
                        gst::info!(CAT, imp = self, "shut down before the last ACK: {err}");
                    } else if !self.failed.swap(true, Ordering::SeqCst) {
                        post_error(&self.report_element(), &err);
                    }
                    return false;
                }
            }
        }
        self.parent_event(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uploader::Ack;

    #[test]
    fn ack_messages_carry_the_fields_applications_need() {
        gst::init().unwrap();
        let ack = Ack {
            event_type: AckEventType::Error,
            fragment_timecode: Some(1_700_000_000_123),
            fragment_number: Some("91343852333181432392682062607743920146264257553".into()),
            error_id: Some(4008),
            error_code: Some("STREAM_NOT_ACTIVE".into()),
        };
        let s = ack_message(&ack);
        assert_eq!(s.name(), ACK_MESSAGE);
        assert_eq!(s.get::<&str>("event-type").unwrap(), "ERROR");
        assert_eq!(
            s.get::<u64>("fragment-timecode").unwrap(),
            1_700_000_000_123
        );
        assert_eq!(s.get::<u32>("error-id").unwrap(), 4008);
        assert_eq!(
            s.get::<&str>("error-name").unwrap(),
            AckErrorId(4008).name()
        );
        let persisted = ack_message(&Ack {
            event_type: AckEventType::Persisted,
            fragment_timecode: Some(5),
            fragment_number: None,
            error_id: None,
            error_code: None,
        });
        assert!(!persisted.has_field("error-id"));
    }

    #[test]
    fn uploader_errors_map_to_actionable_domains() {
        assert_eq!(
            error_domain(&UploaderError::RegionMissing),
            gst::ResourceError::Settings
        );
        assert_eq!(
            error_domain(&UploaderError::StreamMissing { stream: "s".into() }),
            gst::ResourceError::NotFound
        );
    }
}
