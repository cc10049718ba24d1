// SPDX-License-Identifier: MPL-2.0
#![allow(clippy::non_send_fields_in_send_ty, unused_doc_comments)]

// Public so tests can check the URI grammar and the error texts without a pipeline.
pub mod client;
pub mod kvssrc;

/**
 * plugin-rskvssrc:
 *
 * Plays Amazon Kinesis Video Streams (or kvs-local) streams: live through GetMedia, or a
 * time range from the archive through ListFragments + GetMediaForFragmentList.
 */
fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    kvssrc::register(plugin)
}

gst::plugin_define!(
    rskvssrc,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MPL",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_REPOSITORY"),
    env!("BUILD_REL_DATE")
);
