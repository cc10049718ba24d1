// SPDX-License-Identifier: MPL-2.0
//! Fuzzes the PutMedia ACK parser: no panic, bounded buffering, and the same result however
//! the input is split.

#![no_main]

use kvs_core::putmedia::AckParser;
use kvs_core::putmedia::ack::MAX_ACK_OBJECT_LEN;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, body)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(split).max(1);

    let mut whole = AckParser::new();
    whole.push(body);
    let mut expected = Vec::new();
    while let Some(ack) = whole.next_ack() {
        expected.push(ack);
    }
    let expected_end = whole.finish();

    let mut chunked = AckParser::new();
    let mut got = Vec::new();
    for piece in body.chunks(chunk) {
        chunked.push(piece);
        assert!(chunked.buffered_len() <= MAX_ACK_OBJECT_LEN);
        while let Some(ack) = chunked.next_ack() {
            if let Ok(ack) = &ack {
                // What we would send must parse back to the same ACK.
                let mut echo = AckParser::new();
                echo.push(ack.to_json_line().as_bytes());
                assert_eq!(echo.next_ack(), Some(Ok(ack.clone())));
            }
            got.push(ack);
        }
    }
    assert_eq!(got, expected);
    assert_eq!(chunked.finish(), expected_end);
});
