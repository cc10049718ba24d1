// SPDX-License-Identifier: MPL-2.0
//! The bin: ghosts the fragmenter's request pads, forwards the fragmenter's properties,
//! configures the upload sink before streaming starts and answers `stats`.

use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use kvs_core::putmedia::TimecodeType;

use super::CAT;
use super::settings::{self, Settings};
use crate::fragmenter_settings::{self, FragmenterSettings};
use crate::kvsmkvmux::KvsMkvMux;
use crate::lock::lock;
use crate::uploadsink::{KvsUploadSink, UploadSetup};

struct Children {
    mux: KvsMkvMux,
    sink: KvsUploadSink,
}

#[derive(Default)]
pub struct KvsSink {
    settings: Mutex<Settings>,
    children: Mutex<Option<Children>>,
}

impl KvsSink {
    fn mux(&self) -> Option<KvsMkvMux> {
        lock(&self.children).as_ref().map(|c| c.mux.clone())
    }

    fn upload_sink(&self) -> Option<KvsUploadSink> {
        lock(&self.children).as_ref().map(|c| c.sink.clone())
    }

    fn stats(&self) -> gst::Structure {
        let stats = self.upload_sink().map(|s| s.stats()).unwrap_or_default();
        let up = stats.uploader.unwrap_or_default();
        gst::Structure::builder("kvs-stats")
            .field(
                "state",
                if up.state.is_empty() {
                    "idle"
                } else {
                    up.state
                },
            )
            .field("fragments-sent", stats.fragments_sent)
            .field("fragments-acked", up.acks_received)
            .field("fragments-persisted", up.acks_persisted)
            .field("bytes-queued", stats.bytes_queued)
            .field("bytes-sent", up.bytes_sent)
            .field("errors", up.error_acks)
            .field("dropped", up.fragments_dropped)
            .field("connections", up.connections)
            .field("reconnects", up.reconnects)
            .field("buffered-fragments", up.buffered_fragments as u64)
            .field("buffered-bytes", up.buffered_bytes as u64)
            .field("flow-control-waits", stats.flow_control_waits)
            .field(
                "persist-latency-last-ms",
                up.last_persist_latency_ms.unwrap_or_default(),
            )
            .field("persist-latency-max-ms", up.max_persist_latency_ms)
            .build()
    }

    fn prepare_upload(&self) -> Result<(), gst::StateChangeError> {
        let settings = lock(&self.settings).clone();
        if settings.iot_certificate.is_some() {
            gst::element_imp_error!(
                self,
                gst::ResourceError::Settings,
                ("iot-certificate is not supported yet: use access-key/secret-key, credential-path or the standard AWS credential chain")
            );
            return Err(gst::StateChangeError);
        }
        let mut config = match settings.uploader_config() {
            Ok(c) => c,
            Err(msg) => {
                gst::element_imp_error!(self, gst::ResourceError::Settings, ("{}", msg));
                return Err(gst::StateChangeError);
            }
        };
        let absolute = self
            .mux()
            .map(|m| m.property::<bool>("absolute-fragment-times"))
            .unwrap_or(fragmenter_settings::DEFAULT_ABSOLUTE_FRAGMENT_TIMES);
        config.timecode_type = if absolute {
            TimecodeType::Absolute
        } else {
            TimecodeType::Relative
        };
        gst::debug!(CAT, imp = self, "upload settings {:?}", settings);
        if let Some(sink) = self.upload_sink() {
            let offline = self.mux().is_some_and(|m| {
                m.property::<fragmenter_settings::StreamingType>("streaming-type")
                    == fragmenter_settings::StreamingType::Offline
            });
            sink.configure(UploadSetup {
                config,
                element: self.obj().upcast_ref::<gst::Element>().downgrade(),
                offline,
            });
        }
        Ok(())
    }
}

#[glib::object_subclass]
impl ObjectSubclass for KvsSink {
    const NAME: &'static str = "GstRsKvsSink";
    type Type = super::KvsSink;
    type ParentType = gst::Bin;
}

impl ObjectImpl for KvsSink {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let mut specs = settings::param_specs();
            specs.extend(fragmenter_settings::param_specs());
            specs
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let name = pspec.name();
        if FragmenterSettings::is_fragmenter_property(name) {
            if let Some(mux) = self.mux() {
                mux.set_property_from_value(name, value);
            }
            return;
        }
        // Secrets are never logged, not even their length.
        if !matches!(name, "secret-key" | "session-token") {
            gst::debug!(CAT, imp = self, "set {name}");
        }
        lock(&self.settings).set(name, value);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let name = pspec.name();
        if name == "stats" {
            return self.stats().to_value();
        }
        if FragmenterSettings::is_fragmenter_property(name) {
            return self
                .mux()
                .map(|m| m.property_value(name))
                .unwrap_or_else(|| pspec.default_value().clone());
        }
        lock(&self.settings)
            .get(name)
            .unwrap_or_else(|| pspec.default_value().clone())
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        let mux: KvsMkvMux = glib::Object::builder()
            .property("name", "fragmenter")
            .build();
        let sink = KvsUploadSink::new("uploader");
        let added = obj
            .add_many([mux.upcast_ref::<gst::Element>(), sink.upcast_ref()])
            .and_then(|_| mux.link(&sink).map_err(|e| glib::bool_error!("{e}")));
        if let Err(err) = added {
            gst::error!(CAT, imp = self, "cannot assemble kvssink: {err}");
        }
        // Default names as AWS's element has them (kvssink0), not from our GType.
        if let Some(rest) = obj.name().strip_prefix("rs") {
            obj.set_property("name", rest);
        }
        // Sink bins are sinks to the pipeline (EOS, latency) even before pads exist.
        obj.set_element_flags(gst::ElementFlags::SINK);
        *lock(&self.children) = Some(Children { mux, sink });
    }
}

impl GstObjectImpl for KvsSink {}

impl ElementImpl for KvsSink {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "KVS Sink",
                "Sink/Video/Network",
                "Streams H.264/H.265 video and AAC/G.711 audio to Amazon Kinesis Video Streams \
                 with PutMedia",
                "gst-kvs developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            [
                gst::PadTemplate::new(
                    "video_%u",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Request,
                    &crate::kvsmkvmux::video_caps(),
                ),
                gst::PadTemplate::new(
                    "audio_%u",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Request,
                    &crate::kvsmkvmux::audio_caps(),
                ),
            ]
            .into_iter()
            .filter_map(Result::ok)
            .collect()
        });
        TEMPLATES.as_ref()
    }

    fn request_new_pad(
        &self,
        templ: &gst::PadTemplate,
        _name: Option<&str>,
        _caps: Option<&gst::Caps>,
    ) -> Option<gst::Pad> {
        let mux = self.mux()?;
        let target = mux.request_pad_simple(templ.name_template()).or_else(|| {
            gst::warning!(
                CAT,
                imp = self,
                "cannot add another {} pad: kvssink takes one video and one audio track",
                templ.name_template()
            );
            None
        })?;
        let ghost = gst::GhostPad::builder_from_template_with_target(templ, &target)
            .ok()?
            .name(target.name())
            .build();
        if self.obj().current_state() > gst::State::Ready {
            let _ = ghost.set_active(true);
        }
        if self.obj().add_pad(&ghost).is_err() {
            mux.release_request_pad(&target);
            return None;
        }
        self.obj().child_added(&ghost, &ghost.name());
        Some(ghost.upcast())
    }

    fn release_pad(&self, pad: &gst::Pad) {
        if let Some(ghost) = pad.downcast_ref::<gst::GhostPad>()
            && let (Some(target), Some(mux)) = (ghost.target(), self.mux())
        {
            let _ = ghost.set_target(None::<&gst::Pad>);
            mux.release_request_pad(&target);
        }
        let _ = self.obj().remove_pad(pad);
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::ReadyToPaused {
            self.prepare_upload()?;
        }
        self.parent_change_state(transition)
    }
}

impl BinImpl for KvsSink {}
