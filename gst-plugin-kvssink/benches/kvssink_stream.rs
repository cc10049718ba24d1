// SPDX-License-Identifier: MPL-2.0
//! kvssink's own cost while streaming pre-encoded 1080p H.264 (issue 3's performance targets).
//!
//! `cargo build --release -p kvs-local && cargo bench -p gst-plugin-kvssink --bench kvssink_stream`
//!
//! Encodes 900 (and 300) frames of 1080p30 H.264 at ≈ 5 Mbit/s (`snow`, so the rate control
//! really spends the bits) once into target/kvssink-bench/, starts the
//! kvs-local binary (a separate process, so its CPU is not ours), then runs
//! `filesrc ! h264parse ! kvssink` and `filesrc ! h264parse ! fakesink` each in a fresh child
//! process of this binary, several rounds. Each child reports getrusage (all threads), peak RSS
//! and the Rust heap allocations counted by a global allocator while the pipeline ran.
//! Per-frame figures come from differences, so start-up work is reported separately:
//! - whole run: (kvssink - fakesink) over 900 frames;
//! - marginal: ((kvssink900 - kvssink300) - (fakesink900 - fakesink300)) / 600.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gst::prelude::*;

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        ALLOC_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from System.alloc with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        ALLOC_BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: ptr came from System with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ROUNDS: usize = 5;

#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    cpu_us: f64,
    maxrss_kib: f64,
    allocs: f64,
    alloc_bytes: f64,
    wall_ms: f64,
    persist_last_ms: f64,
    persist_max_ms: f64,
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

fn cpu_us() -> f64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a rusage.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    assert_eq!(rc, 0, "getrusage");
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    us(ru.ru_utime) + us(ru.ru_stime)
}

fn init_gst() {
    gst::init().expect("GStreamer initialises");
    gstrskvssink::plugin_register_static().expect("plugin registers");
}

/// Child mode: run one pipeline, print one line of figures.
fn child(sink: &str, file: &str, url: &str, stream: &str) {
    init_gst();
    let sink_desc = match sink {
        "fakesink" => "fakesink name=sink sync=false".to_owned(),
        _ => format!(
            "kvssink name=sink stream-name={stream} aws-region=us-east-1 endpoint-uri={url} \
             access-key=AKIDLOCAL secret-key=local-secret"
        ),
    };
    let desc = format!("filesrc location={file} ! h264parse ! {sink_desc}");
    let pipeline = gst::parse::launch(&desc)
        .expect("pipeline builds")
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
    pipeline.set_state(gst::State::Paused).expect("PAUSED");
    let _ = pipeline.state(gst::ClockTime::from_seconds(30));
    let cpu0 = cpu_us();
    let allocs0 = ALLOCS.load(Ordering::Relaxed);
    let bytes0 = ALLOC_BYTES.load(Ordering::Relaxed);
    let t0 = Instant::now();
    pipeline.set_state(gst::State::Playing).expect("PLAYING");
    let bus = pipeline.bus().expect("bus");
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(120)) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => panic!("{}: {:?}", e.error(), e.debug()),
            _ => {}
        }
    }
    let wall = t0.elapsed();
    let cpu1 = cpu_us();
    let maxrss = peak_rss_kib();
    let allocs = ALLOCS.load(Ordering::Relaxed) - allocs0;
    let bytes = ALLOC_BYTES.load(Ordering::Relaxed) - bytes0;
    let (last, max) = if sink == "fakesink" {
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
    println!(
        "RESULT {} {} {} {} {} {} {}",
        cpu1 - cpu0,
        maxrss,
        allocs,
        bytes,
        wall.as_secs_f64() * 1e3,
        last,
        max
    );
}

fn parse_result(out: &str) -> Sample {
    let line = out
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .unwrap_or_else(|| panic!("child printed no RESULT line: {out}"));
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().expect("number"))
        .collect();
    Sample {
        cpu_us: v[0],
        maxrss_kib: v[1],
        allocs: v[2],
        alloc_bytes: v[3],
        wall_ms: v[4],
        persist_last_ms: v[5],
        persist_max_ms: v[6],
    }
}

fn run_child(sink: &str, file: &Path, url: &str, stream: &str) -> Sample {
    let out = Command::new(std::env::current_exe().expect("own path"))
        .args(["--child", sink])
        .arg(file)
        .args([url, stream])
        .output()
        .expect("child runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child {sink} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_result(&text)
}

fn encode(path: &Path, frames: u32) {
    if path.exists() {
        return;
    }
    for e in [
        "videotestsrc",
        "x264enc",
        "h264parse",
        "filesrc",
        "fakesink",
    ] {
        assert!(
            gst::ElementFactory::find(e).is_some(),
            "GStreamer element {e} is missing: apt-get install gstreamer1.0-plugins-ugly gstreamer1.0-plugins-good"
        );
    }
    let tmp = path.with_extension("partial");
    let desc = format!(
        "videotestsrc num-buffers={frames} pattern=snow ! \
         video/x-raw,width=1920,height=1080,framerate=30/1 ! \
         x264enc speed-preset=ultrafast key-int-max=30 bitrate=5000 ! \
         video/x-h264,stream-format=byte-stream ! filesink location={}",
        tmp.display()
    );
    let p = gst::parse::launch(&desc).expect("encoder pipeline");
    p.set_state(gst::State::Playing).expect("encode");
    let bus = p.bus().expect("bus");
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(600)) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => panic!("encoding failed: {}", e.error()),
            _ => {}
        }
    }
    p.set_state(gst::State::Null).expect("NULL");
    std::fs::rename(&tmp, path).expect("rename input");
}

/// The kvs-local binary, killed on drop.
struct Server {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(target: &Path) -> Server {
        let bin = target.join("release").join("kvs-local");
        assert!(
            bin.exists(),
            "{} is missing: run `cargo build --release -p kvs-local` first",
            bin.display()
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new(&bin)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--log-level",
                "warn",
                "--data-dir",
            ])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("kvs-local starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("first line");
        let url = line
            .split_whitespace()
            .last()
            .filter(|u| u.starts_with("http://"))
            .unwrap_or_else(|| panic!("unexpected first line from kvs-local: {line}"))
            .to_owned();
        Server {
            child,
            url,
            _dir: dir,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        child(&args[2], &args[3], &args[4], &args[5]);
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    init_gst();
    // target/<profile>/deps/<bench> → target/
    let exe = std::env::current_exe().expect("own path");
    let target: PathBuf = exe
        .ancestors()
        .nth(3)
        .expect("bench runs from target/<profile>/deps")
        .to_path_buf();
    let dir = target.join("kvssink-bench");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let f900 = dir.join("1080p-snow-900.h264");
    let f300 = dir.join("1080p-snow-300.h264");
    let t = Instant::now();
    encode(&f900, 900);
    encode(&f300, 300);
    eprintln!("inputs ready in {:?}", t.elapsed());
    let size = std::fs::metadata(&f900).map(|m| m.len()).unwrap_or(0);

    let server = Server::start(&target);
    let mut rows: Vec<[Sample; 4]> = Vec::new();
    for round in 0..ROUNDS {
        let k900 = run_child("kvssink", &f900, &server.url, &format!("bench-{round}-900"));
        let f900s = run_child("fakesink", &f900, &server.url, "-");
        let k300 = run_child("kvssink", &f300, &server.url, &format!("bench-{round}-300"));
        let f300s = run_child("fakesink", &f300, &server.url, "-");
        eprintln!(
            "round {round}: kvssink900 {k900:?}\n  fakesink900 {f900s:?}\n  kvssink300 {k300:?}\n  fakesink300 {f300s:?}"
        );
        rows.push([k900, f900s, k300, f300s]);
        std::thread::sleep(Duration::from_millis(200));
    }
    let col = |f: &dyn Fn(&[Sample; 4]) -> f64| median(rows.iter().map(f).collect());
    let whole_cpu = col(&|r| (r[0].cpu_us - r[1].cpu_us) / 900.0);
    let marginal_cpu =
        col(&|r| ((r[0].cpu_us - r[2].cpu_us) - (r[1].cpu_us - r[3].cpu_us)) / 600.0);
    let rss = col(&|r| (r[0].maxrss_kib - r[1].maxrss_kib) / 1024.0);
    let whole_allocs = col(&|r| (r[0].allocs - r[1].allocs) / 900.0);
    let marginal_allocs =
        col(&|r| ((r[0].allocs - r[2].allocs) - (r[1].allocs - r[3].allocs)) / 600.0);
    let marginal_bytes = col(&|r| {
        ((r[0].alloc_bytes - r[2].alloc_bytes) - (r[1].alloc_bytes - r[3].alloc_bytes)) / 600.0
    });
    let fake_cpu = col(&|r| r[1].cpu_us / 900.0);
    let persist_last = col(&|r| r[0].persist_last_ms);
    let persist_max = col(&|r| r[0].persist_max_ms);
    let wall = col(&|r| r[0].wall_ms);
    println!(
        "input: 900 frames 1080p30 H.264, {:.1} MB ({:.2} Mbit/s)",
        size as f64 / 1e6,
        size as f64 * 8.0 / 30.0 / 1e6
    );
    println!("medians over {ROUNDS} rounds:");
    println!("fakesink pipeline CPU per frame:          {fake_cpu:.1} µs");
    println!("kvssink CPU per frame, whole run:         {whole_cpu:.1} µs");
    println!("kvssink CPU per frame, marginal:          {marginal_cpu:.1} µs");
    println!("kvssink peak RSS above fakesink:          {rss:.2} MiB");
    println!("Rust heap allocations per frame, whole:   {whole_allocs:.2}");
    println!(
        "Rust heap allocations per frame, marginal:{marginal_allocs:.2} ({marginal_bytes:.0} bytes)"
    );
    println!(
        "PERSISTED latency after last byte, last:  {persist_last:.0} ms, max {persist_max:.0} ms"
    );
    println!("kvssink wall time for 900 frames:         {wall:.0} ms");
}
