// SPDX-License-Identifier: MPL-2.0
//! The writer: byte-exact against AWS's producer, read back by our reader, by
//! matroska-demuxer, by mkvinfo and by ffprobe (which decodes real H.264/AAC frames).

mod mkv_support;

use std::io::Write;
use std::path::Path;
use std::process::Command;

use bytes::{Bytes, BytesMut};
use kvs_core::mkv::writer::{DEFAULT_WRITING_APP, EBML_HEADER};
use kvs_core::mkv::{
    AudioParams, Block, EbmlHeader, Lacing, MkvEvent, MkvWriteError, MkvWriter, SegmentInfo,
    SimpleBlockHeader, StreamHeader, Tag, TrackInfo, TrackType, VideoParams, relative_timecode,
    write_tags,
};
use mkv_support::{count, mkv_files, parse_whole, read, vectors_dir};

/// Rewrites parsed events with our writer. `info` replaces the stream's Segment Info when
/// given.
fn remux(events: &[kvs_core::mkv::MkvEventAt], info: Option<SegmentInfo>) -> MkvWriter {
    let mut w = MkvWriter::new();
    let mut header_info = None;
    let mut cluster_tc = 0u64;
    for e in events {
        match &e.event {
            MkvEvent::EbmlHeader(h) => assert_eq!(h.doc_type, "matroska"),
            MkvEvent::Info(i) => header_info = Some(info.clone().unwrap_or_else(|| i.clone())),
            MkvEvent::Tracks(tracks) => {
                let header = StreamHeader {
                    info: header_info.take().expect("Info before Tracks"),
                    tracks: tracks.clone(),
                };
                w.stream_header(&header).expect("header");
            }
            MkvEvent::ClusterStart { timecode, .. } => {
                cluster_tc = *timecode;
                w.start_cluster(*timecode);
            }
            MkvEvent::Block(b) => {
                let tc = cluster_tc
                    .checked_add_signed(i64::from(b.relative_timecode))
                    .expect("timecode");
                w.frame(b.track_number, tc, b.keyframe, b.payload.clone())
                    .expect("frame");
            }
            MkvEvent::Tags(tags) => w.tags(tags).expect("tags"),
            _ => {}
        }
    }
    w
}

#[test]
fn remux_of_every_aws_capture_is_byte_identical() {
    for path in mkv_files("official-kvssink") {
        let data = read(&path);
        let events = parse_whole(&data);
        let chunks = remux(&events, None).into_chunks();
        // Zero copy: every payload chunk still points into the file's buffer.
        let range = data.as_ptr_range();
        let borrowed = chunks
            .iter()
            .filter(|c| range.contains(&c.as_ptr()))
            .count();
        let blocks = count(&events, |e| matches!(e, MkvEvent::Block(_)));
        assert_eq!(borrowed, blocks, "{}: payloads not copied", path.display());
        let out: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        assert!(
            out == data[..],
            "{}: our bytes differ from AWS's (first difference at {:?})",
            path.display(),
            out.iter().zip(data.iter()).position(|(a, b)| a != b)
        );
    }
}

#[test]
fn ebml_header_constant_matches_capture() {
    let data = read(&vectors_dir().join("official-kvssink/capture-h264.mkv"));
    assert_eq!(data[..40], EBML_HEADER);
    let events = parse_whole(&Bytes::from_static(&EBML_HEADER));
    assert_eq!(
        events[0].event,
        MkvEvent::EbmlHeader(EbmlHeader {
            version: 1,
            read_version: 1,
            max_id_length: 4,
            max_size_length: 8,
            doc_type: "matroska".into(),
            doc_type_version: 2,
            doc_type_read_version: 2,
        })
    );
}

fn test_header() -> StreamHeader {
    StreamHeader {
        info: SegmentInfo {
            segment_uid: Some(*b"0123456789abcdef"),
            ..SegmentInfo::default()
        },
        tracks: vec![
            TrackInfo {
                number: 1,
                uid: 1,
                track_type: Some(TrackType::Video),
                name: Some("kinesis_video".into()),
                codec_id: "V_MPEG4/ISO/AVC".into(),
                codec_private: Some(Bytes::from_static(&[1, 0x64, 0, 0x1E, 0xFF, 0xE1, 0, 0])),
                video: Some(VideoParams {
                    pixel_width: 640,
                    pixel_height: 480,
                }),
                audio: None,
            },
            TrackInfo {
                number: 2,
                uid: 2,
                track_type: Some(TrackType::Audio),
                name: Some("audio".into()),
                codec_id: "A_AAC".into(),
                codec_private: Some(Bytes::from_static(&[0x11, 0x90])),
                video: None,
                audio: Some(AudioParams {
                    sampling_frequency: 48000.0,
                    channels: 2,
                    bit_depth: Some(16),
                }),
            },
        ],
    }
}

/// Two fragments of video+audio with tags before, between and after them.
fn two_fragment_stream() -> (MkvWriter, Vec<(u64, u64, bool, Bytes)>) {
    let mut w = MkvWriter::new();
    w.stream_header(&test_header()).unwrap();
    w.tags(&[Tag::single("stream", "one")]).unwrap();
    let mut frames = Vec::new();
    for fragment in 0..2u64 {
        let base = 1_000_000 + fragment * 1000;
        w.start_cluster(base);
        for i in 0..10u64 {
            let video = Bytes::from(vec![fragment as u8 ^ i as u8; 100 + i as usize]);
            let audio = Bytes::from(vec![0xA0 | i as u8; 20]);
            frames.push((1, base + i * 33, i == 0, video));
            frames.push((2, base + i * 33 + 5, true, audio));
        }
        for (track, tc, key, payload) in &frames[frames.len() - 20..] {
            w.frame(*track, *tc, *key, payload.clone()).unwrap();
        }
        w.tags(&[Tag {
            simple_tags: vec![
                kvs_core::mkv::SimpleTag::new("AWS_KINESISVIDEO_NOTIFICATION", ""),
                kvs_core::mkv::SimpleTag::new("fragment", fragment.to_string()),
            ],
        }])
        .unwrap();
    }
    w.tags(&[Tag::single("AWS_KINESISVIDEO_END_OF_FRAGMENT", "")])
        .unwrap();
    (w, frames)
}

#[test]
fn two_fragments_read_back_with_our_reader() {
    let (w, frames) = two_fragment_stream();
    let data = Bytes::from(w.into_vec());
    let events = parse_whole(&data);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match &e.event {
            MkvEvent::EbmlHeader(_) => "ebml",
            MkvEvent::SegmentStart { size: None } => "segment",
            MkvEvent::Info(_) => "info",
            MkvEvent::Tracks(_) => "tracks",
            MkvEvent::Tags(_) => "tags",
            MkvEvent::ClusterStart { size: None, .. } => "cluster",
            MkvEvent::Skipped { id: 0xA7, .. } => "position",
            MkvEvent::Block(_) => "block",
            MkvEvent::ClusterEnd => "/cluster",
            MkvEvent::SegmentEnd => "/segment",
            other => panic!("unexpected {other:?}"),
        })
        .filter(|k| *k != "block")
        .collect();
    assert_eq!(
        kinds,
        [
            "ebml", "segment", "info", "tracks", "tags", "cluster", "position", "/cluster", "tags",
            "cluster", "position", "/cluster", "tags", "tags", "/segment"
        ]
    );
    let MkvEvent::Info(info) = &events[2].event else {
        panic!("info")
    };
    assert_eq!(info.writing_app.as_deref(), Some(DEFAULT_WRITING_APP));
    assert_eq!(info.segment_uid, Some(*b"0123456789abcdef"));
    assert_eq!(events[3].event, MkvEvent::Tracks(test_header().tracks));

    let mut cluster_tc = 0;
    let mut got = Vec::new();
    for e in &events {
        match &e.event {
            MkvEvent::ClusterStart { timecode, .. } => cluster_tc = *timecode,
            MkvEvent::Block(b) => {
                assert_eq!(b.lacing, Lacing::None);
                got.push((
                    b.track_number,
                    cluster_tc + b.relative_timecode as u64,
                    b.keyframe,
                    b.payload.clone(),
                ));
            }
            _ => {}
        }
    }
    assert_eq!(got, frames);
    let first_end = events
        .iter()
        .position(|e| e.event == MkvEvent::ClusterEnd)
        .expect("cluster end");
    let MkvEvent::Tags(tags) = &events[first_end + 1].event else {
        panic!("tags after the first fragment")
    };
    assert_eq!(tags[0].simple_tags[1].value, "0");
}

#[test]
fn matroska_demuxer_reads_our_output() {
    let (w, frames) = two_fragment_stream();
    let data = w.into_vec();
    let mut mkv = matroska_demuxer::MatroskaFile::open(std::io::Cursor::new(data))
        .expect("matroska-demuxer opens an unknown-size Segment/Cluster stream");
    assert_eq!(mkv.ebml_header().doc_type(), "matroska");
    assert_eq!(mkv.info().writing_app(), DEFAULT_WRITING_APP);
    assert_eq!(mkv.info().timestamp_scale().get(), 1_000_000);
    let tracks = mkv.tracks();
    assert_eq!(tracks.len(), 2);
    assert_eq!(tracks[0].codec_id(), "V_MPEG4/ISO/AVC");
    assert_eq!(tracks[0].video().map(|v| v.pixel_width().get()), Some(640));
    assert_eq!(tracks[1].codec_id(), "A_AAC");
    assert_eq!(tracks[1].codec_private(), Some(&[0x11, 0x90][..]));
    let audio = tracks[1].audio().expect("audio");
    assert_eq!(audio.sampling_frequency(), 48000.0);
    assert_eq!(audio.channels().get(), 2);
    assert_eq!(audio.bit_depth().map(|b| b.get()), Some(16));
    let mut frame = matroska_demuxer::Frame::default();
    let mut got = Vec::new();
    while mkv.next_frame(&mut frame).expect("frame") {
        got.push((
            frame.track,
            frame.timestamp,
            frame.is_keyframe == Some(true),
            frame.data.clone(),
        ));
    }
    let want: Vec<_> = frames
        .iter()
        .map(|(t, tc, k, p)| (*t, *tc, *k, p.to_vec()))
        .collect();
    assert_eq!(got, want);
}

fn write_temp(data: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new()
        .suffix(".mkv")
        .tempfile()
        .expect("temp file");
    f.write_all(data).expect("write");
    f.flush().expect("flush");
    f
}

fn run(tool: &str, install_hint: &str, args: &[&str], file: &Path) -> (String, String) {
    let out = Command::new(tool)
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} ({e}): install {install_hint}"));
    assert!(out.status.success(), "{tool} failed: {out:?}");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn mkvinfo_reads_our_output() {
    let (w, frames) = two_fragment_stream();
    let file = write_temp(&w.into_vec());
    let (out, _) = run("mkvinfo", "mkvtoolnix", &["-v"], file.path());
    assert!(out.contains("Segment: size unknown"), "{out}");
    assert!(out.contains("Codec ID: V_MPEG4/ISO/AVC"), "{out}");
    assert!(out.contains("Codec ID: A_AAC"), "{out}");
    assert!(out.contains("Pixel width: 640"), "{out}");
    assert!(out.contains("Sampling frequency: 48000"), "{out}");
    assert!(out.contains(&format!("Writing application: {DEFAULT_WRITING_APP}")));
    assert_eq!(out.matches("+ Cluster\n").count(), 2, "{out}");
    assert_eq!(out.matches("Simple block:").count(), frames.len(), "{out}");
    assert_eq!(out.matches("Simple block: key").count(), 22, "{out}");
    for name in ["stream", "fragment", "AWS_KINESISVIDEO_END_OF_FRAGMENT"] {
        assert!(out.contains(&format!("Name: {name}\n")), "{name} in {out}");
    }
}

/// Real frames from AWS's capture, re-muxed with our own header: ffprobe must decode every
/// frame without complaint.
#[test]
fn ffprobe_decodes_remuxed_real_frames() {
    for (capture, streams) in [("capture-h264.mkv", 1), ("capture-h264-aac.mkv", 2)] {
        let data = read(&vectors_dir().join("official-kvssink").join(capture));
        let events = parse_whole(&data);
        let info = SegmentInfo {
            segment_uid: Some([7; 16]),
            ..SegmentInfo::default()
        };
        let ours = remux(&events, Some(info)).into_vec();
        assert_ne!(ours[..], data[..], "our Info differs from AWS's");
        let file = write_temp(&ours);
        let (out, err) = run(
            "ffprobe",
            "ffmpeg",
            &[
                "-v",
                "error",
                "-count_frames",
                "-show_entries",
                "stream=index,codec_name,nb_read_frames",
                "-of",
                "csv=p=0",
            ],
            file.path(),
        );
        assert_eq!(err.trim(), "", "{capture}: ffprobe reported errors");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), streams, "{capture}: {out}");
        let tracks = events
            .iter()
            .find_map(|e| match &e.event {
                MkvEvent::Tracks(t) => Some(t.clone()),
                _ => None,
            })
            .expect("tracks");
        for (line, track) in lines.iter().zip(&tracks) {
            let blocks = events
                .iter()
                .filter(|e| {
                    matches!(&e.event, MkvEvent::Block(Block { track_number, .. })
                        if *track_number == track.number)
                })
                .count();
            let decoded: usize = line.rsplit(',').next().unwrap().parse().unwrap();
            assert!(blocks > 0);
            if track.track_type == Some(TrackType::Video) {
                assert!(line.starts_with("0,h264,"), "{line}");
                assert_eq!(decoded, blocks, "{capture}: every video frame decoded");
            } else {
                assert!(line.contains(",aac,"), "{line}");
                // AAC decoders report the first frame as priming delay, not output.
                assert!(
                    decoded + 1 >= blocks,
                    "{capture}: {decoded} of {blocks} audio"
                );
            }
        }
    }
}

#[test]
fn writer_errors_are_typed() {
    assert_eq!(relative_timecode(1000, 1000 + 32767), Ok(32767));
    assert_eq!(relative_timecode(1000, 0), Ok(-1000));
    assert_eq!(
        relative_timecode(1000, 1000 + 32768),
        Err(MkvWriteError::RelativeTimecodeOverflow {
            cluster_timecode: 1000,
            timecode: 33768
        })
    );
    assert!(relative_timecode(u64::MAX, 0).is_err());
    let mut w = MkvWriter::new();
    assert_eq!(
        w.frame(1, 0, true, Bytes::new()),
        Err(MkvWriteError::NoCluster)
    );
    w.start_cluster(0);
    assert!(matches!(
        w.frame(1, 40_000, true, Bytes::new()),
        Err(MkvWriteError::RelativeTimecodeOverflow { .. })
    ));
    assert_eq!(
        SimpleBlockHeader::new(0, 0, true, 1),
        Err(MkvWriteError::InvalidTrackNumber(0))
    );
    assert_eq!(
        SimpleBlockHeader::new(127, 0, true, 1),
        Err(MkvWriteError::InvalidTrackNumber(127))
    );
    let h = SimpleBlockHeader::new(2, -3, false, 0x0102).unwrap();
    assert_eq!(
        h.as_bytes(),
        &[
            0xA3, 0x01, 0, 0, 0, 0, 0, 0x01, 0x06, 0x82, 0xFF, 0xFD, 0x00
        ]
    );
}

#[test]
fn end_of_fragment_tags_match_capture_tail() {
    let data = read(&vectors_dir().join("official-kvssink/capture-h264.mkv"));
    let mut out = BytesMut::new();
    write_tags(
        &[Tag::single("AWS_KINESISVIDEO_END_OF_FRAGMENT", "")],
        &mut out,
    )
    .unwrap();
    // producer-wire.md §3.7: one entry is 52 + len(name) + len(value) bytes.
    assert_eq!(out.len(), 52 + 32);
    assert_eq!(out[..], data[data.len() - out.len()..]);
    let mut empty = BytesMut::new();
    write_tags(&[], &mut empty).unwrap();
    assert!(empty.is_empty());
}
