// SPDX-License-Identifier: MPL-2.0
//! Re-sent fragments (a producer reconnecting after a lost ACK): an identical copy is
//! acknowledged with the stored fragment's number and not stored again, from the live ring
//! or from the index after a restart; a copy that differs in any frame is stored; live
//! readers see each fragment once.

mod media_support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kvs_core::putmedia::{Ack, AckEventType, TimecodeType};
use kvs_local::dataplane::serve::{StartAt, resolve_start, stream_fragments};
use kvs_local::media::{FragmentMeta, MediaStore, StreamMedia, now_ms};
use media_support::*;
use tokio::sync::mpsc;

const TOKEN: &[u8] = b"AWS_KINESISVIDEO_CONTINUATION_TOKEN";

fn t0() -> u64 {
    u64::try_from(now_ms()).unwrap_or(0) - 60_000
}

fn body(s: Synth) -> TestBody {
    // Small pieces, so fragments arrive frame by frame as from a network.
    body_of(split(&s.bytes(), &[700; 10_000]))
}

/// (fragment timecode, fragment number) of every RECEIVED ACK.
fn received(acks: &[Ack]) -> Vec<(u64, String)> {
    acks.iter()
        .filter(|a| a.event_type == AckEventType::Received)
        .map(|a| {
            (
                a.fragment_timecode.unwrap_or_default(),
                a.fragment_number.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn rows(store: &MediaStore, stream: &StreamMedia) -> Vec<FragmentMeta> {
    store.fragments_after(stream, None, 1000).expect("list")
}

fn producer_ts(rows: &[FragmentMeta]) -> Vec<i64> {
    rows.iter().map(|r| r.producer_ts_ms).collect()
}

fn ms(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identical_resent_fragment_gets_the_stored_number_and_is_not_stored_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(dir.path());
    let stream = store.ensure_stream("arn:resend", 24).await.expect("stream");
    let t = t0();
    let mut first = Synth::new(2);
    for i in 0..3 {
        first
            .fragment(t + i * 1000, 30, 500)
            .frame(2, t + i * 1000 + 10);
    }
    let (o1, acks1) = ingest(&store, &stream, TimecodeType::Absolute, 0, body(first)).await;
    assert_eq!((o1.error, o1.fragments, o1.deduplicated), (None, 3, 0));
    check_ack_sequence(&acks1, true);
    let first_numbers = received(&acks1);

    // The reconnect: a fresh header, then fragments 2 and 3 again, then a new one.
    let mut again = Synth::new(2);
    for i in 1..4 {
        again
            .fragment(t + i * 1000, 30, 500)
            .frame(2, t + i * 1000 + 10);
    }
    let (o2, acks2) = ingest(&store, &stream, TimecodeType::Absolute, 0, body(again)).await;
    assert_eq!((o2.error, o2.fragments, o2.deduplicated), (None, 3, 2));
    // The usual BUFFERING, RECEIVED, PERSISTED for each, numbers increasing.
    check_ack_sequence(&acks2, true);
    let second_numbers = received(&acks2);
    assert_eq!(
        second_numbers[..2],
        first_numbers[1..],
        "repeats carry the first copy's number"
    );
    assert!(second_numbers[2].1 > first_numbers[2].1);

    let stored = rows(&store, &stream);
    assert_eq!(
        producer_ts(&stored),
        (0..4).map(|i| ms(t) + i * 1000).collect::<Vec<_>>(),
        "every fragment stored exactly once"
    );
    let numbers: Vec<String> = stored.iter().map(|r| r.id.to_number()).collect();
    let mut acked: Vec<String> = first_numbers.into_iter().map(|f| f.1).collect();
    acked.push(second_numbers[2].1.clone());
    assert_eq!(numbers, acked);
    for r in &stored {
        let f = store.read_fragment(r).expect("stored fragment readable");
        assert_eq!(r.frame_count, 31);
        assert!(f.cluster.len() > 30 * 500);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_the_index_finds_the_first_copy_even_with_a_new_timecode_base() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = t0();
    let first_numbers = {
        let store = open_store(dir.path());
        let stream = store
            .ensure_stream("arn:restart", 24)
            .await
            .expect("stream");
        let mut s = Synth::new(1);
        s.fragment(0, 30, 300).fragment(1000, 30, 300);
        let (o, acks) = ingest(&store, &stream, TimecodeType::Relative, t, body(s)).await;
        assert_eq!(o.error, None);
        check_ack_sequence(&acks, true);
        store.close();
        received(&acks)
    };
    // Nothing in RAM now: the index is the only place to find the first copies.
    let store = open_store(dir.path());
    let stream = store.stream("arn:restart").expect("stream survives");
    // The producer restarted its relative clock one second later: same producer
    // timestamps, other cluster timecodes.
    let mut s = Synth::new(1);
    s.fragment(0, 30, 300).fragment(1000, 30, 300);
    let (o, acks) = ingest(&store, &stream, TimecodeType::Relative, t + 1000, body(s)).await;
    assert_eq!((o.error, o.fragments, o.deduplicated), (None, 2, 1));
    check_ack_sequence(&acks, true);
    let again = received(&acks);
    assert_eq!(again[0], (0, first_numbers[1].1.clone()));
    assert_ne!(again[1].1, first_numbers[1].1);
    assert_eq!(
        producer_ts(&rows(&store, &stream)),
        vec![ms(t), ms(t) + 1000, ms(t) + 2000]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_with_the_same_timestamp_but_other_content_is_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(dir.path());
    let stream = store
        .ensure_stream("arn:differs", 24)
        .await
        .expect("stream");
    let t = t0();
    let mut first = Synth::new(1);
    first.fragment(t, 30, 200);
    let (_, acks) = ingest(&store, &stream, TimecodeType::Absolute, 0, body(first)).await;
    let original = received(&acks);

    // Each differs from the stored fragment in one way: a payload size (first frame), a
    // frame more (at the end), a frame less (only known once complete).
    let mut variants = vec![Synth::new(1), Synth::new(1), Synth::new(1)];
    variants[0].fragment(t, 30, 201);
    variants[1].fragment(t, 30, 200).frame(1, t + 995);
    variants[2].fragment(t, 29, 200);
    let mut numbers = vec![original[0].1.clone()];
    for s in variants {
        let (o, acks) = ingest(&store, &stream, TimecodeType::Absolute, 0, body(s)).await;
        assert_eq!((o.error, o.fragments, o.deduplicated), (None, 1, 0));
        check_ack_sequence(&acks, true);
        let got = received(&acks);
        assert!(!numbers.contains(&got[0].1), "a new fragment number");
        numbers.push(got[0].1.clone());
    }
    let stored = rows(&store, &stream);
    assert_eq!(
        producer_ts(&stored),
        vec![ms(t); 4],
        "nothing accepted is lost"
    );
    let frames: Vec<i64> = stored.iter().map(|r| r.frame_count).collect();
    assert_eq!(frames, vec![30, 30, 31, 29]);

    // The same frames under other metadata are another fragment too.
    let mut s = Synth::new(1);
    s.tags(&[("camera", "door")]).fragment(t, 30, 200);
    let (o, _) = ingest(&store, &stream, TimecodeType::Absolute, 0, body(s)).await;
    assert_eq!((o.fragments, o.deduplicated), (1, 0));
    assert_eq!(rows(&store, &stream).len(), 5);
    // And sending that one again is a repeat of it, not of the untagged first copy.
    let mut s = Synth::new(1);
    s.tags(&[("camera", "door")]).fragment(t, 30, 200);
    let (o, acks) = ingest(&store, &stream, TimecodeType::Absolute, 0, body(s)).await;
    assert_eq!((o.fragments, o.deduplicated), (1, 1));
    assert_eq!(
        received(&acks)[0].1,
        rows(&store, &stream)[4].id.to_number()
    );
    assert_eq!(rows(&store, &stream).len(), 5);
}

async fn reader(
    store: &Arc<MediaStore>,
    stream: &Arc<StreamMedia>,
    start: StartAt,
) -> mpsc::Receiver<Bytes> {
    let after = resolve_start(store, stream, start).await.expect("start");
    let (tx, rx) = mpsc::channel(1024);
    tokio::spawn(stream_fragments(
        store.clone(),
        stream.clone(),
        after,
        tx,
        std::future::pending(),
    ));
    rx
}

/// Reads until `n` documents are complete; returns (fragment number, producer timestamp
/// tag) of each.
async fn documents(rx: &mut mpsc::Receiver<Bytes>, n: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while out.windows(TOKEN.len()).filter(|w| *w == TOKEN).count() < n {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(b)) => out.extend_from_slice(&b),
            Ok(None) => panic!("GetMedia ended"),
            Err(_) => panic!("nothing from GetMedia within 30 s"),
        }
    }
    let parsed = parse_documents(&out);
    let numbers = parsed
        .tags
        .iter()
        .filter(|(k, _)| k == "AWS_KINESISVIDEO_FRAGMENT_NUMBER")
        .map(|(_, v)| v.clone());
    let producer = parsed
        .tags
        .iter()
        .filter(|(k, _)| k == "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP")
        .map(|(_, v)| v.clone());
    numbers.zip(producer).collect()
}

async fn live_readers_see_each_fragment_once(retention_hours: u32) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(dir.path());
    let arn = format!("arn:live-{retention_hours}");
    let stream = store
        .ensure_stream(&arn, retention_hours)
        .await
        .expect("stream");
    let mut from_start = reader(&store, &stream, StartAt::Earliest).await;
    let t = t0();
    let mut s = Synth::new(1);
    for i in 0..3 {
        s.fragment(t + i * 1000, 30, 100);
    }
    let (_, acks1) = ingest(&store, &stream, TimecodeType::Absolute, 0, body(s)).await;
    // Read before going on: without retention, the ring is all there is, and it is short.
    let mut seen = documents(&mut from_start, 3).await;
    let mut at_edge = reader(&store, &stream, StartAt::Now).await;

    // Reconnect: fragment 2 again unchanged, fragment 3 again with other frames, then 4.
    let mut s = Synth::new(1);
    s.fragment(t + 1000, 30, 100)
        .fragment(t + 2000, 30, 101)
        .fragment(t + 3000, 30, 100);
    let (o, acks2) = ingest(&store, &stream, TimecodeType::Absolute, 0, body(s)).await;
    assert_eq!((o.fragments, o.deduplicated), (3, 1));
    let persisted = retention_hours > 0;
    check_ack_sequence(&acks1, persisted);
    check_ack_sequence(&acks2, persisted);
    let (r1, r2) = (received(&acks1), received(&acks2));
    assert_eq!(r2[0].1, r1[1].1);
    let mut expected: Vec<String> = r1.iter().map(|f| f.1.clone()).collect();
    expected.extend(r2[1..].iter().map(|f| f.1.clone()));

    seen.extend(documents(&mut from_start, 2).await);
    let seen_numbers: Vec<String> = seen.iter().map(|d| d.0.clone()).collect();
    assert_eq!(seen_numbers, expected, "each fragment once, in order");
    let edge = documents(&mut at_edge, 2).await;
    let edge_numbers: Vec<String> = edge.iter().map(|d| d.0.clone()).collect();
    assert_eq!(
        edge_numbers,
        expected[3..],
        "a reader at the live edge gets only the new fragments"
    );
    if persisted {
        let stored: Vec<String> = rows(&store, &stream)
            .iter()
            .map(|r| r.id.to_number())
            .collect();
        assert_eq!(stored, expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_readers_see_a_resent_fragment_once() {
    live_readers_see_each_fragment_once(24).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_readers_see_a_resent_fragment_once_without_retention() {
    live_readers_see_each_fragment_once(0).await;
}
