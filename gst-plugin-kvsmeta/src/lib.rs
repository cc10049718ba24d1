// SPDX-License-Identifier: MPL-2.0
#![allow(clippy::non_send_fields_in_send_ty, unused_doc_comments)]

pub mod kvsmeta;

/**
 * plugin-rskvsmeta:
 *
 * Tags Kinesis Video Streams fragments and requests KVS image-generation and
 * notification events from a pipeline, with an optional motion detector.
 */
fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    kvsmeta::register(plugin)
}

gst::plugin_define!(
    rskvsmeta,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MPL",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_REPOSITORY"),
    env!("BUILD_REL_DATE")
);
