// SPDX-License-Identifier: MPL-2.0
//! gst-inspect-1.0 output of this plugin's elements matches docs/gst-inspect/ (see
//! gst_kvs_test_support::inspect). Regenerate with
//! `KVS_UPDATE_SNAPSHOTS=1 cargo test -p gst-plugin-kvssrc --test inspect`.

use gst_kvs_test_support::inspect::{Plugin, check};

const PLUGIN: Plugin = Plugin {
    package: env!("CARGO_PKG_NAME"),
    library: "libgstrskvssrc.so",
    manifest_dir: env!("CARGO_MANIFEST_DIR"),
};

#[test]
fn kvssrc_matches_committed_description() {
    check(&PLUGIN, "kvssrc");
}
