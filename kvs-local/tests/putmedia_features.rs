// SPDX-License-Identifier: MPL-2.0
//! PutMedia semantics beyond the happy path: fragment metadata, RELATIVE timecodes, a new
//! EBML header mid-body, a second session taking over a stream, retention 0.

mod media_support;

use std::time::Duration;

use bytes::Bytes;
use kvs_core::mkv::{SimpleTag, Tag};
use kvs_core::putmedia::{AckEventType, TimecodeType};
use kvs_local::dataplane::channel_body::ChannelBody;
use kvs_local::dataplane::ingest::IngestLimits;
use kvs_local::dataplane::serve::stored_document;
use kvs_local::media::now_ms;
use media_support::*;

fn t0() -> u64 {
    u64::try_from(now_ms()).unwrap_or(0) - 60_000
}

#[tokio::test]
async fn fragment_metadata_is_stored_and_served_after_the_cluster() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(dir.path());
    let stream = store.ensure_stream("arn:tags", 24).await.expect("stream");
    let t = t0();
    let mut s = Synth::new(1);
    // Metadata precedes the fragment it belongs to; the END_OF_FRAGMENT Tags element (with
    // metadata in front of it) closes the fragment it follows.
    s.tags(&[("first", "1")])
        .fragment(t, 3, 10)
        .tags(&[("second", "2")])
        .fragment(t + 1000, 3, 10)
        .tags(&[("late", "x"), ("AWS_KINESISVIDEO_END_OF_FRAGMENT", "")]);
    let (outcome, acks) = ingest(
        &store,
        &stream,
        TimecodeType::Absolute,
        0,
        body_of(vec![Bytes::from(s.bytes())]),
    )
    .await;
    assert_eq!(outcome.error, None);
    assert_eq!(check_ack_sequence(&acks, true).len(), 2);
    let rows = store.fragments_after(&stream, None, 10).expect("list");
    let tags: Vec<Vec<Tag>> = rows.iter().map(|r| r.tags.clone()).collect();
    assert_eq!(
        tags,
        vec![
            vec![Tag::single("first", "1")],
            vec![Tag::single("second", "2"), Tag::single("late", "x")],
        ]
    );
    let doc = stored_document(&store, rows[1].clone()).await.expect("doc");
    let parsed = parse_documents(&doc);
    let names: Vec<&str> = parsed.tags.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "AWS_KINESISVIDEO_FRAGMENT_NUMBER",
            "AWS_KINESISVIDEO_SERVER_TIMESTAMP",
            "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP",
            "second",
            "late",
            "AWS_KINESISVIDEO_MILLIS_BEHIND_NOW",
            "AWS_KINESISVIDEO_CONTINUATION_TOKEN",
        ]
    );
    assert_eq!(parsed.blocks, 3);
}

#[tokio::test]
async fn an_event_tag_is_served_as_one_tag_with_its_simple_tags_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(dir.path());
    let stream = store.ensure_stream("arn:event", 24).await.expect("stream");
    let event = Tag {
        simple_tags: vec![
            SimpleTag::new("AWS_KINESISVIDEO_NOTIFICATION", ""),
            SimpleTag::new("motion", "start"),
            SimpleTag::new("camera", "front"),
        ],
    };
    let t = t0();
    let mut s = Synth::new(1);
    s.tag_elements(std::slice::from_ref(&event))
        .tags(&[("plain", "1")])
        .fragment(t, 3, 10)
        .fragment(t + 1000, 3, 10);
    let (outcome, acks) = ingest(
        &store,
        &stream,
        TimecodeType::Absolute,
        0,
        body_of(vec![Bytes::from(s.bytes())]),
    )
    .await;
    assert_eq!(outcome.error, None);
    assert_eq!(check_ack_sequence(&acks, true).len(), 2);
    let rows = store.fragments_after(&stream, None, 10).expect("list");
    assert_eq!(rows[0].tags, vec![event, Tag::single("plain", "1")]);
    // What GetMediaForFragmentList sends for the fragment.
    let doc = stored_document(&store, rows[0].clone()).await.expect("doc");
    let groups = parse_documents(&doc).tag_groups;
    let pair = |n: &str, v: &str| (n.to_owned(), v.to_owned());
    let producer: Vec<_> = groups
        .iter()
        .filter(|g| {
            g.iter().all(|(n, _)| {
                !n.starts_with("AWS_KINESISVIDEO_") || n == "AWS_KINESISVIDEO_NOTIFICATION"
            })
        })
        .cloned()
        .collect();
    assert_eq!(
        producer,
        vec![
            vec![
                pair("AWS_KINESISVIDEO_NOTIFICATION", ""),
                pair("motion", "start"),
                pair("camera", "front"),
            ],
            vec![pair("plain", "1")],
        ]
    );
}

#[tokio::test]
async fn relative_timecodes_add_the_producer_start_timestamp() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(dir.path());
    let stream = store.ensure_stream("arn:rel", 24).await.expect("stream");
    let start = t0();
    let mut s = Synth::new(1);
    s.fragment(0, 3, 10).fragment(2000, 3, 10);
    let (_, acks) = ingest(
        &store,
        &stream,
        TimecodeType::Relative,
        start,
        body_of(vec![Bytes::from(s.bytes())]),
    )
    .await;
    let frags = check_ack_sequence(&acks, true);
    assert_eq!(
        frags.iter().map(|f| f.1).collect::<Vec<_>>(),
        vec![0, 2000],
        "ACKs echo the cluster timecode"
    );
    let rows = store.fragments_after(&stream, None, 10).expect("list");
    let producer: Vec<i64> = rows.iter().map(|r| r.producer_ts_ms).collect();
    let start = i64::try_from(start).unwrap_or(0);
    assert_eq!(producer, vec![start, start + 2000]);
}

#[tokio::test]
async fn new_ebml_header_mid_body_is_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(dir.path());
    let stream = store.ensure_stream("arn:hdr", 24).await.expect("stream");
    let t = t0();
    let mut s = Synth::new(1);
    s.fragment(t, 3, 10).fragment(t + 1000, 3, 10);
    // A producer reset: new header (now with audio), timecodes start again.
    s.new_document(2).fragment(t + 500, 3, 10);
    s.frame(2, t + 520);
    let (outcome, acks) = ingest(
        &store,
        &stream,
        TimecodeType::Absolute,
        0,
        body_of(vec![Bytes::from(s.bytes())]),
    )
    .await;
    assert_eq!(outcome.error, None);
    assert_eq!(check_ack_sequence(&acks, true).len(), 3);
    let rows = store.fragments_after(&stream, None, 10).expect("list");
    assert_ne!(
        rows[0].header_id, rows[2].header_id,
        "the new header is kept for its fragments"
    );
    assert_eq!(rows[0].header_id, rows[1].header_id);
}

#[tokio::test]
async fn a_second_session_takes_the_stream_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(dir.path());
    let stream = store.ensure_stream("arn:two", 24).await.expect("stream");
    let t = t0();
    let (first_tx, first_body) = ChannelBody::unbounded();
    let mut s = Synth::new(1);
    s.fragment(t, 3, 10);
    first_tx.send(Bytes::from(s.bytes())).expect("send");
    let first = {
        let (store, stream) = (store.clone(), stream.clone());
        tokio::spawn(async move {
            ingest_with_limits(&store, &stream, IngestLimits::default(), first_body).await
        })
    };
    // Wait until the first session is receiving.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while stream.live().latest().is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "first session never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut s2 = Synth::new(1);
    s2.fragment(t + 5000, 3, 10);
    let second = ingest_with_limits(
        &store,
        &stream,
        IngestLimits::default(),
        body_of(vec![Bytes::from(s2.bytes())]),
    );
    let (second, first) = tokio::join!(second, first);
    let (first_outcome, first_acks) = first.expect("first task");
    assert!(first_outcome.taken_over, "the older session ends");
    assert!(
        !first_acks
            .iter()
            .any(|a| a.event_type == AckEventType::Received),
        "its unfinished fragment is dropped"
    );
    drop(first_tx);
    assert_eq!(second.0.error, None);
    check_ack_sequence(&second.1, true);
    assert_eq!(
        store
            .fragments_after(&stream, None, 10)
            .expect("list")
            .len(),
        1
    );
}

#[tokio::test]
async fn retention_zero_receives_but_never_persists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(dir.path());
    let stream = store.ensure_stream("arn:zero", 0).await.expect("stream");
    let t = t0();
    let mut s = Synth::new(1);
    s.fragment(t, 3, 10).fragment(t + 1000, 3, 10);
    let (outcome, acks) = ingest(
        &store,
        &stream,
        TimecodeType::Absolute,
        0,
        body_of(vec![Bytes::from(s.bytes())]),
    )
    .await;
    assert_eq!(outcome.error, None);
    assert_eq!(
        check_ack_sequence(&acks, false).len(),
        2,
        "BUFFERING and RECEIVED only"
    );
    store.sync().await.expect("sync");
    assert!(
        store
            .fragments_after(&stream, None, 10)
            .expect("list")
            .is_empty()
    );
    assert!(
        stream.live().latest().is_some(),
        "still readable from the live buffer"
    );
}

#[tokio::test]
async fn idle_session_gets_idle_acks_then_ends_keeping_its_last_fragment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(dir.path());
    let stream = store.ensure_stream("arn:idle", 24).await.expect("stream");
    let (tx, body) = ChannelBody::unbounded();
    let mut s = Synth::new(1);
    s.fragment(t0(), 3, 10);
    tx.send(Bytes::from(s.bytes())).expect("send");
    let limits = IngestLimits {
        idle_ack_interval: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(600),
        ..IngestLimits::default()
    };
    let (outcome, acks) = tokio::time::timeout(
        Duration::from_secs(30),
        ingest_with_limits(&store, &stream, limits, body),
    )
    .await
    .expect("idle session ends by itself");
    drop(tx);
    assert_eq!(outcome.error, None);
    assert!(
        acks.iter()
            .filter(|a| a.event_type == AckEventType::Idle)
            .count()
            >= 2,
        "IDLE ACKs while no data arrives"
    );
    assert_eq!(check_ack_sequence(&acks, true).len(), 1);
}
