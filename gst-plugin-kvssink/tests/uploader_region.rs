// SPDX-License-Identifier: MPL-2.0
//! With no region anywhere, the uploader says how to set one instead of guessing.
//! Alone in its binary because it changes the process environment.

mod uploader_support;

use gstrskvssink::uploader::{Uploader, UploaderError, UploaderEvent};
use uploader_support::{Events, Stub, WAIT};

#[test]
fn unset_region_is_a_clear_error() {
    let home = tempfile::tempdir().expect("tempdir");
    // SAFETY: this binary has a single test, so no other thread reads the environment.
    unsafe {
        for var in ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"] {
            std::env::remove_var(var);
        }
        std::env::set_var("HOME", home.path());
        std::env::set_var("AWS_CONFIG_FILE", home.path().join("config"));
        std::env::set_var(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("credentials"),
        );
        // No instance metadata lookups: the only network here is 127.0.0.1.
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    }
    let stub = Stub::start(true, vec![]);
    let mut cfg = stub.config("noregion");
    cfg.region = None;
    let events = Events::default();
    let up = Uploader::start(cfg, events.sink()).expect("start");
    let err = up.finish(WAIT).expect_err("no region");
    assert_eq!(err, UploaderError::RegionMissing);
    let text = err.to_string();
    assert!(
        text.contains("aws-region") && text.contains("AWS_REGION"),
        "{text}"
    );
    assert!(
        events
            .snapshot()
            .iter()
            .any(|e| matches!(e, UploaderEvent::Error(UploaderError::RegionMissing)))
    );
    assert!(stub.state().calls.is_empty());
}
