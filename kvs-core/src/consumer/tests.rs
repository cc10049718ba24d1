// SPDX-License-Identifier: MPL-2.0
//! The merger against real GetMedia output (shared/test-vectors/aws-getmedia) and synthetic
//! documents.

use std::path::PathBuf;
use std::process::Command;

use bytes::{Bytes, BytesMut};

use super::*;
use crate::getmedia::{TAG_CONTINUATION_TOKEN, TAG_FRAGMENT_NUMBER, TAG_MILLIS_BEHIND_NOW};
use crate::getmedia::{TAG_PRODUCER_TIMESTAMP, TAG_SERVER_TIMESTAMP};
use crate::mkv::{MkvEvent, MkvReader, MkvWriter, StreamHeader, Tag, TrackInfo, TrackType};

fn vector(name: &str) -> Vec<u8> {
    let dir = std::env::var_os("KVS_TEST_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/test-vectors"));
    let path = dir.join("aws-getmedia").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Everything the merger produced for one run.
#[derive(Default)]
struct Run {
    output: Vec<u8>,
    headers: Vec<(StreamHeader, bool)>,
    fragments: Vec<FragmentInfo>,
    /// Output time of each frame, in order.
    pts: Vec<u64>,
    errors: Vec<ServiceErrorChunk>,
    skipped: Vec<FragmentInfo>,
}

impl Run {
    fn collect(&mut self, m: &mut GetMediaMerger) {
        while let Some(ev) = m.next_event() {
            match ev {
                ConsumerEvent::StreamHeader {
                    header,
                    bytes,
                    first,
                } => {
                    self.output.extend_from_slice(&bytes);
                    self.headers.push((header, first));
                }
                ConsumerEvent::Media { bytes, pts_ns } => {
                    self.output.extend_from_slice(&bytes);
                    self.pts.extend(pts_ns);
                }
                ConsumerEvent::Fragment(f) => self.fragments.push(f),
                ConsumerEvent::ServiceError(e) => self.errors.push(e),
                ConsumerEvent::DuplicateSkipped(f) => self.skipped.push(f),
            }
        }
    }
}

/// Chunk sizes from a fixed pseudo-random sequence (1 byte to 64 KiB).
fn chunk_sizes(seed: u64) -> impl Iterator<Item = usize> {
    let mut x = seed.max(1);
    std::iter::repeat_with(move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let shift = x % 17;
        1 + (x >> 20) as usize % (1usize << shift)
    })
}

fn feed(m: &mut GetMediaMerger, run: &mut Run, data: &[u8], seed: u64) {
    let mut pos = 0;
    let mut sizes = chunk_sizes(seed);
    while pos < data.len() {
        let n = sizes.next().unwrap_or(1).min(data.len() - pos);
        m.push(Bytes::copy_from_slice(&data[pos..pos + n])).unwrap();
        run.collect(m);
        pos += n;
    }
}

fn merge(data: &[u8], seed: u64, rule: CompletionRule) -> Run {
    let mut m = GetMediaMerger::new(TimestampSource::Producer, rule);
    let mut run = Run::default();
    feed(&mut m, &mut run, data, seed);
    m.finish_response().unwrap();
    run.collect(&mut m);
    run
}

/// Counts documents, blocks and Tags elements in a byte stream with kvs-core's reader.
fn structure(data: &[u8]) -> (usize, usize, usize) {
    let mut r = MkvReader::new();
    r.push(Bytes::copy_from_slice(data));
    // One recording ends inside its last frame; count what is complete.
    let _ = r.finish();
    let (mut docs, mut blocks, mut tags) = (0, 0, 0);
    while let Ok(Some(ev)) = r.next_event() {
        match ev.event {
            MkvEvent::EbmlHeader(_) => docs += 1,
            MkvEvent::Block(_) => blocks += 1,
            MkvEvent::Tags(_) => tags += 1,
            _ => {}
        }
    }
    (docs, blocks, tags)
}

/// Byte offsets where each document of a GetMedia recording starts.
fn document_offsets(data: &[u8]) -> Vec<usize> {
    let mut r = MkvReader::new();
    r.push(Bytes::copy_from_slice(data));
    let _ = r.finish();
    let mut out = Vec::new();
    while let Ok(Some(ev)) = r.next_event() {
        if let MkvEvent::EbmlHeader(_) = ev.event {
            out.push(usize::try_from(ev.offset).unwrap());
        }
    }
    out
}

// (file, documents, complete frames, fragments complete under TrailingTags, under
// DocumentEnd). The equal-timecode recording ends inside its 240th frame, so its last
// document is cut short and only 239 frames are whole.
const VECTORS: [(&str, usize, usize, usize, usize); 6] = [
    ("output_get_media.mkv", 5, 300, 5, 5),
    ("output_get_media_sparse_fragments.mkv", 3, 180, 3, 3),
    ("output-get-media-equal-timecode.mkv", 2, 239, 1, 1),
    ("test_mixed_tags.mkv", 10, 100, 10, 10),
    ("empty-mkv-with-tags.mkv", 1, 0, 0, 1),
    ("test_tags_empty_cluster.mkv", 1, 0, 0, 1),
];

#[test]
fn every_vector_merges_into_one_document_in_any_chunking() {
    for (name, docs, frames, complete, _) in VECTORS {
        let data = vector(name);
        assert_eq!(document_offsets(&data).len(), docs, "{name}: documents");
        let (_, input_blocks, _) = structure(&data);
        assert_eq!(input_blocks, frames, "{name}: frames in the input");
        let reference = merge(&data, 1, CompletionRule::TrailingTags);
        for seed in [2, 3, 99, 12345] {
            let run = merge(&data, seed, CompletionRule::TrailingTags);
            assert_eq!(
                run.output, reference.output,
                "{name}: chunking changed the output"
            );
            assert_eq!(run.fragments, reference.fragments, "{name}: fragments");
        }
        assert_eq!(reference.fragments.len(), complete, "{name}: fragments");
        assert_eq!(reference.pts.len(), frames, "{name}: frames out");
        let reported: u64 = reference.fragments.iter().map(|f| f.frames).sum();
        if complete == docs {
            assert_eq!(
                reported, frames as u64,
                "{name}: frames reported per fragment"
            );
        }
        let (out_docs, out_blocks, out_tags) = structure(&reference.output);
        if frames > 0 {
            assert_eq!(out_docs, 1, "{name}: output documents");
            assert_eq!(reference.headers.len(), 1, "{name}: headers");
            assert!(reference.headers[0].1);
        } else {
            assert_eq!(out_docs, 0, "{name}: nothing to play, nothing written");
        }
        assert_eq!(out_blocks, frames, "{name}: frames in the output");
        assert_eq!(out_tags, 0, "{name}: tags stay out of the media");
    }
}

#[test]
fn document_end_rule_reports_fragments_without_trailing_tags() {
    for (name, _, _, _, complete) in VECTORS {
        let run = merge(&vector(name), 7, CompletionRule::DocumentEnd);
        assert_eq!(run.fragments.len(), complete, "{name}");
    }
}

#[test]
fn fragment_info_from_service_tags() {
    let run = merge(
        &vector("output_get_media.mkv"),
        5,
        CompletionRule::TrailingTags,
    );
    let first = &run.fragments[0];
    assert_eq!(
        first.fragment_number.as_deref(),
        Some("91343852333181432392682062607743920146159169392")
    );
    assert_eq!(first.continuation_token, first.fragment_number);
    assert_eq!(first.server_timestamp_ms, Some(1_511_852_109_126));
    assert_eq!(first.producer_timestamp_ms, Some(1_511_852_108_513));
    assert!(first.millis_behind_now.is_some());
    // The producer (an ffmpeg remux) wrote its own global tags in every fragment.
    let names: Vec<&str> = first.tags.iter().map(|t| t.name.as_str()).collect();
    assert!(
        names.contains(&"MAJOR_BRAND") && names.contains(&"DURATION"),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.starts_with("AWS_KINESISVIDEO")));
    assert_eq!(first.frames, 60);
    // RELATIVE producer (clusters at 0, 2, 4 s): output times follow the producer tags.
    assert_eq!(first.start_ns, Some(1_511_852_108_513_000_000));
    assert_eq!(run.pts[0], 1_511_852_108_513_000_000);
    let second = &run.fragments[1];
    assert_eq!(second.start_ns, Some(1_511_852_110_513_000_000));
    // Fragment numbers increase; frame times never go backwards across fragments.
    for w in run.fragments.windows(2) {
        assert!(w[0].fragment_number < w[1].fragment_number);
        assert!(w[0].end_ns < w[1].start_ns);
    }
}

#[test]
fn producer_fragment_tags_are_reported_once_each() {
    let run = merge(
        &vector("test_mixed_tags.mkv"),
        11,
        CompletionRule::TrailingTags,
    );
    assert_eq!(run.fragments.len(), 10);
    for f in &run.fragments {
        let names: Vec<&str> = f.tags.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "testTag_0",
                "testTag_1",
                "testTag_2",
                "testTag_3",
                "testTag_4"
            ],
            "{:?}",
            f.fragment_number
        );
        assert_eq!(f.tags[2].value, "testTag_2_Value");
    }
}

#[test]
fn server_timestamps_as_time_base() {
    let data = vector("output_get_media.mkv");
    let mut m = GetMediaMerger::new(TimestampSource::Server, CompletionRule::TrailingTags);
    let mut run = Run::default();
    feed(&mut m, &mut run, &data, 3);
    assert_eq!(run.pts[0], 1_511_852_109_126_000_000);
}

/// Cuts the input at `cut`, then lets the "server" resend from the document the resume
/// point selects, and checks the output equals an uninterrupted run frame for frame.
fn resume_after_cut(name: &str, cut: usize) {
    let data = vector(name);
    let reference = merge(&data, 1, CompletionRule::TrailingTags);
    let offsets = document_offsets(&data);
    let mut m = GetMediaMerger::new(TimestampSource::Producer, CompletionRule::TrailingTags);
    let mut run = Run::default();
    feed(&mut m, &mut run, &data[..cut], 4);
    m.connection_lost();
    run.collect(&mut m);
    // Which document the service would start with for this resume point.
    let resend_doc = match m.resume_point() {
        ResumePoint::ContinuationToken(token) => {
            let i = reference
                .fragments
                .iter()
                .position(|f| f.continuation_token.as_deref() == Some(token.as_str()))
                .unwrap();
            i + 1
        }
        ResumePoint::ServerTimestamp {
            fragment_number,
            ms,
        } => {
            let i = reference
                .fragments
                .iter()
                .position(|f| f.fragment_number.as_deref() == Some(fragment_number.as_str()))
                .unwrap();
            assert_eq!(reference.fragments[i].server_timestamp_ms, Some(ms));
            i
        }
        other => panic!("unexpected resume point {other:?}"),
    };
    feed(&mut m, &mut run, &data[offsets[resend_doc]..], 5);
    m.finish_response().unwrap();
    run.collect(&mut m);
    assert_eq!(
        run.pts, reference.pts,
        "{name} cut at {cut}: frame sequence"
    );
    let numbers = |r: &Run| -> Vec<Option<String>> {
        r.fragments
            .iter()
            .map(|f| f.fragment_number.clone())
            .collect()
    };
    assert_eq!(numbers(&run), numbers(&reference));
    let (docs, blocks, _) = structure(&run.output);
    assert_eq!((docs, blocks), (1, reference.pts.len()));
    assert_eq!(m.stats().frames, reference.pts.len() as u64);
}

#[test]
fn resume_mid_fragment_neither_duplicates_nor_skips() {
    let data = vector("output_get_media.mkv");
    let offsets = document_offsets(&data);
    // Inside the third fragment, inside the first, right at a document boundary, and a
    // few bytes into the EBML header of the fourth.
    let third_mid = offsets[2] + (offsets[3] - offsets[2]) * 3 / 5;
    resume_after_cut("output_get_media.mkv", third_mid);
    resume_after_cut("output_get_media.mkv", offsets[1] / 2);
    resume_after_cut("output_get_media.mkv", offsets[3]);
    resume_after_cut("output_get_media.mkv", offsets[3] + 3);
    resume_after_cut(
        "test_mixed_tags.mkv",
        document_offsets(&vector("test_mixed_tags.mkv"))[4] + 500,
    );
}

#[test]
fn resume_point_before_anything_is_the_original_selector() {
    let m = GetMediaMerger::new(TimestampSource::Producer, CompletionRule::TrailingTags);
    assert_eq!(m.resume_point(), ResumePoint::Original);
}

fn synthetic_doc(number: u32, cpd: &'static [u8], width: u32, frames: u64) -> Vec<u8> {
    synthetic_doc_at(number, number, cpd, width, frames)
}

/// Fragment `number` starting `second` seconds after 1_700_000_000 (producer and server).
fn synthetic_doc_at(
    number: u32,
    second: u32,
    cpd: &'static [u8],
    width: u32,
    frames: u64,
) -> Vec<u8> {
    let header = StreamHeader {
        info: Default::default(),
        tracks: vec![TrackInfo {
            number: 1,
            uid: 1,
            track_type: Some(TrackType::Video),
            codec_id: "V_MPEG4/ISO/AVC".into(),
            codec_private: Some(Bytes::from_static(cpd)),
            video: Some(crate::mkv::VideoParams {
                pixel_width: width,
                pixel_height: 480,
            }),
            ..Default::default()
        }],
    };
    let fragment = format!("{number:047}");
    let mut w = MkvWriter::new();
    w.stream_header(&header).unwrap();
    let ts = format!("{}.000", 1_700_000_000 + u64::from(second));
    w.tags(&[Tag {
        simple_tags: vec![
            crate::mkv::SimpleTag::new(TAG_FRAGMENT_NUMBER, fragment.clone()),
            crate::mkv::SimpleTag::new(TAG_SERVER_TIMESTAMP, ts.clone()),
            crate::mkv::SimpleTag::new(TAG_PRODUCER_TIMESTAMP, ts),
        ],
    }])
    .unwrap();
    w.start_cluster(0);
    for i in 0..frames {
        w.frame(1, i * 33, i == 0, Bytes::from(vec![i as u8; 10]))
            .unwrap();
    }
    w.tags(&[Tag::single("motion", format!("zone{number}"))])
        .unwrap();
    w.tags(&[Tag {
        simple_tags: vec![
            crate::mkv::SimpleTag::new(TAG_MILLIS_BEHIND_NOW, "5"),
            crate::mkv::SimpleTag::new(TAG_CONTINUATION_TOKEN, fragment),
        ],
    }])
    .unwrap();
    w.into_vec()
}

#[test]
fn track_change_starts_a_new_stream() {
    let mut data = synthetic_doc(1, b"\x01\x64\x00\x1f", 640, 5);
    data.extend(synthetic_doc(2, b"\x01\x64\x00\x1f", 640, 5));
    data.extend(synthetic_doc(3, b"\x01\x4d\x00\x28", 1280, 5));
    data.extend(synthetic_doc(4, b"\x01\x4d\x00\x28", 1280, 5));
    let run = merge(&data, 9, CompletionRule::TrailingTags);
    let firsts: Vec<bool> = run.headers.iter().map(|(_, f)| *f).collect();
    assert_eq!(firsts, [true, false]);
    assert_eq!(
        run.headers[1].0.tracks[0].video.map(|v| v.pixel_width),
        Some(1280)
    );
    let (docs, blocks, _) = structure(&run.output);
    assert_eq!((docs, blocks), (2, 20));
    assert_eq!(run.fragments.len(), 4);
    assert_eq!(
        run.fragments[3].tags,
        [crate::mkv::SimpleTag::new("motion", "zone4")]
    );
    assert_eq!(run.pts[5], 1_700_000_002_000_000_000);
}

#[test]
fn error_chunk_is_reported_not_counted() {
    let mut w = MkvWriter::new();
    w.stream_header(&StreamHeader::default()).unwrap();
    w.tags(&[Tag {
        simple_tags: vec![
            crate::mkv::SimpleTag::new(crate::getmedia::TAG_ERROR_CODE, "FRAGMENT_NOT_FOUND"),
            crate::mkv::SimpleTag::new(crate::getmedia::TAG_ERROR_ID, "4000"),
        ],
    }])
    .unwrap();
    let run = merge(&w.into_vec(), 1, CompletionRule::DocumentEnd);
    assert_eq!(run.errors.len(), 1);
    assert_eq!(run.errors[0].error_id, Some(4000));
    assert!(run.fragments.is_empty());
}

#[test]
fn malformed_input_is_an_error() {
    let mut m = GetMediaMerger::new(TimestampSource::Producer, CompletionRule::TrailingTags);
    // An EBML header whose size overruns a known-size parent is not something to play.
    let mut bad = BytesMut::new();
    bad.extend_from_slice(&[0x18, 0x53, 0x80, 0x67, 0x81, 0x1F, 0x43, 0xB6, 0x75, 0x88]);
    assert!(m.push(bad.freeze()).is_err());
}

/// The merged output of a real recording plays in external demuxers with every frame.
fn tool(name: &str, hint: &str) -> Command {
    let probe = Command::new(name).arg("--version").output();
    assert!(
        probe.is_ok(),
        "{name} is required for this test; install it ({hint})"
    );
    Command::new(name)
}

#[test]
fn merged_output_plays_in_ffprobe_and_matroskademux() {
    let run = merge(
        &vector("output_get_media.mkv"),
        77,
        CompletionRule::TrailingTags,
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("merged.mkv");
    std::fs::write(&path, &run.output).unwrap();

    let out = tool("ffprobe", "apt-get install ffmpeg")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "300");

    let out = tool(
        "gst-launch-1.0",
        "apt-get install gstreamer1.0-tools gstreamer1.0-plugins-good",
    )
    .args(["-v", "pushfilesrc"])
    .arg(format!("location={}", path.display()))
    .args(["!", "matroskademux", "!", "fakesink", "silent=false"])
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let frames = text
        .lines()
        .filter(|l| l.contains("chain   ******"))
        .count();
    assert_eq!(frames, 300, "matroskademux frames");
}

#[test]
fn track_change_plays_through_matroskademux() {
    let mut data = synthetic_doc(1, b"\x01\x64\x00\x1f", 640, 5);
    data.extend(synthetic_doc(2, b"\x01\x4d\x00\x28", 1280, 5));
    let run = merge(&data, 9, CompletionRule::TrailingTags);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.mkv");
    std::fs::write(&path, &run.output).unwrap();
    let out = tool(
        "gst-launch-1.0",
        "apt-get install gstreamer1.0-tools gstreamer1.0-plugins-good",
    )
    .args(["-v", "pushfilesrc"])
    .arg(format!("location={}", path.display()))
    .args(["!", "matroskademux", "!", "fakesink", "silent=false"])
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let frames = text
        .lines()
        .filter(|l| l.contains("chain   ******"))
        .count();
    assert_eq!(frames, 10, "{text}");
    assert!(
        text.contains("width=(int)1280"),
        "new caps after the change: {text}"
    );
}

#[test]
fn continued_stream_adds_no_header_until_the_tracks_change() {
    let first = merge(
        &synthetic_doc(1, b"\x01\x64\x00\x1f", 640, 5),
        3,
        CompletionRule::TrailingTags,
    );
    let header = first.headers[0].0.clone();

    // A second merger (as after a seek) picks up where the first output stream is.
    let mut m = GetMediaMerger::new(TimestampSource::Producer, CompletionRule::TrailingTags);
    m.continue_stream(header);
    let mut run = Run::default();
    let mut data = synthetic_doc(4, b"\x01\x64\x00\x1f", 640, 5);
    data.extend(synthetic_doc(5, b"\x01\x4d\x00\x28", 1280, 5));
    feed(&mut m, &mut run, &data, 5);
    m.finish_response().unwrap();
    run.collect(&mut m);

    let firsts: Vec<bool> = run.headers.iter().map(|(_, f)| *f).collect();
    assert_eq!(firsts, [false], "only the track change brings a header");
    assert!(
        run.output.starts_with(&[0x1F, 0x43, 0xB6, 0x75]),
        "starts with a Cluster"
    );
    // What downstream parses: the first merger's header, then this output.
    let mut whole = BytesMut::new();
    crate::mkv::write_stream_header(&first.headers[0].0, &mut whole).unwrap();
    whole.extend_from_slice(&run.output);
    let (docs, blocks, _) = structure(&whole);
    assert_eq!((docs, blocks), (2, 10));
    assert_eq!(m.stats().headers_merged, 1);
}

const CPD_A: &[u8] = b"\x01\x64\x00\x1f";
const CPD_B: &[u8] = b"\x01\x4d\x00\x28";

fn numbers(fragments: &[FragmentInfo]) -> Vec<u32> {
    fragments
        .iter()
        .filter_map(|f| f.fragment_number.as_deref()?.parse().ok())
        .collect()
}

#[test]
fn resent_fragment_with_the_same_start_and_tracks_is_skipped() {
    for rule in [CompletionRule::TrailingTags, CompletionRule::DocumentEnd] {
        let mut data = synthetic_doc_at(1, 1, CPD_A, 640, 5);
        data.extend(synthetic_doc_at(2, 2, CPD_A, 640, 5));
        // Fragment 3 is fragment 2 again: its ACK was lost and the producer re-sent it.
        data.extend(synthetic_doc_at(3, 2, CPD_A, 640, 5));
        data.extend(synthetic_doc_at(4, 3, CPD_A, 640, 5));
        let run = merge(&data, 11, rule);
        assert_eq!(numbers(&run.fragments), [1, 2, 4], "{rule:?}");
        assert_eq!(numbers(&run.skipped), [3], "{rule:?}");
        assert_eq!(
            run.skipped[0].frames, 5,
            "its frames were seen, not written"
        );
        assert_eq!(
            run.pts.len(),
            15,
            "{rule:?}: fragment 3's frames are not in the output"
        );
        let mut sorted = run.pts.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, run.pts, "{rule:?}: no PTS repeated or out of order");
        let (docs, blocks, _) = structure(&run.output);
        assert_eq!((docs, blocks), (1, 15), "{rule:?}");
    }
}

#[test]
fn skipped_duplicate_is_counted_and_resumed_after() {
    let mut m = GetMediaMerger::new(TimestampSource::Producer, CompletionRule::TrailingTags);
    let mut run = Run::default();
    let mut data = synthetic_doc_at(1, 1, CPD_A, 640, 5);
    data.extend(synthetic_doc_at(2, 1, CPD_A, 640, 5));
    feed(&mut m, &mut run, &data, 7);
    assert_eq!(m.stats().duplicates_skipped, 1);
    assert_eq!(m.stats().fragments, 1);
    assert_eq!(m.stats().frames, 5);
    assert_eq!(
        m.resume_point(),
        ResumePoint::ContinuationToken(format!("{:047}", 2)),
        "a reconnection continues after the skipped fragment, not with it"
    );
}

#[test]
fn equal_start_with_other_tracks_or_not_consecutive_is_kept() {
    // New codec private data at the same start: a real change, not a re-send.
    let mut data = synthetic_doc_at(1, 1, CPD_A, 640, 5);
    data.extend(synthetic_doc_at(2, 1, CPD_B, 1280, 5));
    let run = merge(&data, 5, CompletionRule::TrailingTags);
    assert_eq!(numbers(&run.fragments), [1, 2]);
    assert!(run.skipped.is_empty());
    assert_eq!(run.headers.len(), 2);

    // Only the fragment right before counts.
    let mut data = synthetic_doc_at(1, 1, CPD_A, 640, 5);
    data.extend(synthetic_doc_at(2, 2, CPD_A, 640, 5));
    data.extend(synthetic_doc_at(3, 1, CPD_A, 640, 5));
    let run = merge(&data, 6, CompletionRule::TrailingTags);
    assert_eq!(numbers(&run.fragments), [1, 2, 3]);
    assert!(run.skipped.is_empty());
}
