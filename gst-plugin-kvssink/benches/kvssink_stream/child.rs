// SPDX-License-Identifier: MPL-2.0
//! One measured pipeline, run in a fresh process so that peak RSS and CPU are its own.

use std::time::Instant;

use gst::prelude::*;

use crate::alloc;

/// How frames reach the sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// As fast as filesrc reads: the sink sees bursts, its buffer fills with unacked media.
    Fast,
    /// `identity sync=true` before the sink: 30 frames a second, as from a camera.
    RealTime,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Fast => "fast",
            Mode::RealTime => "realtime",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "fast" => Some(Mode::Fast),
            "realtime" => Some(Mode::RealTime),
            _ => None,
        }
    }
}

/// What one child measured while its pipeline ran (PLAYING to EOS).
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    pub cpu_us: f64,
    pub maxrss_kib: f64,
    pub allocs: f64,
    pub alloc_bytes: f64,
    pub wall_ms: f64,
    pub persist_last_ms: f64,
    pub persist_max_ms: f64,
    /// Voluntary context switches of all threads (a thread went to sleep waiting for work).
    pub vcsw: f64,
}

/// Peak RSS of this process image in KiB. Not ru_maxrss: Linux carries that over exec from
/// the parent (which encoded 1080p video), VmHWM starts afresh.
fn peak_rss_kib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

/// (user + system CPU µs of all threads, voluntary context switches).
fn rusage() -> (f64, f64) {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a rusage.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    assert_eq!(rc, 0, "getrusage");
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    (us(ru.ru_utime) + us(ru.ru_stime), ru.ru_nvcsw as f64)
}

/// CPU ns so far of each live thread, by thread name (`/proc/self/task/*/schedstat`).
fn thread_cpu_ns() -> std::collections::BTreeMap<String, u64> {
    let mut by_name = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return by_name;
    };
    for task in tasks.flatten() {
        let dir = task.path();
        let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        let ns = std::fs::read_to_string(dir.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        *by_name.entry(name.trim().to_owned()).or_default() += ns;
    }
    by_name
}

pub fn init_gst() {
    gst::init().expect("GStreamer initialises");
    gstrskvssink::plugin_register_static().expect("plugin registers");
}

/// Runs one pipeline and prints one `RESULT` line of figures.
pub fn run(sink: &str, mode: Mode, file: &str, url: &str, stream: &str) {
    init_gst();
    let trace: u64 = std::env::var("KVSSINK_BENCH_ALLOC_TRACE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // Extra kvssink properties for experiments (the figures use the defaults).
    let extra = std::env::var("KVSSINK_BENCH_PROPS").unwrap_or_default();
    let sink_desc = match sink {
        "fakesink" => "fakesink name=sink sync=false".to_owned(),
        // References for the floor: one thread hand-off; the same bytes over loopback TCP.
        "queue" => "queue ! fakesink name=sink sync=false".to_owned(),
        "tcpclientsink" => {
            let (host, port) = url
                .trim_start_matches("tcp://")
                .rsplit_once(':')
                .expect("tcp://HOST:PORT");
            format!("tcpclientsink name=sink host={host} port={port} sync=false")
        }
        _ => format!(
            "kvssink name=sink stream-name={stream} aws-region=us-east-1 endpoint-uri={url} \
             access-key=AKIDLOCAL secret-key=local-secret {extra}"
        ),
    };
    let pace = match mode {
        Mode::Fast => "",
        // h264parse times the frames from the SPS timing info (30 fps).
        Mode::RealTime => "identity sync=true ! ",
    };
    let desc = format!("filesrc location={file} ! h264parse ! {pace}{sink_desc}");
    let pipeline = gst::parse::launch(&desc)
        .expect("pipeline builds")
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
    pipeline.set_state(gst::State::Paused).expect("PAUSED");
    let _ = pipeline.state(gst::ClockTime::from_seconds(30));
    let threads0 = thread_cpu_ns();
    let (cpu0, vcsw0) = rusage();
    let (allocs0, bytes0) = alloc::counts();
    let t0 = Instant::now();
    alloc::set_tracing(trace);
    pipeline.set_state(gst::State::Playing).expect("PLAYING");
    let bus = pipeline.bus().expect("bus");
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(300)) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => panic!("{}: {:?}", e.error(), e.debug()),
            _ => {}
        }
    }
    alloc::set_tracing(0);
    let wall = t0.elapsed();
    let (cpu1, vcsw1) = rusage();
    if std::env::var_os("KVSSINK_BENCH_THREADS").is_some() {
        // Threads that ended before EOS are not listed (getrusage above still counts them).
        for (name, ns) in thread_cpu_ns() {
            let spent = ns.saturating_sub(threads0.get(&name).copied().unwrap_or(0));
            eprintln!("thread {name:<24} {:>9.0} µs", spent as f64 / 1e3);
        }
    }
    let maxrss = peak_rss_kib();
    let (allocs1, bytes1) = alloc::counts();
    let (last, max) = if sink != "kvssink" {
        (0, 0)
    } else {
        let s = pipeline
            .by_name("sink")
            .expect("sink")
            .property::<gst::Structure>("stats");
        assert_eq!(s.get::<u64>("errors").ok(), Some(0), "{s}");
        (
            s.get::<u64>("persist-latency-last-ms").unwrap_or(0),
            s.get::<u64>("persist-latency-max-ms").unwrap_or(0),
        )
    };
    pipeline.set_state(gst::State::Null).expect("NULL");
    if trace > 0 {
        for (n, site) in alloc::trace_report(12).into_iter().take(40) {
            eprintln!("{n} allocations at\n    {site}\n");
        }
    }
    println!(
        "RESULT {} {} {} {} {} {} {} {}",
        cpu1 - cpu0,
        maxrss,
        allocs1 - allocs0,
        bytes1 - bytes0,
        wall.as_secs_f64() * 1e3,
        last,
        max,
        vcsw1 - vcsw0
    );
}

pub fn parse_result(out: &str) -> Sample {
    let line = out
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .unwrap_or_else(|| panic!("child printed no RESULT line: {out}"));
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().expect("number"))
        .collect();
    assert_eq!(v.len(), 8, "RESULT line: {line}");
    Sample {
        cpu_us: v[0],
        maxrss_kib: v[1],
        allocs: v[2],
        alloc_bytes: v[3],
        wall_ms: v[4],
        persist_last_ms: v[5],
        persist_max_ms: v[6],
        vcsw: v[7],
    }
}
