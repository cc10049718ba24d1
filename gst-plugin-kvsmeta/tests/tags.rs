// SPDX-License-Identifier: MPL-2.0
//! Persistent tags from the `tags` property and the action signals, as the
//! custom events that reach the element after kvsmeta, in order with the frames.

mod common;

use common::{Item, at_frame, element, one_shot, persistent, pipeline, run};
use gst::prelude::*;
use kvs_core::tags::{EventMetadata, MetadataEvent};

const SRC: &str = "videotestsrc num-buffers=10 ! video/x-raw,width=64,height=48,framerate=30/1";

#[test]
fn static_tags_precede_the_first_frame_once() {
    let p = pipeline(&format!(
        "{SRC} ! kvsmeta tags=\"t,camera=front,site=lab,count=5\" ! fakesink name=sink"
    ));
    let r = run(&p);
    r.assert_clean();
    assert_eq!(
        r.items[..4],
        [
            Item::Meta(persistent("camera", "front")),
            Item::Meta(persistent("site", "lab")),
            Item::Meta(persistent("count", "5")),
            Item::Buffer(Some(gst::ClockTime::ZERO)),
        ]
    );
    assert_eq!(
        r.metas().len(),
        3,
        "sent once without a flush: {:?}",
        r.items
    );
    assert_eq!(r.buffers(), 10);
}

#[test]
fn static_tags_are_sent_again_after_a_flushing_seek() {
    // No num-buffers: the stream only ends through the seek's stop position, so
    // the seek always happens mid-stream.
    let p = pipeline(
        "videotestsrc ! video/x-raw,width=64,height=48,framerate=30/1 \
         ! kvsmeta name=meta tags=\"t,camera=front\" ! fakesink name=sink",
    );
    let weak = p.downgrade();
    let seeked = std::sync::atomic::AtomicBool::new(false);
    at_frame(&p, "meta", 5, move |_| {
        if !seeked.swap(true, std::sync::atomic::Ordering::SeqCst)
            && let Some(p) = weak.upgrade()
        {
            // Not from the streaming thread: a flushing seek waits for it.
            std::thread::spawn(move || {
                p.seek(
                    1.0,
                    gst::SeekFlags::FLUSH,
                    gst::SeekType::Set,
                    gst::ClockTime::ZERO,
                    gst::SeekType::Set,
                    gst::ClockTime::from_mseconds(200),
                )
                .expect("seek");
            });
        }
    });
    let r = run(&p);
    r.assert_clean();
    let tags: Vec<usize> = r
        .items
        .iter()
        .enumerate()
        .filter(|(_, i)| **i == Item::Meta(persistent("camera", "front")))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        tags.len(),
        2,
        "tag sent again after the flush: {:?}",
        r.metas()
    );
    assert_eq!(tags[0], 0);
    // The resend directly precedes the first frame after the seek.
    assert_eq!(
        r.items.get(tags[1] + 1),
        Some(&Item::Buffer(Some(gst::ClockTime::ZERO)))
    );
    assert_eq!(r.items.len() - tags[1] - 1, 6, "0..200 ms after the seek");
}

#[test]
fn signals_place_events_before_the_next_frame() {
    let p = pipeline(&format!("{SRC} ! kvsmeta name=meta ! fakesink name=sink"));
    let meta = element(&p, "meta");
    // Before the pipeline runs: delivered before the first frame.
    assert!(meta.emit_by_name::<bool>("add-tag", &[&"site", &"lab", &true]));
    at_frame(&p, "meta", 3, |m| {
        assert!(m.emit_by_name::<bool>("add-tag", &[&"door", &"open", &false]));
        let pairs = gst::Structure::builder("p").field("zone", "north").build();
        assert!(m.emit_by_name::<bool>("add-event", &[&"image-generation", &"shots/", &pairs]));
        assert!(m.emit_by_name::<bool>(
            "add-event",
            &[&"notification", &None::<String>, &None::<gst::Structure>]
        ));
    });
    at_frame(&p, "meta", 6, |m| {
        assert!(m.emit_by_name::<bool>("remove-tag", &[&"site"]));
    });
    let r = run(&p);
    r.assert_clean();
    let pts = |n: u64| Item::Buffer(Some(gst::ClockTime::from_nseconds(n * 1_000_000_000 / 30)));
    let image = EventMetadata::image_generation(
        Some("shots/".into()),
        vec![("zone".into(), "north".into())],
    )
    .unwrap();
    let notification = EventMetadata::notification(vec![]).unwrap();
    let expected_start = [
        Item::Meta(persistent("site", "lab")),
        Item::Buffer(Some(gst::ClockTime::ZERO)),
        pts(1),
        pts(2),
        Item::Meta(one_shot("door", "open")),
        Item::Meta(MetadataEvent::AddEvent(image)),
        Item::Meta(MetadataEvent::AddEvent(notification)),
        pts(3),
        pts(4),
        pts(5),
        Item::Meta(MetadataEvent::RemoveTag("site".into())),
        pts(6),
    ];
    assert_eq!(r.items[..expected_start.len()], expected_start);
    assert_eq!(r.metas().len(), 5, "{:?}", r.items);
}

#[test]
fn tags_property_change_while_playing_replaces_the_set() {
    let p = pipeline(&format!(
        "{SRC} ! kvsmeta name=meta tags=\"t,camera=front,site=lab\" ! fakesink name=sink"
    ));
    at_frame(&p, "meta", 4, |m| {
        let tags: gst::Structure = "t, camera=back".parse().unwrap();
        m.set_property("tags", tags);
    });
    let r = run(&p);
    r.assert_clean();
    let metas: Vec<MetadataEvent> = r.metas().into_iter().cloned().collect();
    assert_eq!(
        metas,
        [
            persistent("camera", "front"),
            persistent("site", "lab"),
            // The whole new set first, then the removal of what it dropped.
            persistent("camera", "back"),
            MetadataEvent::RemoveTag("site".into()),
        ]
    );
}

#[test]
fn invalid_tags_warn_and_valid_ones_survive() {
    let long = "n".repeat(129);
    let p = pipeline(&format!(
        "{SRC} ! kvsmeta tags=\"t,AWS_KINESISVIDEO_X=1,camera=front,{long}=x,r=(fraction)1/2\" \
         ! fakesink name=sink"
    ));
    let r = run(&p);
    assert_eq!(r.error, None);
    assert_eq!(r.warnings.len(), 3, "{:?}", r.warnings);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("reserved prefix 'AWS'")),
        "{:?}",
        r.warnings
    );
    assert!(
        r.warnings.iter().any(|w| w.contains("at most 128")),
        "{:?}",
        r.warnings
    );
    assert!(
        r.warnings.iter().any(|w| w.contains("GstFraction")),
        "{:?}",
        r.warnings
    );
    let metas: Vec<MetadataEvent> = r.metas().into_iter().cloned().collect();
    assert_eq!(metas, [persistent("camera", "front")]);
}

#[test]
fn more_than_ten_persistent_tags_warns_for_the_extra_ones() {
    let fields: Vec<String> = (0..12).map(|i| format!("k{i}=v{i}")).collect();
    let p = pipeline(&format!(
        "{SRC} ! kvsmeta tags=\"t,{}\" ! fakesink name=sink",
        fields.join(",")
    ));
    let r = run(&p);
    assert_eq!(r.error, None);
    assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
    assert!(
        r.warnings
            .iter()
            .all(|w| w.contains("per-fragment limit of 10"))
    );
    assert_eq!(r.metas().len(), 10);
}

#[test]
fn malformed_tags_string_is_a_parse_error() {
    common::init();
    let err = gst::parse::launch(&format!("{SRC} ! kvsmeta tags=\"t,camera=\" ! fakesink"))
        .expect_err("malformed structure refused");
    assert!(err.to_string().contains("tags"), "{err}");
}

#[test]
fn invalid_signal_input_returns_false_with_a_warning() {
    let p = pipeline(&format!("{SRC} ! kvsmeta name=meta ! fakesink name=sink"));
    at_frame(&p, "meta", 2, |m| {
        let long = "v".repeat(257);
        let too_many = (0..11)
            .fold(gst::Structure::builder("p"), |b, i| {
                b.field(format!("k{i}"), "v")
            })
            .build();
        assert!(!m.emit_by_name::<bool>("add-tag", &[&"AWSx", &"1", &false]));
        assert!(!m.emit_by_name::<bool>("add-tag", &[&"big", &long, &true]));
        assert!(!m.emit_by_name::<bool>("add-tag", &[&None::<String>, &"1", &true]));
        assert!(!m.emit_by_name::<bool>("remove-tag", &[&""]));
        assert!(!m.emit_by_name::<bool>(
            "add-event",
            &[&"bogus", &None::<String>, &None::<gst::Structure>]
        ));
        assert!(
            !m.emit_by_name::<bool>("add-event", &[&"notification", &None::<String>, &too_many])
        );
        // The valid one among them still goes through.
        assert!(m.emit_by_name::<bool>("add-tag", &[&"ok", &"1", &false]));
    });
    let r = run(&p);
    assert_eq!(r.error, None);
    assert_eq!(r.warnings.len(), 6, "{:?}", r.warnings);
    let metas: Vec<MetadataEvent> = r.metas().into_iter().cloned().collect();
    assert_eq!(metas, [one_shot("ok", "1")]);
}

#[test]
fn tags_added_after_the_last_frame_precede_eos() {
    let p = pipeline(&format!("{SRC} ! kvsmeta name=meta ! fakesink name=sink"));
    let meta = element(&p, "meta");
    let pad = meta.static_pad("sink").unwrap();
    let weak = meta.downgrade();
    pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
        if let Some(gst::PadProbeData::Event(e)) = &info.data
            && e.type_() == gst::EventType::Eos
            && let Some(m) = weak.upgrade()
        {
            assert!(m.emit_by_name::<bool>("add-tag", &[&"last", &"1", &false]));
        }
        gst::PadProbeReturn::Ok
    });
    let r = run(&p);
    r.assert_clean();
    assert_eq!(r.items.last(), Some(&Item::Meta(one_shot("last", "1"))));
}
