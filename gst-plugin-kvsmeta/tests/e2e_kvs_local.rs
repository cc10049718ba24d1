// SPDX-License-Identifier: MPL-2.0
//! kvsmeta end to end: `gst-launch`-style pipelines stream through kvssink into an
//! in-process kvs-local, and what kvs-local stored is read back per fragment
//! (ListFragments + GetMediaForFragmentList, parsed with kvs-core's MKV reader) and
//! through kvssrc's `kvs-fragment` messages.

use std::sync::Arc;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gst::prelude::*;
use gst_kvs_test_support::local::LocalServer as Local;
use kvs_core::mkv::{MkvEvent, MkvReader, Tag};
use kvs_core::tags::names::{IMAGE_GENERATION, IMAGE_PREFIX, NOTIFICATION};

const DEADLINE: Duration = Duration::from_secs(120);
const CAPS: &str = "video/x-raw,format=I420,width=320,height=240,framerate=30/1";
/// One fragment per key frame: 15 frames, 0.5 s at 30 fps. `ultrafast` has no B-frames
/// and no look-ahead, so frames leave the encoder in order and at once.
const ENCODE: &str = "x264enc key-int-max=15 speed-preset=ultrafast ! h264parse";
const GOP: usize = 15;
/// Tags kvs-local adds to what it serves; everything else came from the producer.
const SERVER_TAGS: [&str; 5] = [
    "AWS_KINESISVIDEO_FRAGMENT_NUMBER",
    "AWS_KINESISVIDEO_SERVER_TIMESTAMP",
    "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP",
    "AWS_KINESISVIDEO_MILLIS_BEHIND_NOW",
    "AWS_KINESISVIDEO_CONTINUATION_TOKEN",
];

fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().expect("GStreamer initialises");
        gstrskvsmeta::plugin_register_static().expect("kvsmeta registers");
        gstrskvssink::plugin_register_static().expect("kvssink registers");
        gstrskvssrc::plugin_register_static().expect("kvssrc registers");
    });
}

/// Fails (never skips) when an element the test needs is not installed.
fn require_elements(names: &[&str]) {
    init();
    for name in names {
        assert!(
            gst::ElementFactory::find(name).is_some(),
            "GStreamer element {name} is missing: install gstreamer1.0-plugins-base, -good, \
             -bad and -ugly (Debian: apt-get install gstreamer1.0-plugins-ugly \
             gstreamer1.0-plugins-bad)"
        );
    }
}

/// One stored fragment as GetMediaForFragmentList returns it.
#[derive(Debug)]
struct Stored {
    number: String,
    tags: Vec<Tag>,
    blocks: usize,
}

impl Stored {
    /// Every SimpleTag of the fragment as (name, value).
    fn pairs(&self) -> Vec<(&str, &str)> {
        self.tags
            .iter()
            .flat_map(|t| &t.simple_tags)
            .map(|s| (s.name.as_str(), s.value.as_str()))
            .collect()
    }

    fn count(&self, name: &str) -> usize {
        self.pairs().iter().filter(|(n, _)| *n == name).count()
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.pairs()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// The pairs the producer wrote (without the ones kvs-local adds when serving).
    fn producer_pairs(&self) -> Vec<(&str, &str)> {
        self.pairs()
            .into_iter()
            .filter(|(n, _)| !SERVER_TAGS.contains(n))
            .collect()
    }
}

/// What these tests add to the shared in-process kvs-local.
trait MetaLocal {
    fn kvssink(&self, stream: &str) -> String;
    fn kvssrc(&self, stream: &str) -> String;
    /// Every stored fragment of `stream`, oldest first, once `expected` are listed.
    fn fragments(&self, stream: &str, expected: usize) -> Vec<Stored>;
}

impl MetaLocal for Local {
    fn kvssink(&self, stream: &str) -> String {
        format!(
            "kvssink name=sink stream-name={stream} aws-region=us-east-1 endpoint-uri={} \
             access-key=AKIDLOCAL secret-key=local-secret stop-stream-timeout=30",
            self.url()
        )
    }

    fn kvssrc(&self, stream: &str) -> String {
        format!(
            "kvssrc stream-name={stream} aws-region=us-east-1 endpoint-uri={} \
             access-key=AKIDLOCAL secret-key=local-secret start-selector=earliest",
            self.url()
        )
    }

    fn fragments(&self, stream: &str, expected: usize) -> Vec<Stored> {
        let listed = self.wait_for_fragments(stream, expected, Duration::from_secs(30));
        assert_eq!(
            listed.len(),
            expected,
            "fragments stored for {stream}: {listed:?}"
        );
        listed
            .into_iter()
            .map(|f| {
                let (status, body) = self.post_json(
                    kvs_core::putmedia::PATH_GET_MEDIA_FOR_FRAGMENT_LIST,
                    &serde_json::json!({"StreamName": stream, "Fragments": [f.fragment_number]}),
                );
                assert_eq!(
                    status,
                    200,
                    "GetMediaForFragmentList: {}",
                    String::from_utf8_lossy(&body)
                );
                let (tags, blocks) = parse(body);
                Stored {
                    number: f.fragment_number,
                    tags,
                    blocks,
                }
            })
            .collect()
    }
}

/// Tags and block count of one GetMediaForFragmentList response.
fn parse(body: Bytes) -> (Vec<Tag>, usize) {
    let mut reader = MkvReader::new();
    reader.push(body);
    reader.finish().expect("the response ends cleanly");
    let mut tags = Vec::new();
    let mut blocks = 0;
    while let Some(ev) = reader.next_event().expect("kvs-core reads the response") {
        match ev.event {
            MkvEvent::Tags(t) => tags.extend(t),
            MkvEvent::Block(_) => blocks += 1,
            _ => {}
        }
    }
    (tags, blocks)
}

/// What a finished pipeline reported on its bus.
#[derive(Debug, Default)]
struct Outcome {
    warnings: Vec<String>,
    elements: Vec<gst::Structure>,
}

impl Outcome {
    fn messages(&self, name: &str) -> Vec<&gst::Structure> {
        self.elements.iter().filter(|s| s.name() == name).collect()
    }

    fn warned(&self, needle: &str) -> bool {
        self.warnings.iter().any(|w| w.contains(needle))
    }
}

fn launch(desc: &str) -> gst::Pipeline {
    init();
    gst::parse::launch(desc)
        .unwrap_or_else(|e| panic!("cannot build pipeline {desc}: {e}"))
        .downcast::<gst::Pipeline>()
        .expect("a pipeline")
}

/// Runs until `done` says so (or EOS); panics on an error or when the deadline passes.
fn run_until(pipeline: &gst::Pipeline, mut done: impl FnMut(&Outcome) -> bool) -> Outcome {
    let bus = pipeline.bus().expect("pipeline has a bus");
    let mut out = Outcome::default();
    pipeline
        .set_state(gst::State::Playing)
        .expect("pipeline starts");
    let end = Instant::now() + DEADLINE;
    let result = loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break Err(format!("pipeline did not finish within {DEADLINE:?}"));
        }
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(left.as_millis() as u64))
        else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(_) => break Ok(()),
            gst::MessageView::Error(e) => {
                break Err(format!("{} ({:?})", e.error(), e.debug()));
            }
            gst::MessageView::Warning(w) => out.warnings.push(w.error().to_string()),
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure() {
                    out.elements.push(s.to_owned());
                    if done(&out) {
                        break Ok(());
                    }
                }
            }
            _ => {}
        }
    };
    pipeline
        .set_state(gst::State::Null)
        .expect("pipeline goes to NULL");
    if let Err(e) = result {
        panic!("pipeline failed: {e}; warnings: {:?}", out.warnings);
    }
    out
}

fn run(pipeline: &gst::Pipeline) -> Outcome {
    run_until(pipeline, |_| false)
}

/// Calls `action` on kvsmeta's streaming thread right before frame `at` (0-based)
/// enters it, so whatever it queues goes out in front of that frame.
fn before_frame(
    pipeline: &gst::Pipeline,
    at: usize,
    action: impl Fn(&gst::Element) + Send + Sync + 'static,
) {
    let meta = pipeline.by_name("meta").expect("an element named meta");
    let pad = meta.static_pad("sink").expect("kvsmeta sink pad");
    let seen = Arc::new(AtomicUsize::new(0));
    let element = meta.clone();
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        if seen.fetch_add(1, Ordering::SeqCst) == at {
            action(&element);
        }
        gst::PadProbeReturn::Ok
    });
}

fn add_tag(meta: &gst::Element, name: &str, value: &str, persistent: bool) -> bool {
    meta.emit_by_name::<bool>("add-tag", &[&name, &value, &persistent])
}

/// The fragment a frame belongs to: the stream is cut at every key frame.
fn fragment_of(frame: usize) -> usize {
    frame / GOP
}

/// A one-shot entry queued in front of frame `k` goes with the first fragment that
/// starts at or after `k`.
fn fragment_for_entry_before(frame: usize) -> usize {
    frame.div_ceil(GOP)
}

fn frames(n: usize, pattern: &str) -> String {
    format!("videotestsrc pattern={pattern} num-buffers={n} ! {CAPS}")
}

#[test]
fn static_tags_are_on_every_stored_fragment() {
    require_elements(&["videotestsrc", "x264enc", "h264parse"]);
    let local = Local::start();
    let p = launch(&format!(
        "{} ! kvsmeta tags=\"t,camera=front,site=lab\" ! {ENCODE} ! {}",
        frames(90, "smpte75"),
        local.kvssink("static")
    ));
    let out = run(&p);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let stored = local.fragments("static", 90 / GOP);
    assert_eq!(stored.iter().map(|f| f.blocks).sum::<usize>(), 90);
    for f in &stored {
        assert_eq!(f.count("camera"), 1, "fragment {}: {:?}", f.number, f.tags);
        assert_eq!(f.value("camera"), Some("front"));
        assert_eq!(f.value("site"), Some("lab"), "fragment {}", f.number);
        assert_eq!(f.count("site"), 1);
    }
}

#[test]
fn one_shot_tags_land_once_on_their_fragment_and_remove_tag_stops_a_persistent_one() {
    require_elements(&["videotestsrc", "x264enc", "h264parse"]);
    let local = Local::start();
    let p = launch(&format!(
        "{} ! kvsmeta name=meta tags=\"t,camera=front,site=lab\" ! {ENCODE} ! {}",
        frames(90, "smpte75"),
        local.kvssink("signals")
    ));
    // On a key frame: the entry goes with the fragment that frame starts.
    before_frame(&p, 30, |m| assert!(add_tag(m, "door", "open", false)));
    // Mid-fragment: it waits for the next fragment.
    before_frame(&p, 40, |m| assert!(add_tag(m, "light", "on", false)));
    before_frame(&p, 50, |m| {
        assert!(m.emit_by_name::<bool>("remove-tag", &[&"camera"]));
    });
    let out = run(&p);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let stored = local.fragments("signals", 6);

    let with = |name: &str| -> Vec<usize> {
        stored
            .iter()
            .enumerate()
            .flat_map(|(i, f)| std::iter::repeat_n(i, f.count(name)))
            .collect()
    };
    assert_eq!(with("door"), [fragment_for_entry_before(30)]);
    assert_eq!(stored[2].value("door"), Some("open"));
    assert_eq!(with("light"), [fragment_for_entry_before(40)]);
    // The fragment holding frame 50 had its tags written when it began.
    let removed_from = fragment_of(50) + 1;
    assert_eq!(with("camera"), (0..removed_from).collect::<Vec<_>>());
    assert_eq!(with("site"), (0..6).collect::<Vec<_>>());
}

/// 45 frames of the moving ball, then 90 black ones: motion starts within the first
/// frames and ends after the ball vanishes at 1.5 s (plus the cooldown).
fn ball_then_black(meta: &str, sink: &str) -> String {
    format!(
        "concat name=c ! {meta} ! {ENCODE} ! {sink} {} ! c. {} ! c.",
        frames(45, "ball"),
        frames(90, "black")
    )
}

/// Frame index of each `kvs-motion` message with this state, from its running time.
fn motion_frames(out: &Outcome, state: &str) -> Vec<usize> {
    out.messages("kvs-motion")
        .into_iter()
        .filter(|s| s.get::<String>("state").ok().as_deref() == Some(state))
        .map(|s| {
            let rt = s
                .get::<gst::ClockTime>("running-time")
                .expect("kvs-motion has a running-time");
            (rt.nseconds() as f64 * 30.0 / 1e9).round() as usize
        })
        .collect()
}

fn fragments_with(stored: &[Stored], name: &str, value_prefix: &str) -> Vec<usize> {
    stored
        .iter()
        .enumerate()
        .flat_map(|(i, f)| {
            let n = f
                .pairs()
                .iter()
                .filter(|(k, v)| *k == name && v.starts_with(value_prefix))
                .count();
            std::iter::repeat_n(i, n)
        })
        .collect()
}

#[test]
fn motion_start_and_end_are_tagged_on_the_fragments_where_they_happen() {
    require_elements(&["videotestsrc", "concat", "x264enc", "h264parse"]);
    let local = Local::start();
    let p = launch(&ball_then_black(
        "kvsmeta motion=true motion-cooldown=300",
        &local.kvssink("motion"),
    ));
    let out = run(&p);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let starts = motion_frames(&out, "start");
    let ends = motion_frames(&out, "end");
    assert_eq!((starts.len(), ends.len()), (1, 1), "{:?}", out.elements);
    assert!(
        starts[0] < 45 && ends[0] >= 45,
        "start {starts:?} end {ends:?}"
    );

    let stored = local.fragments("motion", 135 / GOP);
    assert_eq!(
        fragments_with(&stored, "motion", "start;area="),
        [fragment_for_entry_before(starts[0])]
    );
    assert_eq!(
        fragments_with(&stored, "motion", "end;duration="),
        [fragment_for_entry_before(ends[0])]
    );
    assert_eq!(fragments_with(&stored, "motion", "").len(), 2);
    // Nobody asked for KVS events.
    assert!(
        stored
            .iter()
            .all(|f| f.count(IMAGE_GENERATION) + f.count(NOTIFICATION) == 0)
    );
}

#[test]
fn a_still_picture_is_never_tagged_as_motion() {
    require_elements(&["videotestsrc", "x264enc", "h264parse"]);
    let local = Local::start();
    let p = launch(&format!(
        "{} ! kvsmeta motion=true image-generation-on-motion=true ! {ENCODE} ! {}",
        frames(90, "smpte75"),
        local.kvssink("still")
    ));
    let out = run(&p);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    assert!(out.messages("kvs-motion").is_empty());
    let stored = local.fragments("still", 6);
    for f in &stored {
        assert!(f.producer_pairs().is_empty(), "{}: {:?}", f.number, f.tags);
    }
}

#[test]
fn motion_asks_for_image_generation_and_notification_on_its_fragment() {
    require_elements(&["videotestsrc", "concat", "x264enc", "h264parse"]);
    let local = Local::start();
    let p = launch(&ball_then_black(
        "kvsmeta motion=true motion-cooldown=300 image-generation-on-motion=true \
         notification-on-motion=true image-prefix=cam1/",
        &local.kvssink("events"),
    ));
    let out = run(&p);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let starts = motion_frames(&out, "start");
    assert_eq!(starts.len(), 1, "{:?}", out.elements);
    let at = fragment_for_entry_before(starts[0]);

    let stored = local.fragments("events", 135 / GOP);
    let with = |name: &str| -> Vec<usize> {
        stored
            .iter()
            .enumerate()
            .flat_map(|(i, f)| std::iter::repeat_n(i, f.count(name)))
            .collect()
    };
    assert_eq!(with(IMAGE_GENERATION), [at]);
    assert_eq!(with(NOTIFICATION), [at]);
    // The motion tag, then each event as one Tag of its own: its kind (and prefix),
    // then the tag repeated as its pair.
    let producer: Vec<Vec<(&str, &str)>> = stored[at]
        .tags
        .iter()
        .map(|t| {
            t.simple_tags
                .iter()
                .filter(|st| !SERVER_TAGS.contains(&st.name.as_str()))
                .map(|st| {
                    let v = st.value.as_str();
                    let v = if st.name == "motion" {
                        v.split(';').next().unwrap_or(v)
                    } else {
                        v
                    };
                    (st.name.as_str(), v)
                })
                .collect::<Vec<_>>()
        })
        .filter(|group| !group.is_empty())
        .collect();
    assert_eq!(
        producer,
        [
            vec![("motion", "start")],
            vec![
                (IMAGE_GENERATION, ""),
                (IMAGE_PREFIX, "cam1/"),
                ("motion", "start")
            ],
            vec![(NOTIFICATION, ""), ("motion", "start")],
        ]
    );
}

#[test]
fn more_than_ten_entries_for_one_fragment_spill_into_the_next() {
    require_elements(&["videotestsrc", "x264enc", "h264parse"]);
    let local = Local::start();
    let p = launch(&format!(
        "{} ! kvsmeta name=meta ! {ENCODE} ! {}",
        frames(90, "smpte75"),
        local.kvssink("spill")
    ));
    before_frame(&p, 30, |m| {
        for i in 0..12 {
            assert!(add_tag(m, &format!("n{i:02}"), &i.to_string(), false));
        }
    });
    let out = run(&p);
    assert!(
        out.warned("deferred"),
        "no deferral warning: {:?}",
        out.warnings
    );
    let stored = local.fragments("spill", 6);
    let names = |f: &Stored| -> Vec<String> {
        f.pairs()
            .into_iter()
            .filter(|(n, _)| n.starts_with('n'))
            .map(|(n, _)| n.to_owned())
            .collect()
    };
    let at = fragment_for_entry_before(30);
    assert_eq!(stored[at].producer_pairs().len(), 10);
    let mut all: Vec<String> = stored.iter().flat_map(names).collect();
    assert_eq!(names(&stored[at]).len(), 10);
    assert_eq!(names(&stored[at + 1]).len(), 2, "the rest goes next");
    all.sort();
    let expected: Vec<String> = (0..12).map(|i| format!("n{i:02}")).collect();
    assert_eq!(all, expected, "each tag exactly once, none lost");
}

#[test]
fn kvssrc_reports_the_stored_tags_in_its_fragment_messages() {
    require_elements(&["videotestsrc", "x264enc", "h264parse", "fakesink"]);
    let local = Local::start();
    let p = launch(&format!(
        "{} ! kvsmeta name=meta tags=\"t,camera=front\" ! {ENCODE} ! {}",
        frames(60, "smpte75"),
        local.kvssink("roundtrip")
    ));
    before_frame(&p, 30, |m| assert!(add_tag(m, "door", "open", false)));
    run(&p);
    let stored = local.fragments("roundtrip", 4);

    let src = launch(&format!(
        "{} ! fakesink sync=false",
        local.kvssrc("roundtrip")
    ));
    let out = run_until(&src, |o| o.messages("kvs-fragment").len() >= stored.len());
    let messages = out.messages("kvs-fragment");
    assert_eq!(messages.len(), stored.len(), "{messages:?}");
    let tags_of = |s: &gst::Structure| -> Vec<(String, String)> {
        s.get::<gst::Array>("tags")
            .expect("kvs-fragment carries tags")
            .iter()
            .map(|v| {
                let t = v.get::<gst::Structure>().expect("a tag structure");
                (
                    t.get::<String>("name").expect("name"),
                    t.get::<String>("value").expect("value"),
                )
            })
            .collect()
    };
    for (i, (m, f)) in messages.iter().zip(&stored).enumerate() {
        assert_eq!(
            m.get::<String>("fragment-number").ok().as_deref(),
            Some(f.number.as_str())
        );
        let tags = tags_of(m);
        assert!(
            tags.contains(&("camera".into(), "front".into())),
            "fragment {i}: {tags:?}"
        );
        let door = tags.iter().filter(|(n, _)| n == "door").count();
        assert_eq!(door, usize::from(i == 2), "fragment {i}: {tags:?}");
    }
}

#[test]
fn bad_tags_warn_and_the_valid_ones_still_arrive() {
    require_elements(&["videotestsrc", "x264enc", "h264parse"]);
    let local = Local::start();
    let long_name = "n".repeat(129);
    let p = launch(&format!(
        "{} ! kvsmeta name=meta \
         tags=\"t,AWS_KINESISVIDEO_X=1,camera=front,{long_name}=x,r=(fraction)1/2\" ! \
         {ENCODE} ! {}",
        frames(60, "smpte75"),
        local.kvssink("bad")
    ));
    before_frame(&p, 15, |m| {
        assert!(!add_tag(m, "AWSlike", "1", false), "reserved prefix");
        assert!(
            !add_tag(m, "big", &"v".repeat(257), false),
            "oversize value"
        );
        assert!(!add_tag(m, &"x".repeat(129), "1", true), "oversize name");
        assert!(add_tag(m, "ok", "yes", false));
    });
    let out = run(&p);
    assert!(out.warned("AWS"), "{:?}", out.warnings);
    assert!(
        out.warnings.len() >= 6,
        "one warning per bad tag: {:?}",
        out.warnings
    );
    let stored = local.fragments("bad", 4);
    for f in &stored {
        assert_eq!(f.value("camera"), Some("front"), "{}", f.number);
        for (name, value) in f.pairs() {
            assert!(name.len() <= 128 && value.len() <= 256, "{name}={value}");
            assert!(
                !["AWS_KINESISVIDEO_X", "AWSlike", "big", "r"].contains(&name),
                "{name} got through"
            );
        }
    }
    assert_eq!(fragments_with(&stored, "ok", "yes"), [1]);
    // A tags string that is not a structure at all is refused when parsing.
    let err = gst::parse::launch("videotestsrc ! kvsmeta tags=\"t,camera=\" ! fakesink")
        .expect_err("malformed tags refused");
    assert!(err.to_string().contains("tags"), "{err}");
}

#[test]
fn tags_pass_through_x265enc_onto_their_fragments() {
    require_elements(&["videotestsrc", "x265enc", "h265parse"]);
    let local = Local::start();
    let p = launch(&format!(
        "{} ! kvsmeta name=meta tags=\"t,camera=front\" ! \
         x265enc key-int-max=15 speed-preset=ultrafast ! h265parse ! {}",
        frames(60, "smpte75"),
        local.kvssink("hevc")
    ));
    before_frame(&p, 30, |m| assert!(add_tag(m, "door", "open", false)));
    run(&p);
    let stored = local.fragments("hevc", 60 / GOP);
    assert_eq!(stored.iter().map(|f| f.blocks).sum::<usize>(), 60);
    for (i, f) in stored.iter().enumerate() {
        assert_eq!(f.value("camera"), Some("front"), "fragment {i}");
        assert_eq!(
            f.count("door"),
            usize::from(i == 2),
            "fragment {i}: {:?}",
            f.tags
        );
    }
}
