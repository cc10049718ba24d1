// SPDX-License-Identifier: MPL-2.0
//! Serialized custom events sent on raw video before an encoder come out of it
//! in order with the encoded frames: each event precedes the encoded frame it
//! was sent before, and follows only frames that came before it. This is what
//! lets kvsmeta sit before x264enc/x265enc and still tag the right fragment.

mod common;

use common::{Item, at_frame, one_shot, pipeline, require_elements, run};
use gst::prelude::*;

const FRAMES: u64 = 60;
const MARKED: [u64; 5] = [0, 7, 20, 31, 59];

fn pts(frame: u64) -> gst::ClockTime {
    gst::ClockTime::from_nseconds(frame * 1_000_000_000 / 30)
}

fn check_encoder(encoder: &str) {
    let p = pipeline(&format!(
        "videotestsrc num-buffers={FRAMES} pattern=ball \
         ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 \
         ! kvsmeta name=meta ! {encoder} ! fakesink name=sink"
    ));
    for frame in MARKED {
        at_frame(&p, "meta", frame, move |m| {
            let value = format!("frame-{frame}");
            assert!(m.emit_by_name::<bool>("add-tag", &[&"mark", &value, &false]));
        });
    }
    let r = run(&p);
    r.assert_clean();
    assert_eq!(r.buffers() as u64, FRAMES, "{encoder} output every frame");
    // Encoders may shift all timestamps (x264enc adds 1000 h so that DTS stays
    // positive with B-frames); frame 0 has the smallest PTS.
    let base = r
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Buffer(p) => *p,
            Item::Meta(_) => None,
        })
        .min()
        .expect("encoded frames have timestamps");
    let pts = |frame: u64| base + pts(frame);
    let marks = r.one_shots("mark");
    assert_eq!(marks.len(), MARKED.len(), "{:?}", r.metas());
    for ((at, value), frame) in marks.iter().zip(MARKED) {
        assert_eq!(*value, format!("frame-{frame}"));
        let before: Vec<gst::ClockTime> = r.items[..*at]
            .iter()
            .filter_map(|i| match i {
                Item::Buffer(p) => *p,
                Item::Meta(_) => None,
            })
            .collect();
        assert!(
            before.iter().all(|&p| p < pts(frame)),
            "{encoder}: mark for frame {frame} after a later frame: {before:?}"
        );
        assert!(
            r.items[*at..].contains(&Item::Buffer(Some(pts(frame)))),
            "{encoder}: encoded frame {frame} precedes its mark"
        );
    }
    // Nothing else was invented on the way.
    assert_eq!(r.metas().len(), MARKED.len());
    assert_eq!(r.metas()[0], &one_shot("mark", "frame-0"));
}

#[test]
fn events_stay_in_order_through_x264enc() {
    require_elements(&["videotestsrc", "x264enc"]);
    check_encoder("x264enc");
}

#[test]
fn events_stay_in_order_through_x264enc_with_b_frames() {
    require_elements(&["videotestsrc", "x264enc"]);
    check_encoder("x264enc bframes=2 b-adapt=false");
}

#[test]
fn events_stay_in_order_through_x265enc() {
    require_elements(&["videotestsrc", "x265enc"]);
    check_encoder("x265enc");
}
