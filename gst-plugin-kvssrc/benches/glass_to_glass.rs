// SPDX-License-Identifier: MPL-2.0
//! Glass-to-glass latency of the live path, all in this process on 127.0.0.1:
//!
//! ```text
//! videotestsrc is-live=true ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30
//!   ! h264parse ! kvssink  →  kvs-local  →  kvssrc is-live=true start-selector=now
//!   ! matroskademux ! fakesink
//! ```
//!
//! A frame is identified by its timestamp: kvssink anchors the first frame's running time at
//! the wall clock and kvssrc hands out those producer timestamps, so the consumer's PTS minus
//! the anchor gives back the producer's running time, which keys the capture time recorded on
//! videotestsrc's pad (the ±1 ms Matroska rounding is far below the 33 ms frame spacing).
//! Latency = wall clock when fakesink receives the frame − wall clock when videotestsrc pushed
//! it; "after the encoder" starts at h264parse's output instead.
//!
//! CPU: on-CPU time (from /proc/self/task/*/schedstat) of kvssrc's threads over the measured
//! window, divided by the frames received: the session runtime (`kvssrc-runtime`: HTTP body,
//! merger) and the streaming thread (`kvssrc:src`: create, matroskademux, fakesink).
//!
//! `cargo bench -p gst-plugin-kvssrc --bench glass_to_glass` (KVSSRC_BENCH_FRAMES=300,
//! KVSSRC_BENCH_WARMUP_S=3 by default).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gst::prelude::*;

const STREAM: &str = "glass-to-glass";
/// Half a frame at 30 fps: a consumer time further than this from every captured frame is not
/// matched.
const MATCH_WINDOW_NS: i128 = 16_000_000;

fn wall_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

use gst_kvs_test_support::local::LocalServer as Local;

/// On-CPU nanoseconds of this process's threads whose name starts with `prefix`.
fn thread_cpu_ns(prefix: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    let mut total = 0;
    for task in tasks.flatten() {
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if !name.trim_end().starts_with(prefix) {
            continue;
        }
        let sched = std::fs::read_to_string(path.join("schedstat")).unwrap_or_default();
        total += sched
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    total
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((p * sorted.len() as f64).ceil() as usize).saturating_sub(1);
    sorted[idx.min(sorted.len() - 1)]
}

fn summary(name: &str, mut v: Vec<f64>) {
    v.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{name:<28} n={:<4} min {:6.1} ms  p50 {:6.1} ms  p90 {:6.1} ms  p99 {:6.1} ms  max {:6.1} ms",
        v.len(),
        v.first().copied().unwrap_or(f64::NAN),
        percentile(&v, 0.50),
        percentile(&v, 0.90),
        percentile(&v, 0.99),
        v.last().copied().unwrap_or(f64::NAN)
    );
}

type TimeMap = Arc<Mutex<BTreeMap<u64, i128>>>;

/// Running time of `t` on `pad` (x264enc shifts its output segment, so PTS alone differ
/// before and after the encoder).
fn running_time(pad: &gst::Pad, t: gst::ClockTime) -> Option<u64> {
    let ev = pad.sticky_event::<gst::event::Segment>(0)?;
    let seg = ev.segment().downcast_ref::<gst::ClockTime>()?.clone();
    seg.to_running_time(t).map(|t| t.nseconds())
}

/// Records each buffer's running time with the wall clock at which it passed `pad`.
fn record_pts(pad: &gst::Pad, map: TimeMap) {
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let now = wall_ns();
        if let Some(rt) = info
            .buffer()
            .and_then(|b| b.pts())
            .and_then(|pts| running_time(pad, pts))
        {
            map.lock().unwrap().insert(rt, now);
        }
        gst::PadProbeReturn::Ok
    });
}

fn check_bus(pipeline: &gst::Pipeline, what: &str) {
    let bus = pipeline.bus().expect("bus");
    while let Some(msg) = bus.pop() {
        if let gst::MessageView::Error(e) = msg.view() {
            panic!("{what} failed: {} ({:?})", e.error(), e.debug());
        }
    }
}

fn main() {
    gst::init().expect("GStreamer initialises");
    gstrskvssink::plugin_register_static().expect("kvssink registers");
    gstrskvssrc::plugin_register_static().expect("kvssrc registers");
    for (e, pkg) in [
        ("videotestsrc", "gstreamer1.0-plugins-base"),
        ("x264enc", "gstreamer1.0-plugins-ugly"),
        ("h264parse", "gstreamer1.0-plugins-bad"),
        ("matroskademux", "gstreamer1.0-plugins-good"),
    ] {
        assert!(
            gst::ElementFactory::find(e).is_some(),
            "GStreamer element {e} is missing: install {pkg}"
        );
    }
    let frames = env_u64("KVSSRC_BENCH_FRAMES", 300) as usize;
    let warmup = Duration::from_secs(env_u64("KVSSRC_BENCH_WARMUP_S", 3));

    let local = Local::start();
    let url = local.url();
    let producer = gst::parse::launch(&format!(
        "videotestsrc is-live=true name=cap ! video/x-raw,width=640,height=480,framerate=30/1 ! \
         x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! h264parse name=parse ! \
         kvssink stream-name={STREAM} aws-region=us-east-1 endpoint-uri={url} \
         access-key=AKIDLOCAL secret-key=local-secret"
    ))
    .expect("producer pipeline")
    .downcast::<gst::Pipeline>()
    .expect("a pipeline");
    let captured: TimeMap = Arc::default();
    let encoded: TimeMap = Arc::default();
    let anchor: Arc<Mutex<Option<(i128, i128)>>> = Arc::default();
    let cap_pad = producer
        .by_name("cap")
        .and_then(|e| e.static_pad("src"))
        .expect("videotestsrc pad");
    record_pts(&cap_pad, captured.clone());
    let parse_pad = producer
        .by_name("parse")
        .and_then(|e| e.static_pad("src"))
        .expect("h264parse pad");
    record_pts(&parse_pad, encoded.clone());
    {
        // kvssink reads the wall clock for its anchor when this first buffer reaches it,
        // microseconds after this probe.
        let anchor = anchor.clone();
        parse_pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            if let Some(b) = info.buffer() {
                let mut a = anchor.lock().unwrap();
                if a.is_none() {
                    let t = match (b.pts(), b.dts()) {
                        (Some(p), Some(d)) => p.min(d),
                        (p, d) => p.or(d).unwrap_or_default(),
                    };
                    if let Some(rt) = running_time(pad, t) {
                        *a = Some((i128::from(rt), wall_ns()));
                    }
                }
            }
            gst::PadProbeReturn::Ok
        });
    }
    producer
        .set_state(gst::State::Playing)
        .expect("producer plays");

    // The stream exists (and GetMedia can find it) once kvssink acknowledged a fragment.
    let bus = producer.bus().expect("bus");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "kvssink got no ACK in 30 s");
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Error(e) => {
                panic!("producer failed: {} ({:?})", e.error(), e.debug())
            }
            gst::MessageView::Element(e)
                if e.structure()
                    .is_some_and(|s| s.name() == "kvs-fragment-ack") =>
            {
                break;
            }
            _ => {}
        }
    }

    let consumer = gst::parse::launch(&format!(
        "kvssrc name=kvssrc is-live=true start-selector=now stream-name={STREAM} \
         aws-region=us-east-1 endpoint-uri={url} access-key=AKIDLOCAL secret-key=local-secret \
         ! matroskademux ! fakesink name=out sync=false"
    ))
    .expect("consumer pipeline")
    .downcast::<gst::Pipeline>()
    .expect("a pipeline");
    let receipts: Arc<Mutex<Vec<(u64, i128)>>> = Arc::default();
    {
        let receipts = receipts.clone();
        consumer
            .by_name("out")
            .and_then(|e| e.static_pad("sink"))
            .expect("fakesink pad")
            .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                let now = wall_ns();
                if let Some(pts) = info.buffer().and_then(|b| b.pts()) {
                    receipts.lock().unwrap().push((pts.nseconds(), now));
                }
                gst::PadProbeReturn::Ok
            });
    }
    consumer
        .set_state(gst::State::Playing)
        .expect("consumer plays");
    let started = Instant::now();
    // Skip the backlog GetMedia(NOW) starts with (the fragment in progress) and start-up.
    while started.elapsed() < warmup {
        check_bus(&producer, "producer");
        check_bus(&consumer, "consumer");
        std::thread::sleep(Duration::from_millis(20));
    }
    let first = receipts.lock().unwrap().len();
    assert!(first > 0, "kvssrc received nothing in {warmup:?}");
    let cpu_runtime0 = thread_cpu_ns("kvssrc-runtime");
    let cpu_stream0 = thread_cpu_ns("kvssrc:src");
    let window = Instant::now();
    let deadline = window + Duration::from_secs(30 + frames as u64 / 10);
    while receipts.lock().unwrap().len() < first + frames {
        assert!(
            Instant::now() < deadline,
            "only {} frames arrived",
            receipts.lock().unwrap().len() - first
        );
        check_bus(&producer, "producer");
        check_bus(&consumer, "consumer");
        std::thread::sleep(Duration::from_millis(10));
    }
    let cpu_runtime = thread_cpu_ns("kvssrc-runtime").saturating_sub(cpu_runtime0);
    let cpu_stream = thread_cpu_ns("kvssrc:src").saturating_sub(cpu_stream0);
    let elapsed = window.elapsed();
    consumer
        .set_state(gst::State::Null)
        .expect("consumer stops");
    producer
        .set_state(gst::State::Null)
        .expect("producer stops");

    let (anchor_in, anchor_wall) = anchor.lock().unwrap().expect("kvssink saw a buffer");
    let captured = captured.lock().unwrap();
    let encoded = encoded.lock().unwrap();
    let receipts = receipts.lock().unwrap();
    let measured = receipts.get(first..first + frames).unwrap_or_default();
    if std::env::var_os("KVSSRC_BENCH_DEBUG").is_some() {
        eprintln!("anchor: running {anchor_in} ns at wall {anchor_wall} ns");
        eprintln!(
            "captured: {:?}",
            captured.iter().take(3).collect::<Vec<_>>()
        );
        eprintln!("encoded: {:?}", encoded.iter().take(3).collect::<Vec<_>>());
        eprintln!(
            "received: {:?}",
            measured.iter().take(3).collect::<Vec<_>>()
        );
    }
    let mut total = Vec::new();
    let mut after_encoder = Vec::new();
    let mut encoder = Vec::new();
    let mut unmatched = 0;
    for &(pts, received) in measured {
        let running = i128::from(pts) - anchor_wall + anchor_in;
        let lo = u64::try_from(running - MATCH_WINDOW_NS).unwrap_or(0);
        let hi = u64::try_from(running + MATCH_WINDOW_NS).unwrap_or(0);
        let nearest = captured
            .range(lo..=hi)
            .min_by_key(|(k, _)| (i128::from(**k) - running).abs());
        let Some((&key, &capture)) = nearest else {
            unmatched += 1;
            continue;
        };
        total.push((received - capture) as f64 / 1e6);
        if let Some(&enc) = encoded.get(&key) {
            after_encoder.push((received - enc) as f64 / 1e6);
            encoder.push((enc - capture) as f64 / 1e6);
        }
    }
    println!(
        "glass-to-glass, 640x480@30 H.264, {} frames measured after {:?} warm-up ({} unmatched)",
        measured.len(),
        warmup,
        unmatched
    );
    summary("capture → consumer", total);
    summary("encoder (capture → parse)", encoder);
    summary("after encoder → consumer", after_encoder);
    let n = measured.len().max(1) as f64;
    println!(
        "kvssrc CPU over {:.1} s: session runtime {:.1} µs/frame, streaming thread \
         (create + matroskademux + fakesink) {:.1} µs/frame, total {:.1} µs/frame ({:.2} % of one core)",
        elapsed.as_secs_f64(),
        cpu_runtime as f64 / 1e3 / n,
        cpu_stream as f64 / 1e3 / n,
        (cpu_runtime + cpu_stream) as f64 / 1e3 / n,
        (cpu_runtime + cpu_stream) as f64 / 1e7 / elapsed.as_secs_f64()
    );
}
