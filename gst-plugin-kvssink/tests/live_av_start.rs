// SPDX-License-Identifier: MPL-2.0
//! Live audio + video into `kvsmkvmux`: the first stream header must wait for both tracks
//! (bounded by the start-up limit) instead of going out video-only and being replaced
//! once audio shows up, which players of the KVS stream cannot follow.

mod common;

use std::time::Duration;

use common::*;
use gst::prelude::*;

const DEADLINE: Duration = Duration::from_secs(60);

/// About 3 s of live data per track.
fn pipeline_desc(path: &std::path::Path) -> String {
    format!(
        "kvsmkvmux name=m ! filesink location={} \
         videotestsrc name=vs is-live=true pattern=ball num-buffers=90 ! \
         video/x-raw,width=160,height=120,framerate=30/1 ! \
         x264enc tune=zerolatency key-int-max=30 speed-preset=ultrafast ! h264parse ! m.video_0 \
         audiotestsrc is-live=true num-buffers=130 samplesperbuffer=1024 ! \
         audio/x-raw,rate=44100,channels=1 ! valve name=v drop=true ! audioconvert ! avenc_aac ! aacparse ! m.audio_0",
        path.display()
    )
}

fn run_live(audio_start_delay: Option<Duration>) -> (RunResult, MkvSummary) {
    require_elements(&[
        "videotestsrc",
        "x264enc",
        "h264parse",
        "audiotestsrc",
        "audioconvert",
        "avenc_aac",
        "aacparse",
        "filesink",
    ]);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("out.mkv");
    let pipeline = launch(&pipeline_desc(&path));
    let valve = pipeline.by_name("v").expect("valve");
    match audio_start_delay {
        None => valve.set_property("drop", false),
        Some(delay) => {
            // Stands in for an audio device that needs a moment to start: nothing of the
            // track (not even caps, which the encoder sends with its first frame) reaches
            // the muxer until video has run for `delay`.
            let open_at = gst::ClockTime::from_nseconds(
                u64::try_from(delay.as_nanos()).expect("small delay"),
            );
            let video = pipeline
                .by_name("vs")
                .and_then(|v| v.static_pad("src"))
                .expect("videotestsrc src pad");
            video.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                if let Some(gst::PadProbeData::Buffer(b)) = &info.data
                    && b.pts().is_some_and(|pts| pts >= open_at)
                {
                    valve.set_property("drop", false);
                    return gst::PadProbeReturn::Remove;
                }
                gst::PadProbeReturn::Ok
            });
        }
    }
    let result = run(&pipeline, DEADLINE);
    let data = std::fs::read(&path).expect("output file");
    (result, read_mkv(data))
}

fn assert_one_header_with_both_tracks(result: &RunResult, summary: &MkvSummary) {
    assert!(
        result.error.is_none(),
        "pipeline failed: {:?}",
        result.error
    );
    assert!(
        result.warnings.is_empty(),
        "unexpected warnings: {:?}",
        result.warnings
    );
    assert_eq!(summary.headers, 1, "exactly one stream header expected");
    assert_eq!(summary.tracks.len(), 2, "tracks: {:?}", summary.tracks);
    let video = summary.blocks.get(&1).copied().unwrap_or(0);
    let audio = summary.blocks.get(&2).copied().unwrap_or(0);
    assert!(video > 30, "video blocks: {video}");
    assert!(audio > 10, "audio blocks: {audio}");
    // Audio that came before the first key frame must not open a fragment of its own:
    // every fragment starts with a video key frame.
    let mut last_cluster = None;
    for &(track, cluster, _, keyframe) in &summary.block_times {
        if last_cluster != Some(cluster) {
            assert!(
                track == 1 && keyframe,
                "fragment {cluster} starts with a block of track {track} (key frame: {keyframe})"
            );
            last_cluster = Some(cluster);
        }
    }
    assert!(last_cluster.is_some(), "no blocks written");
}

#[test]
fn live_audio_and_video_share_the_first_header() {
    init();
    let (result, summary) = run_live(None);
    assert_one_header_with_both_tracks(&result, &summary);
}

#[test]
fn audio_starting_late_is_waited_for_before_the_first_header() {
    init();
    // Longer than the streaming wait (TRACK_WAIT, 1 s), well inside the start-up limit.
    let (result, summary) = run_live(Some(Duration::from_millis(2000)));
    assert_one_header_with_both_tracks(&result, &summary);
}
