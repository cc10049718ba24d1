// SPDX-License-Identifier: MPL-2.0
//! Motion detection on raw video from videotestsrc: the moving ball is motion and
//! a still picture is not; the tags, KVS events and bus messages that follow.

mod common;

use common::{Item, pipeline, require_elements, run};
use gst::prelude::*;
use kvs_core::tags::{EventMetadata, MetadataEvent};

const CAPS: &str = "video/x-raw,format=I420,width=320,height=240,framerate=30/1";

/// 45 frames of the moving ball, then 90 black frames: concat keeps running
/// time going, so the ball stops (vanishes) at 1.5 s and motion must end.
fn ball_then_black(meta: &str) -> String {
    format!(
        "concat name=c ! {meta} ! fakesink name=sink \
         videotestsrc pattern=ball num-buffers=45 ! {CAPS} ! c. \
         videotestsrc pattern=black num-buffers=90 ! {CAPS} ! c."
    )
}

fn area_of(value: &str) -> f64 {
    value
        .strip_prefix("start;area=")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("not a start value: {value}"))
}

fn frame_index(items: &[Item], item_index: usize) -> usize {
    items[..item_index]
        .iter()
        .filter(|i| matches!(i, Item::Buffer(_)))
        .count()
}

#[test]
fn moving_ball_starts_and_ends_motion() {
    require_elements(&["videotestsrc", "concat"]);
    let p = pipeline(&ball_then_black("kvsmeta motion=true motion-cooldown=300"));
    let r = run(&p);
    r.assert_clean();
    let tags = r.one_shots("motion");
    assert_eq!(tags.len(), 2, "one start, one end: {:?}", r.metas());
    let (start_at, start) = &tags[0];
    let (end_at, end) = &tags[1];
    let area = area_of(start);
    assert!((1.0..20.0).contains(&area), "changed area {area}");
    // The tag comes right before the frame it was detected on: early in the
    // ball run, and the end only after the ball is gone plus the cooldown.
    let start_frame = frame_index(&r.items, *start_at);
    let end_frame = frame_index(&r.items, *end_at);
    assert!(
        (1..10).contains(&start_frame),
        "start at frame {start_frame}"
    );
    assert!(end_frame >= 45 + 9, "end at frame {end_frame}");
    assert!(matches!(r.items.get(start_at + 1), Some(Item::Buffer(_))));
    let duration: f64 = end
        .strip_prefix("end;duration=")
        .and_then(|d| d.strip_suffix('s'))
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("not an end value: {end}"));
    assert!((1.0..4.5).contains(&duration), "duration {duration}");

    let states: Vec<String> = r
        .motion_messages
        .iter()
        .map(|s| s.get::<String>("state").unwrap())
        .collect();
    assert_eq!(states, ["start", "end"]);
    let msg_area = r.motion_messages[0].get::<f64>("area-percent").unwrap();
    assert!((msg_area - area).abs() < 0.05, "{msg_area} vs {area}");
    let msg_duration = r.motion_messages[1]
        .get::<gst::ClockTime>("duration")
        .unwrap();
    assert!((msg_duration.seconds_f64() - duration).abs() < 0.001);
    assert!(
        r.motion_messages[1]
            .get::<gst::ClockTime>("running-time")
            .unwrap()
            > gst::ClockTime::from_mseconds(1500)
    );
}

#[test]
fn still_pictures_are_never_motion() {
    require_elements(&["videotestsrc"]);
    // Not `smpte`: its bottom right corner is a block of random noise that
    // changes every frame (3.5 % of the picture), which is real change.
    for pattern in ["smpte75", "checkers-8", "pinwheel"] {
        let p = pipeline(&format!(
            "videotestsrc pattern={pattern} num-buffers=90 ! {CAPS} ! kvsmeta motion=true \
             image-generation-on-motion=true ! fakesink name=sink"
        ));
        let r = run(&p);
        r.assert_clean();
        assert_eq!(r.buffers(), 90);
        assert!(r.metas().is_empty(), "{pattern}: {:?}", r.metas());
        assert!(
            r.motion_messages.is_empty(),
            "{pattern}: {:?}",
            r.motion_messages
        );
    }
}

#[test]
fn noise_over_the_minimum_area_is_motion() {
    require_elements(&["videotestsrc"]);
    let p = pipeline(&format!(
        "videotestsrc pattern=smpte num-buffers=30 ! {CAPS} ! kvsmeta motion=true \
         ! fakesink name=sink"
    ));
    let r = run(&p);
    r.assert_clean();
    let tags = r.one_shots("motion");
    assert_eq!(tags.len(), 1, "{:?}", r.metas());
    let area = area_of(&tags[0].1);
    assert!(
        (2.0..5.0).contains(&area),
        "the noise block is about 3.5 %: {area}"
    );
    // With a minimum area above the block, the same picture is still.
    let p = pipeline(&format!(
        "videotestsrc pattern=smpte num-buffers=30 ! {CAPS} ! kvsmeta motion=true \
         motion-min-area=5 ! fakesink name=sink"
    ));
    let r = run(&p);
    r.assert_clean();
    assert!(r.metas().is_empty(), "{:?}", r.metas());
}

#[test]
fn motion_events_on_request_carry_the_tag_as_a_pair() {
    require_elements(&["videotestsrc", "concat"]);
    let p = pipeline(&ball_then_black(
        "kvsmeta motion=true motion-cooldown=300 motion-tag-name=cam-motion \
         image-generation-on-motion=true notification-on-motion=true image-prefix=cam1/",
    ));
    let r = run(&p);
    r.assert_clean();
    let tags = r.one_shots("cam-motion");
    assert_eq!(tags.len(), 2, "{:?}", r.metas());
    let (start_at, start) = &tags[0];
    let pairs = vec![("cam-motion".to_owned(), start.clone())];
    assert_eq!(
        r.items[start_at + 1..start_at + 3],
        [
            Item::Meta(MetadataEvent::AddEvent(
                EventMetadata::image_generation(Some("cam1/".into()), pairs.clone()).unwrap()
            )),
            Item::Meta(MetadataEvent::AddEvent(
                EventMetadata::notification(pairs).unwrap()
            )),
        ]
    );
    // Events only on start.
    let events = r
        .metas()
        .into_iter()
        .filter(|m| matches!(m, MetadataEvent::AddEvent(_)))
        .count();
    assert_eq!(events, 2);
}

#[test]
fn motion_without_detection_sends_nothing() {
    require_elements(&["videotestsrc", "concat"]);
    let p = pipeline(&ball_then_black("kvsmeta"));
    let r = run(&p);
    r.assert_clean();
    assert_eq!(r.buffers(), 135);
    assert!(r.metas().is_empty());
    assert!(r.motion_messages.is_empty());
}

#[test]
fn packed_rgb_input_detects_motion_too() {
    require_elements(&["videotestsrc", "concat"]);
    let caps = "video/x-raw,format=BGRx,width=320,height=240,framerate=30/1";
    let p = pipeline(&format!(
        "concat name=c ! kvsmeta motion=true motion-cooldown=300 ! fakesink name=sink \
         videotestsrc pattern=ball num-buffers=45 ! {caps} ! c. \
         videotestsrc pattern=black num-buffers=90 ! {caps} ! c."
    ));
    let r = run(&p);
    r.assert_clean();
    let values: Vec<String> = r.one_shots("motion").into_iter().map(|(_, v)| v).collect();
    assert_eq!(values.len(), 2, "{values:?}");
    assert!(values[0].starts_with("start;area="), "{values:?}");
    assert!(values[1].starts_with("end;duration="), "{values:?}");
}

#[test]
fn motion_on_encoded_video_is_refused_clearly() {
    require_elements(&["videotestsrc", "x264enc"]);
    let p = pipeline(&format!(
        "videotestsrc num-buffers=10 ! {CAPS} ! x264enc ! kvsmeta motion=true ! fakesink name=sink"
    ));
    let r = run(&p);
    let error = r.error.expect("an error");
    assert!(error.contains("motion=true needs raw video"), "{error}");
    assert!(error.contains("video/x-h264"), "{error}");
    assert!(
        error.contains("place kvsmeta before the encoder"),
        "{error}"
    );
}

#[test]
fn motion_on_encoded_video_is_fine_when_motion_is_off() {
    require_elements(&["videotestsrc", "x264enc"]);
    let p = pipeline(&format!(
        "videotestsrc num-buffers=10 ! {CAPS} ! x264enc ! kvsmeta tags=\"t,camera=front\" \
         ! fakesink name=sink"
    ));
    let r = run(&p);
    r.assert_clean();
    assert_eq!(r.metas().len(), 1);
}

#[test]
fn motion_on_an_unreadable_raw_format_asks_for_videoconvert() {
    require_elements(&["videotestsrc"]);
    let p = pipeline(
        "videotestsrc num-buffers=10 ! video/x-raw,format=I420_10LE,width=64,height=48 \
         ! kvsmeta motion=true ! fakesink name=sink",
    );
    let r = run(&p);
    let error = r.error.expect("an error");
    assert!(error.contains("videoconvert"), "{error}");
    assert!(error.contains("I420_10LE"), "{error}");
}

#[test]
fn invalid_motion_tag_name_fails_at_start() {
    require_elements(&["videotestsrc"]);
    let p = pipeline(&format!(
        "videotestsrc num-buffers=10 ! {CAPS} ! kvsmeta motion=true motion-tag-name=AWS_MOTION \
         ! fakesink name=sink"
    ));
    let r = run(&p);
    let error = r.error.expect("an error");
    assert!(error.contains("motion-tag-name"), "{error}");
    assert!(error.contains("reserved prefix"), "{error}");
}

#[test]
fn motion_before_an_encoder_negotiates_a_readable_format() {
    // No capsfilter: x264enc also takes 10-bit formats the detector cannot
    // read, so kvsmeta must steer negotiation to one it can.
    assert_negotiates_readable("videotestsrc num-buffers=30");
    // A source that prefers 10-bit but can do 8-bit: without the restriction,
    // the first common format (Y444_10LE) wins and the detector refuses it.
    assert_negotiates_readable(
        "videotestsrc num-buffers=30 ! video/x-raw,format={Y444_10LE,I420_10LE,NV12,I420}",
    );
}

fn assert_negotiates_readable(source: &str) {
    require_elements(&["videotestsrc", "x264enc"]);
    let p = pipeline(&format!(
        "{source} ! kvsmeta name=meta motion=true ! x264enc ! fakesink name=sink"
    ));
    let caps = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = caps.clone();
    common::element(&p, "meta")
        .static_pad("sink")
        .expect("kvsmeta has a sink pad")
        .add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
            if let Some(gst::PadProbeData::Event(e)) = &info.data
                && let gst::EventView::Caps(c) = e.view()
            {
                *seen.lock().unwrap() = Some(c.caps_owned());
            }
            gst::PadProbeReturn::Ok
        });
    let r = run(&p);
    r.assert_clean();
    assert!(r.buffers() > 0, "no encoded buffer reached the sink");
    let caps = caps.lock().unwrap().clone().expect("kvsmeta received caps");
    let info = gst_video::VideoInfo::from_caps(&caps).expect("raw video caps");
    assert!(
        gstrskvsmeta::kvsmeta::luma::layout(info.format()).is_some(),
        "{source}: negotiated {caps}"
    );
}
