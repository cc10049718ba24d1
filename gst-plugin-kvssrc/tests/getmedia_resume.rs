// SPDX-License-Identifier: MPL-2.0
//! kvssrc against a scripted GetMedia endpoint serving real GetMedia output
//! (shared/test-vectors/aws-getmedia): the connection is cut in the middle of a fragment and
//! kvssrc must resume with the right continuation token, with no frame lost or repeated.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use support::*;

const VECTOR: &str = "aws-getmedia/output_get_media.mkv";
const FRAMES: usize = 300;

/// Byte offsets of each document (fragment) in a GetMedia recording.
fn document_offsets(data: &[u8]) -> Vec<usize> {
    let mut r = kvs_core::mkv::MkvReader::new();
    r.push(Bytes::copy_from_slice(data));
    let _ = r.finish();
    let mut out = Vec::new();
    while let Ok(Some(ev)) = r.next_event() {
        if let kvs_core::mkv::MkvEvent::EbmlHeader(_) = ev.event {
            out.push(ev.offset as usize);
        }
    }
    out
}

/// The fragment numbers (= continuation tokens) of the recording, in order.
fn fragment_numbers(data: &[u8]) -> Vec<String> {
    let needle = b"AWS_KINESISVIDEO_CONTINUATION_TOKEN";
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(p) = data
        .get(i..)
        .and_then(|d| d.windows(needle.len()).position(|w| w == needle))
    {
        let at = i + p + needle.len();
        // TagString: ID 0x4487, 8-byte size, then the digits.
        let digits: String = data[at..]
            .iter()
            .skip_while(|b| !b.is_ascii_digit())
            .take_while(|b| b.is_ascii_digit())
            .map(|&b| char::from(b))
            .collect();
        out.push(digits);
        i = at;
    }
    out
}

fn data_endpoint_answer(url: &str) -> hyper::Response<Body> {
    json_response(serde_json::json!({ "DataEndpoint": url }))
}

fn src(endpoint: &Endpoint, extra: &str) -> String {
    format!(
        "kvssrc stream-name=cam1 aws-region=us-east-1 access-key=AKIDTEST secret-key=test \
         endpoint-uri={} retry-attempts=5 request-timeout=5000 {extra}",
        endpoint.url()
    )
}

#[test]
fn resumes_after_a_cut_with_the_last_continuation_token() {
    init();
    let data = Bytes::from(read_vector(VECTOR));
    let offsets = document_offsets(&data);
    let numbers = fragment_numbers(&data);
    assert_eq!((offsets.len(), numbers.len()), (5, 5));
    // Cut 60 % into the third fragment.
    let cut = offsets[2] + (offsets[3] - offsets[2]) * 3 / 5;
    let base = Arc::new(std::sync::OnceLock::<String>::new());
    let base2 = base.clone();
    let data2 = data.clone();
    let offsets2 = offsets.clone();
    let numbers2 = numbers.clone();
    let endpoint = Endpoint::start(Arc::new(move |path, body, index| match path {
        "/getDataEndpoint" => data_endpoint_answer(base2.get().map_or("", |s| s.as_str())),
        "/getMedia" if index == 0 => {
            // Odd-sized pieces, then the connection drops.
            let chunks = data2
                .slice(..cut)
                .chunks(7001)
                .map(Bytes::copy_from_slice)
                .collect();
            hyper::Response::new(streamed(chunks, true, false))
        }
        "/getMedia" => {
            // Resume where the token says: the document after the fragment it names.
            let token = body["StartSelector"]["ContinuationToken"]
                .as_str()
                .unwrap_or_default();
            let from = numbers2
                .iter()
                .position(|n| n == token)
                .map_or(data2.len(), |i| {
                    offsets2.get(i + 1).copied().unwrap_or(data2.len())
                });
            hyper::Response::new(streamed(vec![data2.slice(from..)], false, false))
        }
        _ => error_response(404, "UnknownOperationException", "no such path"),
    }));
    base.set(endpoint.url()).unwrap();

    let out = run_pipeline(
        &src(&endpoint, "start-selector=earliest"),
        "h264parse !",
        Some(FRAMES),
        Duration::from_secs(60),
    );
    assert_eq!(out.error, None);
    assert_eq!(out.pts.len(), FRAMES, "every frame arrives once");
    assert_increasing("PTS", &out.pts);
    // Epoch-based times: the first fragment's producer timestamp 1511852108.513 s.
    assert_eq!(out.pts[0], gst::ClockTime::from_mseconds(1_511_852_108_513));

    let requests = endpoint.requests("/getMedia");
    assert!(requests.len() >= 2, "{requests:?}");
    assert_eq!(
        requests[0]["StartSelector"]["StartSelectorType"],
        "EARLIEST"
    );
    assert_eq!(requests[0]["StreamName"], "cam1");
    assert_eq!(
        requests[1]["StartSelector"]["StartSelectorType"],
        "CONTINUATION_TOKEN"
    );
    // The cut fell in the third fragment: resume after the second.
    assert_eq!(
        requests[1]["StartSelector"]["ContinuationToken"],
        numbers[1].as_str()
    );
    let fragment_numbers: Vec<String> = out
        .fragments
        .iter()
        .filter_map(|s| s.get::<String>("fragment-number").ok())
        .collect();
    assert_eq!(
        fragment_numbers, numbers,
        "each fragment reported once, in order"
    );
    let frames: u64 = out
        .fragments
        .iter()
        .map(|s| s.get::<u64>("frames").unwrap_or(0))
        .sum();
    assert_eq!(frames, FRAMES as u64);
    assert_eq!(out.continuation_token.as_deref(), Some(numbers[4].as_str()));
    let stats = out.stats.expect("stats");
    assert_eq!(stats.get::<u64>("fragments").ok(), Some(5));
    assert_eq!(stats.get::<u64>("frames").ok(), Some(FRAMES as u64));
    // Six documents arrived (the cut one twice); only the first header was written.
    assert_eq!(stats.get::<u64>("headers-merged").ok(), Some(5));
    assert_eq!(stats.get::<u64>("streams").ok(), Some(1));
    assert!(stats.get::<u64>("frames-deduplicated").unwrap_or(0) > 0);
    assert_eq!(stats.get::<u64>("reconnects").ok(), Some(1));
    let first = &out.fragments[0];
    assert_eq!(
        first.get::<u64>("producer-timestamp").ok(),
        Some(1_511_852_108_513)
    );
    assert_eq!(
        first.get::<u64>("server-timestamp").ok(),
        Some(1_511_852_109_126)
    );
    assert!(first.get::<u64>("millis-behind-now").is_ok());
}

#[test]
fn unknown_stream_is_an_element_error_without_hanging() {
    init();
    let endpoint = Endpoint::start(Arc::new(|path, _body, _| match path {
        "/getDataEndpoint" => error_response(
            404,
            "ResourceNotFoundException",
            "The requested stream is not found or not active.",
        ),
        _ => error_response(404, "UnknownOperationException", "no such path"),
    }));
    let out = run_pipeline(
        &src(&endpoint, "start-selector=now"),
        "",
        None,
        Duration::from_secs(30),
    );
    let err = out.error.expect("an element error");
    assert!(err.contains("cam1") && err.contains("not found"), "{err}");
    assert!(
        err.contains("stream-name"),
        "the error says what to check: {err}"
    );
}

#[test]
fn access_denied_is_an_element_error() {
    init();
    let endpoint = Endpoint::start(Arc::new(|path, _body, _| match path {
        "/getDataEndpoint" => error_response(401, "NotAuthorizedException", "bad signature"),
        _ => error_response(404, "UnknownOperationException", "no such path"),
    }));
    let out = run_pipeline(&src(&endpoint, ""), "", None, Duration::from_secs(30));
    let err = out.error.expect("an element error");
    assert!(
        err.contains("denied") && err.contains("secret-key"),
        "{err}"
    );
}

#[test]
fn malformed_fragment_is_an_element_error() {
    init();
    let base = Arc::new(std::sync::OnceLock::<String>::new());
    let base2 = base.clone();
    let endpoint = Endpoint::start(Arc::new(move |path, _body, _| match path {
        "/getDataEndpoint" => data_endpoint_answer(base2.get().map_or("", |s| s.as_str())),
        "/getMedia" => {
            // A Segment whose child overflows it.
            let junk = Bytes::from_static(&[
                0x1A, 0x45, 0xDF, 0xA3, 0x80, 0x18, 0x53, 0x80, 0x67, 0x81, 0x1F, 0x43, 0xB6, 0x75,
                0x88,
            ]);
            hyper::Response::new(streamed(vec![junk], false, false))
        }
        _ => error_response(404, "UnknownOperationException", "no such path"),
    }));
    base.set(endpoint.url()).unwrap();
    let out = run_pipeline(&src(&endpoint, ""), "", None, Duration::from_secs(30));
    let err = out.error.expect("an element error");
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn end_before_start_fails_at_start() {
    init();
    let endpoint = Endpoint::start(Arc::new(|_, _, _| {
        error_response(500, "InternalFailure", "must not be called")
    }));
    let out = run_pipeline(
        &src(
            &endpoint,
            "start-selector=producer-timestamp start-timestamp=2000 end-timestamp=1000",
        ),
        "",
        None,
        Duration::from_secs(30),
    );
    let err = out.error.expect("an element error");
    assert!(err.contains("before start-timestamp"), "{err}");
    assert!(endpoint.requests("/getDataEndpoint").is_empty());
}

#[test]
fn fragment_messages_carry_the_producer_tags() {
    init();
    let data = Bytes::from(read_vector("aws-getmedia/test_mixed_tags.mkv"));
    let base = Arc::new(std::sync::OnceLock::<String>::new());
    let base2 = base.clone();
    let endpoint = Endpoint::start(Arc::new(move |path, _body, _| match path {
        "/getDataEndpoint" => data_endpoint_answer(base2.get().map_or("", |s| s.as_str())),
        "/getMedia" => hyper::Response::new(streamed(vec![data.clone()], false, false)),
        _ => error_response(404, "UnknownOperationException", "no such path"),
    }));
    base.set(endpoint.url()).unwrap();
    let out = run_pipeline(&src(&endpoint, ""), "", Some(100), Duration::from_secs(60));
    assert_eq!(out.error, None);
    assert_eq!(out.pts.len(), 100);
    assert_eq!(out.fragments.len(), 10);
    for f in &out.fragments {
        let tags = f.get::<gst::Array>("tags").expect("tags array");
        let pairs: Vec<(String, String)> = tags
            .iter()
            .filter_map(|v| v.get::<gst::Structure>().ok())
            .map(|s| {
                (
                    s.get::<String>("name").unwrap_or_default(),
                    s.get::<String>("value").unwrap_or_default(),
                )
            })
            .collect();
        let expected: Vec<(String, String)> = (0..5)
            .map(|i| (format!("testTag_{i}"), format!("testTag_{i}_Value")))
            .collect();
        assert_eq!(pairs, expected);
    }
}

/// One GetMedia document with a single H.264 track of `width`×480 and `frames` frames.
fn synthetic_doc(number: u32, width: u32, frames: u64) -> Vec<u8> {
    use kvs_core::getmedia::*;
    use kvs_core::mkv::{MkvWriter, SimpleTag, StreamHeader, Tag, TrackInfo, TrackType};
    // avcC for a different profile per width, so the codec private data changes too.
    let profile = if width == 640 { 0x42 } else { 0x64 };
    let cpd = vec![
        0x01, profile, 0x00, 0x1f, 0xff, 0xe1, 0x00, 0x04, 0x67, profile, 0x00, 0x1f, 0x01, 0x00,
        0x02, 0x68, 0xce,
    ];
    let header = StreamHeader {
        info: Default::default(),
        tracks: vec![TrackInfo {
            number: 1,
            uid: 1,
            track_type: Some(TrackType::Video),
            codec_id: "V_MPEG4/ISO/AVC".into(),
            codec_private: Some(Bytes::from(cpd)),
            video: Some(kvs_core::mkv::VideoParams {
                pixel_width: width,
                pixel_height: 480,
            }),
            ..Default::default()
        }],
    };
    let fragment = format!("{number:047}");
    let ts = format!("{}.000", 1_700_000_000 + u64::from(number));
    let mut w = MkvWriter::new();
    w.stream_header(&header).unwrap();
    w.tags(&[Tag {
        simple_tags: vec![
            SimpleTag::new(TAG_FRAGMENT_NUMBER, fragment.clone()),
            SimpleTag::new(TAG_SERVER_TIMESTAMP, ts.clone()),
            SimpleTag::new(TAG_PRODUCER_TIMESTAMP, ts),
        ],
    }])
    .unwrap();
    w.start_cluster(0);
    for i in 0..frames {
        w.frame(
            1,
            i * 33,
            i == 0,
            Bytes::from(vec![0, 0, 0, 1, 0x65, i as u8]),
        )
        .unwrap();
    }
    w.tags(&[Tag {
        simple_tags: vec![
            SimpleTag::new(TAG_MILLIS_BEHIND_NOW, "0"),
            SimpleTag::new(TAG_CONTINUATION_TOKEN, fragment),
        ],
    }])
    .unwrap();
    w.into_vec()
}

#[test]
fn codec_change_mid_stream_plays_through_with_new_caps() {
    init();
    let mut data = synthetic_doc(1, 640, 5);
    data.extend(synthetic_doc(2, 640, 5));
    data.extend(synthetic_doc(3, 1280, 5));
    let data = Bytes::from(data);
    let base = Arc::new(std::sync::OnceLock::<String>::new());
    let base2 = base.clone();
    let endpoint = Endpoint::start(Arc::new(move |path, _body, _| match path {
        "/getDataEndpoint" => data_endpoint_answer(base2.get().map_or("", |s| s.as_str())),
        "/getMedia" => hyper::Response::new(streamed(vec![data.clone()], false, false)),
        _ => error_response(404, "UnknownOperationException", "no such path"),
    }));
    base.set(endpoint.url()).unwrap();
    let out = run_pipeline(&src(&endpoint, ""), "", Some(15), Duration::from_secs(60));
    assert_eq!(out.error, None);
    assert_eq!(out.pts.len(), 15);
    assert_eq!(out.widths.first().copied(), Some(640));
    assert_eq!(out.widths.last().copied(), Some(1280));
    let stats = out.stats.expect("stats");
    assert_eq!(stats.get::<u64>("streams").ok(), Some(2));
}
