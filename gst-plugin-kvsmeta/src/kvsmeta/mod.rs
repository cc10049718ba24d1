// SPDX-License-Identifier: MPL-2.0
//! `kvsmeta`: tags Kinesis Video Streams fragments from a pipeline. It passes
//! buffers through untouched and sends, in order with them, the serialized
//! custom downstream events (`kvs-add-metadata`, `kvs-remove-metadata`,
//! `kvs-add-event`, see `kvs_core::tags::custom_event`) that kvssink turns into
//! MKV tags before the next fragment. Serialized events travel through video
//! encoders with their frame, so kvsmeta may sit on raw video before the encoder
//! (needed for motion detection) or on encoded video right before kvssink:
//!
//! ```text
//! gst-launch-1.0 v4l2src ! videoconvert ! kvsmeta tags="t,camera=front,site=lab" motion=true \
//!     ! x264enc ! h264parse ! kvssink stream-name=cam
//! ```
//!
//! Motion start and end become one-shot tags (`motion=start;area=12.5`,
//! `motion=end;duration=3.200s`) and `kvs-motion` element messages with fields
//! `state` ("start"/"end"), `area-percent` (start) or `duration` (end) and
//! `running-time`.

use gst::glib;
use gst::prelude::*;

pub mod fields;
mod imp;
pub mod luma;
pub mod settings;

pub use imp::MOTION_MESSAGE;

glib::wrapper! {
    pub struct KvsMeta(ObjectSubclass<imp::KvsMeta>)
        @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "kvsmeta",
        gst::Rank::NONE,
        KvsMeta::static_type(),
    )
}
