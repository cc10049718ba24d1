// SPDX-License-Identifier: MPL-2.0
//! Decode times that go backwards are clamped by the fragment planner; the application
//! hears about it once per segment, with the likely cause and the fix, not once per frame.

mod common;

use std::time::Duration;

use common::*;
use gst::prelude::*;

const DEADLINE: Duration = Duration::from_secs(60);
const H264_CAPS: &str = "video/x-h264,stream-format=byte-stream,alignment=au";

/// Encodes `frames` of videotestsrc to H.264 access units with their PTS/DTS.
fn encoded_frames(frames: u32) -> Vec<gst::Sample> {
    let pipeline = launch(&format!(
        "videotestsrc num-buffers={frames} ! video/x-raw,format=I420,width=160,height=120,\
         framerate=30/1 ! x264enc bframes=0 key-int-max=1000 speed-preset=ultrafast \
         ! h264parse config-interval=-1 ! {H264_CAPS} ! appsink name=out sync=false"
    ));
    let sink = pipeline
        .by_name("out")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .expect("appsink");
    pipeline
        .set_state(gst::State::Playing)
        .expect("encoder pipeline starts");
    let mut samples = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        samples.push(sample);
    }
    pipeline
        .set_state(gst::State::Null)
        .expect("encoder pipeline stops");
    assert_eq!(samples.len(), frames as usize, "encoder output");
    samples
}

/// Feeds the encoded frames to kvsmkvmux, each frame in `back_at` with a decode time
/// 100 ms before the previous frame's, and a new segment from frame `new_segment_at` on.
fn mux_with_dts_going_back(back_at: &[usize], new_segment_at: Option<usize>) -> RunResult {
    require_elements(&["videotestsrc", "x264enc", "h264parse", "appsrc", "appsink"]);
    let samples = encoded_frames(60);
    let pipeline = launch(&format!(
        "appsrc name=src format=time handle-segment-change=true caps=\"{H264_CAPS}\" ! h264parse ! kvsmkvmux ! fakesink"
    ));
    let src = pipeline
        .by_name("src")
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .expect("appsrc");
    let caps: gst::Caps = H264_CAPS.parse().expect("caps");
    for (i, sample) in samples.iter().enumerate() {
        let mut buffer = sample.buffer_owned().expect("sample has a buffer");
        if back_at.contains(&i) {
            let b = buffer.make_mut();
            let dts = b.dts().expect("encoded frames have a DTS");
            b.set_dts(dts.saturating_sub(gst::ClockTime::from_mseconds(133)));
        }
        if new_segment_at == Some(i) {
            // Same running times, but a new segment event, as concat sends between inputs.
            let mut segment = gst::FormattedSegment::<gst::ClockTime>::new();
            segment.set_time(gst::ClockTime::from_seconds(1));
            let sample = gst::Sample::builder()
                .buffer(&buffer)
                .caps(&caps)
                .segment(&segment)
                .build();
            let _ = src.push_sample(&sample);
        } else {
            let _ = src.push_buffer(buffer);
        }
    }
    let _ = src.end_of_stream();
    run(&pipeline, DEADLINE)
}

fn clamp_warnings(result: &RunResult) -> Vec<&String> {
    result
        .warnings
        .iter()
        .filter(|w| w.contains("decode timestamps went backwards"))
        .collect()
}

#[test]
fn clamped_decode_times_warn_once_per_segment() {
    let result = mux_with_dts_going_back(&[20, 21, 22, 23], None);
    assert_eq!(result.error, None);
    let warnings = clamp_warnings(&result);
    assert_eq!(warnings.len(), 1, "all warnings: {:?}", result.warnings);
    assert!(warnings[0].contains("bframes=0"), "{}", warnings[0]);
    assert!(warnings[0].contains("concat"), "{}", warnings[0]);
    assert_eq!(result.warnings.len(), 1, "{:?}", result.warnings);
}

#[test]
fn a_new_segment_may_warn_again() {
    let result = mux_with_dts_going_back(&[20, 21, 40, 41], Some(30));
    assert_eq!(result.error, None);
    assert_eq!(clamp_warnings(&result).len(), 2, "{:?}", result.warnings);
}

#[test]
fn increasing_decode_times_do_not_warn() {
    let result = mux_with_dts_going_back(&[], None);
    assert_eq!(result.error, None);
    assert!(result.warnings.is_empty(), "{:?}", result.warnings);
}
