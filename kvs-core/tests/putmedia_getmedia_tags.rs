// SPDX-License-Identifier: MPL-2.0
//! GetMedia service tags: parsing, formatting, and the real GetMedia recordings.

use bytes::Bytes;
use kvs_core::getmedia::{
    self, FragmentServiceTags, GetMediaTagError, TAG_CONTINUATION_TOKEN, TAG_ERROR_CODE,
    TAG_ERROR_ID, TAG_FRAGMENT_NUMBER, TAG_MILLIS_BEHIND_NOW, TAG_PRODUCER_TIMESTAMP,
    TAG_SERVER_TIMESTAMP,
};
use kvs_core::mkv::{MkvEvent, MkvReader};

const DIR: &str = "/work/shared/test-vectors/aws-getmedia";

#[test]
fn timestamps_are_exact_milliseconds() {
    fn p(s: &str) -> Result<u64, GetMediaTagError> {
        getmedia::parse_timestamp(TAG_SERVER_TIMESTAMP, s)
    }
    assert_eq!(p("1500000000.123"), Ok(1_500_000_000_123));
    assert_eq!(p("1726677687.758"), Ok(1_726_677_687_758));
    // Values whose f64 reading would round wrongly stay exact.
    assert_eq!(p("1726677688.001"), Ok(1_726_677_688_001));
    assert_eq!(p("9007199254740.993"), Ok(9_007_199_254_740_993));
    assert_eq!(p("1.5"), Ok(1_500));
    assert_eq!(p("1"), Ok(1_000));
    assert_eq!(p("1.2349"), Ok(1_234));
    for bad in [
        "",
        "1.",
        ".5",
        "-1.000",
        "1,5",
        "1e3",
        "18446744073709551.616",
    ] {
        assert!(
            matches!(p(bad), Err(GetMediaTagError::BadTimestamp { .. })),
            "{bad:?}"
        );
    }
    for ms in [0, 7, 70, 700, 1_726_677_687_758] {
        assert_eq!(p(&getmedia::format_timestamp(ms)), Ok(ms));
    }
    assert_eq!(
        getmedia::format_timestamp(1_500_000_000_007),
        "1500000000.007"
    );
}

#[test]
fn pairs_round_trip() {
    let tags = FragmentServiceTags {
        fragment_number: Some("91343852333181432392682062607743920146264440051".into()),
        server_timestamp_ms: Some(1_726_677_687_758),
        producer_timestamp_ms: Some(1_726_677_688_724),
        continuation_token: Some("91343852333181432392682062607743920146264440051".into()),
        millis_behind_now: Some(78_569),
        error_code: None,
        error_id: None,
    };
    let leading = tags.leading_pairs();
    assert_eq!(
        leading.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [
            TAG_FRAGMENT_NUMBER,
            TAG_SERVER_TIMESTAMP,
            TAG_PRODUCER_TIMESTAMP
        ]
    );
    assert_eq!(leading[1].1, "1726677687.758");
    let trailing = tags.trailing_pairs();
    assert_eq!(
        trailing.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [TAG_MILLIS_BEHIND_NOW, TAG_CONTINUATION_TOKEN]
    );
    let all: Vec<(&str, String)> = leading.into_iter().chain(trailing).collect();
    let parsed =
        FragmentServiceTags::from_pairs(all.iter().map(|(n, v)| (*n, v.as_str()))).expect("parse");
    assert_eq!(parsed, tags);
    assert!(parsed.is_success() && parsed.is_complete() && !parsed.is_error());
}

#[test]
fn error_chunk_and_foreign_tags() {
    let pairs = [
        ("testTag_0", "x"),
        (TAG_FRAGMENT_NUMBER, "123"),
        (TAG_ERROR_CODE, "FRAGMENT_NOT_FOUND"),
        (TAG_ERROR_ID, "4000"),
    ];
    let tags = FragmentServiceTags::from_pairs(pairs).expect("parse");
    assert!(tags.is_error() && !tags.is_success() && !tags.is_complete());
    assert_eq!(
        tags.error_id,
        Some(getmedia::GETMEDIA_ERROR_FRAGMENT_NOT_FOUND)
    );
    let back = tags.error_pairs();
    assert_eq!(back.len(), 3);
    let mut t = FragmentServiceTags::default();
    assert_eq!(t.apply("testTag_0", "x"), Ok(false));
    assert!(t.apply(TAG_MILLIS_BEHIND_NOW, "-3").is_err());
    assert!(t.apply(TAG_ERROR_ID, "99999999999").is_err());
}

/// Reads an EBML size vint at `at`: (value, length in bytes).
fn vint(data: &[u8], at: usize) -> Option<(usize, usize)> {
    let first = *data.get(at)?;
    let len = first.leading_zeros() as usize + 1;
    let mut size = u64::from(first) & (0xFF >> len);
    for &b in data.get(at + 1..at + len)? {
        size = size << 8 | u64::from(b);
    }
    Some((usize::try_from(size).ok()?, len))
}

/// Service tags of each MKV document, found by scanning for TagName (0x45A3) and TagString
/// (0x4487) elements in the bytes (independent of our MKV reader).
fn scan_documents(data: &[u8]) -> Vec<Vec<(String, String)>> {
    const EBML_MAGIC: &[u8] = &[0x1A, 0x45, 0xDF, 0xA3];
    const PREFIX: &[u8] = b"AWS_KINESISVIDEO_";
    let mut docs: Vec<Vec<(String, String)>> = Vec::new();
    let mut i = 0;
    while i + 4 <= data.len() {
        if &data[i..i + 4] == EBML_MAGIC {
            docs.push(Vec::new());
            i += 4;
            continue;
        }
        if data[i..i + 2] == [0x45, 0xA3]
            && let Some((size, len)) = vint(data, i + 2)
        {
            let start = i + 2 + len;
            if let Some(name) = data.get(start..start.saturating_add(size))
                && name.starts_with(PREFIX)
            {
                let name = String::from_utf8(name.to_vec()).unwrap();
                let end = start + size;
                let at = end
                    + data[end..(end + 64).min(data.len())]
                        .windows(2)
                        .position(|w| w == [0x44, 0x87])
                        .expect("TagString after TagName");
                let (vsize, vlen) = vint(data, at + 2).expect("TagString size");
                let vstart = at + 2 + vlen;
                let value = String::from_utf8(data[vstart..vstart + vsize].to_vec()).unwrap();
                docs.last_mut()
                    .expect("tag inside a document")
                    .push((name, value));
                i = vstart + vsize;
                continue;
            }
        }
        i += 1;
    }
    docs
}

/// Service tags of each document through kvs_core::mkv::MkvReader.
fn reader_documents(data: &[u8]) -> Vec<Vec<(String, String)>> {
    let mut reader = MkvReader::new();
    reader.push(Bytes::copy_from_slice(data));
    let mut docs: Vec<Vec<(String, String)>> = Vec::new();
    while let Some(ev) = reader.next_event().expect("mkv parse") {
        match ev.event {
            MkvEvent::EbmlHeader(_) => docs.push(Vec::new()),
            MkvEvent::Tags(tags) => {
                let doc = docs.last_mut().expect("tags inside a document");
                for tag in tags {
                    for st in tag.simple_tags {
                        if st.name.starts_with("AWS_KINESISVIDEO_") {
                            doc.push((st.name, st.value));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    docs
}

#[derive(Clone, Copy, PartialEq)]
enum Shape {
    /// Every fragment has all five service tags.
    Complete,
    /// The recording ends inside its last fragment, before the trailing tags.
    LastCut,
    /// A producer-only document: no service tags at all.
    NoServiceTags,
}

const FILES: &[(&str, usize, Shape)] = &[
    ("output_get_media.mkv", 5, Shape::Complete),
    ("output_get_media_sparse_fragments.mkv", 3, Shape::Complete),
    ("output-get-media-equal-timecode.mkv", 2, Shape::LastCut),
    ("test_mixed_tags.mkv", 10, Shape::Complete),
    ("empty-mkv-with-tags.mkv", 1, Shape::LastCut),
    ("test_tags_empty_cluster.mkv", 1, Shape::NoServiceTags),
];

fn check_documents(file: &str, docs: &[Vec<(String, String)>], expected: usize, shape: Shape) {
    assert_eq!(docs.len(), expected, "{file}");
    if shape == Shape::NoServiceTags {
        assert!(docs.iter().all(Vec::is_empty), "{file}: {docs:?}");
        return;
    }
    for (i, doc) in docs.iter().enumerate() {
        let last_cut = shape == Shape::LastCut && i + 1 == docs.len();
        let tags =
            FragmentServiceTags::from_pairs(doc.iter().map(|(n, v)| (n.as_str(), v.as_str())))
                .unwrap_or_else(|e| panic!("{file} #{i}: {e}"));
        assert!(tags.is_success(), "{file} #{i}: {doc:?}");
        assert_eq!(tags.is_complete(), !last_cut, "{file} #{i}: {doc:?}");
        let number = tags.fragment_number.as_deref().expect("fragment number");
        assert!(
            !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()),
            "{file} #{i}"
        );
        if !last_cut {
            assert_eq!(
                tags.continuation_token.as_deref(),
                Some(number),
                "{file} #{i}"
            );
        }
        // Formatting the parsed timestamps gives back the service's text exactly.
        let (_, server_text) = doc
            .iter()
            .find(|(n, _)| n == TAG_SERVER_TIMESTAMP)
            .expect("server ts");
        assert_eq!(
            getmedia::format_timestamp(tags.server_timestamp_ms.expect("ms")),
            *server_text,
            "{file} #{i}"
        );
        assert!(tags.producer_timestamp_ms.is_some(), "{file} #{i}");
    }
}

#[test]
fn real_getmedia_files_by_byte_scan() {
    for &(file, expected, shape) in FILES {
        let data = std::fs::read(format!("{DIR}/{file}")).expect("read recording");
        check_documents(file, &scan_documents(&data), expected, shape);
    }
}

#[test]
fn real_getmedia_files_through_the_mkv_reader() {
    for &(file, expected, shape) in FILES {
        let data = std::fs::read(format!("{DIR}/{file}")).expect("read recording");
        let docs = reader_documents(&data);
        check_documents(file, &docs, expected, shape);
        assert_eq!(docs, scan_documents(&data), "{file}");
    }
}
