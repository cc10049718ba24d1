// SPDX-License-Identifier: MPL-2.0
//! End-to-end support: an in-process kvs-local, a plain HTTP/1.1 reader for ListFragments and
//! GetMediaForFragmentList, a TCP proxy that cuts PutMedia connections, and buffer counters.
#![allow(dead_code)]

pub mod http;
pub mod proxy;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gst::prelude::*;
use kvs_core::api::{
    Fragment, FragmentSelector, FragmentSelectorType, GetMediaForFragmentListInput,
    ListFragmentsInput, ListFragmentsOutput, TimestampRange,
};
use kvs_core::putmedia::{PATH_GET_MEDIA_FOR_FRAGMENT_LIST, PATH_LIST_FRAGMENTS};

/// kvs-local on 127.0.0.1:0 with its data in a temporary directory, stopped on drop.
pub struct Local {
    pub runtime: tokio::runtime::Runtime,
    handle: Option<kvs_local::ServerHandle>,
    _dir: tempfile::TempDir,
}

impl Local {
    /// `advertised_url` is what GetDataEndpoint hands out (e.g. a proxy in front of the
    /// server); `None` keeps kvs-local's default, the address the client used.
    pub fn start_with(advertised_url: Option<String>) -> Local {
        let dir = tempfile::tempdir().expect("temp dir");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let mut config = kvs_local::Config::new(dir.path());
        // The readers below send unsigned requests; kvssink signs its own anyway.
        config.auth.allow_anonymous = true;
        config.advertised_url = advertised_url;
        let handle = runtime
            .block_on(kvs_local::Server::start(config))
            .expect("kvs-local starts");
        Local {
            runtime,
            handle: Some(handle),
            _dir: dir,
        }
    }

    pub fn start() -> Local {
        Local::start_with(None)
    }

    pub fn url(&self) -> String {
        self.handle
            .as_ref()
            .map(|h| h.base_url().to_owned())
            .unwrap_or_default()
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.handle
            .as_ref()
            .map(|h| h.local_addr())
            .expect("server running")
    }

    /// Every stored fragment of `stream`, in producer-timestamp order.
    pub fn list_fragments(&self, stream: &str) -> Vec<Fragment> {
        let mut out = Vec::new();
        let mut next_token = None;
        loop {
            let input = ListFragmentsInput {
                stream_name: Some(stream.to_owned()),
                max_results: Some(1000),
                fragment_selector: next_token.is_none().then_some(FragmentSelector {
                    fragment_selector_type: FragmentSelectorType::ServerTimestamp,
                    timestamp_range: TimestampRange {
                        start_timestamp: 0.0,
                        end_timestamp: 4_000_000_000.0,
                    },
                }),
                next_token: next_token.take(),
                ..Default::default()
            };
            let body = serde_json::to_vec(&input).expect("JSON");
            let resp = http::post(self.addr(), PATH_LIST_FRAGMENTS, &body);
            assert_eq!(
                resp.status,
                200,
                "ListFragments: {}",
                String::from_utf8_lossy(&resp.body)
            );
            let page: ListFragmentsOutput =
                serde_json::from_slice(&resp.body).expect("ListFragments JSON");
            out.extend(page.fragments);
            match page.next_token {
                Some(t) => next_token = Some(t),
                None => break,
            }
        }
        out.sort_by(|a, b| a.producer_timestamp.total_cmp(&b.producer_timestamp));
        out
    }

    /// The media of `fragments` in the given order, as GetMediaForFragmentList returns it.
    pub fn fragment_media(&self, stream: &str, fragments: &[Fragment]) -> Vec<u8> {
        let input = GetMediaForFragmentListInput {
            stream_name: Some(stream.to_owned()),
            fragments: fragments
                .iter()
                .map(|f| f.fragment_number.clone())
                .collect(),
            ..Default::default()
        };
        let body = serde_json::to_vec(&input).expect("JSON");
        let resp = http::post(self.addr(), PATH_GET_MEDIA_FOR_FRAGMENT_LIST, &body);
        assert_eq!(
            resp.status,
            200,
            "GetMediaForFragmentList: {}",
            String::from_utf8_lossy(&resp.body)
        );
        resp.body
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.runtime.block_on(h.shutdown());
        }
    }
}

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
