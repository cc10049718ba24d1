// SPDX-License-Identifier: MPL-2.0
//! A KVS consumer: reads a stream with kvssrc, prints one line per fragment (number,
//! producer time, frames, tags), calls out motion tags set by kvsmeta, and writes one JPEG
//! thumbnail per `--interval` seconds of video into `--out`.
//!
//! ```text
//! kvs-thumbnails --stream front --endpoint-uri http://127.0.0.1:4566 --start earliest --out thumbs/
//! ```
//!
//! Live (the default) it runs until Ctrl-C or `--max-fragments`; with `--end-ms` it plays the
//! archived range and exits at its end.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use gst::prelude::*;
use gst_kvs_examples::{fragment_tags, init_gstreamer};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Start {
    Now,
    Earliest,
}

#[derive(Parser, Debug)]
#[command(name = "kvs-thumbnails", version)]
struct Args {
    /// Stream to read.
    #[arg(long)]
    stream: String,
    /// KVS endpoint (unset = AWS, or AWS_ENDPOINT_URL_KINESIS_VIDEO).
    #[arg(long)]
    endpoint_uri: Option<String>,
    /// AWS region (unset = AWS_REGION or the profile).
    #[arg(long)]
    region: Option<String>,
    /// Where live playback starts.
    #[arg(long, value_enum, default_value_t = Start::Now)]
    start: Start,
    /// Archived playback: producer time range [--start-ms, --end-ms] in epoch ms, then exit.
    #[arg(long, requires = "end_ms")]
    start_ms: Option<u64>,
    #[arg(long)]
    end_ms: Option<u64>,
    /// Directory for thumb-NNNNN.jpg (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Seconds of video between thumbnails.
    #[arg(long, default_value_t = 1)]
    interval: u32,
    /// Thumbnail width in pixels (height follows the aspect ratio).
    #[arg(long, default_value_t = 320)]
    width: u32,
    /// Stop after this many fragments.
    #[arg(long)]
    max_fragments: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("cannot create {0}: {1}")]
    OutDir(PathBuf, std::io::Error),
    #[error("cannot build the pipeline: {0}")]
    Build(#[from] glib::Error),
    #[error("cannot build the pipeline: {0}")]
    Link(#[from] glib::BoolError),
    #[error("cannot start the pipeline: {0}")]
    Start(#[from] gst::StateChangeError),
    #[error("{0}")]
    Pipeline(String),
}

fn pipeline_description(args: &Args) -> String {
    let location = args.out.join("thumb-%05d.jpg");
    // The `interval` caps make videorate keep one frame every N seconds.
    format!(
        "kvssrc name=src ! matroskademux name=demux demux.video_0 ! queue ! h264parse \
         ! avdec_h264 ! videoconvert ! videoscale ! videorate \
         ! video/x-raw,width={},pixel-aspect-ratio=1/1,framerate=1/{} ! jpegenc \
         ! multifilesink location=\"{}\"",
        args.width,
        args.interval.max(1),
        location.display()
    )
}

fn configure_source(src: &gst::Element, args: &Args) {
    src.set_property("stream-name", &args.stream);
    if let Some(e) = &args.endpoint_uri {
        src.set_property("endpoint-uri", e);
    }
    if let Some(r) = &args.region {
        src.set_property("aws-region", r);
    }
    if let Some(end) = args.end_ms {
        src.set_property_from_str("start-selector", "producer-timestamp");
        src.set_property("start-timestamp", args.start_ms.unwrap_or(0));
        src.set_property("end-timestamp", end);
    } else {
        let nick = match args.start {
            Start::Now => "now",
            Start::Earliest => "earliest",
        };
        src.set_property_from_str("start-selector", nick);
    }
}

fn print_fragment(s: &gst::StructureRef) {
    let number = s.get::<&str>("fragment-number").unwrap_or("-");
    let producer = s.get::<u64>("producer-timestamp").unwrap_or(0);
    let frames = s
        .get::<u64>("frames")
        .map(|f| f.to_string())
        .unwrap_or_default();
    let tags = fragment_tags(s);
    let list: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "fragment {number} producer-ms={producer} frames={frames} tags=[{}]",
        list.join(", ")
    );
    for (k, v) in &tags {
        if k == "motion" {
            let _ = writeln!(out, "MOTION {v} in fragment {number}");
        }
    }
    let _ = out.flush();
}

fn run(args: &Args) -> Result<u64, Error> {
    std::fs::create_dir_all(&args.out).map_err(|e| Error::OutDir(args.out.clone(), e))?;
    let pipeline = gst::parse::launch(&pipeline_description(args))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| Error::Pipeline("not a pipeline".into()))?;
    let src = pipeline
        .by_name("src")
        .ok_or_else(|| Error::Pipeline("no kvssrc".into()))?;
    configure_source(&src, args);
    let bus = pipeline
        .bus()
        .ok_or_else(|| Error::Pipeline("no bus".into()))?;
    pipeline.set_state(gst::State::Playing)?;
    let mut fragments = 0u64;
    let result = loop {
        let Some(msg) = bus.timed_pop(gst::ClockTime::NONE) else {
            continue;
        };
        use gst::MessageView;
        match msg.view() {
            MessageView::Element(e) => {
                if let Some(s) = e.structure().filter(|s| s.name() == "kvs-fragment") {
                    print_fragment(s);
                    fragments += 1;
                    if args.max_fragments.is_some_and(|m| fragments >= m) {
                        break Ok(fragments);
                    }
                }
            }
            MessageView::Eos(_) => break Ok(fragments),
            MessageView::Error(e) => {
                break Err(Error::Pipeline(format!(
                    "{} ({})",
                    e.error(),
                    e.debug().map(|d| d.to_string()).unwrap_or_default()
                )));
            }
            _ => {}
        }
    };
    let _ = pipeline.set_state(gst::State::Null);
    result
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = init_gstreamer() {
        eprintln!("kvs-thumbnails: cannot initialise GStreamer: {e}");
        return ExitCode::FAILURE;
    }
    match run(&args) {
        Ok(n) => {
            println!("done: {n} fragments, thumbnails in {}", args.out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kvs-thumbnails: {e}");
            ExitCode::FAILURE
        }
    }
}
