// SPDX-License-Identifier: MPL-2.0
//! kvssink end to end against kvs-local, in process on 127.0.0.1 (the `endpoint-uri` seam):
//! control plane, PutMedia, ACKs as bus messages, `stats`, and errors that name the cause.

mod common;

use std::time::Duration;

use common::*;
use gst::prelude::*;
use gst_kvs_test_support::local::{LocalServer as Local, Options};
use kvs_core::sigv4::StaticSecrets;

fn kvssink(local: &Local, stream: &str, extra: &str) -> String {
    format!(
        "kvssink name=sink stream-name={stream} aws-region=us-east-1 endpoint-uri={} \
         access-key=AKIDLOCAL secret-key=local-secret stop-stream-timeout=30 {extra}",
        local.url()
    )
}

const VIDEO: &str = "videotestsrc num-buffers=90 ! video/x-raw,framerate=30/1 ! \
     x264enc key-int-max=30 speed-preset=ultrafast ! h264parse";
const AAC: &str = "audiotestsrc num-buffers=130 ! avenc_aac ! aacparse";

fn acks(result: &RunResult, kind: &str) -> Vec<u64> {
    result
        .element_messages
        .iter()
        .filter(|s| s.name() == "kvs-fragment-ack")
        .filter(|s| s.get::<&str>("event-type").ok() == Some(kind))
        .filter_map(|s| s.get::<u64>("fragment-timecode").ok())
        .collect()
}

fn stream_and_check(desc: &str, expected_fragments: usize) {
    let pipeline = launch(desc);
    let sink = pipeline.by_name("sink").expect("kvssink");
    let result = run(&pipeline, Duration::from_secs(90));
    assert!(result.error.is_none(), "{:?}", result.error);
    let mut persisted = acks(&result, "PERSISTED");
    persisted.sort_unstable();
    persisted.dedup();
    assert_eq!(
        persisted.len(),
        expected_fragments,
        "PERSISTED ACKs: {persisted:?}"
    );
    let stats = sink.property::<gst::Structure>("stats");
    assert_eq!(
        stats.get::<u64>("fragments-sent").ok(),
        Some(expected_fragments as u64),
        "{stats}"
    );
    assert_eq!(stats.get::<u64>("errors").ok(), Some(0), "{stats}");
}

#[test]
fn h264_is_stored_and_every_fragment_acknowledged() {
    require_elements(&["videotestsrc", "x264enc", "h264parse"]);
    let local = Local::start();
    stream_and_check(
        &format!("{VIDEO} ! {}", kvssink(&local, "local-h264", "")),
        3,
    );
}

#[test]
fn h264_byte_stream_and_aac() {
    require_elements(&[
        "videotestsrc",
        "x264enc",
        "h264parse",
        "audiotestsrc",
        "avenc_aac",
    ]);
    let local = Local::start();
    stream_and_check(
        &format!(
            "{} {VIDEO} ! video/x-h264,stream-format=byte-stream ! sink.video_0 {AAC} ! sink.audio_0",
            kvssink(&local, "local-av", "")
        ),
        3,
    );
}

#[test]
fn wrong_credentials_end_in_an_error_naming_the_cause() {
    require_elements(&["videotestsrc", "x264enc", "h264parse"]);
    let local = Local::start_with(Options {
        credentials: Some(StaticSecrets::new().with("AKIDLOCAL", "the-real-secret")),
        ..Default::default()
    });
    let pipeline = launch(&format!("{VIDEO} ! {}", kvssink(&local, "local-auth", "")));
    let result = run(&pipeline, Duration::from_secs(90));
    let err = result.error.expect("an error");
    assert!(
        err.contains("credentials") || err.contains("signature") || err.contains("access"),
        "error does not name the credential problem: {err}"
    );
}

#[test]
fn missing_stream_without_create_permission_is_an_error() {
    require_elements(&["videotestsrc", "x264enc", "h264parse"]);
    let local = Local::start();
    let pipeline = launch(&format!(
        "{VIDEO} ! {}",
        kvssink(&local, "local-missing", "allow-create-stream=false")
    ));
    let result = run(&pipeline, Duration::from_secs(90));
    let err = result.error.expect("an error");
    assert!(err.contains("allow-create-stream"), "{err}");
}

#[test]
fn h265_h264_alaw_and_aac_only_streams() {
    require_elements(&["x265enc", "h265parse", "alawenc", "avenc_aac", "aacparse"]);
    let local = Local::start();
    let h265 = "videotestsrc num-buffers=90 ! video/x-raw,framerate=30/1 ! \
         x265enc key-int-max=30 speed-preset=ultrafast ! h265parse";
    stream_and_check(
        &format!("{h265} ! {}", kvssink(&local, "local-h265", "")),
        3,
    );
    stream_and_check(
        &format!(
            "{} {VIDEO} ! sink.video_0 audiotestsrc num-buffers=130 ! alawenc ! sink.audio_0",
            kvssink(&local, "local-alaw", "")
        ),
        3,
    );
    // 130 × 1024 samples at 44.1 kHz ≈ 3.02 s in fragments of 2 s (fragment-duration).
    stream_and_check(&format!("{AAC} ! {}", kvssink(&local, "local-aac", "")), 2);
}
