// SPDX-License-Identifier: MPL-2.0
//! A producer that lost an ACK re-sends the fragment, and the service stores both copies:
//! GetMedia then serves two consecutive fragments with the same producer start and tracks.
//! kvssrc plays the first, skips the second and counts it in `stats`.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kvs_core::getmedia::{
    TAG_CONTINUATION_TOKEN, TAG_FRAGMENT_NUMBER, TAG_MILLIS_BEHIND_NOW, TAG_PRODUCER_TIMESTAMP,
    TAG_SERVER_TIMESTAMP,
};
use kvs_core::mkv::{MkvWriter, SimpleTag, StreamHeader, Tag, TrackInfo, TrackType};
use support::*;

const FRAMES_PER_FRAGMENT: u64 = 10;
const T0_MS: u64 = 1_700_000_000_000;

/// One GetMedia document: fragment `number` starting `second` s after T0.
fn document(number: u32, second: u64) -> Vec<u8> {
    let header = StreamHeader {
        info: Default::default(),
        tracks: vec![TrackInfo {
            number: 1,
            uid: 1,
            track_type: Some(TrackType::Video),
            codec_id: "V_MPEG4/ISO/AVC".into(),
            codec_private: Some(Bytes::from_static(b"\x01\x64\x00\x1f\xff\xe0\x00")),
            ..Default::default()
        }],
    };
    let fragment = format!("{number:047}");
    let ts = format!("{}.000", T0_MS / 1000 + second);
    let mut w = MkvWriter::new();
    w.stream_header(&header).expect("header");
    w.tags(&[Tag {
        simple_tags: vec![
            SimpleTag::new(TAG_FRAGMENT_NUMBER, fragment.clone()),
            SimpleTag::new(TAG_SERVER_TIMESTAMP, ts.clone()),
            SimpleTag::new(TAG_PRODUCER_TIMESTAMP, ts),
        ],
    }])
    .expect("tags");
    w.start_cluster(0);
    for i in 0..FRAMES_PER_FRAGMENT {
        w.frame(1, i * 100, i == 0, Bytes::from(vec![number as u8; 16]))
            .expect("frame");
    }
    w.tags(&[Tag {
        simple_tags: vec![
            SimpleTag::new(TAG_MILLIS_BEHIND_NOW, "0"),
            SimpleTag::new(TAG_CONTINUATION_TOKEN, fragment),
        ],
    }])
    .expect("tags");
    w.into_vec()
}

#[test]
fn resent_fragment_is_played_once() {
    init();
    require_element("matroskademux", "gstreamer1.0-plugins-good");
    // Fragment 3 is fragment 2 sent again.
    let mut body = Vec::new();
    for (number, second) in [(1, 0), (2, 1), (3, 1), (4, 2)] {
        body.extend(document(number, second));
    }
    let body = Bytes::from(body);
    let base = Arc::new(std::sync::OnceLock::<String>::new());
    let base2 = base.clone();
    let endpoint = Endpoint::start(Arc::new(move |path, _, _| match path {
        "/getDataEndpoint" => json_response(serde_json::json!({
            "DataEndpoint": base2.get().map_or("", |s| s.as_str())
        })),
        "/getMedia" => hyper::Response::new(streamed(vec![body.clone()], false, false)),
        _ => error_response(404, "UnknownOperationException", "no such path"),
    }));
    base.set(endpoint.url()).expect("set once");

    let expected = 3 * FRAMES_PER_FRAGMENT as usize;
    let out = run_pipeline(
        &format!(
            "kvssrc stream-name=dup aws-region=us-east-1 access-key=AKIDTEST secret-key=test \
             endpoint-uri={} start-selector=earliest",
            endpoint.url()
        ),
        "",
        Some(expected),
        Duration::from_secs(30),
    );
    assert_eq!(out.error, None);
    assert_eq!(out.pts.len(), expected, "the re-sent copy adds no frame");
    assert_increasing("PTS", &out.pts);
    let numbers: Vec<String> = out
        .fragments
        .iter()
        .filter_map(|s| s.get::<String>("fragment-number").ok())
        .collect();
    assert_eq!(
        numbers,
        [1, 2, 4].map(|n| format!("{n:047}")),
        "the copy gets no kvs-fragment message"
    );
    let stats = out.stats.expect("stats");
    assert_eq!(
        stats.get::<u64>("duplicates-skipped").ok(),
        Some(1),
        "{stats}"
    );
    assert_eq!(stats.get::<u64>("fragments").ok(), Some(3), "{stats}");
    assert_eq!(
        out.continuation_token,
        Some(format!("{:047}", 4)),
        "the token moves on past the skipped copy"
    );
}
