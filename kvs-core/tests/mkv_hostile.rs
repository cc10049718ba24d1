// SPDX-License-Identifier: MPL-2.0
//! Hostile input: truncations, random bytes, mutated vectors and absurd sizes must give
//! typed errors, never a panic, never large buffering.

mod mkv_support;

use bytes::{BufMut, Bytes, BytesMut};
use kvs_core::mkv::{
    MkvError, MkvEvent, MkvEventAt, MkvReader, MkvWriter, ReaderLimits, SegmentInfo, StreamHeader,
    Tag, TrackInfo, ids,
};
use mkv_support::{parse_collect, read, vectors_dir};

/// Deterministic xorshift so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn small_stream() -> Bytes {
    let mut w = MkvWriter::new();
    w.stream_header(&StreamHeader {
        info: SegmentInfo::default(),
        tracks: vec![TrackInfo {
            number: 1,
            uid: 1,
            codec_id: "V_MPEG4/ISO/AVC".into(),
            codec_private: Some(Bytes::from_static(b"cpd")),
            ..TrackInfo::default()
        }],
    })
    .unwrap();
    w.tags(&[Tag::single("a", "b")]).unwrap();
    for c in 0..2u64 {
        w.start_cluster(c * 100);
        for i in 0..4u64 {
            w.frame(1, c * 100 + i * 10, i == 0, Bytes::from(vec![i as u8; 50]))
                .unwrap();
        }
    }
    w.tags(&[Tag::single("AWS_KINESISVIDEO_END_OF_FRAGMENT", "")])
        .unwrap();
    Bytes::from(w.into_vec())
}

fn structural(events: &[MkvEventAt]) -> Vec<&MkvEventAt> {
    events
        .iter()
        .filter(|e| !matches!(e.event, MkvEvent::ClusterEnd | MkvEvent::SegmentEnd))
        .collect()
}

#[test]
fn every_truncation_is_clean_or_truncated() {
    let data = small_stream();
    let (full, err) = parse_collect(&data, data.len());
    assert_eq!(err, None);
    let full = structural(&full);
    let mut clean_cuts = 0;
    for cut in 0..data.len() {
        let prefix = data.slice(..cut);
        for chunk in [1, 5, cut.max(1)] {
            let (events, err) = parse_collect(&prefix, chunk);
            match err {
                None => clean_cuts += 1,
                Some(MkvError::Truncated { offset }) => assert!(offset <= cut as u64),
                Some(e) => panic!("cut at {cut}: unexpected {e}"),
            }
            let got = structural(&events);
            assert!(
                got.len() <= full.len() && got[..] == full[..got.len()],
                "cut {cut}"
            );
        }
    }
    // Cuts between elements of the unknown-size Segment/Cluster end cleanly.
    assert!(clean_cuts > 0);
}

fn assert_never_panics_and_chunking_agrees(data: &Bytes, rng: &mut Rng) {
    let whole = parse_collect(data, data.len().max(1));
    let chunk = 1 + rng.below(64);
    let chunked = parse_collect(data, chunk);
    assert_eq!(whole, chunked, "chunk size {chunk} on {:02x?}", &data[..]);
}

#[test]
fn random_bytes() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let len = rng.below(600);
        let mut v: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Half the time start with a valid prefix so the parser gets deeper.
        if rng.below(2) == 0 {
            let mut p = small_stream()[..45].to_vec();
            p.append(&mut v);
            v = p;
        }
        assert_never_panics_and_chunking_agrees(&Bytes::from(v), &mut rng);
    }
}

#[test]
fn mutated_vectors() {
    let mixed = read(&vectors_dir().join("aws-getmedia/test_mixed_tags.mkv"));
    let aws = read(&vectors_dir().join("official-kvssink/capture-h264-aac.mkv"));
    let seeds = [mixed, aws.slice(..60_000), small_stream()];
    let mut rng = Rng(42);
    for seed in &seeds {
        for _ in 0..700 {
            let mut v = seed.to_vec();
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(v.len());
                match rng.below(4) {
                    0 => v[at] = rng.next() as u8,
                    1 => v[at] ^= 1 << rng.below(8),
                    // Size and ID bytes are where trouble hides: make them huge or odd.
                    2 => v[at] = [0x00, 0x01, 0xFF, 0x7F, 0x80][rng.below(5)],
                    _ => v.truncate(at),
                }
                if v.is_empty() {
                    break;
                }
            }
            assert_never_panics_and_chunking_agrees(&Bytes::from(v), &mut rng);
        }
    }
}

fn events_then_error(data: &[u8], limits: ReaderLimits) -> (Vec<MkvEvent>, MkvError) {
    let mut r = MkvReader::with_limits(limits);
    r.push(Bytes::copy_from_slice(data));
    let mut events = Vec::new();
    loop {
        match r.next_event() {
            Ok(Some(e)) => events.push(e.event),
            Ok(None) => match r.finish() {
                Ok(()) => {
                    while let Ok(Some(e)) = r.next_event() {
                        events.push(e.event);
                    }
                    panic!("no error; events {events:?}")
                }
                Err(e) => return (events, e),
            },
            Err(e) => return (events, e),
        }
    }
}

const SEGMENT_UNKNOWN: [u8; 5] = [0x18, 0x53, 0x80, 0x67, 0xFF];
const CLUSTER_UNKNOWN: [u8; 5] = [0x1F, 0x43, 0xB6, 0x75, 0xFF];

fn element(id: &[u8], size8: u64, body: &[u8]) -> Vec<u8> {
    let mut v = BytesMut::new();
    v.put_slice(id);
    v.put_u64(size8 | (1 << 56));
    v.put_slice(body);
    v.to_vec()
}

#[test]
fn huge_sizes_are_refused_without_buffering() {
    let limits = ReaderLimits::default();
    // Tags claiming 2^56 - 2 bytes.
    let mut d = SEGMENT_UNKNOWN.to_vec();
    d.extend(element(&[0x12, 0x54, 0xC3, 0x67], (1 << 56) - 2, &[]));
    let (_, e) = events_then_error(&d, limits);
    assert!(
        matches!(e, MkvError::ElementTooLarge { id: ids::TAGS, .. }),
        "{e}"
    );

    // A huge Void is skipped as it streams past: nothing stays buffered.
    let mut r = MkvReader::new();
    r.push(Bytes::from_static(&SEGMENT_UNKNOWN));
    r.push(Bytes::from(element(&[0xEC], 1 << 40, &[])));
    for _ in 0..16 {
        r.push(Bytes::from(vec![0u8; 1 << 16]));
        while r.next_event().unwrap().is_some() {}
        assert_eq!(r.buffered(), 0);
    }
    assert!(matches!(r.finish(), Err(MkvError::Truncated { .. })));
}

#[test]
fn structural_errors_are_typed() {
    let limits = ReaderLimits::default();
    // Unknown-size Info.
    let mut d = SEGMENT_UNKNOWN.to_vec();
    d.extend([0x15, 0x49, 0xA9, 0x66, 0xFF]);
    let (_, e) = events_then_error(&d, limits);
    assert!(
        matches!(e, MkvError::UnknownSizeNotAllowed { id: ids::INFO, .. }),
        "{e}"
    );

    // A child larger than its known-size Segment.
    let mut d = vec![0x18, 0x53, 0x80, 0x67, 0x85];
    d.extend(element(&[0xEC], 10, &[0; 10]));
    let (_, e) = events_then_error(&d, limits);
    assert!(
        matches!(e, MkvError::OverflowsParent { id: 0xEC, .. }),
        "{e}"
    );

    // A five-byte ID.
    let (_, e) = events_then_error(&[0x08, 1, 2, 3, 4, 0x80], limits);
    assert!(matches!(e, MkvError::Ebml { offset: 0, .. }), "{e}");

    // A block before the cluster's Timecode, and a cluster that never had one.
    let mut d = SEGMENT_UNKNOWN.to_vec();
    d.extend(CLUSTER_UNKNOWN);
    d.extend([0xA3, 0x85, 0x81, 0, 0, 0x80, 0xAA]);
    let (_, e) = events_then_error(&d, limits);
    assert!(
        matches!(e, MkvError::BlockBeforeClusterTimecode { .. }),
        "{e}"
    );
    // Ended by the next Cluster: malformed. Ended by the end of input: merely cut short.
    let mut d = SEGMENT_UNKNOWN.to_vec();
    d.extend(CLUSTER_UNKNOWN);
    d.extend(CLUSTER_UNKNOWN);
    let (_, e) = events_then_error(&d, limits);
    assert!(
        matches!(e, MkvError::MissingClusterTimecode { offset: 5 }),
        "{e}"
    );
    let (_, e) = events_then_error(&d[..10], limits);
    assert_eq!(e, MkvError::Truncated { offset: 10 });

    // A block too short for its own header.
    let mut d = SEGMENT_UNKNOWN.to_vec();
    d.extend(CLUSTER_UNKNOWN);
    d.extend([0xE7, 0x81, 0x00, 0xA3, 0x82, 0x81, 0x00]);
    let (_, e) = events_then_error(&d, limits);
    assert!(
        matches!(e, MkvError::InvalidElement { id: 0xA3, .. }),
        "{e}"
    );

    // Nesting limit.
    let (_, e) = events_then_error(
        &[SEGMENT_UNKNOWN, CLUSTER_UNKNOWN].concat(),
        ReaderLimits {
            max_nesting: 1,
            ..limits
        },
    );
    assert_eq!(e, MkvError::NestingTooDeep { limit: 1 });
}

#[test]
fn track_and_tag_count_limits() {
    let many_tracks: Vec<TrackInfo> = (1..=5)
        .map(|n| TrackInfo {
            number: n,
            uid: n,
            codec_id: "X".into(),
            ..TrackInfo::default()
        })
        .collect();
    let mut w = MkvWriter::new();
    w.stream_header(&StreamHeader {
        info: SegmentInfo::default(),
        tracks: many_tracks,
    })
    .unwrap();
    let tags: Vec<Tag> = (0..5).map(|i| Tag::single(format!("t{i}"), "")).collect();
    w.tags(&tags).unwrap();
    let data = w.into_vec();
    let limits = ReaderLimits {
        max_tracks: 4,
        ..ReaderLimits::default()
    };
    let (_, e) = events_then_error(&data, limits);
    assert_eq!(e, MkvError::TooManyTracks { limit: 4 });
    let limits = ReaderLimits {
        max_tag_count: 4,
        ..ReaderLimits::default()
    };
    let (events, e) = events_then_error(&data, limits);
    assert_eq!(e, MkvError::TooManyTags { limit: 4 });
    assert!(matches!(events.last(), Some(MkvEvent::Tracks(t)) if t.len() == 5));
}

#[test]
fn push_after_finish_is_an_error() {
    let mut r = MkvReader::new();
    r.finish().unwrap();
    r.push(Bytes::from_static(&SEGMENT_UNKNOWN));
    assert_eq!(r.next_event(), Err(MkvError::PushAfterFinish));
}
