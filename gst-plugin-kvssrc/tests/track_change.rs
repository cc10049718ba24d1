// SPDX-License-Identifier: MPL-2.0
//! A stream whose track set changes: kvssink first sends 2 s of video only, then a new
//! PutMedia session sends 2 s of video and audio. matroskademux cannot add a track to a
//! stream it is reading, so kvssrc starts a new stream downstream (see
//! `src/kvssrc/imp/new_stream.rs`): the demuxer's pads are replaced, the audio pad appears,
//! and both parts play to the end — through matroskademux with an application linking its
//! pads, through decodebin, archived and live.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use gst::prelude::*;
use support::local::{Local, LocalExt, produce};
use support::*;

const T0: u64 = 1_700_000_000;
const DEADLINE: Duration = Duration::from_secs(60);
const FAR_END_MS: u64 = 4_102_444_800_000;

fn video(frames: u32) -> String {
    format!(
        "videotestsrc num-buffers={frames} ! video/x-raw,width=160,height=120,framerate=30/1 ! \
         x264enc key-int-max=30 speed-preset=ultrafast tune=zerolatency ! h264parse"
    )
}

fn audio(buffers: u32) -> String {
    format!(
        "audiotestsrc num-buffers={buffers} samplesperbuffer=1024 ! \
         audio/x-raw,rate=44100,channels=1 ! avenc_aac ! aacparse"
    )
}

/// Stores the two parts; returns the server and the frames kvssink got per kind.
fn video_then_video_and_audio(stream: &str) -> (Local, BTreeMap<String, u64>) {
    init();
    require_av();
    gstrskvssink::plugin_register_static().expect("kvssink registers");
    let local = Local::start();
    local.create_stream(stream);
    let first = produce(
        &format!(
            "{} {} ! sink.video_0",
            local.kvssink(
                stream,
                &format!("streaming-type=offline file-start-time={T0}")
            ),
            video(60)
        ),
        DEADLINE,
    );
    let second = produce(
        &format!(
            "{} {} ! sink.video_0 {} ! sink.audio_0",
            local.kvssink(
                stream,
                &format!("streaming-type=offline file-start-time={}", T0 + 10)
            ),
            video(60),
            audio(86)
        ),
        DEADLINE,
    );
    let mut sent = first;
    for (kind, n) in second {
        *sent.entry(kind).or_default() += n;
    }
    assert_eq!(sent.get("video").copied(), Some(120), "{sent:?}");
    assert!(sent.get("audio").is_some_and(|n| *n > 80), "{sent:?}");
    local.wait_for_fragments(stream, 4, DEADLINE);
    (local, sent)
}

fn assert_both_parts(got: &Streams, sent: &BTreeMap<String, u64>) {
    assert_eq!(got.error, None);
    for kind in ["video", "audio"] {
        assert_eq!(
            got.count(kind) as u64,
            sent.get(kind).copied().unwrap_or_default(),
            "every {kind} frame, before and after the change: {:?}",
            got.pads
        );
        let pts = got.pts.get(kind).cloned().unwrap_or_default();
        for w in pts.windows(2) {
            assert!(
                w[0] < w[1],
                "{kind} PTS must increase: {} then {}",
                w[0],
                w[1]
            );
        }
    }
    let video = got.pts.get("video").cloned().unwrap_or_default();
    assert_eq!(
        video.first().copied(),
        Some(gst::ClockTime::from_seconds(T0))
    );
    assert!(
        video.contains(&gst::ClockTime::from_seconds(T0 + 10)),
        "the second part's first frame"
    );
    let audio = got.pts.get("audio").cloned().unwrap_or_default();
    assert!(
        audio
            .first()
            .is_some_and(|p| *p >= gst::ClockTime::from_seconds(T0 + 10)),
        "audio only in the second part"
    );
    // Running time goes on where the first part stopped, so a pipeline that syncs to the
    // clock neither waits for nor drops the second part as late.
    let running = got.running.get("video").cloned().unwrap_or_default();
    let switch = video
        .iter()
        .position(|p| *p == gst::ClockTime::from_seconds(T0 + 10))
        .expect("the second part");
    let (before, after) = (running[switch - 1], running[switch]);
    assert!(
        before.is_some_and(
            |b| after.is_some_and(|a| a >= b && a - b < gst::ClockTime::from_mseconds(100))
        ),
        "video running time {before:?} then {after:?} across the change"
    );
    for kind in ["video", "audio"] {
        let rt: Vec<gst::ClockTime> = got
            .running
            .get(kind)
            .into_iter()
            .flatten()
            .flatten()
            .copied()
            .collect();
        assert_eq!(
            rt.len(),
            got.count(kind),
            "{kind}: every buffer has a running time"
        );
        assert!(
            rt.windows(2).all(|w| w[0] <= w[1]),
            "{kind} running time never goes back: {rt:?}"
        );
    }
    let streams = got
        .stats
        .as_ref()
        .and_then(|s| s.get::<u64>("streams").ok());
    assert_eq!(streams, Some(2), "{:?}", got.stats);
}

#[test]
fn archived_range_through_matroskademux_adds_the_audio_pad() {
    let (local, sent) = video_then_video_and_audio("tc-range");
    let got = run_dynamic(
        &format!(
            "{} ! matroskademux name=demux",
            local.kvssrc(
                "tc-range",
                &format!("start-selector=earliest end-timestamp={FAR_END_MS}")
            )
        ),
        |_| false,
        DEADLINE,
    );
    assert!(got.eos, "both parts play to the end of the range");
    assert_eq!(
        got.pads,
        ["video_0", "video_0", "audio_0"],
        "the demuxer was reset: its video pad replaced, an audio pad added"
    );
    assert_both_parts(&got, &sent);
}

#[test]
fn live_through_matroskademux_adds_the_audio_pad() {
    let (local, sent) = video_then_video_and_audio("tc-live");
    let total: u64 = sent.values().sum();
    let got = run_dynamic(
        &format!(
            "{} ! matroskademux name=demux",
            local.kvssrc("tc-live", "start-selector=earliest")
        ),
        move |s| s.total() as u64 >= total,
        DEADLINE,
    );
    assert!(!got.eos, "live GetMedia does not end");
    assert_eq!(got.pads, ["video_0", "video_0", "audio_0"]);
    assert_both_parts(&got, &sent);
}

#[test]
fn decodebin_switches_to_the_new_tracks_and_decodes_both_parts() {
    init();
    require_element("avdec_h264", "gstreamer1.0-libav");
    require_element("avdec_aac", "gstreamer1.0-libav");
    let (local, sent) = video_then_video_and_audio("tc-decode");
    let got = run_dynamic(
        &format!(
            "{} ! decodebin name=demux",
            local.kvssrc(
                "tc-decode",
                &format!("start-selector=earliest end-timestamp={FAR_END_MS}")
            )
        ),
        |_| false,
        DEADLINE,
    );
    assert!(
        got.eos,
        "decodebin drains the first part, switches, and ends"
    );
    assert_eq!(
        got.pads.len(),
        3,
        "one video pad, then video and audio: {:?}",
        got.pads
    );
    assert_both_parts(&got, &sent);
}

#[test]
fn playbin_plays_both_parts_to_eos() {
    init();
    require_element("playbin", "gstreamer1.0-plugins-base");
    require_element("avdec_h264", "gstreamer1.0-libav");
    require_element("avdec_aac", "gstreamer1.0-libav");
    let (local, _) = video_then_video_and_audio("tc-play");
    let uri = format!(
        "kvs://tc-play?region=us-east-1&start=earliest&end={}&endpoint={}",
        FAR_END_MS / 1000,
        local.url()
    );
    let playbin = gst::ElementFactory::make("playbin")
        .property("uri", &uri)
        .build()
        .expect("playbin");
    let counts: std::sync::Arc<std::sync::Mutex<BTreeMap<&'static str, usize>>> =
        std::sync::Arc::default();
    for (prop, kind) in [("video-sink", "video"), ("audio-sink", "audio")] {
        let sink = gst::ElementFactory::make("fakesink")
            .property("sync", false)
            .build()
            .expect("fakesink");
        let counts = counts.clone();
        sink.static_pad("sink").expect("sink pad").add_probe(
            gst::PadProbeType::BUFFER,
            move |_, _| {
                *counts.lock().unwrap().entry(kind).or_default() += 1;
                gst::PadProbeReturn::Ok
            },
        );
        playbin.set_property(prop, &sink);
    }
    playbin.connect("source-setup", false, |args| {
        if let Some(src) = args.get(1).and_then(|v| v.get::<gst::Element>().ok()) {
            src.set_property("access-key", "AKIDTEST");
            src.set_property("secret-key", "test");
        }
        None
    });
    playbin.set_state(gst::State::Playing).expect("PLAYING");
    let bus = playbin.bus().expect("bus");
    let msg = bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(60),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    playbin.set_state(gst::State::Null).expect("NULL");
    match msg.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Eos(_)) => {}
        Some(gst::MessageView::Error(e)) => {
            panic!("playbin failed: {} ({:?})", e.error(), e.debug())
        }
        _ => panic!("playbin did not reach EOS in 60 s"),
    }
    let counts = counts.lock().unwrap().clone();
    assert_eq!(counts.get("video").copied(), Some(120), "{counts:?}");
    assert!(counts.get("audio").is_some_and(|n| *n > 0), "{counts:?}");
}
