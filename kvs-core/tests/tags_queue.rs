// SPDX-License-Identifier: MPL-2.0
//! Fragment tags, events, their limits, and the per-fragment queue.

use kvs_core::mkv::{SimpleTag, Tag};
use kvs_core::tags::limits::{MAX_NAME_LEN, MAX_TAGS_PER_FRAGMENT, MAX_VALUE_LEN};
use kvs_core::tags::names;
use kvs_core::tags::{
    EventKind, EventMetadata, FragmentMetadataQueue, FragmentTag, MetadataEvent, TagError,
    end_of_fragment_tag,
};

fn names_of(tags: &[Tag]) -> Vec<String> {
    tags.iter()
        .map(|t| {
            t.simple_tags
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect()
}

fn pairs(n: usize) -> Vec<(String, String)> {
    (0..n).map(|i| (format!("k{i}"), format!("v{i}"))).collect()
}

#[test]
fn name_and_value_limits() {
    assert!(FragmentTag::one_shot("a".repeat(MAX_NAME_LEN), "v".repeat(MAX_VALUE_LEN)).is_ok());
    assert_eq!(FragmentTag::one_shot("", "v"), Err(TagError::EmptyName));
    assert!(matches!(
        FragmentTag::one_shot("a".repeat(MAX_NAME_LEN + 1), ""),
        Err(TagError::NameTooLong {
            len: 129,
            max: 128,
            ..
        })
    ));
    assert!(matches!(
        FragmentTag::persistent("camera", "v".repeat(MAX_VALUE_LEN + 1)),
        Err(TagError::ValueTooLong {
            len: 257,
            max: 256,
            ..
        })
    ));
    assert!(matches!(
        FragmentTag::one_shot("AWS_KINESISVIDEO_NOTIFICATION", ""),
        Err(TagError::ReservedName { .. })
    ));
    assert!(matches!(
        FragmentTag::one_shot("AWSome", "x"),
        Err(TagError::ReservedName { .. })
    ));
    // The reserved prefix is case-sensitive, as in AWS's SDK.
    assert!(FragmentTag::one_shot("aws-region", "x").is_ok());
}

#[test]
fn event_limits() {
    assert!(EventMetadata::notification(pairs(10)).is_ok());
    assert_eq!(
        EventMetadata::notification(pairs(11)),
        Err(TagError::TooManyPairs { count: 11, max: 10 })
    );
    assert!(EventMetadata::image_generation(Some("p".repeat(256)), vec![]).is_ok());
    assert_eq!(
        EventMetadata::image_generation(Some("p".repeat(257)), vec![]),
        Err(TagError::InvalidImagePrefix { len: 257, max: 256 })
    );
    assert!(EventMetadata::image_generation(Some(String::new()), vec![]).is_err());
    assert!(matches!(
        EventMetadata::notification(vec![("AWS_X".into(), "1".into())]),
        Err(TagError::ReservedName { .. })
    ));
    assert!(matches!(
        EventMetadata::notification(vec![("k".into(), "v".repeat(257))]),
        Err(TagError::ValueTooLong { .. })
    ));
}

#[test]
fn events_encode_as_one_tag_in_sdk_order() {
    let image = EventMetadata::image_generation(Some("cam1/".into()), pairs(2)).unwrap();
    assert_eq!(
        image.to_tag().simple_tags,
        vec![
            SimpleTag::new(names::IMAGE_GENERATION, ""),
            SimpleTag::new(names::IMAGE_PREFIX, "cam1/"),
            SimpleTag::new("k0", "v0"),
            SimpleTag::new("k1", "v1"),
        ]
    );
    let image_no_prefix = EventMetadata::image_generation(None, vec![]).unwrap();
    assert_eq!(
        image_no_prefix.to_tag(),
        Tag::single(names::IMAGE_GENERATION, "")
    );
    let note = EventMetadata::notification(pairs(1)).unwrap();
    assert_eq!(
        note.to_tag().simple_tags,
        vec![
            SimpleTag::new(names::NOTIFICATION, ""),
            SimpleTag::new("k0", "v0")
        ]
    );
    assert_eq!(note.kind(), &EventKind::Notification);
    assert_eq!(
        end_of_fragment_tag(),
        Tag::single("AWS_KINESISVIDEO_END_OF_FRAGMENT", "")
    );
}

#[test]
fn persistent_tags_repeat_and_one_shots_go_once() {
    let mut q = FragmentMetadataQueue::new();
    q.add_tag(FragmentTag::persistent("camera", "front").unwrap())
        .unwrap();
    q.add_tag(FragmentTag::one_shot("motion", "yes").unwrap())
        .unwrap();
    q.add_event(EventMetadata::notification(vec![]).unwrap())
        .unwrap();

    let first = q.take_for_next_fragment();
    assert_eq!(first.deferred, 0);
    assert_eq!(
        first.tags,
        vec![
            Tag::single("camera", "front"),
            Tag::single("motion", "yes"),
            Tag::single(names::NOTIFICATION, ""),
        ]
    );
    let second = q.take_for_next_fragment();
    assert_eq!(second.tags, vec![Tag::single("camera", "front")]);
    assert_eq!(q.pending_len(), 0);
}

#[test]
fn persistent_replace_in_place_empty_value_and_remove() {
    let mut q = FragmentMetadataQueue::new();
    for (n, v) in [("a", "1"), ("b", "2"), ("c", "3")] {
        q.add_tag(FragmentTag::persistent(n, v).unwrap()).unwrap();
    }
    q.add_tag(FragmentTag::persistent("b", "22").unwrap())
        .unwrap();
    assert_eq!(
        q.take_for_next_fragment().tags,
        vec![
            Tag::single("a", "1"),
            Tag::single("b", "22"),
            Tag::single("c", "3")
        ]
    );
    // An empty value removes the persistent tag, as in AWS's SDK.
    q.add_tag(FragmentTag::persistent("a", "").unwrap())
        .unwrap();
    assert!(q.remove_persistent("c"));
    assert!(!q.remove_persistent("c"));
    assert_eq!(
        q.take_for_next_fragment().tags,
        vec![Tag::single("b", "22")]
    );
    // Through the custom-event path too.
    q.apply(MetadataEvent::RemoveTag("b".into())).unwrap();
    assert!(q.take_for_next_fragment().tags.is_empty());
}

#[test]
fn excess_one_shots_are_carried_over_not_dropped() {
    let mut q = FragmentMetadataQueue::new();
    for i in 0..3 {
        q.add_tag(FragmentTag::persistent(format!("p{i}"), "x").unwrap())
            .unwrap();
    }
    for i in 0..12 {
        q.add_tag(FragmentTag::one_shot(format!("o{i}"), "y").unwrap())
            .unwrap();
    }
    let first = q.take_for_next_fragment();
    assert_eq!(first.tags.len(), MAX_TAGS_PER_FRAGMENT);
    assert_eq!(first.deferred, 5);
    assert_eq!(
        names_of(&first.tags),
        ["p0", "p1", "p2", "o0", "o1", "o2", "o3", "o4", "o5", "o6"]
    );
    let second = q.take_for_next_fragment();
    assert_eq!(second.deferred, 0);
    assert_eq!(
        names_of(&second.tags),
        ["p0", "p1", "p2", "o7", "o8", "o9", "o10", "o11"]
    );
    assert_eq!(
        names_of(&q.take_for_next_fragment().tags),
        ["p0", "p1", "p2"]
    );
}

#[test]
fn events_count_as_one_entry_and_keep_arrival_order() {
    let mut q = FragmentMetadataQueue::with_limits(2, 100);
    q.add_event(EventMetadata::image_generation(None, pairs(10)).unwrap())
        .unwrap();
    q.add_tag(FragmentTag::one_shot("t", "1").unwrap()).unwrap();
    q.add_event(EventMetadata::notification(vec![]).unwrap())
        .unwrap();
    let first = q.take_for_next_fragment();
    assert_eq!(first.tags.len(), 2);
    assert_eq!(first.tags[0].simple_tags.len(), 11);
    assert_eq!(first.deferred, 1);
    assert_eq!(
        names_of(&q.take_for_next_fragment().tags),
        [names::NOTIFICATION]
    );
}

#[test]
fn queue_bounds_are_errors() {
    let mut q = FragmentMetadataQueue::with_limits(2, 3);
    q.add_tag(FragmentTag::persistent("a", "1").unwrap())
        .unwrap();
    q.add_tag(FragmentTag::persistent("b", "1").unwrap())
        .unwrap();
    assert_eq!(
        q.add_tag(FragmentTag::persistent("c", "1").unwrap()),
        Err(TagError::TooManyPersistent { count: 3, max: 2 })
    );
    // Replacing an existing one is still fine at the limit.
    q.add_tag(FragmentTag::persistent("a", "2").unwrap())
        .unwrap();
    for i in 0..3 {
        q.add_tag(FragmentTag::one_shot(format!("o{i}"), "").unwrap())
            .unwrap();
    }
    assert_eq!(
        q.add_event(EventMetadata::notification(vec![]).unwrap()),
        Err(TagError::QueueFull { max: 3 })
    );
    // With the persistent tags filling every fragment, one-shots wait and say so.
    let taken = q.take_for_next_fragment();
    assert_eq!(names_of(&taken.tags), ["a", "b"]);
    assert_eq!(taken.deferred, 3);
    q.remove_persistent("b");
    let taken = q.take_for_next_fragment();
    assert_eq!(names_of(&taken.tags), ["a", "o0"]);
    assert_eq!(taken.deferred, 2);
}
