// SPDX-License-Identifier: MPL-2.0
//! End to end, one test per input kind: 10 s of test media through kvssink into an in-process
//! kvs-local, then read back with ListFragments + GetMediaForFragmentList and decoded by
//! ffprobe: tracks, codecs, frame counts equal to what reached kvssink, duration ≈ 10 s,
//! and one stored fragment per key-frame interval.

mod common;
mod e2e_support;

use std::time::Duration;

use common::{init, launch, require_elements, run};
use e2e_support::{Local, SentCounter, ffprobe, kvssink_desc};
use gst::prelude::*;

/// 300 frames at 30 fps, a key frame every 30: 10 s in 10 fragments.
const H264: &str = "videotestsrc num-buffers=300 ! video/x-raw,width=320,height=240,framerate=30/1 ! \
     x264enc key-int-max=30 speed-preset=ultrafast tune=zerolatency ! h264parse";
const H265: &str = "videotestsrc num-buffers=300 ! video/x-raw,width=320,height=240,framerate=30/1 ! \
     x265enc key-int-max=30 speed-preset=ultrafast tune=zerolatency ! h265parse";
/// 430 × 1024 samples at 44.1 kHz = 9.985 s.
const AAC: &str = "audiotestsrc num-buffers=430 samplesperbuffer=1024 ! \
     audio/x-raw,rate=44100,channels=1 ! avenc_aac ! aacparse";
/// 100 × 100 ms.
const ALAW: &str = "audiotestsrc num-buffers=100 samplesperbuffer=800 ! \
     audio/x-raw,rate=8000,channels=1 ! alawenc";

struct Expect {
    /// (codec_type, codec_name, kvssink pad prefix)
    tracks: &'static [(&'static str, &'static str, &'static str)],
    fragments: usize,
}

fn stream_store_and_probe(stream: &str, desc: impl Fn(&str) -> String, expect: Expect) {
    init();
    let local = Local::start();
    let pipeline = launch(&desc(&kvssink_desc(&local.url(), stream, "")));
    let sink = pipeline.by_name("sink").expect("kvssink in pipeline");
    let sent = SentCounter::attach(&sink);
    let result = run(&pipeline, Duration::from_secs(55));
    assert!(
        result.error.is_none(),
        "pipeline failed: {:?}",
        result.error
    );

    let fragments = local.list_fragments(stream);
    assert_eq!(
        fragments.len(),
        expect.fragments,
        "stored fragments: {:?}",
        fragments
            .iter()
            .map(|f| f.producer_timestamp)
            .collect::<Vec<_>>()
    );
    let media = local.fragment_media(stream, &fragments);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("stored.mkv");
    std::fs::write(&path, &media).expect("write media");
    let probe = ffprobe(&path);
    eprintln!("{stream}: {} fragments, {probe:?}", fragments.len());

    assert_eq!(
        probe.streams.len(),
        expect.tracks.len(),
        "tracks: {:?}",
        probe.streams
    );
    for (kind, codec, pad) in expect.tracks {
        let s = probe
            .streams
            .iter()
            .find(|s| s.codec_type == *kind)
            .unwrap_or_else(|| panic!("no {kind} track in {:?}", probe.streams));
        assert_eq!(s.codec_name, *codec, "{kind} codec");
        let sent_frames = sent.get(pad);
        assert!(sent_frames > 0, "nothing reached {pad}");
        assert_eq!(s.frames, sent_frames, "{kind} frames decoded vs sent");
        let span = probe.spans.get(*kind).copied().unwrap_or_default();
        assert!(
            (span - 10.0).abs() < 0.25,
            "{kind} lasts {span} s, not ≈ 10 s"
        );
    }
}

#[test]
fn h264_avc() {
    require_elements(&["videotestsrc", "x264enc", "h264parse"]);
    stream_store_and_probe(
        "e2e-h264-avc",
        |sink| format!("{H264} ! video/x-h264,stream-format=avc ! {sink}"),
        Expect {
            tracks: &[("video", "h264", "video")],
            fragments: 10,
        },
    );
}

#[test]
fn h264_byte_stream() {
    require_elements(&["videotestsrc", "x264enc", "h264parse"]);
    stream_store_and_probe(
        "e2e-h264-bs",
        |sink| format!("{H264} ! video/x-h264,stream-format=byte-stream ! {sink}"),
        Expect {
            tracks: &[("video", "h264", "video")],
            fragments: 10,
        },
    );
}

#[test]
fn h265() {
    require_elements(&["videotestsrc", "x265enc", "h265parse"]);
    stream_store_and_probe(
        "e2e-h265",
        |sink| format!("{H265} ! {sink}"),
        Expect {
            tracks: &[("video", "hevc", "video")],
            fragments: 10,
        },
    );
}

#[test]
fn h264_and_aac() {
    require_elements(&[
        "videotestsrc",
        "x264enc",
        "h264parse",
        "audiotestsrc",
        "avenc_aac",
        "aacparse",
    ]);
    stream_store_and_probe(
        "e2e-h264-aac",
        |sink| format!("{sink} {H264} ! sink.video_0 {AAC} ! sink.audio_0"),
        Expect {
            tracks: &[("video", "h264", "video"), ("audio", "aac", "audio")],
            fragments: 10,
        },
    );
}

#[test]
fn h264_and_alaw() {
    require_elements(&[
        "videotestsrc",
        "x264enc",
        "h264parse",
        "audiotestsrc",
        "alawenc",
    ]);
    stream_store_and_probe(
        "e2e-h264-alaw",
        |sink| format!("{sink} {H264} ! sink.video_0 {ALAW} ! sink.audio_0"),
        Expect {
            tracks: &[("video", "h264", "video"), ("audio", "pcm_alaw", "audio")],
            fragments: 10,
        },
    );
}

#[test]
fn aac_only() {
    require_elements(&["audiotestsrc", "avenc_aac", "aacparse"]);
    // Every AAC frame is a key frame, so fragments follow fragment-duration (2 s): 9.985 s → 5.
    stream_store_and_probe(
        "e2e-aac",
        |sink| format!("{AAC} ! {sink}"),
        Expect {
            tracks: &[("audio", "aac", "audio")],
            fragments: 5,
        },
    );
}
