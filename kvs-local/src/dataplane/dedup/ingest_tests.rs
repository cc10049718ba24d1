// SPDX-License-Identifier: MPL-2.0
//! A copy re-sent while the first one is still on its way to the disk: PERSISTED waits for
//! the first copy, and if storing that failed, the copy is stored under its own number.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use kvs_core::mkv::{MkvWriter, StreamHeader, TrackInfo, TrackType};
use kvs_core::putmedia::{Ack, AckEventType, TimecodeType};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::dataplane::ingest::{Ingest, IngestLimits, IngestOutcome, IngestParams};
use crate::media::{
    Durability, FragmentId, LiveEnd, LiveFragment, MediaOptions, MediaStore, StreamMedia, now_ms,
};

const TS: u64 = 1_700_000_000_000;

fn body() -> Bytes {
    let mut w = MkvWriter::new();
    let header = StreamHeader {
        tracks: vec![TrackInfo {
            number: 1,
            uid: 1,
            track_type: Some(TrackType::Video),
            codec_id: "V_MPEG4/ISO/AVC".into(),
            ..TrackInfo::default()
        }],
        ..StreamHeader::default()
    };
    w.stream_header(&header).expect("header");
    w.start_cluster(TS);
    for i in 0..10u8 {
        w.frame(1, TS + u64::from(i) * 33, i == 0, Bytes::from(vec![i; 64]))
            .expect("frame");
    }
    Bytes::from(w.into_vec())
}

async fn run(
    store: &Arc<MediaStore>,
    stream: &Arc<StreamMedia>,
) -> (IngestOutcome, UnboundedReceiver<Ack>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let active = || true;
    let params = IngestParams {
        timecode_type: TimecodeType::Absolute,
        producer_start_ms: 0,
    };
    let outcome = Ingest::new(store, stream, params, IngestLimits::default(), tx, &active)
        .run(Full::new(body()))
        .await;
    (outcome, rx)
}

/// Puts a complete, not yet persisted copy of `body()`'s fragment into `target`'s ring, as
/// a session that just finished it would have.
async fn first_copy_in_ring(
    store: &Arc<MediaStore>,
    target: &Arc<StreamMedia>,
) -> Arc<LiveFragment> {
    let source = store.ensure_stream("arn:source", 0).await.expect("stream");
    let (o, _) = run(store, &source).await;
    assert_eq!(o.fragments, 1);
    let model = source.live().latest().expect("fragment in the ring");
    let id = store.next_fragment_id(target).await.expect("id");
    let first = Arc::new(LiveFragment::new(
        id,
        now_ms(),
        model.producer_ts_ms,
        model.cluster_timecode,
        model.header.clone(),
    ));
    let live = target.live();
    live.start(first.clone(), false, now_ms());
    live.push_parts(&first, &model.read_from(0).parts);
    live.finish(&first, LiveEnd::Complete { duration_ms: 330 }, Vec::new());
    target.note_producer_ts(model.producer_ts_ms);
    first
}

fn drain(rx: &mut UnboundedReceiver<Ack>) -> Vec<(AckEventType, String)> {
    std::iter::from_fn(|| rx.try_recv().ok())
        .map(|a| (a.event_type, a.fragment_number.unwrap_or_default()))
        .collect()
}

async fn next(rx: &mut UnboundedReceiver<Ack>) -> (AckEventType, String) {
    let ack = tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("an ACK within 30 s")
        .expect("ACK channel open");
    (ack.event_type, ack.fragment_number.unwrap_or_default())
}

fn number(id: FragmentId) -> String {
    id.to_number()
}

#[tokio::test]
async fn persisted_waits_for_the_first_copy_and_names_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = MediaStore::open(dir.path(), MediaOptions::default()).expect("open");
    let target = store.ensure_stream("arn:target", 24).await.expect("stream");
    let first = first_copy_in_ring(&store, &target).await;

    let (o, mut rx) = run(&store, &target).await;
    assert_eq!((o.fragments, o.deduplicated), (1, 1));
    let n = number(first.id);
    // PERSISTED cannot have been sent: the first copy's fate is still unknown.
    assert_eq!(
        drain(&mut rx),
        vec![
            (AckEventType::Buffering, n.clone()),
            (AckEventType::Received, n.clone())
        ]
    );
    assert_eq!(
        target.live().fragment_count(),
        1,
        "the copy never went live"
    );
    first.set_durability(Durability::Persisted);
    assert_eq!(next(&mut rx).await, (AckEventType::Persisted, n));
    store.sync().await.expect("sync");
    assert!(
        store
            .fragments_after(&target, None, 10)
            .expect("list")
            .is_empty(),
        "the copy was not stored"
    );
}

#[tokio::test]
async fn the_copy_is_stored_when_the_first_one_failed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = MediaStore::open(dir.path(), MediaOptions::default()).expect("open");
    let target = store.ensure_stream("arn:target", 24).await.expect("stream");
    let first = first_copy_in_ring(&store, &target).await;

    let (o, mut rx) = run(&store, &target).await;
    assert_eq!(o.deduplicated, 1);
    first.set_durability(Durability::Failed);
    let acks: Vec<(AckEventType, String)> = vec![
        next(&mut rx).await,
        next(&mut rx).await,
        next(&mut rx).await,
    ];
    let n = number(first.id);
    assert_eq!(
        acks[..2],
        [
            (AckEventType::Buffering, n.clone()),
            (AckEventType::Received, n.clone())
        ]
    );
    assert_eq!(acks[2].0, AckEventType::Persisted);
    assert_ne!(acks[2].1, n, "PERSISTED names the copy that was stored");
    let rows = store.fragments_after(&target, None, 10).expect("list");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id.to_number(), acks[2].1);
    assert_eq!(rows[0].frame_count, 10);

    // The failed first copy is no candidate any more; the stored copy is.
    let (o, _) = run(&store, &target).await;
    assert_eq!(
        (o.fragments, o.deduplicated),
        (1, 1),
        "repeats the stored copy"
    );
    assert_eq!(
        store
            .fragments_after(&target, None, 10)
            .expect("list")
            .len(),
        1
    );
}
