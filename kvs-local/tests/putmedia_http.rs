// SPDX-License-Identifier: MPL-2.0
//! The data plane over HTTP on the real server: PutMedia of a kvssink recording with its
//! recorded headers and chunking (ACKs streamed while the body is still being sent), then
//! ListFragments, GetMediaForFragmentList and GetMedia, and the error answers.

mod media_support;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use kvs_core::putmedia::{Ack, AckEventType, AckParser};
use kvs_local::dataplane::channel_body::ChannelBody;
use kvs_local::{Config, Server, ServerHandle};
use media_support::http::{create_stream, post_json, post_json_streaming, put_capture, send};
use media_support::*;
use serde_json::json;

async fn server(dir: &std::path::Path) -> ServerHandle {
    let mut config = Config::new(dir);
    config.auth.allow_anonymous = true;
    Server::start(config).await.expect("server starts")
}

async fn round_trip(name: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = server(dir.path()).await;
    let base = srv.base_url().to_owned();
    let arn = create_stream(&base, "ref-test", 2).await;
    let cap = capture(name);
    let n = cap.buffering_timecodes.len();
    let acks = put_capture(&base, "ref-test", &cap, n).await;
    let fragments = check_ack_sequence(&acks, true);
    assert_eq!(
        fragments.iter().map(|f| f.1).collect::<Vec<_>>(),
        cap.buffering_timecodes
    );
    let numbers: Vec<String> = fragments.iter().map(|f| f.0.clone()).collect();
    assert!(n >= 4, "{name}: enough fragments for two pages and a range");

    // ListFragments over a range covering everything, two pages.
    let now = kvs_local::media::now_ms() as f64 / 1000.0;
    let sel = json!({"FragmentSelectorType": "SERVER_TIMESTAMP",
        "TimestampRange": {"StartTimestamp": now - 600.0, "EndTimestamp": now + 60.0}});
    let (status, _, body) = post_json(
        &base,
        "/listFragments",
        &json!({"StreamARN": arn, "FragmentSelector": sel, "MaxResults": n.div_ceil(2)}),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let page1: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let token = page1["NextToken"].as_str().expect("NextToken").to_owned();
    let (status, _, body) = post_json(
        &base,
        "/listFragments",
        &json!({"StreamName": "ref-test", "NextToken": token}),
    )
    .await;
    assert_eq!(status, 200);
    let page2: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert!(page2.get("NextToken").is_none_or(|t| t.is_null()));
    let mut listed = Vec::new();
    for page in [&page1, &page2] {
        for f in page["Fragments"].as_array().expect("Fragments") {
            assert!(f["ServerTimestamp"].is_number());
            assert!(f["FragmentSizeInBytes"].as_i64().is_some_and(|s| s > 0));
            listed.push((
                f["FragmentNumber"].as_str().expect("number").to_owned(),
                f["ProducerTimestamp"].as_f64().expect("ProducerTimestamp"),
                f["FragmentLengthInMilliseconds"].as_i64().expect("length"),
            ));
        }
    }
    listed.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        listed.iter().map(|f| &f.0).collect::<Vec<_>>(),
        numbers.iter().collect::<Vec<_>>()
    );
    for (i, f) in listed.iter().enumerate() {
        // ABSOLUTE producer: the producer timestamp is the cluster timecode.
        assert_eq!((f.1 * 1000.0).round() as u64, cap.buffering_timecodes[i]);
        // The length matches the spacing of the producer's clusters.
        if let Some(next) = cap.buffering_timecodes.get(i + 1) {
            let spacing = i64::try_from(next - cap.buffering_timecodes[i]).unwrap_or(0);
            assert!(
                (f.2 - spacing).abs() <= 100,
                "length {} vs spacing {spacing}",
                f.2
            );
        }
    }
    // Producer timestamps of ABSOLUTE producers are the cluster timecodes.
    let (_, _, body) = post_json(
        &base,
        "/listFragments",
        &json!({"StreamName": "ref-test", "FragmentSelector": {"FragmentSelectorType": "PRODUCER_TIMESTAMP",
            "TimestampRange": {"StartTimestamp": cap.buffering_timecodes[2] as f64 / 1000.0,
                               "EndTimestamp": cap.buffering_timecodes[3] as f64 / 1000.0}}}),
    )
    .await;
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        v["Fragments"].as_array().map(Vec::len),
        Some(2),
        "inclusive range: {v}"
    );

    // GetMediaForFragmentList → documents ffprobe decodes to the original frame counts.
    let resp = post_json_streaming(
        &base,
        "/getMediaForFragmentList",
        &json!({"StreamName": "ref-test", "Fragments": numbers}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("video/webm")
    );
    let out = resp.into_body().collect().await.expect("body").to_bytes();
    let parsed = parse_documents(&out);
    assert_eq!(parsed.documents, n);
    let file = dir.path().join("list.mkv");
    std::fs::write(&file, &out).expect("write");
    let original = dir.path().join("orig.mkv");
    std::fs::write(&original, &cap.body).expect("write");
    assert_eq!(ffprobe_frames(&file), ffprobe_frames(&original));

    // GetMedia EARLIEST: same documents, then the connection stays open.
    let resp = post_json_streaming(
        &base,
        "/getMedia",
        &json!({"StreamName": "ref-test", "StartSelector": {"StartSelectorType": "EARLIEST"}}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let mut got = Vec::new();
    let token = b"AWS_KINESISVIDEO_CONTINUATION_TOKEN";
    while got.windows(token.len()).filter(|w| w == token).count() < n {
        let frame = tokio::time::timeout(Duration::from_secs(30), body.frame())
            .await
            .expect("GetMedia data within 30 s")
            .expect("stream open")
            .expect("frame");
        if let Ok(d) = frame.into_data() {
            got.extend_from_slice(&d);
        }
    }
    assert_eq!(parse_documents(&got).blocks, parsed.blocks);
    drop(body);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_over_http() {
    round_trip("h264").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h265_over_http() {
    round_trip("h265").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_aac_over_http() {
    round_trip("h264-aac").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_alaw_over_http() {
    round_trip("h264-alaw").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aac_only_over_http() {
    round_trip("aac-only").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_reconnect_over_http() {
    round_trip("h264-reconnect").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_plane_errors_have_the_service_shape() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = server(dir.path()).await;
    let base = srv.base_url().to_owned();
    create_stream(&base, "zero", 0).await;
    create_stream(&base, "kept", 1).await;

    // PutMedia to a stream that does not exist: 404 before any ACK.
    let req = hyper::Request::post("/putMedia")
        .header("host", base.trim_start_matches("http://"))
        .header("x-amzn-stream-name", "missing")
        .header("x-amzn-fragment-timecode-type", "ABSOLUTE")
        .header("x-amzn-producer-start-timestamp", "1700000000.000")
        .body(http_body_util::Full::new(Bytes::from_static(b"")))
        .expect("request");
    let resp = send(&base, req).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.headers()
            .get("x-amzn-ErrorType")
            .and_then(|v| v.to_str().ok()),
        Some("ResourceNotFoundException")
    );
    // Missing timecode type header.
    let req = hyper::Request::post("/putMedia")
        .header("host", base.trim_start_matches("http://"))
        .header("x-amzn-stream-name", "kept")
        .body(http_body_util::Full::new(Bytes::new()))
        .expect("request");
    assert_eq!(send(&base, req).await.status(), 400);

    let cases = [
        (
            "/getMedia",
            json!({"StreamName": "missing", "StartSelector": {"StartSelectorType": "NOW"}}),
            404,
            "ResourceNotFoundException",
        ),
        (
            "/getMedia",
            json!({"StreamName": "kept", "StartSelector": {"StartSelectorType": "FRAGMENT_NUMBER"}}),
            400,
            "InvalidArgumentException",
        ),
        (
            "/getMedia",
            json!({"StreamName": "kept", "StartSelector": {"StartSelectorType": "FRAGMENT_NUMBER", "AfterFragmentNumber": "12a"}}),
            400,
            "InvalidArgumentException",
        ),
        (
            "/getMedia",
            json!({"StreamName": "kept", "StartSelector": {"StartSelectorType": "FRAGMENT_NUMBER", "AfterFragmentNumber": "123"}}),
            404,
            "ResourceNotFoundException",
        ),
        (
            "/getMedia",
            json!({"StreamName": "kept", "StartSelector": {"StartSelectorType": "SERVER_TIMESTAMP"}}),
            400,
            "InvalidArgumentException",
        ),
        (
            "/listFragments",
            json!({"StreamName": "zero", "FragmentSelector": {"FragmentSelectorType": "SERVER_TIMESTAMP", "TimestampRange": {"StartTimestamp": 0, "EndTimestamp": 1}}}),
            400,
            "NoDataRetentionException",
        ),
        (
            "/listFragments",
            json!({"StreamName": "kept"}),
            400,
            "InvalidArgumentException",
        ),
        (
            "/listFragments",
            json!({"StreamName": "kept", "NextToken": "garbage"}),
            400,
            "InvalidArgumentException",
        ),
        (
            "/listFragments",
            json!({"StreamName": "kept", "MaxResults": 0, "FragmentSelector": {"FragmentSelectorType": "SERVER_TIMESTAMP", "TimestampRange": {"StartTimestamp": 0, "EndTimestamp": 1}}}),
            400,
            "InvalidArgumentException",
        ),
        (
            "/getMediaForFragmentList",
            json!({"StreamName": "zero", "Fragments": ["1"]}),
            400,
            "NoDataRetentionException",
        ),
        (
            "/getMediaForFragmentList",
            json!({"StreamName": "kept", "Fragments": []}),
            400,
            "InvalidArgumentException",
        ),
        (
            "/getMediaForFragmentList",
            json!({"StreamName": "kept", "Fragments": ["91343852333000000000000000000000000000000000001"]}),
            404,
            "ResourceNotFoundException",
        ),
    ];
    for (path, body, status, code) in cases {
        let (s, err, resp) = post_json(&base, path, &body).await;
        assert_eq!(
            s,
            status,
            "{path} {body}: {}",
            String::from_utf8_lossy(&resp)
        );
        assert_eq!(err.as_deref(), Some(code), "{path} {body}");
    }
    // An empty listing is a valid answer.
    let (s, _, resp) = post_json(
        &base,
        "/listFragments",
        &json!({"StreamName": "kept", "FragmentSelector": {"FragmentSelectorType": "SERVER_TIMESTAMP", "TimestampRange": {"StartTimestamp": 0, "EndTimestamp": 1}}}),
    )
    .await;
    assert_eq!(s, 200);
    let v: serde_json::Value = serde_json::from_slice(&resp).expect("json");
    assert_eq!(v["Fragments"], json!([]));
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_stream_during_put_media_ends_it_with_4008_and_removes_the_media() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = server(dir.path()).await;
    let base = srv.base_url().to_owned();
    let arn = create_stream(&base, "doomed", 1).await;
    let (tx, body) = ChannelBody::unbounded();
    let req = hyper::Request::post("/putMedia")
        .header("host", base.trim_start_matches("http://"))
        .header("x-amzn-stream-arn", arn.as_str())
        .header("x-amzn-fragment-timecode-type", "ABSOLUTE")
        .header("x-amzn-producer-start-timestamp", "1700000000.000")
        .body(body)
        .expect("request");
    let t = u64::try_from(kvs_local::media::now_ms()).unwrap_or(0);
    let mut s = Synth::new(1);
    s.fragment(t, 3, 10).fragment(t + 1000, 3, 10);
    tx.send(Bytes::from(s.bytes())).expect("send");
    let resp = send(&base, req).await;
    assert_eq!(resp.status(), 200);
    let mut acks_body = resp.into_body();
    let mut parser = AckParser::new();
    let mut acks: Vec<Ack> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !acks.iter().any(|a| a.event_type == AckEventType::Persisted) {
        let frame = tokio::time::timeout_at(deadline, acks_body.frame())
            .await
            .expect("PERSISTED within 30 s")
            .expect("open")
            .expect("frame");
        if let Ok(d) = frame.into_data() {
            acks.extend(
                parser
                    .push_and_drain(&d)
                    .into_iter()
                    .map(|a| a.expect("ACK")),
            );
        }
    }
    let (status, _, body) = post_json(&base, "/deleteStream", &json!({"StreamARN": arn})).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    // The session ends with STREAM_NOT_ACTIVE and the ACK stream closes.
    let rest = tokio::time::timeout(Duration::from_secs(30), acks_body.collect())
        .await
        .expect("ACK stream closes")
        .expect("body")
        .to_bytes();
    acks.extend(
        parser
            .push_and_drain(&rest)
            .into_iter()
            .map(|a| a.expect("ACK")),
    );
    let last = acks.last().expect("acks");
    assert_eq!(last.event_type, AckEventType::Error);
    assert_eq!(last.error_id, Some(4008));
    drop(tx);
    let (status, err, _) = post_json(
        &base,
        "/getMedia",
        &json!({"StreamARN": arn, "StartSelector": {"StartSelectorType": "EARLIEST"}}),
    )
    .await;
    assert_eq!(
        (status, err.as_deref()),
        (404, Some("ResourceNotFoundException"))
    );
    srv.state().media.sync().await.expect("media sync");
    let left = std::fs::read_dir(dir.path().join("media"))
        .expect("media dir")
        .count();
    assert_eq!(left, 0, "the stream's chunk files are gone");
    srv.shutdown().await;
}
