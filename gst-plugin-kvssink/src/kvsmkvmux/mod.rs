// SPDX-License-Identifier: MPL-2.0
//! `kvsmkvmux`: the KVS MKV fragmenter. Interleaves one video and one audio track in
//! decode-timestamp order and writes the Matroska layout KVS ingests (unknown-size Segment,
//! one Cluster per fragment, SimpleBlocks, fragment Tags). Inside `kvssink` it feeds the
//! uploader; on its own it writes KVS-style MKV files:
//!
//! ```text
//! gst-launch-1.0 videotestsrc num-buffers=300 ! x264enc ! h264parse ! kvsmkvmux ! filesink location=out.mkv
//! ```

use gst::glib;
use gst::prelude::*;

mod caps;
mod imp;
mod small_buffers;
mod state;
pub(crate) use caps::{audio_caps, video_caps};
pub mod track;

glib::wrapper! {
    pub struct KvsMkvMux(ObjectSubclass<imp::KvsMkvMux>)
        @extends gst_base::Aggregator, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    crate::fragmenter_settings::StreamingType::static_type()
        .mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(
        Some(plugin),
        "kvsmkvmux",
        gst::Rank::NONE,
        KvsMkvMux::static_type(),
    )
}
