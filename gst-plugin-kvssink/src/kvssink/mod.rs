// SPDX-License-Identifier: MPL-2.0
//! `kvssink`: streams H.264/H.265 video and AAC/G.711 audio to Amazon Kinesis Video Streams
//! (or kvs-local) with PutMedia. A drop-in for AWS's element of the same name: same pads
//! (`video_%u`, `audio_%u`) and properties; differently named GType and plugin so both can
//! be installed.
//!
//! Inside: a `kvsmkvmux` fragmenter feeding an upload sink; the network side runs on the
//! plugin's runtime, never on a streaming thread.
//!
//! Bus messages: `kvs-fragment-ack` (event-type, fragment-timecode, fragment-number,
//! error-id, error-name) for every ACK; `kvs-reconnecting` (attempt, reason).

use gst::glib;
use gst::prelude::*;

mod imp;
pub mod settings;

glib::wrapper! {
    pub struct KvsSink(ObjectSubclass<imp::KvsSink>)
        @extends gst::Bin, gst::Element, gst::Object,
        @implements gst::ChildProxy;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "kvssink",
        gst::Rank::PRIMARY + 10,
        KvsSink::static_type(),
    )
}

/// `GST_DEBUG=kvssink:5` shows what the sink and its upload side do.
pub(crate) static CAT: std::sync::LazyLock<gst::DebugCategory> = std::sync::LazyLock::new(|| {
    gst::DebugCategory::new(
        "kvssink",
        gst::DebugColorFlags::empty(),
        Some("Amazon Kinesis Video Streams sink"),
    )
});
