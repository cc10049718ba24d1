// SPDX-License-Identifier: MPL-2.0
//! End to end through a TCP proxy that cuts PutMedia connections mid-stream: after kvssink
//! reconnects and resends, kvs-local holds every sent fragment (once, or repeated whole when
//! the cut ate its ACK), without gaps, and the stored media decodes to every frame sent.

mod common;
mod e2e_support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{launch, require_elements, run};
use e2e_support::proxy::{self, CutPlan, ProxyStats};
use e2e_support::{Local, SentCounter, ffprobe, kvssink_desc};
use gst::prelude::*;

const STREAM: &str = "e2e-reconnect";

#[test]
fn cut_put_media_connections_lose_and_duplicate_nothing() {
    require_elements(&["videotestsrc", "x264enc", "h264parse"]);
    let listener = proxy::bind();
    let proxy_url = format!("http://{}", listener.local_addr().expect("proxy address"));
    let local = Local::start_with(Some(proxy_url.clone()));
    let stats = Arc::new(ProxyStats::default());
    // The first connection dies a few fragments in, the second (the resend) early on.
    let plan = CutPlan {
        cuts: vec![(0, 120_000), (1, 60_000)],
    };
    let _proxy = {
        let _guard = local.runtime.enter();
        proxy::serve(listener, local.addr(), plan, stats.clone())
    };

    // 10 fragments of ≈ 30 KB: both cuts fall inside the stream.
    let pipeline = launch(&format!(
        "videotestsrc num-buffers=300 pattern=ball ! \
         video/x-raw,width=640,height=360,framerate=30/1 ! \
         x264enc key-int-max=30 speed-preset=ultrafast tune=zerolatency bitrate=4000 ! h264parse ! {}",
        kvssink_desc(&proxy_url, STREAM, "")
    ));
    let sink = pipeline.by_name("sink").expect("kvssink in pipeline");
    let sent = SentCounter::attach(&sink);
    let result = run(&pipeline, Duration::from_secs(55));
    assert!(
        result.error.is_none(),
        "pipeline failed: {:?}",
        result.error
    );
    let sink_stats = sink.property::<gst::Structure>("stats");
    eprintln!("{sink_stats}");
    assert_eq!(
        stats.cuts_done.load(Ordering::SeqCst),
        2,
        "both cuts happen mid-stream ({} PutMedia connections; {sink_stats})",
        stats.put_media_connections.load(Ordering::SeqCst)
    );
    assert!(
        sink_stats.get::<u64>("reconnects").unwrap_or(0) >= 2,
        "{sink_stats}"
    );

    // Every fragment kvssink saw RECEIVED or PERSISTED, in milliseconds (cluster timecodes).
    // A fragment RECEIVED just before a cut is not resent, so its PERSISTED may never come.
    let mut persisted: Vec<u64> = result
        .element_messages
        .iter()
        .filter(|s| s.name() == "kvs-fragment-ack")
        .filter(|s| {
            matches!(
                s.get::<&str>("event-type").ok(),
                Some("PERSISTED") | Some("RECEIVED")
            )
        })
        .filter_map(|s| s.get::<u64>("fragment-timecode").ok())
        .collect();
    persisted.sort_unstable();
    persisted.dedup();
    assert_eq!(persisted.len(), 10, "acknowledged: {persisted:?}");

    // PutMedia is at-least-once: a fragment whose last byte reached the server just before a
    // cut is stored, but its ACK is lost, so kvssink rightly sends it again; KVS keeps both
    // and consumers (GetClip, HLS) de-duplicate by producer timestamp. So: every sent
    // fragment stored, repeats only as identical copies, at most one per cut, no gap.
    let fragments = local.list_fragments(STREAM);
    let mut unique: Vec<kvs_core::api::Fragment> = Vec::new();
    let mut repeats = 0;
    for f in fragments {
        match unique.last() {
            Some(prev) if prev.producer_timestamp == f.producer_timestamp => {
                assert_eq!(
                    prev.fragment_size_in_bytes, f.fragment_size_in_bytes,
                    "a repeated fragment differs from its first copy"
                );
                repeats += 1;
            }
            _ => unique.push(f),
        }
    }
    assert!(repeats <= 2, "{repeats} repeated fragments for 2 cuts");
    let fragments = unique;
    let stored: Vec<u64> = fragments
        .iter()
        .map(|f| (f.producer_timestamp * 1000.0).round() as u64)
        .collect();
    assert_eq!(stored, persisted, "stored vs acknowledged fragments");
    // One key frame per second: consecutive fragments start 1 s apart, so no gap.
    assert!(
        stored.windows(2).all(|w| w[1] - w[0] == 1000),
        "gap between stored fragments: {stored:?}"
    );

    let media = local.fragment_media(STREAM, &fragments);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("stored.mkv");
    std::fs::write(&path, &media).expect("write media");
    let probe = ffprobe(&path);
    assert_eq!(probe.streams.len(), 1, "{probe:?}");
    assert_eq!(sent.get("video"), 300);
    assert_eq!(probe.streams[0].frames, 300, "{probe:?}");
}
