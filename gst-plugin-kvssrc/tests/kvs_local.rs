// SPDX-License-Identifier: MPL-2.0
//! kvssrc end to end against kvs-local (in process, 127.0.0.1, port 0), filled by replaying a
//! PutMedia body recorded from AWS's own kvssink.

mod support;

use std::time::Duration;

use bytes::Bytes;
use gst::prelude::*;
use support::local::{Local, LocalExt, start_proxy};
use support::*;

const CAPTURE: &str = "official-kvssink/capture-h264.mkv";

/// Frames (SimpleBlocks) in a recorded body, counted with kvs-core's reader.
fn frames_in(data: &[u8]) -> usize {
    let mut r = kvs_core::mkv::MkvReader::new();
    r.push(Bytes::copy_from_slice(data));
    let _ = r.finish();
    let mut n = 0;
    while let Ok(Some(ev)) = r.next_event() {
        if let kvs_core::mkv::MkvEvent::Block(_) = ev.event {
            n += 1;
        }
    }
    n
}

fn src(local: &Local, stream: &str, extra: &str) -> String {
    format!(
        "kvssrc stream-name={stream} aws-region=us-east-1 access-key=AKIDTEST secret-key=test \
         endpoint-uri={} retry-attempts=3 request-timeout=10000 {extra}",
        local.url()
    )
}

#[test]
fn earliest_returns_every_frame_in_order() {
    init();
    require_element("h264parse", "gstreamer1.0-plugins-bad");
    let body = Bytes::from(read_vector(CAPTURE));
    let expected = frames_in(&body);
    assert!(expected > 0);
    let local = Local::start();
    local.create_stream("cam1");
    local.put_capture("cam1", body);

    let out = run_pipeline(
        &src(&local, "cam1", "start-selector=earliest"),
        "h264parse !",
        Some(expected),
        Duration::from_secs(60),
    );
    assert_eq!(out.error, None);
    assert_eq!(out.pts.len(), expected, "exactly the recorded frames");
    assert_increasing("PTS", &out.pts);
    let reported: u64 = out
        .fragments
        .iter()
        .map(|s| s.get::<u64>("frames").unwrap_or(0))
        .sum();
    assert_eq!(reported, expected as u64);
    assert!(!out.eos, "live GetMedia does not end");
}

#[test]
fn archived_range_runs_to_eos() {
    init();
    require_element("h264parse", "gstreamer1.0-plugins-bad");
    require_element("avdec_h264", "gstreamer1.0-libav");
    let body = Bytes::from(read_vector(CAPTURE));
    let expected = frames_in(&body);
    let local = Local::start();
    local.create_stream("cam2");
    local.put_capture("cam2", body);

    // Everything from the epoch to well after the recording.
    let out = run_pipeline(
        &src(
            &local,
            "cam2",
            "start-selector=earliest end-timestamp=4102444800000",
        ),
        "h264parse ! avdec_h264 !",
        None,
        Duration::from_secs(60),
    );
    assert_eq!(out.error, None);
    assert!(out.eos, "range mode ends");
    assert_eq!(out.pts.len(), expected, "every frame decoded");
    assert_increasing("PTS", &out.pts);
}

#[test]
fn unknown_stream_fails_cleanly() {
    init();
    let local = Local::start();
    let out = run_pipeline(
        &src(&local, "nope", "start-selector=earliest"),
        "",
        None,
        Duration::from_secs(30),
    );
    let err = out.error.expect("an element error");
    assert!(err.contains("nope") && err.contains("not found"), "{err}");
}

#[test]
fn resumes_through_a_cut_connection_without_gap_or_duplicate() {
    init();
    require_element("h264parse", "gstreamer1.0-plugins-bad");
    let body = Bytes::from(read_vector(CAPTURE));
    let expected = frames_in(&body);
    let local = Local::start();
    local.create_stream("cam3");
    local.put_capture("cam3", body.clone());
    // Somewhere in the middle of the stream, not on a fragment boundary.
    let watch = start_proxy(&local, Some(body.len() / 2 + 777));
    let proxy = watch.addr;

    let out = run_pipeline(
        &format!(
            "kvssrc stream-name=cam3 aws-region=us-east-1 access-key=AKIDTEST secret-key=test \
             endpoint-uri=http://{proxy} retry-attempts=3 request-timeout=10000 \
             start-selector=earliest name=src"
        ),
        "h264parse !",
        Some(expected),
        Duration::from_secs(60),
    );
    assert_eq!(out.error, None);
    assert!(
        watch.cut.load(std::sync::atomic::Ordering::SeqCst),
        "the proxy cut a GetMedia"
    );
    assert!(
        watch
            .get_media_requests
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 2,
        "kvssrc asked again after the cut"
    );
    assert_eq!(out.pts.len(), expected, "no frame lost or repeated");
    assert_increasing("PTS", &out.pts);
    let numbers: Vec<String> = out
        .fragments
        .iter()
        .filter_map(|s| s.get::<String>("fragment-number").ok())
        .collect();
    let mut unique = numbers.clone();
    unique.dedup();
    assert_eq!(numbers, unique, "each fragment reported once");
    let reported: u64 = out
        .fragments
        .iter()
        .map(|s| s.get::<u64>("frames").unwrap_or(0))
        .sum();
    assert_eq!(reported, expected as u64);
}

#[test]
fn live_reader_started_before_the_producer_gets_every_frame() {
    use std::sync::atomic::Ordering;
    init();
    require_element("h264parse", "gstreamer1.0-plugins-bad");
    let body = Bytes::from(read_vector(CAPTURE));
    let expected = frames_in(&body);
    let local = std::sync::Arc::new(Local::start());
    local.create_stream("cam4");
    let watch = start_proxy(&local, None);
    let answered = watch.get_media_answered.clone();
    let producer = {
        let local = local.clone();
        std::thread::spawn(move || {
            // Produce only once the reader's GetMedia(NOW) is being served.
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while !answered.load(Ordering::SeqCst) {
                assert!(
                    std::time::Instant::now() < deadline,
                    "GetMedia never answered"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            local.put_capture("cam4", body);
        })
    };
    let out = run_pipeline(
        &format!(
            "kvssrc stream-name=cam4 aws-region=us-east-1 access-key=AKIDTEST secret-key=test \
             endpoint-uri=http://{} start-selector=now",
            watch.addr
        ),
        "h264parse !",
        Some(expected),
        Duration::from_secs(60),
    );
    producer.join().expect("producer thread");
    assert_eq!(out.error, None);
    assert_eq!(out.pts.len(), expected);
    assert_increasing("PTS", &out.pts);
}

/// One frame an appsink received: PTS, key frame, and its stream time per its segment.
#[derive(Debug, Clone, Copy)]
struct Got {
    pts: gst::ClockTime,
    key: bool,
    stream_time: Option<gst::ClockTime>,
}

fn pull(sink: &gst_app::AppSink) -> Option<Got> {
    let sample = sink.try_pull_sample(gst::ClockTime::from_seconds(20))?;
    let buffer = sample.buffer()?;
    let pts = buffer.pts()?;
    let stream_time = sample
        .segment()
        .and_then(|s| s.downcast_ref::<gst::ClockTime>())
        .and_then(|s| s.to_stream_time(pts));
    Some(Got {
        pts,
        key: !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT),
        stream_time,
    })
}

/// Pulls until EOS (fails on an error or after `deadline`).
fn pull_to_eos(pipeline: &gst::Pipeline, sink: &gst_app::AppSink, deadline: Duration) -> Vec<Got> {
    let end = std::time::Instant::now() + deadline;
    let bus = pipeline.bus().expect("bus");
    let mut out = Vec::new();
    loop {
        assert!(std::time::Instant::now() < end, "no EOS in {deadline:?}");
        while let Some(msg) = bus.pop() {
            if let gst::MessageView::Error(e) = msg.view() {
                panic!("pipeline error: {} ({:?})", e.error(), e.debug());
            }
        }
        match pull(sink) {
            Some(g) => out.push(g),
            None if sink.is_eos() => return out,
            None => {}
        }
    }
}

fn range_pipeline(local: &Local, stream: &str) -> (gst::Pipeline, gst_app::AppSink) {
    // The recording starts at producer time 1795417002.229 s; the range holds all of it.
    let desc = format!(
        "{} ! matroskademux ! appsink name=sink sync=false max-buffers=4",
        src(
            local,
            stream,
            "start-selector=producer-timestamp start-timestamp=1795417000000 \
             end-timestamp=1795417200000"
        )
    );
    let pipeline = gst::parse::launch(&desc)
        .expect("pipeline")
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
    let sink = pipeline
        .by_name("sink")
        .expect("appsink")
        .downcast::<gst_app::AppSink>()
        .expect("appsink type");
    (pipeline, sink)
}

#[test]
fn time_seek_inside_an_archived_range_restarts_at_the_key_frame() {
    init();
    require_element("matroskademux", "gstreamer1.0-plugins-good");
    let body = Bytes::from(read_vector(CAPTURE));
    let local = Local::start();
    local.create_stream("cam5");
    local.put_capture("cam5", body);

    // Reference: the whole range without seeking.
    let (pipeline, sink) = range_pipeline(&local, "cam5");
    pipeline.set_state(gst::State::Playing).expect("PLAYING");
    let all = pull_to_eos(&pipeline, &sink, Duration::from_secs(60));
    pipeline.set_state(gst::State::Null).expect("NULL");
    let keys: Vec<gst::ClockTime> = all.iter().filter(|g| g.key).map(|g| g.pts).collect();
    assert!(
        keys.len() >= 3,
        "the recording has several key frames: {keys:?}"
    );
    let first = all.first().expect("frames").pts;
    let last = all.last().expect("frames").pts;
    // The middle, deliberately between two key frames.
    let position = (last - first) / 2 + gst::ClockTime::from_mseconds(100);
    let target = first + position;
    let key = *keys
        .iter()
        .rev()
        .find(|k| **k <= target)
        .expect("a key frame before");
    assert!(key > first, "the target is past the first fragment");
    let expected: Vec<gst::ClockTime> = all.iter().map(|g| g.pts).filter(|p| *p >= key).collect();

    // Play a little, seek to the middle (stream time, as position queries report it).
    let (pipeline, sink) = range_pipeline(&local, "cam5");
    pipeline.set_state(gst::State::Playing).expect("PLAYING");
    for _ in 0..5 {
        pull(&sink).expect("frames before the seek");
    }
    pipeline
        .seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT, position)
        .expect("the seek is accepted");
    let after = pull_to_eos(&pipeline, &sink, Duration::from_secs(60));
    let stats = pipeline
        .by_name("src")
        .or_else(|| {
            pipeline
                .iterate_sources()
                .into_iter()
                .flatten()
                .find(|e| e.factory().is_some_and(|f| f.name() == "kvssrc"))
        })
        .map(|e| e.property::<gst::Structure>("stats"));
    pipeline.set_state(gst::State::Null).expect("NULL");

    let head = after.first().expect("frames after the seek");
    assert_eq!(head.pts, key, "starts at the key frame before {target}");
    assert!(head.key);
    assert_eq!(
        head.stream_time,
        Some(key - first),
        "the new segment keeps stream time counted from the range's first frame"
    );
    let got: Vec<gst::ClockTime> = after.iter().map(|g| g.pts).collect();
    assert_eq!(
        got, expected,
        "exactly the frames from that key frame on, to EOS"
    );
    let stats = stats.expect("kvssrc stats");
    assert_eq!(
        stats.get::<u64>("streams").ok(),
        Some(0),
        "the restarted range continues the stream without a new header: {stats}"
    );
}

#[test]
fn resolution_change_through_kvssink_plays_through() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    init();
    gstrskvssink::plugin_register_static().expect("kvssink registers");
    for (e, pkg) in [
        ("videotestsrc", "gstreamer1.0-plugins-base"),
        ("x264enc", "gstreamer1.0-plugins-ugly"),
        ("h264parse", "gstreamer1.0-plugins-bad"),
        ("avdec_h264", "gstreamer1.0-libav"),
    ] {
        require_element(e, pkg);
    }
    const FRAMES: usize = 120;
    const SWITCH_AT: usize = 45;
    let local = Local::start();
    local.create_stream("cam6");

    // 320x240 for 1.5 s, then the producer renegotiates to 640x480: a new SPS/PPS (codec
    // private data) mid-stream.
    let producer = gst::parse::launch(&format!(
        "videotestsrc num-buffers={FRAMES} name=cap ! capsfilter name=size \
         caps=video/x-raw,width=320,height=240,framerate=30/1 ! \
         x264enc key-int-max=30 speed-preset=ultrafast tune=zerolatency ! h264parse ! \
         kvssink stream-name=cam6 aws-region=us-east-1 endpoint-uri={} access-key=AKIDTEST \
         secret-key=test stop-stream-timeout=30",
        local.url()
    ))
    .expect("producer")
    .downcast::<gst::Pipeline>()
    .expect("a pipeline");
    let size = producer.by_name("size").expect("capsfilter");
    let seen = AtomicUsize::new(0);
    producer
        .by_name("cap")
        .and_then(|e| e.static_pad("src"))
        .expect("videotestsrc pad")
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            if seen.fetch_add(1, Ordering::SeqCst) + 1 == SWITCH_AT {
                size.set_property(
                    "caps",
                    gst::Caps::builder("video/x-raw")
                        .field("width", 640)
                        .field("height", 480)
                        .field("framerate", gst::Fraction::new(30, 1))
                        .build(),
                );
            }
            gst::PadProbeReturn::Ok
        });
    producer.set_state(gst::State::Playing).expect("PLAYING");
    let bus = producer.bus().expect("bus");
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(90),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("the producer finishes");
    if let gst::MessageView::Error(e) = msg.view() {
        panic!("producer failed: {} ({:?})", e.error(), e.debug());
    }
    producer.set_state(gst::State::Null).expect("NULL");

    let out = run_pipeline(
        &src(
            &local,
            "cam6",
            "start-selector=earliest end-timestamp=4102444800000",
        ),
        "h264parse ! avdec_h264 !",
        None,
        Duration::from_secs(60),
    );
    assert_eq!(out.error, None);
    assert!(out.eos, "plays to the end of the range");
    assert_eq!(
        out.pts.len(),
        FRAMES,
        "every frame decoded, before and after"
    );
    assert_increasing("PTS", &out.pts);
    assert_eq!(out.widths.first().copied(), Some(320));
    assert_eq!(out.widths.last().copied(), Some(640));
    let streams = out
        .stats
        .as_ref()
        .and_then(|s| s.get::<u64>("streams").ok());
    assert_eq!(streams, Some(2), "the track change started a second stream");
}
