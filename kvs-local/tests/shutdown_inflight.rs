// SPDX-License-Identifier: MPL-2.0
//! Issue 4: SIGTERM while a PutMedia connection is still open. Every fragment the server
//! already answered RECEIVED for must get its PERSISTED ACK on that same response before the
//! connection closes, the process must exit 0 within the grace period, and a restart on the
//! same data directory must list those fragments.

mod media_support;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use kvs_core::putmedia::{Ack, AckEventType, AckParser};
use kvs_local::dataplane::channel_body::ChannelBody;
use media_support::http::{create_stream, list_fragment_numbers, send};
use media_support::process::{ServerProcess, fragment_bytes};
use media_support::{capture, split};

fn numbers_of(acks: &[Ack], event: AckEventType) -> Vec<String> {
    acks.iter()
        .filter(|a| a.event_type == event)
        .filter_map(|a| a.fragment_number.clone())
        .collect()
}

/// A PutMedia body already queued for sending, and how many fragments of it the server can
/// call RECEIVED (every one whose Cluster is followed by another).
struct Upload {
    pieces: Vec<Bytes>,
    timecode_type: &'static str,
    producer_start: String,
    received: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_persists_received_synthetic_fragments() {
    const FRAGMENTS: u64 = 6;
    let t0 = u64::try_from(kvs_local::media::now_ms()).unwrap_or(0) - 600_000;
    let pieces = (0..FRAGMENTS)
        .map(|i| fragment_bytes(i == 0, t0 + i * 1000, 4000))
        .collect();
    sigterm_mid_upload(Upload {
        pieces,
        timecode_type: "ABSOLUTE",
        producer_start: "1700000000.000".into(),
        received: (FRAGMENTS - 1) as usize,
    })
    .await;
}

/// The recorded kvssink body, in its recorded HTTP chunks, minus its last byte: the final
/// Cluster never completes, every earlier fragment is complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_persists_received_kvssink_capture_fragments() {
    let cap = capture("h264");
    let cut = cap.body.len().saturating_sub(1);
    let pieces = split(cap.body.get(..cut).expect("non-empty capture"), &cap.chunks);
    let ms = cap.producer_start_ms;
    sigterm_mid_upload(Upload {
        pieces,
        timecode_type: cap.timecode_type.as_str(),
        producer_start: format!("{}.{:03}", ms / 1000, ms % 1000),
        received: cap.buffering_timecodes.len().saturating_sub(1),
    })
    .await;
}

async fn sigterm_mid_upload(upload: Upload) {
    assert!(upload.received > 0, "the scenario needs RECEIVED fragments");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = ServerProcess::start(dir.path()).await;
    let base = server.base_url.clone();
    create_stream(&base, "inflight", 24).await;

    // The body sender stays alive: the producer never ends its upload on its own.
    let (tx, body) = ChannelBody::unbounded();
    for piece in upload.pieces {
        tx.send(piece).expect("queue body piece");
    }
    let req = hyper::Request::post("/putMedia")
        .header("host", base.trim_start_matches("http://"))
        .header("x-amzn-stream-name", "inflight")
        .header("x-amzn-fragment-timecode-type", upload.timecode_type)
        .header(
            "x-amzn-producer-start-timestamp",
            upload.producer_start.as_str(),
        )
        .body(body)
        .expect("request");
    let resp = send(&base, req).await;
    assert_eq!(resp.status(), 200);
    let mut acks_body = resp.into_body();
    let mut parser = AckParser::new();
    let mut acks: Vec<Ack> = Vec::new();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while numbers_of(&acks, AckEventType::Received).len() < upload.received {
        let frame = tokio::time::timeout_at(deadline, acks_body.frame())
            .await
            .expect("RECEIVED ACKs within 60 s")
            .expect("ACK stream open")
            .expect("ACK frame");
        if let Ok(d) = frame.into_data() {
            for ack in parser.push_and_drain(&d) {
                acks.push(ack.expect("ACK parses"));
            }
        }
    }
    let received_before_signal = numbers_of(&acks, AckEventType::Received);
    assert!(
        !acks.iter().any(|a| a.event_type == AckEventType::Error),
        "no ERROR ACK before the signal: {acks:?}"
    );

    server.send_sigterm();

    // The response must end (the server closes it) only after the missing PERSISTED ACKs.
    let end_deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let ended_cleanly = loop {
        match tokio::time::timeout_at(end_deadline, acks_body.frame()).await {
            Err(_) => panic!("the PutMedia response was not closed within 30 s of SIGTERM"),
            Ok(None) => break true,
            Ok(Some(Err(_))) => break false,
            Ok(Some(Ok(frame))) => {
                if let Ok(d) = frame.into_data() {
                    for ack in parser.push_and_drain(&d) {
                        acks.push(ack.expect("ACK parses"));
                    }
                }
            }
        }
    };
    let persisted = numbers_of(&acks, AckEventType::Persisted);
    for n in &received_before_signal {
        assert!(
            persisted.contains(n),
            "fragment {n} was RECEIVED before SIGTERM but got no PERSISTED ACK; ACKs: {acks:?}"
        );
    }
    assert!(
        ended_cleanly,
        "the ACK stream ended with a transport error instead of a clean end"
    );
    drop(tx);

    let status = server.wait_exit(Duration::from_secs(30)).await;
    assert!(status.success(), "exit status after SIGTERM: {status:?}");

    let server = ServerProcess::start(dir.path()).await;
    let base = server.base_url.clone();
    let listed = list_fragment_numbers(&base, "inflight").await;
    for n in &received_before_signal {
        assert!(
            listed.contains(n),
            "fragment {n} (RECEIVED, then PERSISTED at shutdown) missing after restart: {listed:?}"
        );
    }
}
