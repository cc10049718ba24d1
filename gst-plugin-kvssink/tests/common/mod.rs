// SPDX-License-Identifier: MPL-2.0
//! Shared helpers: plugin registration, pipelines run against a deadline, and
//! independent readers (ffprobe, kvs-core's MKV reader) for the output.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Once;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gst::prelude::*;
use kvs_core::mkv::{MkvEvent, MkvReader, Tag, TrackInfo};

pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().expect("GStreamer initialises");
        gstrskvssink::plugin_register_static().expect("plugin registers");
    });
}

/// Fails (never skips) when an element the test needs is not installed.
pub fn require_elements(names: &[&str]) {
    init();
    for name in names {
        assert!(
            gst::ElementFactory::find(name).is_some(),
            "GStreamer element {name} is missing: install gstreamer1.0-plugins-base/good/bad/ugly \
             and gstreamer1.0-libav (Debian: apt-get install gstreamer1.0-plugins-ugly ...)"
        );
    }
}

/// What a finished pipeline reported.
#[derive(Debug, Default)]
pub struct RunResult {
    pub error: Option<String>,
    pub warnings: Vec<String>,
    pub element_messages: Vec<gst::Structure>,
}

/// Runs a pipeline until EOS or the first error; panics if neither comes before `deadline`.
pub fn run(pipeline: &gst::Pipeline, deadline: Duration) -> RunResult {
    let bus = pipeline.bus().expect("pipeline has a bus");
    let mut result = RunResult::default();
    if pipeline.set_state(gst::State::Playing).is_err() {
        // The reason is on the bus as an error message.
        let msg =
            bus.timed_pop_filtered(gst::ClockTime::from_seconds(5), &[gst::MessageType::Error]);
        if let Some(msg) = msg
            && let gst::MessageView::Error(e) = msg.view()
        {
            result.error = Some(e.error().to_string());
        } else {
            result.error = Some("state change to PLAYING failed".into());
        }
        let _ = pipeline.set_state(gst::State::Null);
        return result;
    }
    let end = Instant::now() + deadline;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "pipeline neither finished nor failed within {deadline:?}"
        );
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(left.as_millis() as u64))
        else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                result.error = Some(format!("{} ({:?})", e.error(), e.debug()));
                break;
            }
            gst::MessageView::Warning(w) => result.warnings.push(w.error().to_string()),
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure() {
                    result.element_messages.push(s.to_owned());
                }
            }
            _ => {}
        }
    }
    pipeline
        .set_state(gst::State::Null)
        .expect("pipeline goes to NULL");
    result
}

pub fn launch(desc: &str) -> gst::Pipeline {
    gst::parse::launch(desc)
        .unwrap_or_else(|e| panic!("cannot build pipeline {desc}: {e}"))
        .downcast::<gst::Pipeline>()
        .expect("a pipeline")
}

/// One stream as ffprobe decoded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbedStream {
    pub codec_type: String,
    pub codec_name: String,
    pub frames: u64,
}

/// Decodes a file with ffprobe, counting frames.
pub fn ffprobe(path: &Path) -> Vec<ProbedStream> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_type,codec_name,nb_read_frames",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs (install ffmpeg: apt-get install ffmpeg)");
    assert!(
        out.status.success(),
        "ffprobe failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ffprobe JSON");
    json["streams"]
        .as_array()
        .expect("streams array")
        .iter()
        .map(|s| ProbedStream {
            codec_type: s["codec_type"].as_str().unwrap_or_default().to_owned(),
            codec_name: s["codec_name"].as_str().unwrap_or_default().to_owned(),
            frames: s["nb_read_frames"]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        })
        .collect()
}

/// The structure of a KVS MKV stream as kvs-core's reader sees it.
#[derive(Debug, Default)]
pub struct MkvSummary {
    pub headers: usize,
    pub tracks: Vec<TrackInfo>,
    pub cluster_timecodes: Vec<u64>,
    /// Blocks per track number.
    pub blocks: BTreeMap<u64, usize>,
    /// Every block as (track, cluster timecode, relative timecode, keyframe).
    pub block_times: Vec<(u64, u64, i16, bool)>,
    /// Whether each cluster's first video block is a key frame.
    pub clusters_start_with_key: Vec<bool>,
    pub tags: Vec<Tag>,
}

pub fn read_mkv(data: Vec<u8>) -> MkvSummary {
    let mut reader = MkvReader::new();
    reader.push(Bytes::from(data));
    let mut summary = MkvSummary::default();
    let mut cluster = None;
    let mut first_in_cluster = false;
    while let Some(ev) = reader.next_event().expect("kvs-core reads the stream") {
        match ev.event {
            MkvEvent::EbmlHeader(_) => summary.headers += 1,
            MkvEvent::Tracks(t) => summary.tracks = t,
            MkvEvent::ClusterStart { timecode, .. } => {
                summary.cluster_timecodes.push(timecode);
                cluster = Some(timecode);
                first_in_cluster = true;
            }
            MkvEvent::Block(b) => {
                *summary.blocks.entry(b.track_number).or_default() += 1;
                summary.block_times.push((
                    b.track_number,
                    cluster.unwrap_or_default(),
                    b.relative_timecode,
                    b.keyframe,
                ));
                if first_in_cluster && b.track_number == 1 {
                    summary.clusters_start_with_key.push(b.keyframe);
                    first_in_cluster = false;
                }
            }
            MkvEvent::Tags(t) => summary.tags.extend(t),
            _ => {}
        }
    }
    reader.finish().expect("stream ends cleanly");
    summary
}
