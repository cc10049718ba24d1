// SPDX-License-Identifier: MPL-2.0
#![allow(clippy::non_send_fields_in_send_ty, unused_doc_comments)]

// Public so that tests/uploader_*.rs can drive the uploader without a pipeline.
pub mod chunk;
pub mod uploader;

pub mod fragmenter_settings;
pub mod kvsmkvmux;
pub mod kvssink;
mod lock;
mod uploadsink;

/**
 * plugin-rskvssink:
 *
 * Streams H.264/H.265 and AAC/G.711 to Amazon Kinesis Video Streams (or kvs-local).
 */
fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    kvsmkvmux::register(plugin)?;
    kvssink::register(plugin)?;
    Ok(())
}

gst::plugin_define!(
    rskvssink,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MPL",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_REPOSITORY"),
    env!("BUILD_REL_DATE")
);
