// SPDX-License-Identifier: MPL-2.0
//! Bad PutMedia input gets the service's ERROR ACK and ends the session; what was complete
//! before it stays persisted, and other streams are not disturbed.

mod media_support;

use bytes::Bytes;
use kvs_core::putmedia::AckEventType::{self, Buffering, Error, Persisted, Received};
use kvs_local::dataplane::ingest::IngestLimits;
use kvs_local::media::now_ms;
use media_support::*;

fn t0() -> u64 {
    u64::try_from(now_ms()).unwrap_or(0) - 60_000
}

fn ok_fragment() -> Vec<(AckEventType, Option<u32>)> {
    vec![(Buffering, None), (Received, None), (Persisted, None)]
}

/// Runs `body` on a fresh stream; returns non-IDLE ACK events (PERSISTED sorted after the
/// RECEIVED of its fragment by construction of the check) and how many fragments persisted.
async fn run(body: Vec<u8>, limits: IngestLimits) -> (Vec<(AckEventType, Option<u32>)>, usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(dir.path());
    let stream = store.ensure_stream("arn:bad", 24).await.expect("stream");
    let chunks = split(&body, &[]);
    let (outcome, acks) = ingest_with_limits(&store, &stream, limits, body_of(chunks)).await;
    let mut ev = events(&acks);
    // PERSISTED arrives asynchronously; order it by fragment for stable comparisons.
    let persisted = ev.iter().filter(|e| e.0 == Persisted).count();
    ev.retain(|e| e.0 != Persisted);
    let stored = store
        .fragments_after(&stream, None, 100)
        .expect("list")
        .len();
    assert_eq!(persisted, stored, "PERSISTED exactly for stored fragments");
    assert_eq!(
        outcome.error,
        ev.iter().find(|e| e.0 == Error).and_then(|e| e.1)
    );
    (ev, stored)
}

fn without_persisted(v: Vec<(AckEventType, Option<u32>)>) -> Vec<(AckEventType, Option<u32>)> {
    v.into_iter().filter(|e| e.0 != Persisted).collect()
}

#[tokio::test]
async fn garbage_is_invalid_mkv() {
    let (ev, stored) = run(
        b"this is not matroska at all".repeat(10),
        IngestLimits::default(),
    )
    .await;
    assert_eq!(ev, vec![(Error, Some(4006))]);
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn body_cut_inside_a_block_is_invalid_mkv_after_the_complete_fragments() {
    let t = t0();
    let mut s = Synth::new(1);
    s.fragment(t, 10, 1000).fragment(t + 1000, 10, 1000);
    let mut body = s.bytes();
    body.truncate(body.len() - 500);
    let (ev, stored) = run(body, IngestLimits::default()).await;
    let mut want = without_persisted(ok_fragment());
    want.extend([(Buffering, None), (Error, Some(4006))]);
    assert_eq!(ev, want);
    assert_eq!(stored, 1);
}

#[tokio::test]
async fn timecode_going_back_is_4004() {
    let t = t0();
    let mut s = Synth::new(1);
    s.fragment(t, 3, 100)
        .fragment(t + 1000, 3, 100)
        .fragment(t + 500, 3, 100);
    let (ev, stored) = run(s.bytes(), IngestLimits::default()).await;
    let mut want = without_persisted([ok_fragment(), ok_fragment()].concat());
    want.push((Error, Some(4004)));
    assert_eq!(ev, want);
    assert_eq!(stored, 2);
}

#[tokio::test]
async fn oversize_fragment_is_4001() {
    let t = t0();
    let mut s = Synth::new(1);
    s.fragment(t, 3, 100).fragment(t + 1000, 30, 10_000);
    let limits = IngestLimits {
        max_fragment_bytes: 100_000,
        ..IngestLimits::default()
    };
    let (ev, stored) = run(s.bytes(), limits).await;
    let mut want = without_persisted(ok_fragment());
    want.extend([(Buffering, None), (Error, Some(4001))]);
    assert_eq!(ev, want);
    assert_eq!(stored, 1);
}

#[test]
fn default_limits_are_the_service_quotas() {
    let l = IngestLimits::default();
    assert_eq!(l.max_fragment_bytes, 50 * 1024 * 1024);
    assert_eq!(l.max_fragment_duration_ms, 10_000);
    assert_eq!(l.max_tracks, 3);
    assert_eq!(l.max_tags_per_fragment, 10);
}

#[tokio::test]
async fn overlong_fragment_is_4002() {
    let t = t0();
    let mut s = Synth::new(1);
    s.fragment(t, 1, 10);
    s.frame(1, t + 10_500);
    let (ev, _) = run(s.bytes(), IngestLimits::default()).await;
    assert_eq!(ev, vec![(Buffering, None), (Error, Some(4002))]);
}

#[tokio::test]
async fn undeclared_track_is_4010() {
    let t = t0();
    let mut s = Synth::new(1);
    s.fragment(t, 1, 10);
    s.frame(2, t + 40);
    let (ev, _) = run(s.bytes(), IngestLimits::default()).await;
    assert_eq!(ev, vec![(Buffering, None), (Error, Some(4010))]);
}

#[tokio::test]
async fn four_tracks_is_4012() {
    let t = t0();
    let mut s = Synth::new(4);
    s.fragment(t, 1, 10);
    let (ev, _) = run(s.bytes(), IngestLimits::default()).await;
    assert_eq!(ev, vec![(Error, Some(4012))]);
}

#[tokio::test]
async fn eleven_metadata_tags_is_4009() {
    let t = t0();
    let names: Vec<String> = (0..11).map(|i| format!("tag{i}")).collect();
    let pairs: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
    let mut s = Synth::new(1);
    s.fragment(t, 2, 10).tags(&pairs).fragment(t + 1000, 2, 10);
    let (ev, stored) = run(s.bytes(), IngestLimits::default()).await;
    assert_eq!(ev.last(), Some(&(Error, Some(4009))));
    assert_eq!(stored, 1, "the fragment before the tags is kept");
}

#[tokio::test]
async fn bad_input_on_one_stream_leaves_another_ingesting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(dir.path());
    let good = store.ensure_stream("arn:good", 24).await.expect("stream");
    let bad = store.ensure_stream("arn:bad", 24).await.expect("stream");
    let t = t0();
    let mut s = Synth::new(1);
    for i in 0..5 {
        s.fragment(t + i * 1000, 30, 500);
    }
    let good_body = body_of(split(&s.bytes(), &[1000; 200]));
    let bad_body = body_of(vec![Bytes::from_static(b"\x1a\x45\xdf\xa3garbage")]);
    let (g, b) = tokio::join!(
        ingest_with_limits(&store, &good, IngestLimits::default(), good_body),
        ingest_with_limits(&store, &bad, IngestLimits::default(), bad_body),
    );
    assert_eq!(b.0.error, Some(4006));
    assert_eq!(g.0.error, None);
    assert_eq!(g.0.fragments, 5);
    check_ack_sequence(&g.1, true);
    assert_eq!(
        store.fragments_after(&good, None, 100).expect("list").len(),
        5
    );
}

#[tokio::test]
async fn a_declared_track_without_frames_is_4011() {
    let t = t0();
    let mut s = Synth::new(2);
    s.fragment(t, 2, 10);
    s.frame(2, t + 10);
    // The second fragment has video only.
    s.fragment(t + 1000, 2, 10).fragment(t + 2000, 2, 10);
    let (ev, stored) = run(s.bytes(), IngestLimits::default()).await;
    let mut want = without_persisted(ok_fragment());
    want.extend([(Buffering, None), (Error, Some(4011))]);
    assert_eq!(ev, want);
    assert_eq!(stored, 1);
}
