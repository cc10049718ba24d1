// SPDX-License-Identifier: MPL-2.0
//! The kvs:// URI handler and the settings checks that fail before any request, plus the
//! region error (in its own test binary because it clears AWS environment variables).

mod support;

use std::sync::Arc;
use std::time::Duration;

use gst::prelude::*;
use support::*;

#[test]
fn uri_sets_the_properties() {
    init();
    let el = gst::Element::make_from_uri(
        gst::URIType::Src,
        "kvs://cam-7?region=eu-west-1&start=earliest&end=1700000100&endpoint=http%3A%2F%2F127.0.0.1%3A9",
        None,
    )
    .expect("kvssrc handles kvs://");
    assert_eq!(
        el.factory().map(|f| f.name().to_string()).as_deref(),
        Some("kvssrc")
    );
    assert_eq!(
        el.property::<Option<String>>("stream-name").as_deref(),
        Some("cam-7")
    );
    assert_eq!(
        el.property::<Option<String>>("aws-region").as_deref(),
        Some("eu-west-1")
    );
    assert_eq!(
        el.property::<Option<String>>("endpoint-uri").as_deref(),
        Some("http://127.0.0.1:9")
    );
    assert_eq!(el.property::<u64>("end-timestamp"), 1_700_000_100_000);
    let uri = el
        .dynamic_cast_ref::<gst::URIHandler>()
        .and_then(|h| h.uri())
        .expect("a URI back");
    assert!(
        uri.starts_with("kvs://cam-7?") && uri.contains("start=earliest"),
        "{uri}"
    );
}

#[test]
fn bad_uri_is_refused() {
    init();
    let el = gst::ElementFactory::make("kvssrc").build().expect("kvssrc");
    let handler = el
        .dynamic_cast_ref::<gst::URIHandler>()
        .expect("URI handler");
    let err = handler
        .set_uri("kvs://cam?start=yesterday")
        .expect_err("refused");
    assert!(err.to_string().contains("start"), "{err}");
}

#[test]
fn secrets_are_write_only() {
    init();
    let el = gst::ElementFactory::make("kvssrc")
        .property("secret-key", "s3cr3t")
        .property("session-token", "t0k3n")
        .build()
        .expect("kvssrc");
    for name in ["secret-key", "session-token"] {
        let pspec = el.find_property(name).expect("property exists");
        assert!(
            !pspec.flags().contains(glib::ParamFlags::READABLE),
            "{name}"
        );
    }
}

#[test]
fn missing_settings_fail_at_start_with_advice() {
    init();
    let endpoint = Endpoint::start(Arc::new(|_, _, _| {
        error_response(500, "InternalFailure", "must not be called")
    }));
    let cases = [
        ("", "stream-name"),
        (
            "stream-name=cam start-selector=fragment-number",
            "start-fragment-number",
        ),
        (
            "stream-name=cam start-selector=producer-timestamp",
            "start-timestamp",
        ),
        ("stream-name=cam access-key=AKID", "secret-key"),
        ("stream-name=cam end-timestamp=5", "end-timestamp needs"),
    ];
    for (props, expect) in cases {
        let out = run_pipeline(
            &format!(
                "kvssrc aws-region=us-east-1 endpoint-uri={} {props}",
                endpoint.url()
            ),
            "",
            None,
            Duration::from_secs(30),
        );
        let err = out.error.unwrap_or_default();
        assert!(err.contains(expect), "{props}: {err}");
    }
    assert!(endpoint.seen.lock().unwrap().is_empty());
}
