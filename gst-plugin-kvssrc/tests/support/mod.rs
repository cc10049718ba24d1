// SPDX-License-Identifier: MPL-2.0
//! Shared test helpers: plugin registration, a scripted GetMedia endpoint on 127.0.0.1, a
//! pipeline runner that collects demuxed frames and bus messages, and the test vectors.

#![allow(dead_code)]

pub mod local;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gst::prelude::*;
use http_body_util::BodyExt as _;
use http_body_util::combinators::BoxBody;
use hyper::body::Frame;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().expect("GStreamer initialises");
        gstrskvssrc::plugin_register_static().expect("kvssrc registers");
    });
}

pub fn vectors() -> PathBuf {
    std::env::var_os("KVS_TEST_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/test-vectors"))
}

pub fn read_vector(rel: &str) -> Vec<u8> {
    let p = vectors().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// Fails with an install hint when a GStreamer element the test needs is missing.
/// What an H.264 + AAC round trip through kvssink and matroskademux needs.
pub fn require_av() {
    for (e, pkg) in [
        ("videotestsrc", "gstreamer1.0-plugins-base"),
        ("audiotestsrc", "gstreamer1.0-plugins-base"),
        ("x264enc", "gstreamer1.0-plugins-ugly"),
        ("h264parse", "gstreamer1.0-plugins-bad"),
        ("avenc_aac", "gstreamer1.0-libav"),
        ("aacparse", "gstreamer1.0-plugins-good"),
        ("matroskademux", "gstreamer1.0-plugins-good"),
    ] {
        require_element(e, pkg);
    }
}

/// Every timestamp after the one before it (`what` names them in the failure).
pub fn assert_increasing(what: &str, pts: &[gst::ClockTime]) {
    for w in pts.windows(2) {
        assert!(w[0] < w[1], "{what} must increase: {} then {}", w[0], w[1]);
    }
}

pub fn require_element(name: &str, package: &str) {
    assert!(
        gst::ElementFactory::find(name).is_some(),
        "GStreamer element {name} is missing: install {package}"
    );
}

pub type Body = BoxBody<Bytes, std::io::Error>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

/// A body sending `chunks`, then failing (connection cut) if `cut`, else ending cleanly if
/// `end`, else never ending.
pub fn streamed(chunks: Vec<Bytes>, cut: bool, end: bool) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(4);
    tokio::spawn(async move {
        for c in chunks {
            if tx.send(Ok(Frame::data(c))).await.is_err() {
                return;
            }
        }
        if cut {
            let _ = tx
                .send(Err(std::io::Error::other("test cuts the connection")))
                .await;
        } else if !end {
            // Hold the body open like a live GetMedia on a quiet stream.
            tx.closed().await;
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    http_body_util::StreamBody::new(stream).boxed()
}

pub fn error_response(status: u16, kind: &str, message: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("x-amzn-ErrorType", kind)
        .header("content-type", "application/json")
        .body(full(format!("{{\"message\":\"{message}\"}}")))
        .expect("valid response")
}

pub fn json_response(v: serde_json::Value) -> Response<Body> {
    Response::builder()
        .header("content-type", "application/json")
        .body(full(v.to_string()))
        .expect("valid response")
}

/// One request the endpoint saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub body: serde_json::Value,
}

pub type Handler =
    Arc<dyn Fn(&str, &serde_json::Value, usize) -> Response<Body> + Send + Sync + 'static>;

/// A KVS endpoint on 127.0.0.1 whose answers come from a closure (path, JSON body, index of
/// this request among those to the same path). Stops when dropped.
pub struct Endpoint {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Endpoint {
    pub fn start(handler: Handler) -> Endpoint {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("test runtime");
        let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let seen2 = seen.clone();
        runtime.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let handler = handler.clone();
                let seen = seen2.clone();
                tokio::spawn(async move {
                    let svc =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let handler = handler.clone();
                            let seen = seen.clone();
                            async move {
                                let path = req.uri().path().to_owned();
                                let bytes = req
                                    .into_body()
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                let body: serde_json::Value = serde_json::from_slice(&bytes)
                                    .unwrap_or(serde_json::Value::Null);
                                let index = {
                                    let mut s = seen.lock().unwrap();
                                    let index = s.iter().filter(|x| x.path == path).count();
                                    s.push(Seen {
                                        path: path.clone(),
                                        body: body.clone(),
                                    });
                                    index
                                };
                                Ok::<_, Infallible>(handler(&path, &body, index))
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
        Endpoint {
            addr,
            seen,
            runtime: Some(runtime),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self, path: &str) -> Vec<serde_json::Value> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .map(|s| s.body.clone())
            .collect()
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// What a pipeline run produced.
#[derive(Debug, Default)]
pub struct Outcome {
    pub pts: Vec<gst::ClockTime>,
    /// Video width of each sample's caps, when it has one.
    pub widths: Vec<i32>,
    pub fragments: Vec<gst::Structure>,
    pub error: Option<String>,
    pub eos: bool,
    /// kvssrc's read-only properties at the end of the run.
    pub continuation_token: Option<String>,
    pub stats: Option<gst::Structure>,
}

/// Runs `kvssrc … ! matroskademux ! <tail> ! appsink` until EOS, an error, `frames` frames,
/// or the deadline (which fails the test). Always returns the pipeline to NULL.
pub fn run_pipeline(src: &str, tail: &str, frames: Option<usize>, deadline: Duration) -> Outcome {
    let desc =
        format!("{src} ! matroskademux ! {tail} appsink name=sink sync=false emit-signals=false");
    let pipeline = gst::parse::launch(&desc)
        .unwrap_or_else(|e| panic!("cannot build {desc}: {e}"))
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
    let sink = pipeline
        .by_name("sink")
        .expect("appsink")
        .downcast::<gst_app::AppSink>()
        .expect("appsink type");
    let bus = pipeline.bus().expect("bus");
    let mut out = Outcome::default();
    if pipeline.set_state(gst::State::Playing).is_err() {
        // start() refused: the reason is on the bus.
        while let Some(msg) = bus.pop() {
            if let gst::MessageView::Error(e) = msg.view()
                && out.error.is_none()
            {
                out.error = Some(format!("{} ({:?})", e.error(), e.debug()));
            }
        }
        assert!(
            out.error.is_some(),
            "the state change failed without an error message"
        );
        pipeline.set_state(gst::State::Null).expect("NULL");
        return out;
    }
    let end = Instant::now() + deadline;
    loop {
        assert!(
            Instant::now() < end,
            "pipeline {desc} did not finish in {deadline:?}: {} frames, {} fragments",
            out.pts.len(),
            out.fragments.len()
        );
        while let Some(msg) = bus.pop() {
            match msg.view() {
                gst::MessageView::Element(e) => {
                    if let Some(s) = e.structure()
                        && s.name() == "kvs-fragment"
                    {
                        out.fragments.push(s.to_owned());
                    }
                }
                // The first error is the cause; the demuxer's EOS complaint follows it.
                gst::MessageView::Error(e) if out.error.is_none() => {
                    out.error = Some(format!("{} ({:?})", e.error(), e.debug()));
                }
                gst::MessageView::Eos(_) => out.eos = true,
                _ => {}
            }
        }
        if out.error.is_some() {
            break;
        }
        if let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_mseconds(50)) {
            if let Some(pts) = sample.buffer().and_then(|b| b.pts()) {
                out.pts.push(pts);
            }
            if let Some(w) = sample
                .caps()
                .and_then(|c| c.structure(0))
                .and_then(|s| s.get::<i32>("width").ok())
            {
                out.widths.push(w);
            }
            if frames.is_some_and(|n| out.pts.len() >= n) {
                // Keep listening a little: the last fragment messages are still coming, and
                // any extra (duplicated) frame must show up in the count.
                let grace = Instant::now() + Duration::from_secs(1);
                while Instant::now() < grace {
                    if let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_mseconds(20))
                        && let Some(pts) = sample.buffer().and_then(|b| b.pts())
                    {
                        out.pts.push(pts);
                    }
                    while let Some(msg) = bus.pop() {
                        if let gst::MessageView::Element(e) = msg.view()
                            && let Some(s) = e.structure()
                            && s.name() == "kvs-fragment"
                        {
                            out.fragments.push(s.to_owned());
                        }
                    }
                }
                break;
            }
        } else if sink.is_eos() {
            out.eos = true;
            while let Some(msg) = bus.pop() {
                if let gst::MessageView::Element(e) = msg.view()
                    && let Some(s) = e.structure()
                    && s.name() == "kvs-fragment"
                {
                    out.fragments.push(s.to_owned());
                }
            }
            break;
        }
    }
    if let Some(src) = pipeline
        .iterate_sources()
        .into_iter()
        .flatten()
        .find(|e| e.factory().is_some_and(|f| f.name() == "kvssrc"))
    {
        out.continuation_token = src.property("continuation-token");
        out.stats = Some(src.property("stats"));
    }
    pipeline.set_state(gst::State::Null).expect("NULL");
    out
}

/// What a pipeline with dynamic pads produced, per demuxed (or decoded) stream kind.
#[derive(Debug, Default, Clone)]
pub struct Streams {
    /// PTS of every buffer per kind ("video", "audio"), in arrival order.
    pub pts: std::collections::BTreeMap<String, Vec<gst::ClockTime>>,
    /// Running time of every buffer per kind, as the element after the pad sees it (its
    /// segment, with any pad offset applied).
    pub running: std::collections::BTreeMap<String, Vec<Option<gst::ClockTime>>>,
    /// Durations of every buffer per kind.
    pub durations: std::collections::BTreeMap<String, Vec<Option<gst::ClockTime>>>,
    /// Names of the pads that appeared, in order.
    pub pads: Vec<String>,
    pub error: Option<String>,
    pub eos: bool,
    pub fragments: Vec<gst::Structure>,
    pub stats: Option<gst::Structure>,
}

impl Streams {
    pub fn count(&self, kind: &str) -> usize {
        self.pts.get(kind).map_or(0, Vec::len)
    }

    pub fn total(&self) -> usize {
        self.pts.values().map(Vec::len).sum()
    }
}

fn pad_kind(pad: &gst::Pad) -> String {
    let from_caps = pad
        .current_caps()
        .and_then(|c| c.structure(0).map(|s| s.name().to_string()));
    let name = from_caps.unwrap_or_else(|| pad.name().to_string());
    if name.starts_with("video") {
        "video".into()
    } else if name.starts_with("audio") {
        "audio".into()
    } else {
        name
    }
}

/// Runs `desc`, whose element named `demux` (matroskademux, decodebin, …) adds pads as it
/// likes: every pad that appears is counted and drained into a fakesink. Ends at EOS on the
/// bus, an error, once `until` says the streams are complete (then a short grace period
/// catches extra buffers), or fails the test after `deadline`.
pub fn run_dynamic(desc: &str, until: impl Fn(&Streams) -> bool, deadline: Duration) -> Streams {
    let pipeline = gst::parse::launch(desc)
        .unwrap_or_else(|e| panic!("cannot build {desc}: {e}"))
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
    let demux = pipeline.by_name("demux").expect("an element named demux");
    let got = Arc::new(Mutex::new(Streams::default()));
    let linked: Arc<Mutex<Vec<(gst::Pad, gst::Element)>>> = Arc::default();
    let linked2 = linked.clone();
    let weak_pipeline = pipeline.downgrade();
    let got2 = got.clone();
    demux.connect_pad_added(move |_, pad| {
        let Some(pipeline) = weak_pipeline.upgrade() else {
            return;
        };
        got2.lock().unwrap().pads.push(pad.name().to_string());
        let got = got2.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            if let Some(buffer) = info.buffer() {
                let kind = pad_kind(pad);
                let mut g = got.lock().unwrap();
                if let Some(pts) = buffer.pts() {
                    g.pts.entry(kind.clone()).or_default().push(pts);
                    let running = pad
                        .peer()
                        .and_then(|p| p.sticky_event::<gst::event::Segment>(0))
                        .and_then(|e| {
                            e.segment()
                                .downcast_ref::<gst::ClockTime>()
                                .and_then(|s| s.to_running_time(pts))
                        });
                    g.running.entry(kind.clone()).or_default().push(running);
                }
                g.durations.entry(kind).or_default().push(buffer.duration());
            }
            gst::PadProbeReturn::Ok
        });
        let sink = gst::ElementFactory::make("fakesink")
            .property("sync", false)
            .property("async", false)
            .build()
            .expect("fakesink");
        pipeline.add(&sink).expect("add fakesink");
        sink.sync_state_with_parent().expect("fakesink state");
        let sinkpad = sink.static_pad("sink").expect("fakesink pad");
        pad.link(&sinkpad).expect("link the new pad");
        linked2.lock().unwrap().push((pad.clone(), sink));
    });
    // A removed pad's sink would wait for an EOS that never comes: it goes with the pad, as
    // in any application that handles dynamic pads.
    let weak_pipeline = pipeline.downgrade();
    let linked3 = linked.clone();
    demux.connect_pad_removed(move |_, pad| {
        let Some(pipeline) = weak_pipeline.upgrade() else {
            return;
        };
        let mut linked = linked3.lock().unwrap();
        if let Some(i) = linked.iter().position(|(p, _)| p == pad) {
            let (_, sink) = linked.remove(i);
            let _ = sink.set_state(gst::State::Null);
            let _ = pipeline.remove(&sink);
        }
    });
    let bus = pipeline.bus().expect("bus");
    pipeline.set_state(gst::State::Playing).expect("PLAYING");
    let end = Instant::now() + deadline;
    let mut finished_at: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if let Some(t) = finished_at
            && now >= t
        {
            break;
        }
        assert!(
            now < end,
            "{desc} did not finish in {deadline:?}: {:?}",
            got.lock().unwrap()
        );
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(20)) else {
            if finished_at.is_none() && until(&got.lock().unwrap()) {
                finished_at = Some(Instant::now() + Duration::from_millis(500));
            }
            continue;
        };
        let mut g = got.lock().unwrap();
        match msg.view() {
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure()
                    && s.name() == "kvs-fragment"
                {
                    g.fragments.push(s.to_owned());
                }
            }
            gst::MessageView::Error(e) => {
                if g.error.is_none() {
                    g.error = Some(format!(
                        "{}: {} ({:?})",
                        msg.src().map(|s| s.path_string()).unwrap_or_default(),
                        e.error(),
                        e.debug()
                    ));
                }
                break;
            }
            gst::MessageView::Eos(_) => {
                g.eos = true;
                break;
            }
            _ => {}
        }
        if finished_at.is_none() && until(&g) {
            finished_at = Some(Instant::now() + Duration::from_millis(500));
        }
    }
    if let Some(src) = pipeline.by_name("src") {
        got.lock().unwrap().stats = Some(src.property("stats"));
    }
    pipeline.set_state(gst::State::Null).expect("NULL");
    got.lock().unwrap().clone()
}
