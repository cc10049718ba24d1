// SPDX-License-Identifier: MPL-2.0
//! End to end through a TCP proxy that cuts PutMedia connections: after kvssink reconnects
//! and resends, kvs-local holds every sent fragment exactly once, without gaps, and the
//! stored media decodes to every frame sent. One test cuts mid-request; the other cuts
//! right after a fragment was received, swallowing its ACK, so kvssink re-sends a fragment
//! kvs-local already has (which used to be stored twice).

mod common;
mod e2e_support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{RunResult, launch, require_elements, run};
use e2e_support::proxy::{self, Cut, CutPlan, ProxyStats};
use e2e_support::{Local, SentCounter, ffprobe, kvssink_desc};
use gst::prelude::*;
use gst_kvs_test_support::local::Options as LocalOptions;
use kvs_core::putmedia::AckEventType;

const FRAMES: u64 = 300;
const FRAGMENTS: usize = 10;

struct Streamed {
    local: Local,
    proxy: Arc<ProxyStats>,
    result: RunResult,
    sent: SentCounter,
    sink_stats: gst::Structure,
}

/// Streams 10 fragments of ≈ 30 KB (one key frame a second) through a proxy cutting as
/// `cuts` says.
fn stream_through_proxy(stream: &str, cuts: Vec<(u64, Cut)>) -> Streamed {
    require_elements(&["videotestsrc", "x264enc", "h264parse"]);
    let listener = proxy::bind();
    let proxy_url = format!("http://{}", listener.local_addr().expect("proxy address"));
    let local = Local::start_with(LocalOptions {
        advertised_url: Some(proxy_url.clone()),
        ..Default::default()
    });
    let proxy = Arc::new(ProxyStats::default());
    let _proxy = {
        let _guard = local.runtime.enter();
        proxy::serve(listener, local.addr(), CutPlan { cuts }, proxy.clone())
    };
    let pipeline = launch(&format!(
        "videotestsrc num-buffers={FRAMES} pattern=ball ! \
         video/x-raw,width=640,height=360,framerate=30/1 ! \
         x264enc key-int-max=30 speed-preset=ultrafast tune=zerolatency bitrate=4000 ! h264parse ! {}",
        kvssink_desc(&proxy_url, stream, "")
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
    Streamed {
        local,
        proxy,
        result,
        sent,
        sink_stats,
    }
}

/// (fragment timecode, fragment number) of every RECEIVED or PERSISTED ACK kvssink saw.
fn acknowledged(result: &RunResult) -> Vec<(u64, String)> {
    let mut acked: Vec<(u64, String)> = result
        .element_messages
        .iter()
        .filter(|s| s.name() == "kvs-fragment-ack")
        .filter(|s| {
            matches!(
                s.get::<&str>("event-type").ok(),
                Some("PERSISTED") | Some("RECEIVED")
            )
        })
        .filter_map(|s| {
            Some((
                s.get::<u64>("fragment-timecode").ok()?,
                s.get::<&str>("fragment-number").ok()?.to_owned(),
            ))
        })
        .collect();
    acked.sort_unstable();
    acked.dedup();
    acked
}

/// Every acknowledged fragment is stored exactly once under the number its ACKs named, the
/// fragments follow each other without a gap, and the stored media holds every frame.
fn assert_stored_exactly_once(s: &Streamed, stream: &str) {
    let acked = acknowledged(&s.result);
    let timecodes: Vec<u64> = acked.iter().map(|a| a.0).collect();
    let mut unique = timecodes.clone();
    unique.dedup();
    assert_eq!(
        timecodes, unique,
        "one fragment number per fragment: {acked:?}"
    );
    assert_eq!(acked.len(), FRAGMENTS, "acknowledged: {acked:?}");

    let fragments = s.local.list_fragments(stream);
    let stored: Vec<(u64, String)> = fragments
        .iter()
        .map(|f| {
            (
                (f.producer_timestamp * 1000.0).round() as u64,
                f.fragment_number.clone(),
            )
        })
        .collect();
    assert_eq!(
        stored, acked,
        "stored vs acknowledged fragments, none twice"
    );
    // One key frame per second: consecutive fragments start 1 s apart, so no gap.
    assert!(
        stored.windows(2).all(|w| w[1].0 - w[0].0 == 1000),
        "gap between stored fragments: {stored:?}"
    );

    let media = s.local.fragment_media(stream, &fragments);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("stored.mkv");
    std::fs::write(&path, &media).expect("write media");
    let probe = ffprobe(&path);
    assert_eq!(probe.streams.len(), 1, "{probe:?}");
    assert_eq!(s.sent.get("video"), FRAMES);
    assert_eq!(probe.streams[0].frames, FRAMES, "{probe:?}");
}

#[test]
fn cut_put_media_connections_lose_and_duplicate_nothing() {
    const STREAM: &str = "e2e-reconnect";
    // The first connection dies a few fragments in, the second (the resend) early on.
    let s = stream_through_proxy(
        STREAM,
        vec![
            (0, Cut::AfterRequestBytes(120_000)),
            (1, Cut::AfterRequestBytes(60_000)),
        ],
    );
    assert_eq!(
        s.proxy.cuts_done.load(Ordering::SeqCst),
        2,
        "both cuts happen mid-stream ({} PutMedia connections; {})",
        s.proxy.put_media_connections.load(Ordering::SeqCst),
        s.sink_stats
    );
    assert!(
        s.sink_stats.get::<u64>("reconnects").unwrap_or(0) >= 2,
        "{}",
        s.sink_stats
    );
    assert_stored_exactly_once(&s, STREAM);
}

#[test]
fn a_fragment_whose_ack_was_lost_is_resent_and_stored_once() {
    const STREAM: &str = "e2e-lost-ack";
    // kvs-local has the third fragment complete when the connection drops with its
    // RECEIVED unsent; kvssink therefore sends it again on the next connection.
    let s = stream_through_proxy(
        STREAM,
        vec![(
            0,
            Cut::BeforeAck {
                event: "RECEIVED",
                nth: 3,
            },
        )],
    );
    assert_eq!(
        s.proxy.cuts_done.load(Ordering::SeqCst),
        1,
        "the cut happens mid-stream; {}",
        s.sink_stats
    );
    let lost = s.proxy.lost_acks.lock().expect("stats lock").clone();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0].event_type, AckEventType::Received);
    let (Some(timecode), Some(number)) =
        (lost[0].fragment_timecode, lost[0].fragment_number.clone())
    else {
        panic!("the lost ACK names its fragment: {lost:?}");
    };
    // The resend was acknowledged, with the number of the copy kvs-local already had.
    let acked = acknowledged(&s.result);
    assert!(
        acked.contains(&(timecode, number.clone())),
        "resent fragment {timecode} acknowledged as {number}: {acked:?}"
    );
    assert_stored_exactly_once(&s, STREAM);
}
