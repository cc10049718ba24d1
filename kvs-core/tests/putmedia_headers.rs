// SPDX-License-Identifier: MPL-2.0
//! PutMedia headers against the requests recorded from AWS's kvssink.

mod sigv4_common;

use http::{HeaderMap, HeaderValue};
use kvs_core::putmedia::{
    HeaderError, ProducerStartTimestamp, PutMediaHeaders, StreamId, TimecodeType,
};

fn first_ack_timecode(headers_file: &str) -> u64 {
    let acks = headers_file.replace(".headers.txt", ".acks.log");
    let text = std::fs::read_to_string(sigv4_common::official_dir().join(acks)).expect("acks");
    let line = text.lines().next().expect("first ack");
    let json = line.split_once(' ').expect("time prefix").1;
    let v: serde_json::Value = serde_json::from_str(json).expect("json");
    v["FragmentTimecode"].as_u64().expect("timecode")
}

#[test]
fn recorded_put_media_headers_parse() {
    let mut seen = 0;
    for r in sigv4_common::all_recorded_requests() {
        if r.path != "/putMedia" {
            assert!(PutMediaHeaders::from_header_map(&r.header_map()).is_err());
            continue;
        }
        let h = PutMediaHeaders::from_header_map(&r.header_map())
            .unwrap_or_else(|e| panic!("{}: {e}", r.file));
        assert_eq!(h.stream, StreamId::Name("ref-test".into()));
        assert_eq!(h.timecode_type, TimecodeType::Absolute);
        assert!(h.ack_required);
        assert!(
            h.user_agent
                .as_deref()
                .is_some_and(|ua| ua.ends_with("CPPSDK"))
        );
        // The first cluster starts at or just before the producer start time (the
        // captures show 0–11 ms). Reading AWS's unpadded `.6` as 600 ms would break this.
        let start = h.producer_start_timestamp.as_millis();
        let first = first_ack_timecode(&r.file);
        if !r.file.contains("reconnect") {
            assert!(
                start >= first && start - first <= 50,
                "{}: {start} vs {first}",
                r.file
            );
        }
        // Re-applying writes the zero-padded form, which parses to the same value.
        let rebuilt = h.to_header_map().expect("build");
        assert_eq!(
            PutMediaHeaders::from_header_map(&rebuilt).expect("parse"),
            h
        );
        let text = rebuilt["x-amzn-producer-start-timestamp"]
            .to_str()
            .expect("ascii");
        assert_eq!(text.split_once('.').expect("dot").1.len(), 3, "{text}");
        seen += 1;
    }
    assert_eq!(seen, 10);
}

#[test]
fn aws_unpadded_millis() {
    let alaw = sigv4_common::parse_headers_file(
        &sigv4_common::official_dir().join("capture-h264-alaw.headers.txt"),
    );
    let put = alaw
        .iter()
        .find(|r| r.path == "/putMedia")
        .expect("putMedia");
    assert_eq!(
        put.header("x-amzn-producer-start-timestamp"),
        Some("1795417042.6")
    );
    let h = PutMediaHeaders::from_header_map(&put.header_map()).expect("parse");
    assert_eq!(h.producer_start_timestamp.as_millis(), 1_795_417_042_006);
    assert_eq!(
        h.producer_start_timestamp.to_header_string(),
        "1795417042.006"
    );
}

#[test]
fn timestamp_forms() {
    let p = |s: &str| ProducerStartTimestamp::parse(s).map(|t| t.as_millis());
    assert_eq!(p("1704164645.678"), Ok(1_704_164_645_678));
    assert_eq!(p("1704164645.005"), Ok(1_704_164_645_005));
    assert_eq!(p("123.5"), Ok(123_005));
    assert_eq!(p("123.56"), Ok(123_056));
    assert_eq!(p("123.05"), Ok(123_050));
    assert_eq!(p("123.0"), Ok(123_000));
    assert_eq!(p("123.123456"), Ok(123_123));
    assert_eq!(p(" 123 "), Ok(123_000));
    for bad in [
        "",
        ".5",
        "123.",
        "-1.5",
        "1e9",
        "12.3.4",
        "abc",
        "18446744073709551615.0",
    ] {
        assert!(
            matches!(p(bad), Err(HeaderError::BadProducerStartTimestamp(_))),
            "{bad:?}"
        );
    }
    for ms in [0, 5, 50, 999, 1000, 1_795_417_042_006] {
        let t = ProducerStartTimestamp::from_millis(ms);
        assert_eq!(ProducerStartTimestamp::parse(&t.to_header_string()), Ok(t));
    }
}

fn base() -> HeaderMap {
    PutMediaHeaders {
        stream: StreamId::Arn("arn:aws:kinesisvideo:us-east-1:123456789012:stream/s/1".into()),
        timecode_type: TimecodeType::Relative,
        producer_start_timestamp: ProducerStartTimestamp::from_millis(1_000_050),
        ack_required: false,
        user_agent: None,
    }
    .to_header_map()
    .expect("build")
}

#[test]
fn arn_relative_and_no_acks() {
    let map = base();
    assert_eq!(map["x-amzn-fragment-timecode-type"], "RELATIVE");
    assert_eq!(map["x-amzn-fragment-acknowledgment-required"], "0");
    assert_eq!(map["x-amzn-producer-start-timestamp"], "1000.050");
    assert!(map.get("x-amzn-stream-name").is_none());
    let h = PutMediaHeaders::from_header_map(&map).expect("parse");
    assert!(matches!(h.stream, StreamId::Arn(_)));
    assert!(!h.ack_required);
}

#[test]
fn typed_errors() {
    let with = |f: &dyn Fn(&mut HeaderMap)| {
        let mut m = base();
        f(&mut m);
        PutMediaHeaders::from_header_map(&m).unwrap_err()
    };
    assert_eq!(
        with(&|m| {
            m.remove("x-amzn-stream-arn");
        }),
        HeaderError::MissingStream
    );
    assert_eq!(
        with(&|m| {
            m.insert("x-amzn-stream-name", HeaderValue::from_static("s"));
        }),
        HeaderError::BothStreamNameAndArn
    );
    assert_eq!(
        with(&|m| {
            m.insert(
                "x-amzn-fragment-timecode-type",
                HeaderValue::from_static("SOMETIMES"),
            );
        }),
        HeaderError::BadTimecodeType("SOMETIMES".into())
    );
    assert_eq!(
        with(&|m| {
            m.remove("x-amzn-fragment-timecode-type");
        }),
        HeaderError::MissingTimecodeType
    );
    assert_eq!(
        with(&|m| {
            m.remove("x-amzn-producer-start-timestamp");
        }),
        HeaderError::MissingProducerStartTimestamp
    );
    assert_eq!(
        with(&|m| {
            m.insert(
                "x-amzn-fragment-acknowledgment-required",
                HeaderValue::from_static("2"),
            );
        }),
        HeaderError::BadAckRequired("2".into())
    );
    assert_eq!(
        with(&|m| {
            m.append(
                "x-amzn-fragment-timecode-type",
                HeaderValue::from_static("ABSOLUTE"),
            );
        }),
        HeaderError::Repeated("x-amzn-fragment-timecode-type")
    );
    assert_eq!(
        with(&|m| {
            m.remove("x-amzn-stream-arn");
            m.insert("x-amzn-stream-name", HeaderValue::from_static(""));
        }),
        HeaderError::BadStreamName
    );
    let long = "n".repeat(257);
    let mut m = base();
    m.remove("x-amzn-stream-arn");
    m.insert(
        "x-amzn-stream-name",
        HeaderValue::from_str(&long).expect("ascii"),
    );
    assert_eq!(
        PutMediaHeaders::from_header_map(&m).unwrap_err(),
        HeaderError::BadStreamName
    );

    // Missing ack header means ACKs on; lower-case timecode type is tolerated.
    let mut m = base();
    m.remove("x-amzn-fragment-acknowledgment-required");
    m.insert(
        "x-amzn-fragment-timecode-type",
        HeaderValue::from_static("absolute"),
    );
    let h = PutMediaHeaders::from_header_map(&m).expect("lenient");
    assert!(h.ack_required);
    assert_eq!(h.timecode_type, TimecodeType::Absolute);
}

#[test]
fn building_rejects_unsendable_values() {
    let h = PutMediaHeaders {
        stream: StreamId::Name("caméra".into()),
        timecode_type: TimecodeType::Absolute,
        producer_start_timestamp: ProducerStartTimestamp::from_millis(0),
        ack_required: true,
        user_agent: None,
    };
    assert_eq!(h.to_header_map().unwrap_err(), HeaderError::BadStreamName);
    let h = PutMediaHeaders {
        stream: StreamId::Arn("arn:aws:kinesisvideo:us-east-1:1:stream/caméra/1".into()),
        ..h
    };
    assert_eq!(
        h.to_header_map().unwrap_err(),
        HeaderError::NotAscii("x-amzn-stream-arn")
    );
    let h = PutMediaHeaders {
        stream: StreamId::Name("cam 1".into()),
        ..h
    };
    assert_eq!(h.to_header_map().unwrap_err(), HeaderError::BadStreamName);
}
