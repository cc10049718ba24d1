// SPDX-License-Identifier: MPL-2.0
//! `kvsmkvmux` on its own: encoded test media → KVS-style MKV file, checked with ffprobe
//! (decodes, right codecs and frame counts) and kvs-core's reader (clusters, tracks, tags).

mod common;

use std::time::Duration;

use common::*;
use gst::prelude::*;

const DEADLINE: Duration = Duration::from_secs(120);
const VIDEO_FRAMES: u64 = 90;
const GOP: u64 = 30;
const AUDIO_BUFFERS: u64 = 150;

struct Output {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

fn mux_to_file(branches: &str, mux_props: &str) -> (Output, RunResult) {
    init();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("out.mkv");
    let desc = format!(
        "kvsmkvmux name=m {mux_props} ! filesink location={} {branches}",
        path.display()
    );
    let result = run(&launch(&desc), DEADLINE);
    (Output { _dir: dir, path }, result)
}

fn h264(format: &str, extra: &str) -> String {
    format!(
        "videotestsrc num-buffers={VIDEO_FRAMES} ! video/x-raw,framerate=30/1 ! \
         x264enc key-int-max={GOP} speed-preset=ultrafast {extra} ! h264parse ! \
         video/x-h264,stream-format={format},alignment=au ! m.video_0"
    )
}

fn aac() -> String {
    format!(
        "audiotestsrc num-buffers={AUDIO_BUFFERS} samplesperbuffer=1024 ! \
         audio/x-raw,rate=44100,channels=1 ! avenc_aac ! aacparse ! m.audio_0"
    )
}

fn assert_ok(result: &RunResult) {
    assert!(
        result.error.is_none(),
        "pipeline failed: {:?}",
        result.error
    );
}

fn assert_video_structure(summary: &MkvSummary, codec_id: &str) {
    assert_eq!(summary.headers, 1);
    let video = summary
        .tracks
        .iter()
        .find(|t| t.codec_id == codec_id)
        .unwrap_or_else(|| panic!("no {codec_id} track in {:?}", summary.tracks));
    assert_eq!(video.number, 1, "video is track 1");
    assert!(video.codec_private.as_ref().is_some_and(|c| !c.is_empty()));
    assert_eq!(
        video.video.map(|v| (v.pixel_width, v.pixel_height)),
        Some((320, 240))
    );
    assert_eq!(summary.blocks.get(&1).copied(), Some(VIDEO_FRAMES as usize));
    // One fragment per key frame with key-frame-fragmentation (the default).
    assert_eq!(summary.cluster_timecodes.len() as u64, VIDEO_FRAMES / GOP);
    assert!(summary.clusters_start_with_key.iter().all(|k| *k));
    assert!(
        summary
            .tags
            .iter()
            .flat_map(|t| &t.simple_tags)
            .any(|s| s.name == "AWS_KINESISVIDEO_END_OF_FRAGMENT"),
        "EOS writes the end-of-fragment tag"
    );
}

fn probe_counts(path: &std::path::Path) -> Vec<(String, u64)> {
    ffprobe(path)
        .into_iter()
        .map(|s| (s.codec_name, s.frames))
        .collect()
}

#[test]
fn h264_avc() {
    require_elements(&["videotestsrc", "x264enc", "h264parse", "filesink"]);
    let (out, result) = mux_to_file(&h264("avc", ""), "");
    assert_ok(&result);
    assert_eq!(
        probe_counts(&out.path),
        vec![("h264".to_owned(), VIDEO_FRAMES)]
    );
    let summary = read_mkv(std::fs::read(&out.path).unwrap());
    assert_video_structure(&summary, "V_MPEG4/ISO/AVC");
}

#[test]
fn h264_byte_stream_gets_codec_private_from_in_band_sps() {
    require_elements(&["videotestsrc", "x264enc", "h264parse", "filesink"]);
    let (out, result) = mux_to_file(&h264("byte-stream", ""), "");
    assert_ok(&result);
    assert_eq!(
        probe_counts(&out.path),
        vec![("h264".to_owned(), VIDEO_FRAMES)]
    );
    let summary = read_mkv(std::fs::read(&out.path).unwrap());
    assert_video_structure(&summary, "V_MPEG4/ISO/AVC");
}

#[test]
fn h264_with_b_frames_keeps_blocks_inside_their_fragment() {
    require_elements(&["videotestsrc", "x264enc", "h264parse", "filesink"]);
    let (out, result) = mux_to_file(&h264("avc", "bframes=2 b-adapt=false"), "");
    assert_ok(&result);
    assert_eq!(
        probe_counts(&out.path),
        vec![("h264".to_owned(), VIDEO_FRAMES)]
    );
    let summary = read_mkv(std::fs::read(&out.path).unwrap());
    assert_video_structure(&summary, "V_MPEG4/ISO/AVC");
    assert!(
        summary.block_times.iter().all(|(_, _, rel, _)| *rel >= 0),
        "no block precedes its cluster"
    );
    // Presentation order differs from decode order: the blocks really carry PTS.
    let rels: Vec<i16> = summary.block_times.iter().map(|b| b.2).collect();
    assert!(rels.windows(2).any(|w| w[1] < w[0]), "B-frames reorder PTS");
}

#[test]
fn h265() {
    require_elements(&["videotestsrc", "x265enc", "h265parse", "filesink"]);
    let branch = format!(
        "videotestsrc num-buffers={VIDEO_FRAMES} ! video/x-raw,framerate=30/1 ! \
         x265enc key-int-max={GOP} speed-preset=ultrafast option-string=bframes=0 ! h265parse ! \
         video/x-h265,stream-format=hvc1,alignment=au ! m.video_0"
    );
    let (out, result) = mux_to_file(&branch, "");
    assert_ok(&result);
    assert_eq!(
        probe_counts(&out.path),
        vec![("hevc".to_owned(), VIDEO_FRAMES)]
    );
    let summary = read_mkv(std::fs::read(&out.path).unwrap());
    assert_video_structure(&summary, "V_MPEGH/ISO/HEVC");
}

/// AAC frames from 1024-sample buffers: one per buffer, plus possibly the encoder's
/// priming frame.
fn assert_aac_frames(n: u64) {
    assert!(
        (AUDIO_BUFFERS..=AUDIO_BUFFERS + 1).contains(&n),
        "{n} AAC frames from {AUDIO_BUFFERS} buffers"
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
    let (out, result) = mux_to_file(&format!("{} {}", h264("avc", ""), aac()), "");
    assert_ok(&result);
    let probed = probe_counts(&out.path);
    assert_eq!(probed.len(), 2, "{probed:?}");
    assert_eq!(probed[0], ("h264".to_owned(), VIDEO_FRAMES));
    assert_eq!(probed[1].0, "aac");
    assert_aac_frames(probed[1].1);
    let summary = read_mkv(std::fs::read(&out.path).unwrap());
    assert_video_structure(&summary, "V_MPEG4/ISO/AVC");
    let audio = summary
        .tracks
        .iter()
        .find(|t| t.codec_id == "A_AAC")
        .expect("AAC track");
    assert_eq!((audio.number, audio.name.as_deref()), (2, Some("audio")));
    assert_eq!(summary.blocks.get(&2).copied(), Some(probed[1].1 as usize));
    // Interleaved in time: absolute block times never go back by more than a frame.
    let mut last = i64::MIN;
    for (_, cluster, rel, _) in &summary.block_times {
        let t = *cluster as i64 + i64::from(*rel);
        assert!(t + 100 >= last, "block at {t} ms after one at {last} ms");
        last = last.max(t);
    }
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
    let alaw = format!(
        "audiotestsrc num-buffers={AUDIO_BUFFERS} samplesperbuffer=800 ! \
         audio/x-raw,rate=8000,channels=1 ! alawenc ! m.audio_0"
    );
    let (out, result) = mux_to_file(&format!("{} {alaw}", h264("avc", "")), "");
    assert_ok(&result);
    let probed = probe_counts(&out.path);
    assert_eq!(probed.len(), 2, "{probed:?}");
    assert_eq!(probed[0], ("h264".to_owned(), VIDEO_FRAMES));
    assert_eq!(probed[1].0, "pcm_alaw");
    let summary = read_mkv(std::fs::read(&out.path).unwrap());
    assert_video_structure(&summary, "V_MPEG4/ISO/AVC");
    let audio = summary
        .tracks
        .iter()
        .find(|t| t.codec_id == "A_MS/ACM")
        .expect("G.711 track");
    assert_eq!(audio.number, 2);
    // 150 buffers of 100 ms, video lasts 3 s: audio after the last video frame still
    // goes out, so every buffer is there.
    assert_eq!(
        summary.blocks.get(&2).copied(),
        Some(AUDIO_BUFFERS as usize)
    );
}

#[test]
fn aac_only_fragments_by_duration() {
    require_elements(&["audiotestsrc", "avenc_aac", "aacparse"]);
    let (out, result) = mux_to_file(&aac(), "fragment-duration=1000");
    assert_ok(&result);
    let probed = probe_counts(&out.path);
    assert_eq!(probed.len(), 1);
    assert_eq!(probed[0].0, "aac");
    assert_aac_frames(probed[0].1);
    let summary = read_mkv(std::fs::read(&out.path).unwrap());
    assert_eq!(summary.tracks.len(), 1);
    assert_eq!(
        (
            summary.tracks[0].number,
            summary.tracks[0].codec_id.as_str()
        ),
        (1, "A_AAC")
    );
    // 150 × 1024 samples at 44.1 kHz ≈ 3.48 s: fragments of ≥ 1 s each.
    let duration_ms = AUDIO_BUFFERS * 1024 * 1000 / 44_100;
    let expected = duration_ms / 1000 + 1;
    assert!(
        (expected - 1..=expected).contains(&(summary.cluster_timecodes.len() as u64)),
        "{} clusters for {duration_ms} ms",
        summary.cluster_timecodes.len()
    );
    for w in summary.cluster_timecodes.windows(2) {
        assert!(
            w[1] - w[0] >= 1000,
            "fragments shorter than fragment-duration: {w:?}"
        );
    }
}

#[test]
fn long_gop_is_closed_before_the_block_offset_overflows() {
    require_elements(&["videotestsrc", "x264enc", "h264parse"]);
    // 340 frames at 10 fps = 34 s with a single key frame: more than 32.767 s.
    let branch = "videotestsrc num-buffers=340 ! video/x-raw,framerate=10/1,width=160,height=120 ! \
         x264enc key-int-max=1000 speed-preset=ultrafast ! h264parse ! \
         video/x-h264,stream-format=avc ! m.video_0";
    let (out, result) = mux_to_file(branch, "");
    assert_ok(&result);
    assert!(
        result
            .warnings
            .iter()
            .any(|w| w.contains("closed it before the next key frame")),
        "warnings: {:?}",
        result.warnings
    );
    let summary = read_mkv(std::fs::read(&out.path).unwrap());
    assert_eq!(summary.blocks.get(&1).copied(), Some(340));
    assert_eq!(summary.cluster_timecodes.len(), 2);
    assert!(summary.block_times.iter().all(|b| b.2 >= 0));
}

#[test]
fn relative_timecodes_start_at_zero() {
    require_elements(&["videotestsrc", "x264enc", "h264parse"]);
    let (out, result) = mux_to_file(&h264("avc", ""), "absolute-fragment-times=false");
    assert_ok(&result);
    let summary = read_mkv(std::fs::read(&out.path).unwrap());
    assert_eq!(summary.cluster_timecodes, vec![0, 1000, 2000]);
}

#[test]
fn new_parameter_sets_start_a_new_stream_header() {
    require_elements(&["concat", "filesrc", "h264parse"]);
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../kvs-core/tests/fixtures");
    // Two byte-streams of different resolution back to back, no codec_data in caps.
    let branch = format!(
        "concat name=c ! video/x-h264,stream-format=byte-stream,framerate=10/1 ! h264parse ! \
         video/x-h264,stream-format=byte-stream,alignment=au ! m.video_0 \
         filesrc location={fixtures}/h264-320x240.annexb ! c. \
         filesrc location={fixtures}/h264-1920x1080.annexb ! c."
    );
    let (out, result) = mux_to_file(&branch, "");
    assert_ok(&result);
    let summary = read_mkv(std::fs::read(&out.path).unwrap());
    assert_eq!(summary.headers, 2, "a second EBML header for the new SPS");
    let last = summary
        .tracks
        .first()
        .and_then(|t| t.video)
        .expect("video track");
    assert_eq!((last.pixel_width, last.pixel_height), (1920, 1080));
    assert_eq!(summary.cluster_timecodes.len(), 2);
}

#[test]
fn kvs_add_metadata_events_become_fragment_tags() {
    require_elements(&["videotestsrc", "x264enc", "h264parse"]);
    init();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("out.mkv");
    let pipeline = launch(&format!(
        "kvsmkvmux name=m ! filesink location={} {}",
        path.display(),
        h264("avc", "").replace("h264parse", "h264parse name=parse")
    ));
    let parse_src = pipeline
        .by_name("parse")
        .and_then(|p| p.static_pad("src"))
        .expect("h264parse src pad");
    let seen = std::sync::atomic::AtomicU32::new(0);
    parse_src.add_probe(gst::PadProbeType::BUFFER, move |pad, _| {
        // During the first fragment: one one-shot and one persistent tag.
        if seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 4 {
            for (name, value, persist) in [("motion", "yes", false), ("camera", "lab-1", true)] {
                let s = gst::Structure::builder("kvs-add-metadata")
                    .field("name", name)
                    .field("value", value)
                    .field("persist", persist)
                    .build();
                pad.push_event(gst::event::CustomDownstream::new(s));
            }
        }
        gst::PadProbeReturn::Ok
    });
    let result = run(&pipeline, DEADLINE);
    assert_ok(&result);
    let summary = read_mkv(std::fs::read(&path).unwrap());
    let names: Vec<String> = summary
        .tags
        .iter()
        .flat_map(|t| &t.simple_tags)
        .map(|s| s.name.clone())
        .collect();
    // Fragments 2 and 3 carry the persistent tag, fragment 2 the one-shot, then EOS.
    assert_eq!(
        names.iter().filter(|n| *n == "camera").count(),
        2,
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|n| *n == "motion").count(),
        1,
        "{names:?}"
    );
}

#[test]
fn offline_timestamps_start_at_file_start_time() {
    require_elements(&["videotestsrc", "x264enc", "h264parse"]);
    let (out, result) = mux_to_file(
        &h264("avc", ""),
        "streaming-type=offline file-start-time=1600000000",
    );
    assert_ok(&result);
    let summary = read_mkv(std::fs::read(&out.path).unwrap());
    let start = 1_600_000_000_000u64;
    assert_eq!(
        summary.cluster_timecodes,
        vec![start, start + 1000, start + 2000]
    );
}

#[test]
fn original_pts_are_used_as_epoch_times() {
    require_elements(&["videotestsrc", "x264enc", "h264parse"]);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("out.mkv");
    let pipeline = launch(&format!(
        "kvsmkvmux name=m use-original-pts=true ! filesink location={} {}",
        path.display(),
        h264("avc", "").replace("h264parse", "h264parse name=parse")
    ));
    // The raw PTS of the first frame (x264enc offsets its output by 1000 hours).
    let first_pts = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = first_pts.clone();
    pipeline
        .by_name("parse")
        .and_then(|p| p.static_pad("src"))
        .expect("h264parse src pad")
        .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(b) = info.buffer() {
                seen.lock().unwrap().get_or_insert(b.pts());
            }
            gst::PadProbeReturn::Ok
        });
    let result = run(&pipeline, DEADLINE);
    assert_ok(&result);
    let first = first_pts
        .lock()
        .unwrap()
        .flatten()
        .expect("first PTS")
        .mseconds();
    let summary = read_mkv(std::fs::read(&path).unwrap());
    assert_eq!(
        summary.cluster_timecodes,
        vec![first, first + 1000, first + 2000],
        "cluster timecodes are the buffers' own PTS"
    );
}

#[test]
fn absolute_times_are_anchored_at_the_wall_clock() {
    require_elements(&["videotestsrc", "x264enc", "h264parse"]);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let (out, result) = mux_to_file(&h264("avc", ""), "");
    assert_ok(&result);
    let after = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let summary = read_mkv(std::fs::read(&out.path).unwrap());
    let first = summary.cluster_timecodes[0];
    assert!(
        (before..=after).contains(&first),
        "{first} not in {before}..={after}"
    );
    // Later fragments follow the stream's own clock, one GOP (1 s) apart.
    assert_eq!(summary.cluster_timecodes[2] - first, 2000);
}

/// Frames from an upstream buffer pool (as a hardware encoder hands out) go back to the pool
/// at once, even though what the fragmenter outputs is kept downstream (kvssink keeps it
/// until the service acknowledges it): kept by reference, a pool of three buffers would be
/// empty after three frames and the encoder would stall.
#[test]
fn frames_from_an_upstream_pool_go_back_to_it_while_the_output_is_held() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    init();
    let pipeline = launch(&format!(
        "videotestsrc num-buffers={VIDEO_FRAMES} ! video/x-raw,framerate=30/1 ! \
         x264enc key-int-max={GOP} speed-preset=ultrafast ! h264parse ! \
         capsfilter name=caps caps=video/x-h264,stream-format=avc,alignment=au ! \
         kvsmkvmux name=m ! appsink name=out sync=false max-buffers=0 wait-on-eos=false"
    ));
    let pool = gst::BufferPool::new();
    let mut config = pool.config();
    config.set_params(None, 1 << 20, 0, 3);
    pool.set_config(config).expect("pool config");
    pool.set_active(true).expect("pool active");
    let (pooled, exhausted) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (p, e) = (pooled.clone(), exhausted.clone());
    let src = pipeline
        .by_name("caps")
        .and_then(|c| c.static_pad("src"))
        .expect("capsfilter src pad");
    // Every frame moves into a buffer of the pool, as if the encoder had produced it there.
    src.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        let Some(gst::PadProbeData::Buffer(frame)) = info.data.take() else {
            return gst::PadProbeReturn::Ok;
        };
        let params =
            gst::BufferPoolAcquireParams::with_flags(gst::BufferPoolAcquireFlags::DONTWAIT);
        let out = match pool.acquire_buffer(Some(&params)) {
            Ok(mut buffer) => {
                let data = frame.map_readable().expect("readable frame");
                let b = buffer.get_mut().expect("a fresh pool buffer is writable");
                b.set_size(data.len());
                b.copy_from_slice(0, &data).expect("fits");
                frame
                    .copy_into(
                        b,
                        gst::BufferCopyFlags::FLAGS
                            | gst::BufferCopyFlags::TIMESTAMPS
                            | gst::BufferCopyFlags::META,
                        ..,
                    )
                    .expect("metadata copies");
                p.fetch_add(1, Ordering::SeqCst);
                buffer
            }
            Err(_) => {
                e.fetch_add(1, Ordering::SeqCst);
                frame.clone()
            }
        };
        info.data = Some(gst::PadProbeData::Buffer(out));
        gst::PadProbeReturn::Ok
    });
    // appsink is never pulled: it keeps every buffer list the fragmenter sends.
    let reached = Arc::new(AtomicUsize::new(0));
    let r = reached.clone();
    pipeline
        .by_name("out")
        .and_then(|s| s.static_pad("sink"))
        .expect("appsink pad")
        .add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
            move |_, info| {
                let n = match &info.data {
                    Some(gst::PadProbeData::Buffer(_)) => 1,
                    Some(gst::PadProbeData::BufferList(l)) => l.len(),
                    _ => 0,
                };
                r.fetch_add(n, Ordering::SeqCst);
                gst::PadProbeReturn::Ok
            },
        );
    let result = run(&pipeline, DEADLINE);
    assert_ok(&result);
    let held = reached.load(Ordering::SeqCst);
    assert_eq!(pooled.load(Ordering::SeqCst) as u64, VIDEO_FRAMES);
    assert_eq!(
        exhausted.load(Ordering::SeqCst),
        0,
        "the pool ran dry: the fragmenter's output held on to its buffers"
    );
    assert!(
        held as u64 > VIDEO_FRAMES,
        "every block reached the sink that held it: {held} buffers"
    );
}
