// SPDX-License-Identifier: MPL-2.0
//! A stream whose track set changes: kvssink first sends 2 s of video only, then a new
//! PutMedia session sends 2 s of video and audio. matroskademux cannot add a track to a
//! stream it is reading, so kvssrc starts a new stream downstream (see
//! `src/kvssrc/imp/new_stream.rs`): the demuxer's pads are replaced, the audio pad appears,
//! and both parts play to the end — through matroskademux with an application linking its
//! pads, through decodebin and playbin, archived and live. playbin also seeks into the part
//! with audio and back, after kvssrc has read ahead past the change.

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
        let pts = got.pts.get(kind).map(Vec::as_slice).unwrap_or_default();
        assert_increasing(&format!("{kind} PTS"), pts);
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
    let (local, _) = video_then_video_and_audio("tc-play");
    let player = Player::new("playbin", "tc-play", &local, false);
    player.play();
    player.wait_eos();
    let got = player.pts();
    assert_eq!(got.get("video").map(Vec::len), Some(120), "{got:?}");
    assert!(got.get("audio").is_some_and(|a| !a.is_empty()), "{got:?}");
}

#[test]
fn playbin_seeks_into_the_part_with_audio_and_back() {
    let (local, _) = video_then_video_and_audio("tc-seek");
    // Synchronised to the clock, so the first part is still playing when it is checked.
    let player = Player::new("playbin", "tc-seek", &local, true);
    player.play();
    player.wait_for(|got| got.get("video").is_some_and(|v| v.len() >= 5));
    assert!(
        !player.pts().contains_key("audio"),
        "the first part has no audio"
    );

    // Into the second part, between its key frames (stream time from the first frame).
    player.seek(gst::ClockTime::from_mseconds(10_500));
    player.wait_for(|got| {
        got.get("video").is_some_and(|v| v.len() >= 10)
            && got.get("audio").is_some_and(|a| !a.is_empty())
    });
    let got = player.pts();
    let video = got.get("video").cloned().unwrap_or_default();
    assert_eq!(
        video.first().copied(),
        Some(gst::ClockTime::from_seconds(T0 + 10)),
        "starts at the second part's key frame: {video:?}"
    );
    assert!(
        got.get("audio")
            .and_then(|a| a.first())
            .is_some_and(|p| *p >= gst::ClockTime::from_seconds(T0 + 10)),
        "the audio track of the second part plays: {got:?}"
    );

    // Back into the first part: video only again, from its key frame at 1 s.
    player.seek(gst::ClockTime::from_mseconds(1_500));
    player.wait_for(|got| got.get("video").is_some_and(|v| v.len() >= 10));
    let video = player.pts().get("video").cloned().unwrap_or_default();
    assert_eq!(
        video.first().copied(),
        Some(gst::ClockTime::from_seconds(T0 + 1)),
        "starts at the first part's key frame: {video:?}"
    );
    player.wait_eos();
    let got = player.pts();
    let video = got.get("video").cloned().unwrap_or_default();
    assert_eq!(
        video.len(),
        120 - 30,
        "from 1 s on: the rest of the first part and all of the second"
    );
    assert_increasing("video PTS", &video);
    assert!(got.get("audio").is_some_and(|a| !a.is_empty()), "{got:?}");
}

/// playbin3/decodebin3 (GStreamer 1.22) do not follow a track-set change (docs/
/// TROUBLESHOOTING.md); a stream whose tracks stay the same plays through them.
#[test]
fn playbin3_plays_a_stream_whose_tracks_stay_the_same() {
    init();
    require_av();
    gstrskvssink::plugin_register_static().expect("kvssink registers");
    let local = Local::start();
    local.create_stream("tc-play3");
    let sent = produce(
        &format!(
            "{} {} ! sink.video_0 {} ! sink.audio_0",
            local.kvssink(
                "tc-play3",
                &format!("streaming-type=offline file-start-time={T0}")
            ),
            video(60),
            audio(86)
        ),
        DEADLINE,
    );
    local.wait_for_fragments("tc-play3", 2, DEADLINE);
    let player = Player::new("playbin3", "tc-play3", &local, false);
    player.play();
    player.wait_eos();
    let got = player.pts();
    assert_eq!(
        got.get("video").map(|v| v.len() as u64),
        sent.get("video").copied(),
        "{got:?}"
    );
    assert_eq!(
        got.get("audio").map(|a| a.len() as u64),
        sent.get("audio").copied(),
        "{got:?}"
    );
}

type Pts = BTreeMap<&'static str, Vec<gst::ClockTime>>;

/// playbin(3) on a `kvs://` URI with fakesinks that record what reaches them.
struct Player {
    playbin: gst::Element,
    got: std::sync::Arc<std::sync::Mutex<Pts>>,
}

impl Player {
    fn new(factory: &str, stream: &str, local: &Local, sync: bool) -> Self {
        init();
        require_element(factory, "gstreamer1.0-plugins-base");
        require_element("avdec_h264", "gstreamer1.0-libav");
        require_element("avdec_aac", "gstreamer1.0-libav");
        let uri = format!(
            "kvs://{stream}?region=us-east-1&start=earliest&end={}&endpoint={}",
            FAR_END_MS / 1000,
            local.url()
        );
        let playbin = gst::ElementFactory::make(factory)
            .property("uri", &uri)
            .build()
            .expect("playbin");
        let got: std::sync::Arc<std::sync::Mutex<Pts>> = std::sync::Arc::default();
        for (prop, kind) in [("video-sink", "video"), ("audio-sink", "audio")] {
            let sink = gst::ElementFactory::make("fakesink")
                .property("sync", sync)
                .build()
                .expect("fakesink");
            let got = got.clone();
            sink.static_pad("sink").expect("sink pad").add_probe(
                gst::PadProbeType::BUFFER,
                move |_, info| {
                    if let Some(pts) = info.buffer().and_then(|b| b.pts()) {
                        got.lock().unwrap().entry(kind).or_default().push(pts);
                    }
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
        Self { playbin, got }
    }

    fn play(&self) {
        self.playbin
            .set_state(gst::State::Playing)
            .expect("PLAYING");
    }

    fn pts(&self) -> Pts {
        self.got.lock().unwrap().clone()
    }

    /// Polls what arrived until `done` says so; fails on a bus error or after the deadline.
    fn wait_for(&self, done: impl Fn(&Pts) -> bool) {
        let end = std::time::Instant::now() + DEADLINE;
        let bus = self.playbin.bus().expect("bus");
        while !done(&self.pts()) {
            assert!(
                std::time::Instant::now() < end,
                "not reached in {DEADLINE:?}: {:?}",
                self.pts()
            );
            if let Some(msg) = bus.timed_pop_filtered(
                gst::ClockTime::from_mseconds(50),
                &[gst::MessageType::Error],
            ) && let gst::MessageView::Error(e) = msg.view()
            {
                panic!("playback failed: {} ({:?})", e.error(), e.debug());
            }
        }
    }

    /// A flushing key-unit seek to `position` (stream time); what arrived before is forgotten.
    fn seek(&self, position: gst::ClockTime) {
        // A seek is taken once the pipeline has prerolled.
        let _ = self.playbin.state(gst::ClockTime::from_seconds(30));
        self.playbin
            .seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT, position)
            .expect("the seek is accepted");
        self.got.lock().unwrap().clear();
    }

    fn wait_eos(&self) {
        let bus = self.playbin.bus().expect("bus");
        let msg = bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(DEADLINE.as_secs()),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        match msg.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::Eos(_)) => {}
            Some(gst::MessageView::Error(e)) => {
                panic!("playback failed: {} ({:?})", e.error(), e.debug())
            }
            _ => panic!("no EOS in {DEADLINE:?}"),
        }
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        let _ = self.playbin.set_state(gst::State::Null);
    }
}
