// SPDX-License-Identifier: MPL-2.0
//! Helpers shared by the data-plane tests: test vectors, feeding a body through ingest,
//! collecting ACKs and GetMedia output, checking documents with kvs-core's reader and ffprobe.
#![allow(dead_code)]

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::StreamBody;
use hyper::body::Frame;
use kvs_core::mkv::{MkvEvent, MkvReader};
use kvs_core::putmedia::{Ack, AckEventType, AckParser, TimecodeType};
use kvs_local::dataplane::ingest::{Ingest, IngestLimits, IngestOutcome, IngestParams};
use kvs_local::media::{MediaOptions, MediaStore, StreamMedia};

/// /work/shared/test-vectors, checked out beside the repository.
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/test-vectors"
    ))
}

pub struct Capture {
    pub name: String,
    pub body: Vec<u8>,
    /// HTTP chunk sizes kvssink used.
    pub chunks: Vec<usize>,
    pub timecode_type: TimecodeType,
    pub producer_start_ms: u64,
    /// FragmentTimecode of every BUFFERING ACK the recording stub sent, in order.
    pub buffering_timecodes: Vec<u64>,
}

pub fn capture(name: &str) -> Capture {
    let dir = vectors_dir().join("official-kvssink");
    let body = std::fs::read(dir.join(format!("capture-{name}.mkv")))
        .unwrap_or_else(|e| panic!("reading capture-{name}.mkv: {e}"));
    let headers = std::fs::read_to_string(dir.join(format!("capture-{name}.headers.txt")))
        .unwrap_or_else(|e| panic!("reading headers: {e}"));
    let put = headers
        .split("POST /putMedia")
        .nth(1)
        .unwrap_or_else(|| panic!("no PutMedia request in capture-{name}.headers.txt"));
    let header = |h: &str| -> String {
        put.lines()
            .find_map(|l| l.strip_prefix(&format!("{h}: ")))
            .unwrap_or_else(|| panic!("no {h} header"))
            .trim()
            .to_owned()
    };
    let timecode_type = TimecodeType::parse(&header("x-amzn-fragment-timecode-type"))
        .unwrap_or_else(|| panic!("bad timecode type"));
    let producer_start_ms = kvs_core::putmedia::ProducerStartTimestamp::parse(&header(
        "x-amzn-producer-start-timestamp",
    ))
    .unwrap_or_else(|e| panic!("bad producer start: {e}"))
    .as_millis();
    let tsv = std::fs::read_to_string(dir.join(format!("capture-{name}.chunks.tsv")))
        .unwrap_or_else(|e| panic!("reading chunks: {e}"));
    let chunks = tsv
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').nth(1)?.parse().ok())
        .collect();
    let acks = std::fs::read_to_string(dir.join(format!("capture-{name}.acks.log")))
        .unwrap_or_else(|e| panic!("reading acks: {e}"));
    let mut parser = AckParser::new();
    let mut buffering_timecodes = Vec::new();
    for line in acks.lines() {
        let Some((_, json)) = line.split_once(' ') else {
            continue;
        };
        for ack in parser.push_and_drain(format!("{json}\n").as_bytes()) {
            let ack = ack.unwrap_or_else(|e| panic!("recorded ACK unreadable: {e}"));
            if ack.event_type == AckEventType::Buffering {
                buffering_timecodes.push(ack.fragment_timecode.unwrap_or_default());
            }
        }
    }
    Capture {
        name: name.to_owned(),
        body,
        chunks,
        timecode_type,
        producer_start_ms,
        buffering_timecodes,
    }
}

/// Splits `body` by `sizes` (the rest in 64 KiB pieces).
pub fn split(body: &[u8], sizes: &[usize]) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut rest = body;
    for &n in sizes {
        if rest.is_empty() {
            break;
        }
        let n = n.min(rest.len()).max(1);
        out.push(Bytes::copy_from_slice(&rest[..n]));
        rest = &rest[n..];
    }
    for piece in rest.chunks(64 * 1024) {
        out.push(Bytes::copy_from_slice(piece));
    }
    out
}

pub type TestBody =
    StreamBody<futures::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

pub fn body_of(chunks: Vec<Bytes>) -> TestBody {
    let frames: Vec<Result<Frame<Bytes>, Infallible>> =
        chunks.into_iter().map(|c| Ok(Frame::data(c))).collect();
    StreamBody::new(futures::stream::iter(frames))
}

pub fn open_store(dir: &Path) -> Arc<MediaStore> {
    MediaStore::open(dir, MediaOptions::default()).unwrap_or_else(|e| panic!("open store: {e}"))
}

/// Runs one PutMedia session to the end and returns its outcome and every ACK it produced
/// (PERSISTED ones included).
pub async fn ingest<B>(
    store: &Arc<MediaStore>,
    stream: &Arc<StreamMedia>,
    timecode_type: TimecodeType,
    producer_start_ms: u64,
    body: B,
) -> (IngestOutcome, Vec<Ack>)
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let active = || true;
    let outcome = Ingest::new(
        store,
        stream,
        IngestParams {
            timecode_type,
            producer_start_ms,
        },
        IngestLimits::default(),
        tx,
        &active,
    )
    .run(body)
    .await;
    let mut acks = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(ack)) => acks.push(ack),
            Ok(None) => break,
            Err(_) => panic!("ACK stream did not end within 60 s"),
        }
    }
    (outcome, acks)
}

/// Checks that every fragment went BUFFERING → RECEIVED → PERSISTED; returns the fragment
/// numbers and timecodes in BUFFERING order.
pub fn check_ack_sequence(acks: &[Ack], expect_persisted: bool) -> Vec<(String, u64)> {
    let mut fragments: Vec<(String, u64)> = Vec::new();
    for ack in acks
        .iter()
        .filter(|a| a.event_type == AckEventType::Buffering)
    {
        fragments.push((
            ack.fragment_number.clone().unwrap_or_default(),
            ack.fragment_timecode.unwrap_or_default(),
        ));
    }
    for (number, timecode) in &fragments {
        let events: Vec<&AckEventType> = acks
            .iter()
            .filter(|a| a.fragment_number.as_deref() == Some(number.as_str()))
            .inspect(|a| assert_eq!(a.fragment_timecode, Some(*timecode), "timecode of {number}"))
            .map(|a| &a.event_type)
            .collect();
        let mut want = vec![&AckEventType::Buffering, &AckEventType::Received];
        if expect_persisted {
            want.push(&AckEventType::Persisted);
        }
        assert_eq!(events, want, "ACKs of fragment {number}");
    }
    let numbers: Vec<&String> = fragments.iter().map(|(n, _)| n).collect();
    let mut sorted = numbers.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(numbers, sorted, "fragment numbers increase and are unique");
    for n in &numbers {
        assert_eq!(n.len(), 47, "47-digit fragment number {n}");
    }
    for ack in acks {
        assert!(ack.to_json_line().len() <= 1024, "ACK line over 1024 bytes");
    }
    fragments
}

/// What kvs-core's reader sees in a GetMedia output.
#[derive(Default, Debug)]
pub struct Parsed {
    pub documents: usize,
    pub clusters: usize,
    pub blocks: usize,
    /// (name, value) of every SimpleTag, in order.
    pub tags: Vec<(String, String)>,
    /// The same SimpleTags grouped by the Tag that holds them.
    pub tag_groups: Vec<Vec<(String, String)>>,
}

pub fn parse_documents(data: &[u8]) -> Parsed {
    let mut r = MkvReader::new();
    r.push(Bytes::copy_from_slice(data));
    r.finish()
        .unwrap_or_else(|e| panic!("GetMedia output does not parse: {e}"));
    let mut p = Parsed::default();
    loop {
        match r.next_event() {
            Ok(Some(ev)) => match ev.event {
                MkvEvent::EbmlHeader(_) => p.documents += 1,
                MkvEvent::ClusterStart { .. } => p.clusters += 1,
                MkvEvent::Block(_) => p.blocks += 1,
                MkvEvent::Tags(tags) => {
                    for t in tags {
                        let group: Vec<(String, String)> = t
                            .simple_tags
                            .into_iter()
                            .map(|st| (st.name, st.value))
                            .collect();
                        p.tags.extend(group.iter().cloned());
                        p.tag_groups.push(group);
                    }
                }
                _ => {}
            },
            Ok(None) => break,
            Err(e) => panic!("GetMedia output does not parse: {e}"),
        }
    }
    p
}

/// Frames per stream as `ffprobe -count_frames` decodes them.
pub fn ffprobe_frames(path: &Path) -> Vec<u64> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .unwrap_or_else(|e| {
            panic!("ffprobe is required for this test (apt-get install ffmpeg): {e}")
        });
    assert!(out.status.success(), "ffprobe failed on {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect()
}

/// A synthetic producer body: one video track (and optionally an audio track), fragments
/// described as (cluster timecode, frames as (track, absolute timecode, key), tags before).
pub struct Synth {
    w: kvs_core::mkv::MkvWriter,
}

pub fn synth_header(tracks: u64) -> kvs_core::mkv::StreamHeader {
    use kvs_core::mkv::{SegmentInfo, StreamHeader, TrackInfo, TrackType};
    let tracks = (1..=tracks)
        .map(|n| TrackInfo {
            number: n,
            uid: n,
            track_type: Some(if n == 1 {
                TrackType::Video
            } else {
                TrackType::Audio
            }),
            codec_id: if n == 1 {
                "V_MPEG4/ISO/AVC".into()
            } else {
                "A_AAC".into()
            },
            ..TrackInfo::default()
        })
        .collect();
    StreamHeader {
        info: SegmentInfo::default(),
        tracks,
    }
}

impl Synth {
    pub fn new(tracks: u64) -> Self {
        let mut w = kvs_core::mkv::MkvWriter::new();
        w.stream_header(&synth_header(tracks)).expect("header");
        Self { w }
    }

    /// Another EBML header + Segment + Info + Tracks inside the same body.
    pub fn new_document(&mut self, tracks: u64) -> &mut Self {
        self.w.stream_header(&synth_header(tracks)).expect("header");
        self
    }

    pub fn tags(&mut self, pairs: &[(&str, &str)]) -> &mut Self {
        for (n, v) in pairs {
            self.w
                .tags(&[kvs_core::mkv::Tag::single(*n, *v)])
                .expect("tags");
        }
        self
    }

    /// One Tags element holding `tags` as given (e.g. a KVS event: one Tag, several
    /// SimpleTags).
    pub fn tag_elements(&mut self, tags: &[kvs_core::mkv::Tag]) -> &mut Self {
        self.w.tags(tags).expect("tags");
        self
    }

    /// A fragment of `frames` video frames 33 ms apart, `payload` bytes each.
    pub fn fragment(&mut self, timecode: u64, frames: u64, payload: usize) -> &mut Self {
        self.w.start_cluster(timecode);
        for i in 0..frames {
            self.w
                .frame(
                    1,
                    timecode + i * 33,
                    i == 0,
                    Bytes::from(vec![0x42u8; payload]),
                )
                .expect("frame");
        }
        self
    }

    /// One frame on any track at an absolute timecode in the current cluster.
    pub fn frame(&mut self, track: u64, timecode: u64) -> &mut Self {
        self.w
            .frame(track, timecode, false, Bytes::from_static(b"frame"))
            .expect("frame");
        self
    }

    pub fn bytes(self) -> Vec<u8> {
        self.w.into_vec()
    }
}

pub async fn ingest_with_limits<B>(
    store: &Arc<MediaStore>,
    stream: &Arc<StreamMedia>,
    limits: IngestLimits,
    body: B,
) -> (IngestOutcome, Vec<Ack>)
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let active = || true;
    let outcome = Ingest::new(
        store,
        stream,
        IngestParams {
            timecode_type: TimecodeType::Absolute,
            producer_start_ms: 0,
        },
        limits,
        tx,
        &active,
    )
    .run(body)
    .await;
    let mut acks = Vec::new();
    while let Ok(Some(ack)) = tokio::time::timeout(Duration::from_secs(60), rx.recv()).await {
        acks.push(ack);
    }
    (outcome, acks)
}

pub fn events(acks: &[Ack]) -> Vec<(AckEventType, Option<u32>)> {
    acks.iter()
        .filter(|a| a.event_type != AckEventType::Idle)
        .map(|a| (a.event_type.clone(), a.error_id))
        .collect()
}

pub mod http;
pub mod process;
