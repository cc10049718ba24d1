// SPDX-License-Identifier: MPL-2.0
//! Reader cases the vectors do not cover: Targets in Tags, BlockGroups, known-size
//! Segments, lacing flags, zero-copy payloads.

mod mkv_support;

use bytes::{BufMut, Bytes, BytesMut};
use kvs_core::ebml::{write_id, write_size};
use kvs_core::mkv::{Block, Lacing, MkvEvent, MkvReader, SimpleTag, Tag, ids};
use mkv_support::parse_chunked;

/// A master or binary element with a minimal size.
fn el(id: u32, body: &[u8]) -> Vec<u8> {
    let mut v = BytesMut::new();
    write_id(id, &mut v);
    write_size(body.len() as u64, 1, &mut v).unwrap();
    v.put_slice(body);
    v.to_vec()
}

fn events(data: Vec<u8>) -> Vec<MkvEvent> {
    let data = Bytes::from(data);
    let whole = parse_chunked(&data, data.len()).expect("parse");
    let bytewise = parse_chunked(&data, 1).expect("parse bytewise");
    assert_eq!(whole, bytewise);
    whole.into_iter().map(|e| e.event).collect()
}

const SEGMENT_UNKNOWN: [u8; 5] = [0x18, 0x53, 0x80, 0x67, 0xFF];

#[test]
fn tags_with_targets_and_several_simple_tags() {
    let simple = |n: &str, v: &str| {
        el(
            ids::SIMPLE_TAG,
            &[
                el(ids::TAG_NAME, n.as_bytes()),
                el(ids::TAG_STRING, v.as_bytes()),
            ]
            .concat(),
        )
    };
    let targets = el(ids::TARGETS, &el(0x68CA, &[50]));
    let tag = el(
        ids::TAG,
        &[targets, simple("A", "1"), simple("B", "")].concat(),
    );
    let mut d = SEGMENT_UNKNOWN.to_vec();
    d.extend(el(
        ids::TAGS,
        &[tag, el(ids::TAG, &simple("C", "3"))].concat(),
    ));
    assert_eq!(
        events(d),
        [
            MkvEvent::SegmentStart { size: None },
            MkvEvent::Tags(vec![
                Tag {
                    simple_tags: vec![SimpleTag::new("A", "1"), SimpleTag::new("B", "")]
                },
                Tag::single("C", "3"),
            ]),
            MkvEvent::SegmentEnd,
        ]
    );
}

#[test]
fn block_groups_and_flags() {
    let block = |track: u8, tc: i16, flags: u8, payload: &[u8]| {
        let mut b = vec![0x80 | track];
        b.extend(tc.to_be_bytes());
        b.push(flags);
        b.extend(payload);
        b
    };
    let mut cluster = el(ids::TIMECODE, &[0x10]);
    cluster.extend(el(
        ids::BLOCK_GROUP,
        &el(ids::BLOCK, &block(1, 0, 0, b"key")),
    ));
    cluster.extend(el(
        ids::BLOCK_GROUP,
        &[
            el(ids::BLOCK, &block(1, 33, 0x08, b"delta")),
            el(ids::REFERENCE_BLOCK, &[0xDF]),
        ]
        .concat(),
    ));
    cluster.extend(el(ids::SIMPLE_BLOCK, &block(2, -5, 0x81 | 0x02, b"laced")));
    let mut d = SEGMENT_UNKNOWN.to_vec();
    d.extend(el(ids::CLUSTER, &cluster));
    let blocks: Vec<Block> = events(d)
        .into_iter()
        .filter_map(|e| match e {
            MkvEvent::Block(b) => Some(b),
            _ => None,
        })
        .collect();
    let summary: Vec<_> = blocks
        .iter()
        .map(|b| {
            (
                b.track_number,
                b.relative_timecode,
                b.keyframe,
                b.invisible,
                b.discardable,
                b.lacing,
                &b.payload[..],
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1, 0, true, false, false, Lacing::None, &b"key"[..]),
            (1, 33, false, true, false, Lacing::None, &b"delta"[..]),
            (2, -5, true, false, true, Lacing::Xiph, &b"laced"[..]),
        ]
    );
}

#[test]
fn known_size_segment_then_second_document() {
    let info = el(ids::INFO, &el(ids::TIMECODE_SCALE, &[0x0F, 0x42, 0x40]));
    let cluster = el(
        ids::CLUSTER,
        &[
            el(ids::TIMECODE, &[7]),
            el(ids::SIMPLE_BLOCK, &[0x81, 0, 1, 0x80, 0xAB]),
        ]
        .concat(),
    );
    let cluster_size = cluster.len() as u64 - 5; // 4-byte ID, 1-byte size
    let segment = el(ids::SEGMENT, &[info, cluster].concat());
    let ebml = el(ids::EBML, &el(ids::DOC_TYPE, b"webm"));
    let mut d = [ebml.clone(), segment.clone(), ebml].concat();
    d.extend(SEGMENT_UNKNOWN);
    let evs = events(d);
    let kinds: Vec<String> = evs
        .iter()
        .map(|e| match e {
            MkvEvent::EbmlHeader(h) => format!("ebml:{}", h.doc_type),
            MkvEvent::SegmentStart { size } => format!("segment:{size:?}"),
            MkvEvent::Info(i) => format!("info:{}", i.timecode_scale),
            MkvEvent::ClusterStart { timecode, size } => format!("cluster:{timecode}:{size:?}"),
            MkvEvent::Block(b) => format!("block:{:?}", &b.payload[..]),
            MkvEvent::ClusterEnd => "/cluster".into(),
            MkvEvent::SegmentEnd => "/segment".into(),
            other => format!("{other:?}"),
        })
        .collect();
    let segment_size = segment.len() as u64 - 5;
    assert_eq!(
        kinds,
        [
            "ebml:webm".to_owned(),
            format!("segment:Some({segment_size})"),
            "info:1000000".into(),
            format!("cluster:7:Some({cluster_size})"),
            "block:[171]".into(),
            "/cluster".into(),
            "/segment".into(),
            "ebml:webm".into(),
            "segment:None".into(),
            "/segment".into(),
        ]
    );
}

#[test]
fn payload_is_a_slice_of_the_pushed_chunk() {
    let mut d = SEGMENT_UNKNOWN.to_vec();
    d.extend(el(
        ids::CLUSTER,
        &[
            el(ids::TIMECODE, &[1]),
            el(ids::SIMPLE_BLOCK, &[0x81, 0, 0, 0x80, 1, 2, 3]),
        ]
        .concat(),
    ));
    let data = Bytes::from(d);
    let mut r = MkvReader::new();
    r.push(data.clone());
    let mut payload = None;
    while let Some(e) = r.next_event().unwrap() {
        if let MkvEvent::Block(b) = e.event {
            payload = Some(b.payload);
        }
    }
    let payload = payload.expect("block");
    assert_eq!(&payload[..], [1, 2, 3]);
    assert!(data.as_ptr_range().contains(&payload.as_ptr()));
    assert_eq!(r.position(), data.len() as u64);
    assert_eq!(r.buffered(), 0);
}

#[test]
fn tiny_chunks_toward_a_large_block_are_gathered() {
    let payload = vec![0x5A; 300_000];
    let mut block = vec![0x81, 0, 0, 0x80];
    block.extend(&payload);
    let mut d = SEGMENT_UNKNOWN.to_vec();
    d.extend([0x1F, 0x43, 0xB6, 0x75, 0xFF]);
    d.extend(el(ids::TIMECODE, &[1]));
    d.extend(el(ids::SIMPLE_BLOCK, &block));
    let data = Bytes::from(d);
    let mut r = MkvReader::new();
    let mut got = None;
    let mut most_chunks = 0;
    for i in 0..data.len() {
        r.push(data.slice(i..i + 1));
        most_chunks = most_chunks.max(r.buffered_chunks());
        while let Some(e) = r.next_event().unwrap() {
            if let MkvEvent::Block(b) = e.event {
                got = Some(b.payload);
            }
        }
    }
    r.finish().unwrap();
    assert_eq!(got.as_deref(), Some(&payload[..]));
    assert_eq!(r.buffered(), 0);
    // Only the few bytes of each element header stay separate.
    assert!(most_chunks <= 16, "{most_chunks} buffers held");
}
