// SPDX-License-Identifier: MPL-2.0
//! Buffers → chunks. `render` only queues (the uploader never blocks on the network);
//! EOS waits, bounded by `stop-stream-timeout`, for the last acknowledgement.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;

use crate::chunk::{BufferRole, Chunk, buffer_to_bytes};
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
}

#[derive(Debug, Clone, Default)]
pub struct UploadStats {
    pub fragments_sent: u64,
    pub bytes_queued: u64,
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
        // Only the EOS wait blocks; a flush must not end the upload, a shutdown during
        // that wait must not hang for stop-stream-timeout.
        self.unlocked.store(true, Ordering::SeqCst);
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
        let role = BufferRole::of(buffer);
        let Ok(bytes) = buffer_to_bytes(buffer.clone()) else {
            gst::element_imp_error!(self, gst::ResourceError::Read, ["cannot map buffer"]);
            return Err(gst::FlowError::Error);
        };
        let len = bytes.len() as u64;
        let chunk = match role {
            BufferRole::Header => {
                if std::mem::take(&mut active.fragment_open) {
                    active.uploader.send(Chunk::FragmentEnd);
                }
                Chunk::Header(bytes)
            }
            BufferRole::FragmentStart { timecode } => {
                if active.fragment_open {
                    active.uploader.send(Chunk::FragmentEnd);
                }
                active.fragment_open = true;
                self.fragments_sent.fetch_add(1, Ordering::Relaxed);
                Chunk::FragmentStart { timecode, bytes }
            }
            BufferRole::Data => Chunk::Data(bytes),
        };
        active.uploader.send(chunk);
        self.bytes_queued.fetch_add(len, Ordering::Relaxed);
        Ok(gst::FlowSuccess::Ok)
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
