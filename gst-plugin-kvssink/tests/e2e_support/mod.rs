// SPDX-License-Identifier: MPL-2.0
//! End-to-end support: the shared in-process kvs-local, a TCP proxy that cuts PutMedia
//! connections, buffer counters and ffprobe.
#![allow(dead_code)]

pub mod proxy;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gst::prelude::*;

/// kvs-local in process, shared with the other crates' tests.
pub use gst_kvs_test_support::local::LocalServer as Local;

pub fn kvssink_desc(url: &str, stream: &str, extra: &str) -> String {
    format!(
        "kvssink name=sink stream-name={stream} aws-region=us-east-1 endpoint-uri={url} \
         access-key=AKIDLOCAL secret-key=local-secret stop-stream-timeout=30 {extra}"
    )
}

/// Counts the buffers that reach each of kvssink's sink pads, by pad name.
#[derive(Clone, Default)]
pub struct SentCounter(Arc<Mutex<BTreeMap<String, Arc<AtomicU64>>>>);

impl SentCounter {
    /// Attaches to every sink pad `sink` has once the pipeline is linked (request pads exist
    /// after parse_launch).
    pub fn attach(sink: &gst::Element) -> SentCounter {
        let counter = SentCounter::default();
        for pad in sink.sink_pads() {
            let n = Arc::new(AtomicU64::new(0));
            counter
                .0
                .lock()
                .expect("counter lock")
                .insert(pad.name().to_string(), n.clone());
            pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                n.fetch_add(1, Ordering::Relaxed);
                gst::PadProbeReturn::Ok
            });
        }
        counter
    }

    /// Buffers through the first pad whose name starts with `prefix`.
    pub fn get(&self, prefix: &str) -> u64 {
        self.0
            .lock()
            .expect("counter lock")
            .iter()
            .find(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.load(Ordering::Relaxed))
            .unwrap_or_else(|| panic!("kvssink has no pad {prefix}*"))
    }
}

/// One stream of a file as ffprobe decoded it.
#[derive(Debug, Clone)]
pub struct Probed {
    pub codec_type: String,
    pub codec_name: String,
    pub frames: u64,
}

/// What ffprobe makes of a whole file: its streams (decoded, frames counted) and the span of
/// packet timestamps per stream type in seconds (first pts .. last pts + duration).
#[derive(Debug, Clone)]
pub struct ProbeResult {
    pub streams: Vec<Probed>,
    pub spans: BTreeMap<String, f64>,
}

fn ffprobe_json(args: &[&str], path: &Path) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-of", "json"])
        .args(args)
        .arg(path)
        .output()
        .unwrap_or_else(|e| {
            panic!("ffprobe does not run ({e}): install ffmpeg (Debian: apt-get install ffmpeg)")
        });
    assert!(
        out.status.success(),
        "ffprobe failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ffprobe JSON")
}

pub fn ffprobe(path: &Path) -> ProbeResult {
    let streams = ffprobe_json(&["-count_frames", "-show_streams"], path);
    let streams: Vec<Probed> = streams["streams"]
        .as_array()
        .expect("streams array")
        .iter()
        .map(|s| Probed {
            codec_type: s["codec_type"].as_str().unwrap_or_default().to_owned(),
            codec_name: s["codec_name"].as_str().unwrap_or_default().to_owned(),
            frames: s["nb_read_frames"]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        })
        .collect();
    let packets = ffprobe_json(
        &[
            "-show_entries",
            "packet=stream_index,pts_time,duration_time",
        ],
        path,
    );
    let mut ranges: BTreeMap<usize, (f64, f64)> = BTreeMap::new();
    for p in packets["packets"].as_array().expect("packets array") {
        let Some(idx) = p["stream_index"].as_u64() else {
            continue;
        };
        let num = |k: &str| p[k].as_str().and_then(|v| v.parse::<f64>().ok());
        let Some(pts) = num("pts_time") else { continue };
        let end = pts + num("duration_time").unwrap_or(0.0);
        let r = ranges.entry(idx as usize).or_insert((pts, end));
        r.0 = r.0.min(pts);
        r.1 = r.1.max(end);
    }
    let spans = ranges
        .into_iter()
        .filter_map(|(i, (a, b))| streams.get(i).map(|s| (s.codec_type.clone(), b - a)))
        .collect();
    ProbeResult { streams, spans }
}
