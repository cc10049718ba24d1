// SPDX-License-Identifier: MPL-2.0
//! `kvsmkvmux` across a segment change: `concat` restarts buffer timestamps at zero for its
//! second input and moves the segment base instead, so only running time keeps growing.
//! Every frame must still get its own presentation time, one frame period apart.
//!
//! Not covered on purpose: raw video concatenated *before* an x264enc with B-frames (its
//! default preset). x264enc is not drained at the segment change and stamps the first
//! frames of the new segment with decode times from the old one, so those arrive at the
//! muxer with times from the wrong timeline; nothing downstream can recover the real ones.
//! Use `bframes=0` (or a low-latency preset) there, or encode each input before `concat`
//! (the second test).

mod common;

use std::time::Duration;

use common::*;

const DEADLINE: Duration = Duration::from_secs(120);
const FIRST: u64 = 45;
const SECOND: u64 = 90;
/// 30 fps in the stream's default millisecond timecodes.
const FRAME_MS: i64 = 33;
const CAPS: &str = "video/x-raw,format=I420,width=320,height=240,framerate=30/1";

/// Muxes `head` (which starts at `concat name=c`, fed by `branches`) and returns every video
/// block's presentation time in ms, in presentation order.
fn presentation_times(head: &str, branches: &str) -> Vec<i64> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("out.mkv");
    let desc = format!(
        "{head} ! kvsmkvmux ! filesink location={} {branches}",
        path.display()
    );
    let result = run(&launch(&desc), DEADLINE);
    assert!(
        result.error.is_none(),
        "pipeline failed: {:?}",
        result.error
    );
    let summary = read_mkv(std::fs::read(&path).expect("output file"));
    assert_eq!(
        summary.blocks.get(&1).copied(),
        Some((FIRST + SECOND) as usize)
    );
    let mut times: Vec<i64> = summary
        .block_times
        .iter()
        .map(|(_, cluster, rel, _)| *cluster as i64 + i64::from(*rel))
        .collect();
    times.sort_unstable();
    times
}

/// Frames are 33 or 34 ms apart: a repeated or jumping time is a frame mapped with the
/// wrong segment.
fn assert_one_frame_apart(times: &[i64]) {
    for (i, pair) in times.windows(2).enumerate() {
        let step = pair[1] - pair[0];
        assert!(
            (FRAME_MS..=FRAME_MS + 1).contains(&step),
            "frame {} is {step} ms after frame {i}; times: {times:?}",
            i + 1
        );
    }
    let span =
        times.last().copied().unwrap_or_default() - times.first().copied().unwrap_or_default();
    let expected = (FIRST + SECOND - 1) as i64 * 1000 / 30;
    assert!(
        (span - expected).abs() <= 1,
        "span {span} ms, expected {expected} ms"
    );
}

#[test]
fn concat_of_raw_video_keeps_frames_one_period_apart() {
    require_elements(&["concat", "videotestsrc", "x264enc", "h264parse"]);
    let times = presentation_times(
        "concat name=c ! x264enc key-int-max=15 speed-preset=ultrafast ! h264parse",
        &format!(
            "videotestsrc pattern=ball num-buffers={FIRST} ! {CAPS} ! c. \
             videotestsrc pattern=black num-buffers={SECOND} ! {CAPS} ! c."
        ),
    );
    assert_one_frame_apart(&times);
}

#[test]
fn concat_of_encoded_video_with_b_frames_keeps_frames_one_period_apart() {
    require_elements(&["concat", "videotestsrc", "x264enc", "h264parse"]);
    // Each input is encoded (and drained at its end) on its own, with B-frames, so decode
    // times run ahead of presentation times and may start below zero in each segment.
    let encode = "x264enc key-int-max=15 bframes=2 speed-preset=fast ! h264parse";
    let times = presentation_times(
        "concat name=c ! h264parse",
        &format!(
            "videotestsrc pattern=ball num-buffers={FIRST} ! {CAPS} ! {encode} ! c. \
             videotestsrc pattern=black num-buffers={SECOND} ! {CAPS} ! {encode} ! c."
        ),
    );
    assert_one_frame_apart(&times);
}
