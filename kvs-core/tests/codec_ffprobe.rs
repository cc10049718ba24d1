// SPDX-License-Identifier: MPL-2.0
//! End to end: byte-stream fixtures turned into AVCC/HVCC frames plus CodecPrivate
//! built from their in-band parameter sets, written as MKV, must be read and decoded
//! by ffprobe with the right size, codec and audio format.

use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;
use kvs_core::codec::CodecConfig;
use kvs_core::codec::g711::G711Law;
use kvs_core::codec::h264;
use kvs_core::codec::h265;
use kvs_core::codec::inband::VideoCodec;
use kvs_core::codec::nal::{AnnexBNals, NalFraming, annexb_to_avcc};
use kvs_core::mkv::{MkvWriter, SegmentInfo, StreamHeader};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {} missing: {e}", path.display()))
}

/// Splits a single-slice-per-picture Annex-B stream into access units: a picture
/// starts at a slice whose first_mb_in_slice / first_slice_segment_in_pic_flag
/// is set, together with the parameter sets and SEI queued before it.
fn access_units(codec: VideoCodec, stream: &[u8]) -> Vec<Vec<u8>> {
    let mut units = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut has_slice = false;
    for nal in AnnexBNals::new(stream) {
        let (is_slice, first_in_picture) = match codec {
            VideoCodec::H264 => {
                let t = h264::nal_type(nal).unwrap();
                (
                    (1..=5).contains(&t),
                    nal.get(1).is_some_and(|b| b & 0x80 != 0),
                )
            }
            VideoCodec::H265 => {
                let t = h265::nal_type(nal).unwrap();
                (t < 32, nal.get(2).is_some_and(|b| b & 0x80 != 0))
            }
        };
        if is_slice {
            if first_in_picture && has_slice {
                units.push(std::mem::take(&mut current));
            }
            current.append(&mut pending);
            has_slice = true;
        }
        let target = if is_slice { &mut current } else { &mut pending };
        target.extend_from_slice(&[0, 0, 0, 1]);
        target.extend_from_slice(nal);
    }
    current.append(&mut pending);
    units.push(current);
    units
}

fn ffprobe(path: &Path, args: &[&str]) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-of", "default=noprint_wrappers=1"])
        .args(args)
        .arg(path)
        .output()
        .unwrap_or_else(|e| {
            panic!("ffprobe not runnable ({e}); install it: apt-get install ffmpeg")
        });
    assert!(
        out.status.success(),
        "ffprobe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 ffprobe output")
}

fn write_mkv(
    codec: VideoCodec,
    fixture_name: &str,
    with_alaw: bool,
) -> (tempfile::TempDir, PathBuf, usize) {
    let stream = fixture(fixture_name);
    let units = access_units(codec, &stream);
    let video = CodecConfig::video_from_access_unit(codec, &units[0], NalFraming::AnnexB)
        .unwrap()
        .expect("first access unit carries parameter sets");
    let mut tracks = vec![video.track_info(1, 1, Some("kinesis_video"))];
    if with_alaw {
        tracks.push(
            CodecConfig::g711(G711Law::ALaw, 8000, 1)
                .unwrap()
                .track_info(2, 2, Some("audio")),
        );
    }
    let header = StreamHeader {
        info: SegmentInfo::default(),
        tracks,
    };
    let mut w = MkvWriter::new();
    w.stream_header(&header).unwrap();
    w.start_cluster(0);
    for (i, unit) in units.iter().enumerate() {
        let mut frame = Vec::new();
        annexb_to_avcc(unit, &mut frame).unwrap();
        let ts = i as u64 * 33;
        w.frame(1, ts, i == 0, Bytes::from(frame)).unwrap();
        if with_alaw {
            w.frame(2, ts, true, Bytes::from(vec![0xd5u8; 264]))
                .unwrap();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.mkv");
    std::fs::write(&path, w.into_vec()).unwrap();
    (dir, path, units.len())
}

#[test]
fn ffprobe_decodes_h264_with_our_avcc_and_reads_our_g711_header() {
    let (_dir, path, frames) = write_mkv(VideoCodec::H264, "h264-1920x1080.annexb", true);
    assert_eq!(frames, 3);
    let video = ffprobe(
        &path,
        &[
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,profile,width,height,nb_read_frames",
        ],
    );
    for expected in [
        "codec_name=h264",
        "profile=High",
        "width=1920",
        "height=1080",
        "nb_read_frames=3",
    ] {
        assert!(
            video.lines().any(|l| l == expected),
            "{expected} not in {video}"
        );
    }
    let audio = ffprobe(
        &path,
        &[
            "-select_streams",
            "a:0",
            "-show_entries",
            "stream=codec_name,sample_rate,channels,bits_per_sample,bit_rate",
        ],
    );
    for expected in [
        "codec_name=pcm_alaw",
        "sample_rate=8000",
        "channels=1",
        "bits_per_sample=8",
        "bit_rate=64000",
    ] {
        assert!(
            audio.lines().any(|l| l == expected),
            "{expected} not in {audio}"
        );
    }
}

#[test]
fn ffprobe_decodes_h265_with_our_hvcc() {
    let (_dir, path, frames) = write_mkv(VideoCodec::H265, "h265-200x150.annexb", false);
    assert_eq!(frames, 2);
    let video = ffprobe(
        &path,
        &[
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,profile,width,height,nb_read_frames",
        ],
    );
    for expected in [
        "codec_name=hevc",
        "profile=Main",
        "width=200",
        "height=150",
        "nb_read_frames=2",
    ] {
        assert!(
            video.lines().any(|l| l == expected),
            "{expected} not in {video}"
        );
    }
}
