// SPDX-License-Identifier: MPL-2.0
//! Round trip through kvs-local: kvssink stores 5 s of H.264 + AAC (offline timestamps, so
//! every fragment's start is known), then kvssrc reads it back with each start selector, live
//! (GetMedia) and as an archived range, through matroskademux. Each run must return exactly
//! the frames from the selected fragment on: per track the same PTS as the whole recording
//! from that point, strictly increasing, at the encoder's frame spacing.

mod support;

use std::time::Duration;

use kvs_core::api::Fragment;
use support::local::{Local, LocalExt, produce, start_proxy};
use support::*;

/// Epoch seconds of the recording's first frame.
const T0: u64 = 1_700_000_000;
const VIDEO_FRAMES: u64 = 150;
/// Frame spacing: 30 fps video, 1024-sample AAC frames at 44.1 kHz.
const VIDEO_STEP_NS: u64 = 1_000_000_000 / 30;
const AUDIO_STEP_NS: u64 = 1024 * 1_000_000_000 / 44_100;
const DEADLINE: Duration = Duration::from_secs(60);
/// Far enough in the future to hold everything.
const FAR_END_MS: u64 = 4_102_444_800_000;

/// The producer side of every test: H.264 (a key frame, so a fragment, every second) and
/// AAC, both 5 s long.
fn av_producer(local: &Local, stream: &str) -> String {
    format!(
        "{} videotestsrc num-buffers={VIDEO_FRAMES} ! \
         video/x-raw,width=160,height=120,framerate=30/1 ! \
         x264enc key-int-max=30 speed-preset=ultrafast tune=zerolatency ! h264parse ! \
         sink.video_0 \
         audiotestsrc num-buffers=215 samplesperbuffer=1024 ! \
         audio/x-raw,rate=44100,channels=1 ! avenc_aac ! aacparse ! sink.audio_0",
        local.kvssink(
            stream,
            &format!("streaming-type=offline file-start-time={T0}")
        )
    )
}

/// What the stream holds, read back whole as the reference the selectors are checked against.
struct Stored {
    local: Local,
    fragments: Vec<Fragment>,
    reference: Streams,
}

impl Stored {
    fn new(stream: &str) -> Stored {
        init();
        require_av();
        gstrskvssink::plugin_register_static().expect("kvssink registers");
        let local = Local::start();
        local.create_stream(stream);
        let sent = produce(&av_producer(&local, stream), DEADLINE);
        assert_eq!(sent.get("video").copied(), Some(VIDEO_FRAMES), "{sent:?}");
        let fragments = local.wait_for_fragments(stream, 5, DEADLINE);
        assert_eq!(
            fragments.len(),
            5,
            "one fragment per key frame: {fragments:?}"
        );

        let reference = run_dynamic(
            &format!(
                "{} ! matroskademux name=demux",
                local.kvssrc(
                    stream,
                    &format!("start-selector=earliest end-timestamp={FAR_END_MS}")
                )
            ),
            |_| false,
            DEADLINE,
        );
        assert_eq!(reference.error, None);
        assert!(reference.eos, "the range ends");
        for kind in ["video", "audio"] {
            assert_eq!(
                reference.count(kind) as u64,
                sent.get(kind).copied().unwrap_or_default(),
                "every {kind} frame kvssink got comes back"
            );
        }
        assert_well_formed(&reference);
        assert_eq!(
            reference.pts.get("video").and_then(|v| v.first()).copied(),
            Some(gst::ClockTime::from_seconds(T0)),
            "output times are the producer's epoch times"
        );
        Stored {
            local,
            fragments,
            reference,
        }
    }

    /// The middle fragment, which the selectors start at.
    fn middle(&self) -> usize {
        self.fragments.len() / 2
    }

    fn start_ns(&self, index: usize) -> u64 {
        let f = self.fragments.get(index).expect("that fragment");
        // ProducerTimestamp is epoch seconds with millisecond precision.
        (f.producer_timestamp * 1000.0).round() as u64 * 1_000_000
    }

    /// Per track, the reference's frames from the fragment at `index` on.
    fn frames_from(&self, index: usize) -> std::collections::BTreeMap<String, usize> {
        let start = gst::ClockTime::from_nseconds(self.start_ns(index));
        self.reference
            .pts
            .iter()
            .map(|(kind, pts)| (kind.clone(), pts.iter().filter(|p| **p >= start).count()))
            .collect()
    }
}

/// PTS strictly increasing per track, spaced as the encoders produced them.
fn assert_well_formed(s: &Streams) {
    for (kind, step) in [("video", VIDEO_STEP_NS), ("audio", AUDIO_STEP_NS)] {
        let pts = s.pts.get(kind).map(Vec::as_slice).unwrap_or_default();
        assert!(!pts.is_empty(), "no {kind} frames: {s:?}");
        for w in pts.windows(2) {
            assert!(
                w[0] < w[1],
                "{kind} PTS must increase: {} then {}",
                w[0],
                w[1]
            );
            let gap = (w[1] - w[0]).nseconds();
            // Millisecond timecodes: each frame is within 1 ms of its place.
            assert!(
                gap.abs_diff(step) <= 1_000_000,
                "{kind} frames {} and {} are {gap} ns apart, not {step}",
                w[0],
                w[1]
            );
        }
    }
}

/// The run returned exactly the reference's frames from the fragment at `index` on, and
/// starts at that fragment's first frame.
fn assert_starts_at(stored: &Stored, index: usize, got: &Streams) {
    assert_eq!(got.error, None);
    let start = gst::ClockTime::from_nseconds(stored.start_ns(index));
    assert_eq!(
        got.pts.get("video").and_then(|v| v.first()).copied(),
        Some(start),
        "the first frame is the selected fragment's first (key) frame"
    );
    for kind in ["video", "audio"] {
        let pts = got.pts.get(kind).cloned().unwrap_or_default();
        let reference = stored.reference.pts.get(kind).cloned().unwrap_or_default();
        let first = *pts.first().expect("frames");
        let tail: Vec<gst::ClockTime> = reference.into_iter().filter(|p| *p >= first).collect();
        assert_eq!(
            pts, tail,
            "{kind}: every frame from there on, once, in order"
        );
        assert!(
            first.nseconds().abs_diff(start.nseconds()) < 100_000_000,
            "{kind} starts with the fragment at {start}, not at {first}"
        );
    }
    let expected = stored.frames_from(index);
    for (kind, n) in &expected {
        assert!(
            got.count(kind).abs_diff(*n) <= 2,
            "{kind}: {} frames, the fragments from {index} on hold about {n}",
            got.count(kind)
        );
    }
    assert_well_formed(got);
}

/// Live GetMedia with `selector` until `frames` frames arrived (then a grace period catches
/// any extra one).
fn live(stored: &Stored, stream: &str, selector: &str, frames: usize) -> Streams {
    run_dynamic(
        &format!(
            "{} ! matroskademux name=demux",
            stored.local.kvssrc(stream, selector)
        ),
        move |s| s.total() >= frames,
        DEADLINE,
    )
}

fn fragment_frames_from(got: &Streams, number: &str) -> Option<u64> {
    let mut seen = false;
    let mut total = 0;
    for f in &got.fragments {
        seen |= f.get::<String>("fragment-number").ok().as_deref() == Some(number);
        if seen {
            total += f.get::<u64>("frames").unwrap_or(0);
        }
    }
    seen.then_some(total)
}

#[test]
fn earliest_returns_every_frame() {
    let stored = Stored::new("rt-earliest");
    let total = stored.reference.total();
    let got = live(&stored, "rt-earliest", "start-selector=earliest", total);
    assert_starts_at(&stored, 0, &got);
    assert_eq!(got.total(), total);
    assert!(!got.eos, "live GetMedia does not end");
}

#[test]
fn fragment_number_starts_after_the_given_fragment() {
    let stored = Stored::new("rt-number");
    let k = stored.middle();
    let before = &stored.fragments[k - 1].fragment_number;
    let frames: usize = stored.frames_from(k).values().sum();
    let got = live(
        &stored,
        "rt-number",
        &format!("start-selector=fragment-number start-fragment-number={before}"),
        frames,
    );
    assert_starts_at(&stored, k, &got);
    assert_eq!(
        fragment_frames_from(&got, &stored.fragments[k].fragment_number),
        Some(got.total() as u64),
        "the first fragment reported is the one after {before}"
    );
}

#[test]
fn producer_timestamp_starts_at_the_fragment_holding_it() {
    let stored = Stored::new("rt-producer");
    let k = stored.middle();
    // Its exact start, although the fragment before reaches a few ms past it (audio).
    let ms = stored.start_ns(k) / 1_000_000;
    let frames: usize = stored.frames_from(k).values().sum();
    let got = live(
        &stored,
        "rt-producer",
        &format!("start-selector=producer-timestamp start-timestamp={ms}"),
        frames,
    );
    assert_starts_at(&stored, k, &got);
}

#[test]
fn server_timestamp_starts_at_the_fragment_holding_it() {
    // Ingested faster than real time, so each fragment's server-time span (about 1 s)
    // holds the next ones' starts: its own server timestamp must still name it.
    let stored = Stored::new("rt-server");
    let k = stored.middle();
    let ms = (stored.fragments[k].server_timestamp * 1000.0).round() as u64;
    let frames: usize = stored.frames_from(k).values().sum();
    let got = live(
        &stored,
        "rt-server",
        &format!("start-selector=server-timestamp start-timestamp={ms}"),
        frames,
    );
    assert_starts_at(&stored, k, &got);
}

#[test]
fn continuation_token_continues_after_its_fragment() {
    let stored = Stored::new("rt-token");
    let k = stored.middle();
    // A first session reads everything; the token its kvs-fragment message gave for the
    // fragment before the middle one is where a later session continues.
    let first = live(
        &stored,
        "rt-token",
        "start-selector=earliest",
        stored.reference.total(),
    );
    let before = &stored.fragments[k - 1].fragment_number;
    let token = first
        .fragments
        .iter()
        .find(|f| f.get::<String>("fragment-number").ok().as_deref() == Some(before.as_str()))
        .and_then(|f| f.get::<String>("continuation-token").ok())
        .expect("a continuation token for every fragment");
    let frames: usize = stored.frames_from(k).values().sum();
    let got = live(
        &stored,
        "rt-token",
        &format!("start-selector=continuation-token start-continuation-token={token}"),
        frames,
    );
    assert_starts_at(&stored, k, &got);
}

#[test]
fn range_from_a_middle_fragment_to_the_end_ends_with_eos() {
    let stored = Stored::new("rt-range");
    let k = stored.middle();
    let ms = stored.start_ns(k) / 1_000_000;
    let got = run_dynamic(
        &format!(
            "{} ! matroskademux name=demux",
            stored.local.kvssrc(
                "rt-range",
                &format!(
                    "start-selector=producer-timestamp start-timestamp={ms} \
                     end-timestamp={FAR_END_MS}"
                )
            )
        ),
        |_| false,
        DEADLINE,
    );
    assert!(got.eos, "the range ends");
    assert_starts_at(&stored, k, &got);
    let listed = got
        .stats
        .as_ref()
        .and_then(|s| s.get::<u64>("fragments-listed").ok());
    assert_eq!(listed, Some((stored.fragments.len() - k) as u64));
}

#[test]
fn decoding_an_archived_range_runs_to_eos() {
    init();
    require_element("avdec_h264", "gstreamer1.0-libav");
    require_element("avdec_aac", "gstreamer1.0-libav");
    let stored = Stored::new("rt-decode");
    let got = run_dynamic(
        &format!(
            "{} ! decodebin name=demux",
            stored.local.kvssrc(
                "rt-decode",
                &format!("start-selector=earliest end-timestamp={FAR_END_MS}")
            )
        ),
        |_| false,
        DEADLINE,
    );
    assert_eq!(got.error, None);
    assert!(got.eos, "decoded to the end of the range");
    for kind in ["video", "audio"] {
        assert_eq!(
            got.count(kind),
            stored.reference.count(kind),
            "every {kind} frame decoded"
        );
        let durations = got.durations.get(kind).cloned().unwrap_or_default();
        assert!(
            durations
                .iter()
                .all(|d| d.is_some_and(|d| d > gst::ClockTime::ZERO)),
            "decoded {kind} frames have durations"
        );
    }
    assert_well_formed(&got);
}

#[test]
fn now_reader_started_before_the_producer_gets_every_frame() {
    init();
    require_av();
    gstrskvssink::plugin_register_static().expect("kvssink registers");
    let local = std::sync::Arc::new(Local::start());
    local.create_stream("rt-now");
    // kvs-local fixes a NOW reader's position when it answers; the proxy says when.
    let watch = start_proxy(&local, None);
    let answered = watch.get_media_answered.clone();
    // What the producer sent, once it is done: the reader is complete when it has all of it.
    let sent: std::sync::Arc<std::sync::OnceLock<std::collections::BTreeMap<String, u64>>> =
        std::sync::Arc::default();
    let producer = {
        let local = local.clone();
        let sent = sent.clone();
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + DEADLINE;
            while !answered.load(std::sync::atomic::Ordering::SeqCst) {
                assert!(
                    std::time::Instant::now() < deadline,
                    "GetMedia never answered"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            let counts = produce(&av_producer(&local, "rt-now"), DEADLINE);
            let _ = sent.set(counts);
        })
    };
    let src = format!(
        "kvssrc name=src stream-name=rt-now aws-region=us-east-1 access-key=AKIDTEST \
         secret-key=test endpoint-uri=http://{} start-selector=now",
        watch.addr
    );
    let done = sent.clone();
    let got = run_dynamic(
        &format!("{src} ! matroskademux name=demux"),
        move |s| {
            done.get()
                .is_some_and(|sent| sent.iter().all(|(kind, n)| s.count(kind) as u64 >= *n))
        },
        DEADLINE,
    );
    producer.join().expect("producer thread");
    let sent = sent.get().expect("the producer finished");
    assert_eq!(got.error, None);
    for kind in ["video", "audio"] {
        assert_eq!(
            got.count(kind) as u64,
            sent.get(kind).copied().unwrap_or_default(),
            "every {kind} frame the producer sent after the reader started"
        );
    }
    assert_eq!(
        got.pts.get("video").and_then(|v| v.first()).copied(),
        Some(gst::ClockTime::from_seconds(T0))
    );
    assert_well_formed(&got);
}

#[test]
fn continuation_token_property_names_the_last_fragment_played_not_read() {
    use gst::prelude::*;
    let stored = Stored::new("rt-played");
    // appsink takes one buffer and is pulled only when the test says so: the streaming
    // thread waits there while the session reads ahead of it (up to its queue of items).
    let pipeline = gst::parse::launch(&format!(
        "{} ! appsink name=out max-buffers=1 sync=false",
        stored.local.kvssrc("rt-played", "start-selector=earliest")
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("a pipeline");
    let src = pipeline.by_name("src").expect("kvssrc");
    let out = pipeline
        .by_name("out")
        .expect("appsink")
        .downcast::<gst_app::AppSink>()
        .expect("appsink type");
    let bus = pipeline.bus().expect("bus");
    let fragment_tokens = || -> Vec<String> {
        std::iter::from_fn(|| bus.pop_filtered(&[gst::MessageType::Element]))
            .filter_map(|m| {
                let s = m.structure()?;
                (s.name() == "kvs-fragment")
                    .then(|| s.get::<String>("continuation-token").ok())
                    .flatten()
            })
            .collect()
    };
    let read_by_session = || {
        src.property::<gst::Structure>("stats")
            .get::<u64>("fragments")
            .unwrap_or(0)
    };
    let token = || src.property::<Option<String>>("continuation-token");
    pipeline.set_state(gst::State::Playing).expect("PLAYING");
    let end = std::time::Instant::now() + DEADLINE;

    // The session has a whole fragment; nothing of it has been played to its end.
    while read_by_session() < 1 {
        assert!(std::time::Instant::now() < end, "the session read nothing");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(fragment_tokens().is_empty(), "the output lags the session");
    assert_eq!(token(), None, "no fragment played yet");

    // Play until the first fragment's message, then stop pulling.
    let first = loop {
        assert!(std::time::Instant::now() < end, "no kvs-fragment message");
        let _ = out.try_pull_sample(gst::ClockTime::from_mseconds(100));
        if let Some(t) = fragment_tokens().pop() {
            break t;
        }
    };
    assert_eq!(token().as_deref(), Some(first.as_str()));
    assert!(
        read_by_session() >= 1,
        "the session is at least as far as the output"
    );
    pipeline.set_state(gst::State::Null).expect("NULL");
    assert_eq!(
        token().as_deref(),
        Some(first.as_str()),
        "still readable once the pipeline is down"
    );
}
