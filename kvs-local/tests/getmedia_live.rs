// SPDX-License-Identifier: MPL-2.0
//! GetMedia sessions: frames delivered as they arrive (before the fragment is complete),
//! staying open through producer gaps, several readers at once, a stalled reader not slowing
//! ingest, start selectors, and retention-0 streams served from the live buffer.

mod media_support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kvs_core::putmedia::TimecodeType;
use kvs_local::dataplane::channel_body::ChannelBody;
use kvs_local::dataplane::ingest::IngestLimits;
use kvs_local::dataplane::serve::{StartAt, resolve_start, stream_fragments};
use kvs_local::media::{FragmentId, MediaStore, StreamMedia, TimestampKind, now_ms};
use media_support::*;
use tokio::sync::mpsc;

const TOKEN: &[u8] = b"AWS_KINESISVIDEO_CONTINUATION_TOKEN";

fn t0() -> u64 {
    u64::try_from(now_ms()).unwrap_or(0) - 60_000
}

async fn reader(
    store: &Arc<MediaStore>,
    stream: &Arc<StreamMedia>,
    start: StartAt,
    capacity: usize,
) -> mpsc::Receiver<Bytes> {
    let after = resolve_start(store, stream, start).await.expect("start");
    let (tx, rx) = mpsc::channel(capacity);
    tokio::spawn(stream_fragments(
        store.clone(),
        stream.clone(),
        after,
        tx,
        std::future::pending(),
    ));
    rx
}

async fn recv(rx: &mut mpsc::Receiver<Bytes>) -> Bytes {
    match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
        Ok(Some(b)) => b,
        Ok(None) => panic!("GetMedia ended"),
        Err(_) => panic!("nothing from GetMedia within 30 s"),
    }
}

async fn read_documents(rx: &mut mpsc::Receiver<Bytes>, n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while out.windows(TOKEN.len()).filter(|w| *w == TOKEN).count() < n {
        out.extend_from_slice(&recv(rx).await);
    }
    out
}

fn numbers(p: &Parsed) -> Vec<String> {
    p.tags
        .iter()
        .filter(|(k, _)| k == "AWS_KINESISVIDEO_FRAGMENT_NUMBER")
        .map(|(_, v)| v.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_reader_gets_frames_before_the_fragment_completes_and_waits_through_gaps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(dir.path());
    let stream = store.ensure_stream("arn:live", 24).await.expect("stream");
    let mut rx = reader(&store, &stream, StartAt::Now, 64).await;

    let t = t0();
    let (body_tx, body) = ChannelBody::unbounded();
    let ingest_task = {
        let (store, stream) = (store.clone(), stream.clone());
        tokio::spawn(async move {
            ingest_with_limits(&store, &stream, IngestLimits::default(), body).await
        })
    };
    let mut s = Synth::new(1);
    s.fragment(t, 2, 100);
    body_tx.send(Bytes::from(s.bytes())).expect("send");
    // Header + service tags, Cluster start, two frames: all before the Cluster is complete.
    let mut got = Vec::new();
    let frame_payloads = |got: &[u8]| {
        got.windows(100)
            .filter(|w| w.iter().all(|b| *b == 0x42))
            .count()
    };
    while frame_payloads(&got) < 2 {
        got.extend_from_slice(&recv(&mut rx).await);
    }
    assert!(
        got.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]),
        "document starts with an EBML header"
    );
    assert_eq!(
        got.windows(TOKEN.len()).filter(|w| *w == TOKEN).count(),
        0,
        "fragment not closed yet"
    );

    // A producer gap: the session stays open and idle.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        rx.try_recv().is_err(),
        "nothing to send during the gap, and not closed"
    );

    let mut s = kvs_core::mkv::MkvWriter::new();
    s.start_cluster(t + 1000);
    s.frame(1, t + 1000, true, Bytes::from_static(b"next"))
        .expect("frame");
    body_tx.send(Bytes::from(s.into_vec())).expect("send");
    let rest = read_documents(&mut rx, 1).await;
    got.extend_from_slice(&rest);
    let parsed = parse_documents(&got);
    assert_eq!(parsed.documents, 1);
    assert_eq!(parsed.blocks, 2);
    drop(body_tx);
    let second = read_documents(&mut rx, 1).await;
    assert_eq!(parse_documents(&second).blocks, 1);
    let (outcome, acks) = ingest_task.await.expect("ingest");
    assert_eq!(outcome.error, None);
    let acked: Vec<String> = check_ack_sequence(&acks, true)
        .into_iter()
        .map(|f| f.0)
        .collect();
    let mut served = numbers(&parsed);
    served.extend(numbers(&parse_documents(&second)));
    assert_eq!(served, acked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_does_not_slow_ingest_and_catches_up_from_storage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(dir.path());
    let stream = store.ensure_stream("arn:slow", 24).await.expect("stream");
    let mut stalled = reader(&store, &stream, StartAt::Earliest, 1).await;
    let mut others = Vec::new();
    for _ in 0..3 {
        others.push(reader(&store, &stream, StartAt::Earliest, 64).await);
    }
    let t = t0();
    let mut s = Synth::new(1);
    for i in 0..30 {
        s.fragment(t + i * 1000, 30, 2000);
    }
    let (outcome, acks) = tokio::time::timeout(
        Duration::from_secs(60),
        ingest(
            &store,
            &stream,
            TimecodeType::Absolute,
            0,
            body_of(split(&s.bytes(), &[4096; 2000])),
        ),
    )
    .await
    .expect("ingest finished although a reader is stalled");
    assert_eq!(outcome.error, None);
    let acked: Vec<String> = check_ack_sequence(&acks, true)
        .into_iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(acked.len(), 30);
    for rx in [&mut stalled].into_iter().chain(others.iter_mut()) {
        let out = read_documents(rx, 30).await;
        let parsed = parse_documents(&out);
        assert_eq!(numbers(&parsed), acked, "every fragment once, in order");
        assert_eq!(parsed.blocks, 30 * 30);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_selectors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(dir.path());
    let stream = store.ensure_stream("arn:sel", 24).await.expect("stream");
    let t = t0();
    let mut s = Synth::new(1);
    for i in 0..5 {
        s.fragment(t + i * 1000, 30, 10);
    }
    let (_, acks) = ingest(
        &store,
        &stream,
        TimecodeType::Absolute,
        0,
        body_of(vec![Bytes::from(s.bytes())]),
    )
    .await;
    let acked: Vec<String> = check_ack_sequence(&acks, true)
        .into_iter()
        .map(|f| f.0)
        .collect();
    let rows = store.fragments_after(&stream, None, 10).expect("list");

    let after_second = FragmentId::parse(&acked[1]).expect("number");
    let mut rx = reader(&store, &stream, StartAt::After(after_second), 64).await;
    assert_eq!(
        numbers(&parse_documents(&read_documents(&mut rx, 1).await)),
        vec![acked[2].clone()]
    );

    let producer_mid = i64::try_from(t).unwrap_or(0) + 3500;
    let mut rx = reader(
        &store,
        &stream,
        StartAt::Timestamp(TimestampKind::Producer, producer_mid),
        64,
    )
    .await;
    assert_eq!(
        numbers(&parse_documents(&read_documents(&mut rx, 1).await)),
        vec![acked[3].clone()],
        "the fragment containing the producer timestamp"
    );

    let mut rx = reader(
        &store,
        &stream,
        StartAt::Timestamp(TimestampKind::Producer, producer_mid - 500),
        64,
    )
    .await;
    assert_eq!(
        numbers(&parse_documents(&read_documents(&mut rx, 1).await)),
        vec![acked[3].clone()],
        "a fragment's exact producer start selects that fragment"
    );

    let server_ts = rows[4].server_ts_ms;
    let mut rx = reader(
        &store,
        &stream,
        StartAt::Timestamp(TimestampKind::Server, server_ts),
        64,
    )
    .await;
    assert_eq!(
        numbers(&parse_documents(&read_documents(&mut rx, 1).await)),
        vec![acked[4].clone()],
        "a fragment's own server timestamp selects that fragment, even when ingest outran \
         real time and server-time spans overlap"
    );

    let mut rx = reader(&store, &stream, StartAt::Now, 64).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.try_recv().is_err(), "NOW skips what is already complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_zero_is_served_from_the_live_buffer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(dir.path());
    let stream = store.ensure_stream("arn:zero", 0).await.expect("stream");
    let t = t0();
    let mut s = Synth::new(1);
    s.fragment(t, 5, 10).fragment(t + 1000, 5, 10);
    let (_, acks) = ingest(
        &store,
        &stream,
        TimecodeType::Absolute,
        0,
        body_of(vec![Bytes::from(s.bytes())]),
    )
    .await;
    let acked: Vec<String> = check_ack_sequence(&acks, false)
        .into_iter()
        .map(|f| f.0)
        .collect();
    let mut rx = reader(&store, &stream, StartAt::Earliest, 64).await;
    let parsed = parse_documents(&read_documents(&mut rx, 2).await);
    assert_eq!(numbers(&parsed), acked);
}
