// SPDX-License-Identifier: MPL-2.0
//! kvssink's own cost while streaming pre-encoded 1080p H.264 (issue 3's performance targets).
//!
//! `cargo build --release -p kvs-local && cargo bench -p gst-plugin-kvssink --bench kvssink_stream`
//!
//! Encodes 900 (and 300) frames of 1080p30 H.264 at ≈ 5 Mbit/s (`snow`, so the rate control
//! really spends the bits) once into target/kvssink-bench/, starts the kvs-local binary (a
//! separate process, so its CPU is not ours), then runs `filesrc ! h264parse ! kvssink` and
//! `filesrc ! h264parse ! fakesink` each in a fresh child process of this binary, several
//! rounds, in two modes: as fast as the file can be read, and in real time (30 fps through
//! `identity sync=true`, in both pipelines). Each child reports getrusage (all threads), peak
//! RSS and the Rust heap allocations counted by a global allocator while the pipeline ran.
//! Per-frame figures come from differences, so start-up work is reported separately:
//! - whole run: (kvssink - fakesink) over 900 frames;
//! - marginal: ((kvssink900 - kvssink300) - (fakesink900 - fakesink300)) / 600.
//!
//! In fast mode each round also runs two references, measured the same way: `h264parse !
//! queue ! fakesink` (what one thread hand-off costs) and `h264parse ! tcpclientsink` to a
//! listener in this process that throws the bytes away (what moving the same bytes over
//! loopback TCP costs, no muxing, no HTTP, no hand-off). They show the floor the sink's
//! figure stands on; the machine is noisy, so each is reported as the median and the lowest
//! round, and kvssink minus tcpclientsink per round.
//!
//! Environment: `KVSSINK_BENCH_MODES` (`fast,realtime`), `KVSSINK_BENCH_ROUNDS` (fast, 7),
//! `KVSSINK_BENCH_RT_ROUNDS` (real time, 3; each round streams 40 s per sink),
//! `KVSSINK_BENCH_REFS=0` (skip the references), `KVSSINK_BENCH_PROPS` (extra kvssink
//! properties), `KVSSINK_BENCH_THREADS=1` (each child prints CPU per thread to stderr),
//! `KVSSINK_BENCH_PIN=0` (do not pin; by default kvs-local and this process run on CPU 0
//! and each measured pipeline on CPU 1, see `pin.rs`).
//! To name the allocation sites of one run:
//! `KVSSINK_BENCH_ALLOC_TRACE=7 target/release/deps/kvssink_stream-* --child kvssink fast FILE URL STREAM`
//! against a running kvs-local.

mod alloc;
mod child;
mod pin;
mod setup;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use child::{Mode, Sample};

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

/// kvs-local and this process run on CPU 0, the measured children on CPU 1.
static PINNED: AtomicBool = AtomicBool::new(false);

fn run_child(sink: &str, mode: Mode, file: &Path, url: &str, stream: &str) -> Sample {
    let mut cmd = Command::new(std::env::current_exe().expect("own path"));
    if PINNED.load(Ordering::Relaxed) {
        cmd.env(pin::CHILD_CPU, "1");
    }
    let out = cmd
        .args(["--child", sink, mode.name()])
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
    child::parse_result(&text)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// [kvssink900, fakesink900, kvssink300, fakesink300] of one round.
type Round = [Sample; 4];

/// The floor references of one round: [queue900, queue300, tcpclientsink900, tcpclientsink300].
type Refs = [Sample; 4];

fn measure(
    mode: Mode,
    rounds: usize,
    files: (&Path, &Path),
    url: &str,
    discard: Option<&str>,
) -> (Vec<Round>, Vec<Refs>) {
    let (f900, f300) = files;
    let mut rows = Vec::new();
    let mut refs = Vec::new();
    for round in 0..rounds {
        let tag = format!("{}-{round}", mode.name());
        let k900 = run_child("kvssink", mode, f900, url, &format!("bench-{tag}-900"));
        let s900 = run_child("fakesink", mode, f900, url, "-");
        let k300 = run_child("kvssink", mode, f300, url, &format!("bench-{tag}-300"));
        let s300 = run_child("fakesink", mode, f300, url, "-");
        eprintln!(
            "{} round {round}: kvssink900 {k900:?}\n  fakesink900 {s900:?}\n  kvssink300 {k300:?}\n  fakesink300 {s300:?}",
            mode.name()
        );
        rows.push([k900, s900, k300, s300]);
        if let Some(tcp) = discard {
            let q900 = run_child("queue", mode, f900, url, "-");
            let q300 = run_child("queue", mode, f300, url, "-");
            let t900 = run_child("tcpclientsink", mode, f900, tcp, "-");
            let t300 = run_child("tcpclientsink", mode, f300, tcp, "-");
            eprintln!(
                "  queue900 {q900:?}\n  queue300 {q300:?}\n  tcpclientsink900 {t900:?}\n  tcpclientsink300 {t300:?}"
            );
            refs.push([q900, q300, t900, t300]);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    (rows, refs)
}

/// A TCP listener that reads and throws away what it gets, in this (unmeasured) process:
/// the far end for the `tcpclientsink` reference. Returns `tcp://127.0.0.1:PORT`.
fn start_discard_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("discard listener");
    let addr = listener.local_addr().expect("local addr");
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut conn = conn;
                let _ = std::io::copy(&mut conn, &mut std::io::sink());
            });
        }
    });
    format!("tcp://{addr}")
}

/// CPU µs per frame of a pipeline beyond the fakesink pipeline of the same round, between
/// the 900- and the 300-frame run.
fn cpu_marginal(run900: &Sample, run300: &Sample, round: &Round) -> f64 {
    ((run900.cpu_us - run300.cpu_us) - (round[1].cpu_us - round[3].cpu_us)) / 600.0
}

fn report(mode: Mode, rows: &[Round], refs: &[Refs]) {
    let col = |f: &dyn Fn(&Round) -> f64| median(rows.iter().map(f).collect());
    let marginal = |f: &dyn Fn(&Sample) -> f64| {
        col(&|r: &Round| ((f(&r[0]) - f(&r[2])) - (f(&r[1]) - f(&r[3]))) / 600.0)
    };
    let lowest = |v: Vec<f64>| v.into_iter().fold(f64::INFINITY, f64::min);
    let whole = |f: &dyn Fn(&Sample) -> f64| col(&|r: &Round| (f(&r[0]) - f(&r[1])) / 900.0);
    println!("{} mode, medians over {} rounds:", mode.name(), rows.len());
    println!(
        "  fakesink pipeline CPU per frame:          {:.1} µs",
        col(&|r| r[1].cpu_us / 900.0)
    );
    println!(
        "  kvssink CPU per frame, whole run:         {:.1} µs",
        whole(&|s| s.cpu_us)
    );
    let kvssink: Vec<f64> = rows.iter().map(|r| cpu_marginal(&r[0], &r[2], r)).collect();
    println!(
        "  kvssink CPU per frame, marginal:          {:.1} µs (lowest round {:.1} µs)",
        median(kvssink.clone()),
        lowest(kvssink.clone())
    );
    if !refs.is_empty() {
        // Same rounds, same fakesink runs subtracted: what a thread hand-off and what moving
        // the bytes over loopback TCP (with the receiver's kernel work, which loopback does
        // in the sender's thread) cost on this machine.
        let per_ref = |i: usize| -> Vec<f64> {
            rows.iter()
                .zip(refs)
                .map(|(r, x)| cpu_marginal(&x[i], &x[i + 1], r))
                .collect()
        };
        let (queue, tcp) = (per_ref(0), per_ref(2));
        println!(
            "  reference `queue ! fakesink`, marginal:   {:.1} µs (lowest {:.1} µs)",
            median(queue.clone()),
            lowest(queue)
        );
        println!(
            "  reference `tcpclientsink`, marginal:      {:.1} µs (lowest {:.1} µs)",
            median(tcp.clone()),
            lowest(tcp.clone())
        );
        let above: Vec<f64> = kvssink.iter().zip(&tcp).map(|(k, t)| k - t).collect();
        println!(
            "  kvssink above tcpclientsink, marginal:    {:.1} µs (per round: {})",
            median(above.clone()),
            above
                .iter()
                .map(|v| format!("{v:.1}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!(
        "  kvssink peak RSS above fakesink:          {:.2} MiB",
        col(&|r| (r[0].maxrss_kib - r[1].maxrss_kib) / 1024.0)
    );
    println!(
        "  Rust heap allocations per frame, whole:   {:.2}",
        whole(&|s| s.allocs)
    );
    println!(
        "  Rust heap allocations per frame, marginal:{:.2} ({:.0} bytes)",
        marginal(&|s| s.allocs),
        marginal(&|s| s.alloc_bytes)
    );
    println!(
        "  voluntary context switches per frame, marginal: {:.2} (fakesink pipeline alone: {:.2})",
        marginal(&|s| s.vcsw),
        col(&|r| (r[1].vcsw - r[3].vcsw) / 600.0)
    );
    println!(
        "  PERSISTED latency after last byte, last:  {:.0} ms, max {:.0} ms",
        col(&|r| r[0].persist_last_ms),
        col(&|r| r[0].persist_max_ms)
    );
    println!(
        "  wall time for 900 frames:                 {:.0} ms (fakesink {:.0} ms)",
        col(&|r| r[0].wall_ms),
        col(&|r| r[1].wall_ms)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        let [_, _, sink, mode, file, url, stream] = args.as_slice() else {
            panic!("usage: --child SINK MODE FILE URL STREAM");
        };
        let mode = Mode::parse(mode).expect("mode is fast or realtime");
        if let Some(cpu) = std::env::var(pin::CHILD_CPU)
            .ok()
            .and_then(|c| c.parse().ok())
        {
            // Before GStreamer starts any thread, so all of them stay there.
            assert!(pin::to_cpu(cpu), "cannot pin the child to CPU {cpu}");
        }
        child::run(sink, mode, file, url, stream);
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    if env_usize("KVSSINK_BENCH_PIN", 1) != 0 && cpus >= 2 && pin::to_cpu(0) {
        PINNED.store(true, Ordering::Relaxed);
    }
    child::init_gst();
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
    setup::encode(&f900, 900);
    setup::encode(&f300, 300);
    eprintln!("inputs ready in {:?}", t.elapsed());
    let size = std::fs::metadata(&f900).map(|m| m.len()).unwrap_or(0);
    let modes: Vec<Mode> = std::env::var("KVSSINK_BENCH_MODES")
        .unwrap_or_else(|_| "fast,realtime".into())
        .split(',')
        .map(|m| Mode::parse(m.trim()).expect("KVSSINK_BENCH_MODES: fast and/or realtime"))
        .collect();

    let server = setup::Server::start(&target);
    let discard = start_discard_server();
    let with_refs = env_usize("KVSSINK_BENCH_REFS", 1) != 0;
    let mut results = Vec::new();
    for mode in modes {
        let rounds = match mode {
            Mode::Fast => env_usize("KVSSINK_BENCH_ROUNDS", 7),
            Mode::RealTime => env_usize("KVSSINK_BENCH_RT_ROUNDS", 3),
        };
        // The references run in fast mode only: in real time each run lasts 30 s.
        let refs = (with_refs && mode == Mode::Fast).then_some(discard.as_str());
        let (rows, refs) = measure(mode, rounds.max(1), (&f900, &f300), &server.url, refs);
        results.push((mode, rows, refs));
    }
    println!(
        "input: 900 frames 1080p30 H.264, {:.1} MB ({:.2} Mbit/s)",
        size as f64 / 1e6,
        size as f64 * 8.0 / 30.0 / 1e6
    );
    println!(
        "{}",
        if PINNED.load(Ordering::Relaxed) {
            "pinned: kvs-local and the bench on CPU 0, each measured pipeline on CPU 1"
        } else {
            "not pinned (KVSSINK_BENCH_PIN=0 or one CPU): threads go where the scheduler puts them"
        }
    );
    for (mode, rows, refs) in &results {
        report(*mode, rows, refs);
    }
}
