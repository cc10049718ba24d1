// SPDX-License-Identifier: MPL-2.0
//! Feeds arbitrary bytes to the MKV reader, whole and in chunks whose sizes come from the
//! input, and checks both ways give the same events and the same error.
#![no_main]

use bytes::Bytes;
use kvs_core::mkv::{MkvError, MkvEventAt, MkvReader, ReaderLimits};
use libfuzzer_sys::fuzz_target;

fn run(data: &Bytes, chunk: usize, limits: ReaderLimits) -> (Vec<MkvEventAt>, Option<MkvError>) {
    let mut reader = MkvReader::with_limits(limits);
    let mut events = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let end = (pos + chunk).min(data.len());
        reader.push(data.slice(pos..end));
        pos = end;
        loop {
            match reader.next_event() {
                Ok(Some(e)) => events.push(e),
                Ok(None) => break,
                Err(e) => return (events, Some(e)),
            }
        }
    }
    let finished = reader.finish().err();
    loop {
        match reader.next_event() {
            Ok(Some(e)) => events.push(e),
            Ok(None) => break,
            Err(e) => return (events, Some(e)),
        }
    }
    (events, finished)
}

fuzz_target!(|input: &[u8]| {
    let Some((&seed, rest)) = input.split_first() else {
        return;
    };
    // Small limits so the fuzzer can reach every limit check with short inputs.
    let limits = ReaderLimits {
        max_block_size: 512,
        max_header_size: 1024,
        max_tags_size: 512,
        max_tracks: 4,
        max_tag_count: 8,
        max_nesting: 4,
    };
    let data = Bytes::copy_from_slice(rest);
    let whole = run(&data, data.len().max(1), limits);
    let chunked = run(&data, usize::from(seed % 17) + 1, limits);
    assert_eq!(whole, chunked, "chunking changed the result");
});
