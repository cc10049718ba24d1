// SPDX-License-Identifier: MPL-2.0
//! Shared helpers: plugin registration, a pipeline run against a deadline, and a
//! probe on the sink that records, in order, the metadata events and buffers that
//! reached it.
#![allow(dead_code)]

use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gstrskvsmeta::kvsmeta::fields::from_structure;
use kvs_core::tags::{FragmentTag, MetadataEvent};

pub const DEADLINE: Duration = Duration::from_secs(120);

pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().expect("GStreamer initialises");
        gstrskvsmeta::plugin_register_static().expect("plugin registers");
    });
}

/// Fails (never skips) when an element the test needs is not installed.
pub fn require_elements(names: &[&str]) {
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

/// One thing the sink saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Meta(MetadataEvent),
    Buffer(Option<gst::ClockTime>),
}

/// What a finished pipeline reported.
#[derive(Debug, Default)]
pub struct Run {
    pub items: Vec<Item>,
    pub error: Option<String>,
    pub warnings: Vec<String>,
    pub motion_messages: Vec<gst::Structure>,
    /// Custom events whose structure was ours but did not decode.
    pub undecodable: Vec<String>,
}

impl Run {
    pub fn metas(&self) -> Vec<&MetadataEvent> {
        self.items
            .iter()
            .filter_map(|i| match i {
                Item::Meta(m) => Some(m),
                Item::Buffer(_) => None,
            })
            .collect()
    }

    pub fn buffers(&self) -> usize {
        self.items
            .iter()
            .filter(|i| matches!(i, Item::Buffer(_)))
            .count()
    }

    /// One-shot (non-persistent) tags with this name, in order, and the index of
    /// each in `items`.
    pub fn one_shots(&self, name: &str) -> Vec<(usize, String)> {
        self.items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| match item {
                Item::Meta(MetadataEvent::AddTag(t)) if t.name() == name && !t.is_persistent() => {
                    Some((i, t.value().to_owned()))
                }
                _ => None,
            })
            .collect()
    }

    pub fn assert_clean(&self) {
        assert_eq!(self.error, None, "pipeline error");
        assert!(self.warnings.is_empty(), "warnings: {:?}", self.warnings);
        assert!(self.undecodable.is_empty(), "{:?}", self.undecodable);
    }
}

pub fn persistent(name: &str, value: &str) -> MetadataEvent {
    MetadataEvent::AddTag(FragmentTag::persistent(name, value).expect("valid tag"))
}

pub fn one_shot(name: &str, value: &str) -> MetadataEvent {
    MetadataEvent::AddTag(FragmentTag::one_shot(name, value).expect("valid tag"))
}

/// Builds `description`, whose last element must be named `sink`.
pub fn pipeline(description: &str) -> gst::Pipeline {
    init();
    gst::parse::launch(description)
        .unwrap_or_else(|e| panic!("{description}: {e}"))
        .downcast::<gst::Pipeline>()
        .expect("a pipeline")
}

pub fn element(pipeline: &gst::Pipeline, name: &str) -> gst::Element {
    pipeline
        .by_name(name)
        .unwrap_or_else(|| panic!("no element named {name}"))
}

/// Runs `pipeline` to EOS or the first error, recording what its `sink` element
/// received.
pub fn run(pipeline: &gst::Pipeline) -> Run {
    let items = Arc::new(Mutex::new(Vec::new()));
    let undecodable = Arc::new(Mutex::new(Vec::new()));
    let pad = element(pipeline, "sink")
        .static_pad("sink")
        .expect("sink has a sink pad");
    {
        let items = items.clone();
        let undecodable = undecodable.clone();
        pad.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
            move |_, info| {
                match &info.data {
                    Some(gst::PadProbeData::Buffer(b)) => {
                        items.lock().unwrap().push(Item::Buffer(b.pts()));
                    }
                    Some(gst::PadProbeData::Event(e)) => {
                        if let gst::EventView::CustomDownstream(c) = e.view()
                            && let Some(s) = c.structure()
                        {
                            match from_structure(s) {
                                Ok(Some(m)) => items.lock().unwrap().push(Item::Meta(m)),
                                Ok(None) => {}
                                Err(err) => undecodable.lock().unwrap().push(err.to_string()),
                            }
                        }
                    }
                    _ => {}
                }
                gst::PadProbeReturn::Ok
            },
        );
    }
    let mut run = Run::default();
    let bus = pipeline.bus().expect("pipeline has a bus");
    let started = pipeline.set_state(gst::State::Playing);
    let end = Instant::now() + DEADLINE;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "pipeline neither finished nor failed within {DEADLINE:?}"
        );
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(left.as_millis() as u64))
        else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                run.error = Some(format!("{} ({:?})", e.error(), e.debug()));
                break;
            }
            gst::MessageView::Warning(w) => run.warnings.push(w.error().to_string()),
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure()
                    && s.name() == gstrskvsmeta::kvsmeta::MOTION_MESSAGE
                {
                    run.motion_messages.push(s.to_owned());
                }
            }
            _ => {}
        }
    }
    pipeline
        .set_state(gst::State::Null)
        .expect("pipeline stops");
    if started.is_err() && run.error.is_none() {
        run.error = Some("state change to PLAYING failed".into());
    }
    run.items = std::mem::take(&mut *items.lock().unwrap());
    run.undecodable = std::mem::take(&mut *undecodable.lock().unwrap());
    run
}

/// Calls `f` from kvsmeta's streaming thread just before the buffer with
/// `offset` (frame number from videotestsrc) enters kvsmeta `name`: the events
/// it queues belong right before that frame.
pub fn at_frame(
    pipeline: &gst::Pipeline,
    name: &str,
    offset: u64,
    f: impl Fn(&gst::Element) + Send + Sync + 'static,
) {
    let meta = element(pipeline, name);
    let pad = meta.static_pad("sink").expect("kvsmeta has a sink pad");
    let weak = meta.downgrade();
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(gst::PadProbeData::Buffer(b)) = &info.data
            && b.offset() == offset
            && let Some(meta) = weak.upgrade()
        {
            f(&meta);
        }
        gst::PadProbeReturn::Ok
    });
}
