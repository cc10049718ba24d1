// SPDX-License-Identifier: MPL-2.0
//! The incremental ACK parser against the ACK streams recorded with AWS's kvssink.

mod sigv4_common;

use kvs_core::putmedia::ack::MAX_ACK_OBJECT_LEN;
use kvs_core::putmedia::{Ack, AckError, AckErrorId, AckEventType, AckParser};

/// The ACK stream bytes of one `*.acks.log` (each line is `<seconds> <json>`), and the
/// JSON lines themselves.
fn recorded_streams() -> Vec<(String, Vec<u8>, Vec<String>)> {
    sigv4_common::files_with_suffix(".acks.log")
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read acks");
            let lines: Vec<String> = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.split_once(' ').expect("time prefix").1.to_owned())
                .collect();
            let mut stream = Vec::new();
            for line in &lines {
                stream.extend_from_slice(line.as_bytes());
                stream.push(b'\n');
            }
            (path.display().to_string(), stream, lines)
        })
        .collect()
}

fn parse_all(chunks: &[&[u8]]) -> Vec<Result<Ack, AckError>> {
    let mut parser = AckParser::new();
    let mut out = Vec::new();
    for chunk in chunks {
        out.extend(parser.push_and_drain(chunk));
    }
    assert_eq!(parser.finish(), None);
    out
}

/// Independent reading of one recorded line with serde_json::Value.
fn expected_ack(line: &str) -> Ack {
    let v: serde_json::Value = serde_json::from_str(line).expect("recorded json");
    Ack {
        event_type: AckEventType::parse(v["EventType"].as_str().expect("event")),
        fragment_timecode: v["FragmentTimecode"].as_u64(),
        fragment_number: v["FragmentNumber"].as_str().map(str::to_owned),
        error_id: v["ErrorId"].as_u64().map(|x| x as u32),
        error_code: v["ErrorCode"].as_str().map(str::to_owned),
    }
}

#[test]
fn recorded_streams_parse_whole() {
    let streams = recorded_streams();
    assert_eq!(streams.len(), 9);
    for (name, stream, lines) in streams {
        let acks = parse_all(&[&stream]);
        assert_eq!(acks.len(), lines.len(), "{name}");
        for (ack, line) in acks.iter().zip(&lines) {
            let ack = ack.as_ref().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(*ack, expected_ack(line), "{name}");
            assert!(ack.fragment_timecode.is_some() && ack.fragment_number.is_some());
            // Our serialisation is byte-identical to what the stub sent.
            assert_eq!(ack.to_json_line(), format!("{line}\n"), "{name}");
        }
    }
}

#[test]
fn recorded_streams_split_at_every_byte() {
    for (name, stream, _) in recorded_streams() {
        let whole = parse_all(&[&stream]);
        for cut in 0..=stream.len() {
            let (a, b) = stream.split_at(cut);
            assert_eq!(parse_all(&[a, b]), whole, "{name} cut at {cut}");
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(parse_all(&bytes), whole, "{name} byte by byte");
        let odd: Vec<&[u8]> = stream.chunks(7).collect();
        assert_eq!(parse_all(&odd), whole, "{name} in 7-byte chunks");
    }
}

#[test]
fn concatenated_objects_blank_lines_and_crlf() {
    let input = b"\r\n\n  {\"EventType\":\"IDLE\"}{\"EventType\":\"BUFFERING\",\"FragmentTimecode\":5,\"FragmentNumber\":\"1\"}\r\n\r\n\t{\"EventType\":\"PERSISTED\",\"FragmentTimecode\":5,\"FragmentNumber\":\"1\"}";
    let acks: Vec<Ack> = parse_all(&[input])
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("all valid");
    assert_eq!(
        acks,
        [Ack::idle(), Ack::buffering(5, "1"), Ack::persisted(5, "1")]
    );
}

#[test]
fn pretty_printed_and_unknown_nested_keys() {
    let input = br#"{
        "EventType": "RECEIVED",
        "Extra": {"a": [1, 2, {"b": "}{]["}], "c": null},
        "List": [[], {}],
        "FragmentTimecode": 1700000000123,
        "Quoted": "say \"}\" \\",
        "FragmentNumber": "91343852333182522497921856555094773623291269982"
    }
"#;
    let acks = parse_all(&[input]);
    assert_eq!(
        acks,
        [Ok(Ack::received(
            1_700_000_000_123,
            "91343852333182522497921856555094773623291269982"
        ))]
    );
}

#[test]
fn error_ack_fields_and_round_trip() {
    let line = r#"{"EventType":"ERROR","FragmentTimecode":1565810137603,"FragmentNumber":"91343852338176208490308672115616860505404839548","ErrorCode":"MAX_FRAGMENT_DURATION_REACHED","ErrorId":4002}"#;
    let acks = parse_all(&[format!("{line}\n").as_bytes()]);
    let ack = acks[0].clone().expect("valid");
    assert_eq!(ack.event_type, AckEventType::Error);
    assert_eq!(ack.error_id, Some(4002));
    assert_eq!(
        ack.error_code.as_deref(),
        Some("MAX_FRAGMENT_DURATION_REACHED")
    );
    let built = Ack::error(
        Some(1_565_810_137_603),
        Some("91343852338176208490308672115616860505404839548"),
        AckErrorId(4002),
    );
    assert_eq!(built, ack);
    assert_eq!(
        ack.error_kind().map(|e| e.name()),
        Some("FRAGMENT_DURATION_REACHED")
    );
    assert_eq!(built.to_json_line(), format!("{line}\n"));
}

#[test]
fn odd_values() {
    let input = br#"{"EventType":"ERROR","FragmentTimecode":-1,"FragmentNumber":"","ErrorId":4006}
{"EventType":"SOMETHING_NEW","FragmentTimecode":1}
"#;
    let acks = parse_all(&[input]);
    let first = acks[0].clone().expect("valid");
    assert_eq!(first.fragment_timecode, None);
    assert_eq!(first.fragment_number.as_deref(), Some(""));
    let second = acks[1].clone().expect("valid");
    assert_eq!(
        second.event_type,
        AckEventType::Unknown("SOMETHING_NEW".into())
    );
    assert_eq!(second.event_type.as_str(), "SOMETHING_NEW");
}

#[test]
fn malformed_input_gives_typed_errors_and_resyncs() {
    let good = br#"{"EventType":"IDLE"}"#;
    let cases: Vec<(&[u8], AckError)> = vec![
        (b"garbage here\n", AckError::UnexpectedByte(b'g')),
        (
            b"{\"EventType\":\"IDLE\",}\n",
            AckError::Malformed(String::new()),
        ),
        (
            b"{\"EventType\":\"IDLE\",\"EventType\":\"IDLE\"}\n",
            AckError::Malformed(String::new()),
        ),
        (b"{\"FragmentTimecode\":1}\n", AckError::MissingEventType),
        (
            b"{\"EventType\":\"ERROR\",\"FragmentTimecode\":1}\n",
            AckError::MissingErrorId,
        ),
        (
            b"{\"EventType\":\"IDLE\",\"FragmentTimecode\":\"12\"}\n",
            AckError::BadField("FragmentTimecode"),
        ),
        (
            b"{\"EventType\":\"ERROR\",\"ErrorId\":99999999999}\n",
            AckError::BadField("ErrorId"),
        ),
        (b"{\"EventType\":\"BUFFER\n", AckError::BrokenString),
        (b"]\n", AckError::UnexpectedByte(b']')),
    ];
    for (bad, expected) in cases {
        let mut input = bad.to_vec();
        input.extend_from_slice(good);
        let acks = parse_all(&[&input]);
        assert_eq!(
            acks.len(),
            2,
            "{:?}: {acks:?}",
            String::from_utf8_lossy(bad)
        );
        match (&acks[0], &expected) {
            (Err(AckError::Malformed(_)), AckError::Malformed(_)) => {}
            (got, want) => assert_eq!(
                got,
                &Err(want.clone()),
                "{:?}",
                String::from_utf8_lossy(bad)
            ),
        }
        assert_eq!(
            acks[1],
            Ok(Ack::idle()),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn oversized_object_is_bounded_and_skipped() {
    let mut parser = AckParser::new();
    parser.push(b"{\"EventType\":\"IDLE\",\"Junk\":\"");
    let filler = vec![b'a'; 4096];
    let mut errors = Vec::new();
    for _ in 0..64 {
        parser.push(&filler);
        assert!(parser.buffered_len() <= MAX_ACK_OBJECT_LEN);
        while let Some(r) = parser.next_ack() {
            errors.push(r);
        }
    }
    assert_eq!(errors, [Err(AckError::TooLarge)]);
    // Still inside the discarded line: nothing more until the newline.
    parser.push(b"\"}{\"EventType\":\"IDLE\"}");
    assert_eq!(parser.next_ack(), None);
    parser.push(b"\n{\"EventType\":\"IDLE\"}\n");
    assert_eq!(parser.next_ack(), Some(Ok(Ack::idle())));
    assert_eq!(parser.next_ack(), None);
    assert_eq!(parser.buffered_len(), 0);
}

#[test]
fn truncated_stream_is_reported_at_finish() {
    let mut parser = AckParser::new();
    parser.push(br#"{"EventType":"IDLE""#);
    assert_eq!(parser.next_ack(), None);
    assert_eq!(parser.finish(), Some(AckError::Truncated));
    assert_eq!(parser.finish(), None);
}

#[test]
fn pseudo_random_bytes_never_panic() {
    // xorshift so the test is deterministic without a dependency.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let alphabet = b"{}[]\"\\:,\n ab0-EventTypeIDLE";
    let mut parser = AckParser::new();
    for _ in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = (state % 64) as usize;
        let chunk: Vec<u8> = (0..len)
            .map(|i| alphabet[((state >> (i % 56)) as usize + i) % alphabet.len()])
            .collect();
        parser.push(&chunk);
        while parser.next_ack().is_some() {}
        assert!(parser.buffered_len() <= MAX_ACK_OBJECT_LEN);
    }
}
