// SPDX-License-Identifier: MPL-2.0
//! An IP camera gateway: every `NAME=rtsp://…` argument becomes its own pipeline
//! `rtspsrc ! rtph264depay ! h264parse ! kvsmeta ! kvssink stream-name=NAME`, so one camera
//! failing never stops the others. Tags are set from the application through kvsmeta's
//! `add-tag` signal; every ACK, reconnect and error is reported on stdout per camera, and a
//! camera that goes away is reopened with a growing delay until it comes back.
//!
//! ```text
//! kvs-gateway --endpoint-uri http://127.0.0.1:4566 --tag site=lab \
//!     front=rtsp://192.168.1.10/stream1 back=rtsp://192.168.1.11/stream1
//! ```
//!
//! Stops on Ctrl-C (or after --run-seconds): sends EOS so every fragment is acknowledged.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use gst::prelude::*;
use gst_kvs_examples::{describe_ack, init_gstreamer, split_pair};

#[derive(Parser, Debug)]
#[command(name = "kvs-gateway", version)]
struct Args {
    /// Cameras as STREAM_NAME=rtsp://URL (one pipeline and one KVS stream each).
    #[arg(required = true, value_parser = split_pair)]
    cameras: Vec<(String, String)>,
    /// KVS endpoint, e.g. kvs-local's http://127.0.0.1:4566 (unset = AWS, or the
    /// AWS_ENDPOINT_URL_KINESIS_VIDEO environment variable).
    #[arg(long)]
    endpoint_uri: Option<String>,
    /// AWS region (unset = AWS_REGION or the profile).
    #[arg(long)]
    region: Option<String>,
    /// Persistent tag NAME=VALUE on every fragment of every camera (repeatable).
    #[arg(long = "tag", value_parser = split_pair)]
    tags: Vec<(String, String)>,
    /// rtspsrc jitter buffer in milliseconds.
    #[arg(long, default_value_t = 200)]
    latency_ms: u32,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    run_seconds: Option<u64>,
}

/// Serialises report lines from the camera threads.
fn report(camera: &str, what: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{camera}: {what}");
    let _ = out.flush();
}

fn build_pipeline(args: &Args, name: &str, url: &str) -> Result<gst::Pipeline, glib::Error> {
    let pipeline = gst::Pipeline::with_name(name);
    let src = gst::ElementFactory::make("rtspsrc")
        .property("location", url)
        .property("latency", args.latency_ms)
        .build()
        .map_err(bool_err)?;
    let depay = gst::ElementFactory::make("rtph264depay")
        .build()
        .map_err(bool_err)?;
    let parse = gst::ElementFactory::make("h264parse")
        .build()
        .map_err(bool_err)?;
    let meta = gst::ElementFactory::make("kvsmeta")
        .name("meta")
        .build()
        .map_err(bool_err)?;
    let mut sink = gst::ElementFactory::make("kvssink")
        .name("sink")
        .property("stream-name", name);
    if let Some(endpoint) = &args.endpoint_uri {
        sink = sink.property("endpoint-uri", endpoint);
    }
    if let Some(region) = &args.region {
        sink = sink.property("aws-region", region);
    }
    let sink = sink.build().map_err(bool_err)?;
    pipeline
        .add_many([&src, &depay, &parse, &meta, &sink])
        .map_err(bool_err)?;
    gst::Element::link_many([&depay, &parse, &meta, &sink]).map_err(bool_err)?;
    // rtspsrc's pads appear once the camera has described its streams.
    let depay_weak = depay.downgrade();
    src.connect_pad_added(move |_, pad| {
        let Some(depay) = depay_weak.upgrade() else {
            return;
        };
        let is_video = pad
            .current_caps()
            .and_then(|c| {
                c.structure(0)
                    .map(|s| s.get::<&str>("media").ok() == Some("video"))
            })
            .unwrap_or(false);
        if let Some(sinkpad) = depay.static_pad("sink")
            && is_video
            && !sinkpad.is_linked()
        {
            let _ = pad.link(&sinkpad);
        }
    });

    // App-driven tags: persistent ones from the command line, and a one-shot marker on the
    // first fragment after every (re)start.
    let _ = meta.emit_by_name::<bool>("add-tag", &[&"camera", &name, &true]);
    for (k, v) in &args.tags {
        if !meta.emit_by_name::<bool>("add-tag", &[k, v, &true]) {
            report(name, &format!("tag {k} refused (see the warning)"));
        }
    }
    let _ = meta.emit_by_name::<bool>("add-tag", &[&"gateway-event", &"connected", &false]);
    Ok(pipeline)
}

fn bool_err(e: glib::BoolError) -> glib::Error {
    glib::Error::new(gst::CoreError::Failed, &e.message)
}

enum Outcome {
    Stopped,
    Failed,
}

/// Runs one camera's pipeline until it fails or `stop` is set (then EOS, waiting for ACKs).
fn run_once(pipeline: &gst::Pipeline, name: &str, stop: &AtomicBool) -> Outcome {
    let Some(bus) = pipeline.bus() else {
        return Outcome::Failed;
    };
    if let Err(e) = pipeline.set_state(gst::State::Playing) {
        report(name, &format!("error: cannot start: {e}"));
        return Outcome::Failed;
    }
    let mut eos_deadline: Option<Instant> = None;
    loop {
        if eos_deadline.is_none() && stop.load(Ordering::SeqCst) {
            report(name, "stopping: waiting for the last ACKs");
            pipeline.send_event(gst::event::Eos::new());
            eos_deadline = Some(Instant::now() + Duration::from_secs(30));
        }
        if eos_deadline.is_some_and(|d| Instant::now() > d) {
            report(name, "stopped without EOS (timeout)");
            return Outcome::Stopped;
        }
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else {
            continue;
        };
        use gst::MessageView;
        match msg.view() {
            MessageView::Element(e) => {
                let Some(s) = e.structure() else { continue };
                if let Some(line) = describe_ack(s) {
                    report(name, &format!("ack {line}"));
                } else if s.name() == "kvs-reconnecting" {
                    let attempt = s.get::<u32>("attempt").unwrap_or(0);
                    let reason = s.get::<&str>("reason").unwrap_or("");
                    report(
                        name,
                        &format!("reconnecting to KVS (attempt {attempt}): {reason}"),
                    );
                }
            }
            MessageView::Warning(w) => report(name, &format!("warning: {}", w.error())),
            MessageView::Error(e) => {
                let from = e.src().map(|s| s.name().to_string()).unwrap_or_default();
                report(name, &format!("error from {from}: {}", e.error()));
                return Outcome::Failed;
            }
            MessageView::Eos(_) => {
                report(
                    name,
                    if eos_deadline.is_some() {
                        "stopped"
                    } else {
                        "camera ended the stream"
                    },
                );
                return if eos_deadline.is_some() {
                    Outcome::Stopped
                } else {
                    Outcome::Failed
                };
            }
            MessageView::StateChanged(s)
                if s.current() == gst::State::Playing
                    && msg.src().map(|o| o == pipeline.upcast_ref::<gst::Object>())
                        == Some(true) =>
            {
                report(name, "streaming");
            }
            _ => {}
        }
    }
}

/// Keeps one camera going: reopens it after failures with a delay growing to 10 s.
fn camera_thread(args: Arc<Args>, name: String, url: String, stop: Arc<AtomicBool>) {
    let mut delay = Duration::from_millis(500);
    while !stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        let outcome = match build_pipeline(&args, &name, &url) {
            Ok(pipeline) => {
                let outcome = run_once(&pipeline, &name, &stop);
                let _ = pipeline.set_state(gst::State::Null);
                outcome
            }
            Err(e) => {
                report(&name, &format!("error: {e}"));
                Outcome::Failed
            }
        };
        if matches!(outcome, Outcome::Stopped) {
            return;
        }
        if started.elapsed() > Duration::from_secs(30) {
            delay = Duration::from_millis(500);
        }
        report(
            &name,
            &format!("reopening the camera in {} ms", delay.as_millis()),
        );
        let until = Instant::now() + delay;
        while Instant::now() < until && !stop.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(50));
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

/// Returns on Ctrl-C, SIGTERM or after `run_seconds`.
fn wait_for_stop(run_seconds: Option<u64>) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let timeout = async {
            match run_seconds {
                Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
            _ = timeout => Ok(()),
        }
    })
}

fn main() -> ExitCode {
    let args = Arc::new(Args::parse());
    if let Err(e) = init_gstreamer() {
        eprintln!("kvs-gateway: cannot initialise GStreamer: {e}");
        return ExitCode::FAILURE;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = args
        .cameras
        .iter()
        .map(|(name, url)| {
            let (args, stop) = (args.clone(), stop.clone());
            let (name, url) = (name.clone(), url.clone());
            thread::spawn(move || camera_thread(args, name, url, stop))
        })
        .collect();
    if let Err(e) = wait_for_stop(args.run_seconds) {
        eprintln!("kvs-gateway: cannot watch for Ctrl-C: {e}");
    }
    stop.store(true, Ordering::SeqCst);
    let mut ok = true;
    for t in threads {
        ok &= t.join().is_ok();
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
