// SPDX-License-Identifier: MPL-2.0
//! Tags from this module, written by the MKV writer, have the byte layout of AWS's
//! producer (spec producer-wire §2.4, §3.7).

use bytes::BytesMut;
use kvs_core::mkv::write_tags;
use kvs_core::tags::{EventMetadata, FragmentMetadataQueue, FragmentTag, end_of_fragment_tag};

#[test]
fn end_of_fragment_tag_matches_the_recorded_bytes() {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/test-vectors/official-kvssink/capture-h264-alaw.mkv");
    let mkv = std::fs::read(&path).unwrap_or_else(|e| panic!("{} missing: {e}", path.display()));
    let mut out = BytesMut::new();
    write_tags(&[end_of_fragment_tag()], &mut out).unwrap();
    // AWS's body ends with exactly this Tags element.
    assert_eq!(out.len(), 52 + "AWS_KINESISVIDEO_END_OF_FRAGMENT".len());
    assert_eq!(&mkv[mkv.len() - out.len()..], &out[..]);
}

#[test]
fn event_pairs_are_sibling_simple_tags_in_one_tag() {
    let event = EventMetadata::image_generation(Some("p/".into()), vec![("k".into(), "vv".into())])
        .unwrap();
    let mut out = BytesMut::new();
    write_tags(&[event.to_tag()], &mut out).unwrap();
    // 52 + name + value for the first SimpleTag, 30 + name + value for each sibling.
    let first = 52 + "AWS_KINESISVIDEO_IMAGE_GENERATION".len();
    let prefix = 30 + "AWS_KINESISVIDEO_IMAGE_PREFIX".len() + 2;
    let pair = 30 + 1 + 2;
    assert_eq!(out.len(), first + prefix + pair);
    // One Tags, one Tag, three SimpleTags.
    let count = |id: &[u8]| out.windows(id.len()).filter(|w| w == &id).count();
    assert_eq!(count(&[0x12, 0x54, 0xc3, 0x67]), 1);
    assert_eq!(count(&[0x73, 0x73]), 1);
    assert_eq!(count(&[0x67, 0xc8]), 3);
}

#[test]
fn each_queued_entry_is_written_as_its_own_tags_element() {
    let mut q = FragmentMetadataQueue::new();
    q.add_tag(FragmentTag::persistent("camera", "front").unwrap())
        .unwrap();
    q.add_tag(FragmentTag::one_shot("motion", "1").unwrap())
        .unwrap();
    let mut out = BytesMut::new();
    for tag in q.take_for_next_fragment().tags {
        write_tags(&[tag], &mut out).unwrap();
    }
    assert_eq!(out.len(), (52 + 6 + 5) + (52 + 6 + 1));
}
