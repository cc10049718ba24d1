// SPDX-License-Identifier: MPL-2.0
//! Crash safety of the real binary: SIGKILL it in the middle of a PutMedia, restart it on the
//! same data directory, and every fragment that got a PERSISTED ACK must be listed and
//! readable; fragment numbers handed out before the crash are never reused.

mod media_support;

use std::time::Duration;

use http_body_util::BodyExt;
use kvs_core::putmedia::{Ack, AckEventType, AckParser};
use kvs_local::dataplane::channel_body::ChannelBody;
use media_support::http::{create_stream, list_fragment_numbers, post_json_streaming, send};
use media_support::process::{ServerProcess, fragment_bytes};
use media_support::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persisted_fragments_survive_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = ServerProcess::start(dir.path()).await;
    let base = server.base_url.clone();
    create_stream(&base, "crash", 24).await;

    let (tx, body) = ChannelBody::unbounded();
    let req = hyper::Request::post("/putMedia")
        .header("host", base.trim_start_matches("http://"))
        .header("x-amzn-stream-name", "crash")
        .header("x-amzn-fragment-timecode-type", "ABSOLUTE")
        .header("x-amzn-producer-start-timestamp", "1700000000.000")
        .body(body)
        .expect("request");
    let t0 = u64::try_from(kvs_local::media::now_ms()).unwrap_or(0) - 600_000;
    let feeder = tokio::spawn(async move {
        for i in 0..10_000u64 {
            if tx
                .send(fragment_bytes(i == 0, t0 + i * 1000, 3000))
                .is_err()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let resp = send(&base, req).await;
    assert_eq!(resp.status(), 200);
    let mut acks_body = resp.into_body();
    let mut parser = AckParser::new();
    let mut acks: Vec<Ack> = Vec::new();
    let persisted = |acks: &[Ack]| {
        acks.iter()
            .filter(|a| a.event_type == AckEventType::Persisted)
            .count()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while persisted(&acks) < 20 {
        let frame = tokio::time::timeout_at(deadline, acks_body.frame())
            .await
            .expect("20 PERSISTED ACKs within 60 s")
            .expect("ACK stream open")
            .expect("ACK frame");
        if let Ok(d) = frame.into_data() {
            acks.extend(
                parser
                    .push_and_drain(&d)
                    .into_iter()
                    .map(|a| a.expect("ACK")),
            );
        }
    }
    // Mid-ingest: the feeder is still sending and fragments are in flight.
    server.kill();
    // Whatever ACKs were already on the wire count too.
    while let Ok(Some(Ok(frame))) =
        tokio::time::timeout(Duration::from_secs(5), acks_body.frame()).await
    {
        if let Ok(d) = frame.into_data() {
            acks.extend(parser.push_and_drain(&d).into_iter().flatten());
        }
    }
    feeder.abort();
    let persisted_numbers: Vec<String> = acks
        .iter()
        .filter(|a| a.event_type == AckEventType::Persisted)
        .filter_map(|a| a.fragment_number.clone())
        .collect();
    let highest_handed_out = acks
        .iter()
        .filter_map(|a| a.fragment_number.clone())
        .max()
        .expect("numbers");

    let server = ServerProcess::start(dir.path()).await;
    let base = server.base_url.clone();
    let listed = list_fragment_numbers(&base, "crash").await;
    for n in &persisted_numbers {
        assert!(
            listed.contains(n),
            "PERSISTED fragment {n} lost in the crash"
        );
    }
    let resp = post_json_streaming(
        &base,
        "/getMediaForFragmentList",
        &json!({"StreamName": "crash", "Fragments": persisted_numbers}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let out = resp.into_body().collect().await.expect("body").to_bytes();
    let parsed = parse_documents(&out);
    assert_eq!(parsed.documents, persisted_numbers.len());
    assert_eq!(
        parsed.blocks,
        30 * persisted_numbers.len(),
        "every frame readable"
    );

    // Ingest again: numbers continue above everything handed out before the crash.
    let (tx, body) = ChannelBody::unbounded();
    tx.send(fragment_bytes(true, t0 + 1_000_000, 3000))
        .expect("send");
    drop(tx);
    let req = hyper::Request::post("/putMedia")
        .header("host", base.trim_start_matches("http://"))
        .header("x-amzn-stream-name", "crash")
        .header("x-amzn-fragment-timecode-type", "ABSOLUTE")
        .header("x-amzn-producer-start-timestamp", "1700000000.000")
        .body(body)
        .expect("request");
    let resp = send(&base, req).await;
    let out = resp.into_body().collect().await.expect("acks").to_bytes();
    let mut parser = AckParser::new();
    let after: Vec<Ack> = parser.push_and_drain(&out).into_iter().flatten().collect();
    let new_number = after
        .iter()
        .find(|a| a.event_type == AckEventType::Persisted)
        .and_then(|a| a.fragment_number.clone())
        .expect("PERSISTED after restart");
    assert!(
        new_number > highest_handed_out,
        "{new_number} reuses a pre-crash number"
    );
}
