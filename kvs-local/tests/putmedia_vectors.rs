// SPDX-License-Identifier: MPL-2.0
//! Every PutMedia body recorded from AWS's kvssink is ingested with its recorded headers and
//! chunking: one fragment per Cluster, BUFFERING/RECEIVED/PERSISTED each, the same
//! FragmentTimecodes the recording stub acknowledged; then GetMedia EARLIEST serves documents
//! that kvs-core's reader parses and ffprobe decodes to the original frame counts.

mod media_support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kvs_core::getmedia::TAG_CONTINUATION_TOKEN;
use kvs_local::dataplane::serve::{StartAt, resolve_start, stream_fragments};
use kvs_local::media::{MediaStore, StreamMedia};
use media_support::*;

/// Reads GetMedia output until `fragments` documents are complete, then hangs up.
async fn get_media_documents(
    store: &Arc<MediaStore>,
    stream: &Arc<StreamMedia>,
    start: StartAt,
    fragments: usize,
) -> Vec<u8> {
    let after = resolve_start(store, stream, start).await.expect("start");
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let task = tokio::spawn(stream_fragments(
        store.clone(),
        stream.clone(),
        after,
        tx,
        std::future::pending(),
    ));
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let needle = TAG_CONTINUATION_TOKEN.as_bytes();
    while out.windows(needle.len()).filter(|w| *w == needle).count() < fragments {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(b)) => out.extend_from_slice(&b),
            Ok(None) => panic!("GetMedia ended early"),
            Err(_) => panic!("GetMedia delivered fewer than {fragments} fragments in 60 s"),
        }
    }
    // Let the rest of the last Tags element arrive: it is sent as one buffer.
    drop(rx);
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    out
}

async fn ingest_capture(name: &str) {
    let cap = capture(name);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(dir.path());
    let stream = store
        .ensure_stream(
            &format!("arn:aws:kinesisvideo:us-east-1:000000000000:stream/{name}/1"),
            24,
        )
        .await
        .expect("stream");
    let body = body_of(split(&cap.body, &cap.chunks));
    let (outcome, acks) = ingest(
        &store,
        &stream,
        cap.timecode_type,
        cap.producer_start_ms,
        body,
    )
    .await;
    assert_eq!(outcome.error, None, "{name}: no ERROR ACK");
    let fragments = check_ack_sequence(&acks, true);
    let timecodes: Vec<u64> = fragments.iter().map(|(_, t)| *t).collect();
    assert_eq!(
        timecodes, cap.buffering_timecodes,
        "{name}: one fragment per Cluster, acknowledged with the stub's FragmentTimecodes"
    );
    let n = fragments.len();
    assert_eq!(
        store
            .fragments_after(&stream, None, 1000)
            .expect("list")
            .len(),
        n,
        "{name}: all fragments persisted"
    );

    let out = get_media_documents(&store, &stream, StartAt::Earliest, n).await;
    let parsed = parse_documents(&out);
    assert_eq!(parsed.documents, n, "{name}: one document per fragment");
    assert_eq!(parsed.clusters, n);
    let served_numbers: Vec<&str> = parsed
        .tags
        .iter()
        .filter(|(k, _)| k == "AWS_KINESISVIDEO_FRAGMENT_NUMBER")
        .map(|(_, v)| v.as_str())
        .collect();
    let acked: Vec<&str> = fragments.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        served_numbers, acked,
        "{name}: served in order, numbered as ACKed"
    );

    let file = dir.path().join(format!("{name}-getmedia.mkv"));
    std::fs::write(&file, &out).expect("write output");
    let original = dir.path().join(format!("{name}-original.mkv"));
    std::fs::write(&original, &cap.body).expect("write original");
    assert_eq!(
        ffprobe_frames(&file),
        ffprobe_frames(&original),
        "{name}: GetMedia output decodes to the original frame counts"
    );
    store.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264() {
    ingest_capture("h264").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h265() {
    ingest_capture("h265").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_aac() {
    ingest_capture("h264-aac").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_alaw() {
    ingest_capture("h264-alaw").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aac_only() {
    ingest_capture("aac-only").await;
}

/// The body of a connection the stub cut: it stops between two frames of an unknown-size
/// Cluster, which reads as that Cluster's clean end, so every fragment is complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_reconnect() {
    ingest_capture("h264-reconnect").await;
}
