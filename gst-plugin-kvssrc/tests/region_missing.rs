// SPDX-License-Identifier: MPL-2.0
//! Without any region kvssrc fails with an error that says how to set one. Alone in its
//! binary: it clears the AWS environment of this process.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::*;

#[test]
fn region_unset_says_how_to_set_it() {
    // SAFETY: this binary runs this single test; nothing else reads the environment yet.
    unsafe {
        for v in ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"] {
            std::env::remove_var(v);
        }
        // No instance metadata lookup (it would leave 127.0.0.1) and no profile files.
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("AWS_CONFIG_FILE", "/nonexistent/kvssrc-test-config");
        std::env::set_var(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/kvssrc-test-creds",
        );
    }
    init();
    let endpoint = Endpoint::start(Arc::new(|_, _, _| {
        error_response(500, "InternalFailure", "must not be called")
    }));
    let out = run_pipeline(
        &format!(
            "kvssrc stream-name=cam access-key=AKID secret-key=x endpoint-uri={}",
            endpoint.url()
        ),
        "",
        None,
        Duration::from_secs(30),
    );
    let err = out.error.expect("an element error");
    assert!(
        err.contains("aws-region") && err.contains("AWS_REGION"),
        "{err}"
    );
    assert!(endpoint.seen.lock().unwrap().is_empty());
}
