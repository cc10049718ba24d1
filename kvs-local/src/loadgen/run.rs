// SPDX-License-Identifier: MPL-2.0
//! Command line and orchestration: server, streams, readers, producers, measurement.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;

use super::client::Endpoint;
use super::procstat;
use super::producer::{self, ProducerSpec, ProducerStats};
use super::reader::{self, ReaderStats};
use super::recording::Recording;
use super::report::{Dist, Summary};
use super::sendlog::SendLog;
use super::server_proc::ServerProcess;
use super::{Clock, LoadError, Window};

const DEFAULT_RECORDING: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/test-vectors/official-kvssink/capture-h264.mkv"
);

/// Load generator for kvs-local: N PutMedia producers replaying a recorded KVS body in real
/// time (≈2 Mbit/s each) plus one live GetMedia reader per stream. Prints server CPU/RSS,
/// PERSISTED-ACK latency and GetMedia delivery latency.
#[derive(Parser, Debug)]
#[command(name = "kvs-loadgen")]
pub struct Args {
    /// Number of streams (one producer and one reader each).
    #[arg(long, default_value_t = 10)]
    pub streams: usize,
    /// Length of the measurement window, after the warm-up.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 5)]
    pub warmup: u64,
    /// Use a running server (http://host:port) instead of starting one; CPU and memory are
    /// then not measured.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Server binary to start (default: this program re-executed in server mode, which runs
    /// the same code as the `kvs-local` binary).
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Data directory for the started server (default: a temporary directory, removed).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The PutMedia body to replay (an MKV as kvssink sends it).
    #[arg(long, default_value = DEFAULT_RECORDING)]
    pub recording: PathBuf,
    /// Worker threads of the generator's runtime (1 = a single-threaded runtime).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Prefix of the stream names created.
    #[arg(long, default_value = "loadgen")]
    pub stream_prefix: String,
}

pub fn main(args: Args) -> Result<Summary, LoadError> {
    let rt = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    }
    .map_err(|e| LoadError::Setup(format!("runtime: {e}")))?;
    let recording = Arc::new(Recording::load(&args.recording)?);
    let load_before = procstat::load_average();
    let server = match &args.endpoint {
        Some(_) => None,
        None => Some(ServerProcess::start(
            args.server_bin.as_deref(),
            args.data_dir.as_deref(),
        )?),
    };
    let base_url = match (&args.endpoint, &server) {
        (Some(e), _) => e.clone(),
        (None, Some(s)) => s.base_url.clone(),
        (None, None) => return Err(LoadError::Setup("no server".into())),
    };
    let endpoint = Endpoint::parse(&base_url)?;
    let server_pid = server.as_ref().map(ServerProcess::pid);
    let mut summary = rt.block_on(drive(&args, endpoint, recording, server_pid))?;
    summary.load_average_before = load_before;
    drop(server);
    Ok(summary)
}

async fn drive(
    args: &Args,
    endpoint: Endpoint,
    recording: Arc<Recording>,
    server_pid: Option<String>,
) -> Result<Summary, LoadError> {
    let names: Vec<String> = (0..args.streams)
        .map(|i| format!("{}-{}-{i}", args.stream_prefix, std::process::id()))
        .collect();
    for name in &names {
        create_stream(&endpoint, name).await?;
    }
    let clock = Clock::now();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let logs: Vec<Arc<SendLog>> = names
        .iter()
        .map(|_| Arc::new(SendLog::new(recording.max_frames())))
        .collect();

    // Readers first, so that NOW starts before the first fragment.
    let mut bodies = Vec::with_capacity(names.len());
    for name in &names {
        bodies.push(reader::open(&endpoint, name).await?);
    }
    // Give every producer a different phase within a second, starting shortly from now.
    let origin = Instant::now() + Duration::from_millis(200);
    let window = Window {
        start: origin + Duration::from_secs(1 + args.warmup),
        end: origin + Duration::from_secs(1 + args.warmup + args.seconds),
    };
    let readers: Vec<_> = bodies
        .into_iter()
        .zip(&logs)
        .map(|(body, log)| tokio::spawn(reader::run(body, log.clone(), window, stop_rx.clone())))
        .collect();
    let n = names.len().max(1) as u64;
    let producers: Vec<_> = names
        .iter()
        .zip(&logs)
        .enumerate()
        .map(|(i, (name, log))| {
            let phase = Duration::from_micros(i as u64 * 1_000_000 / n);
            tokio::spawn(producer::run(ProducerSpec {
                endpoint: endpoint.clone(),
                stream_name: name.clone(),
                recording: recording.clone(),
                log: log.clone(),
                clock,
                window,
                start: origin + phase,
            }))
        })
        .collect();

    let ticks = procstat::clock_ticks();
    let self_pid = std::process::id().to_string();
    tokio::time::sleep_until(window.start.into()).await;
    let server_cpu_a = server_pid.as_deref().and_then(|p| procstat::cpu(p, ticks));
    let self_cpu_a = procstat::cpu(&self_pid, ticks);
    tokio::time::sleep_until(window.end.into()).await;
    let server_cpu_b = server_pid.as_deref().and_then(|p| procstat::cpu(p, ticks));
    let self_cpu_b = procstat::cpu(&self_pid, ticks);
    let memory = server_pid.as_deref().and_then(procstat::memory);
    let load_after = procstat::load_average();

    let mut pstats = Vec::with_capacity(producers.len());
    for p in producers {
        match p.await {
            Ok(s) => pstats.push(s),
            Err(e) => pstats.push(ProducerStats {
                errors: vec![format!("producer task: {e}")],
                ..Default::default()
            }),
        }
    }
    // The last frames still travel to the readers once the producers are done.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop_tx.send(true);
    let mut rstats = Vec::with_capacity(readers.len());
    for r in readers {
        match r.await {
            Ok(s) => rstats.push(s),
            Err(e) => rstats.push(ReaderStats {
                errors: vec![format!("reader task: {e}")],
                ..Default::default()
            }),
        }
    }

    let mut s = Summary {
        streams: names.len(),
        window_secs: window.length().as_secs_f64(),
        load_average_after: load_after,
        server_cpu_percent: procstat::percent(server_cpu_a, server_cpu_b),
        server_rss_mib: memory.map(|m| m.0),
        server_hwm_mib: memory.map(|m| m.1),
        generator_cpu_percent: procstat::percent(self_cpu_a, self_cpu_b),
        offered_mbit_per_stream: recording.loop_bytes as f64 * 8.0
            / (recording.loop_ms.max(1) as f64 / 1000.0)
            / 1e6,
        ..Default::default()
    };
    let mut persisted_us = Vec::new();
    let mut errors = Vec::new();
    for p in pstats {
        persisted_us.extend(p.persisted_us);
        s.fragments_sent += p.fragments_sent;
        s.fragments_in_window += p.fragments_in_window;
        s.fragments_persisted += p.persisted;
        s.fragments_received += p.received;
        s.error_acks += p.error_acks;
        errors.extend(p.errors);
    }
    let mut delivery_us = Vec::new();
    for r in rstats {
        delivery_us.extend(r.delivery_us);
        s.frames_read += r.frames;
        s.frames_unmatched += r.unmatched;
        errors.extend(r.errors);
    }
    s.persisted = Dist::of(persisted_us);
    s.delivery = Dist::of(delivery_us);
    s.errors = errors.len();
    s.first_errors = errors.into_iter().take(5).collect();
    Ok(s)
}

async fn create_stream(endpoint: &Endpoint, name: &str) -> Result<(), LoadError> {
    let (status, body) = endpoint
        .post_json(
            "/createStream",
            &serde_json::json!({
                "StreamName": name,
                "MediaType": "video/h264",
                "DataRetentionInHours": 1
            }),
        )
        .await?;
    if status != 200 {
        return Err(LoadError::Http(format!(
            "createStream {name}: {status} {}",
            String::from_utf8_lossy(&body)
        )));
    }
    // Streams may start CREATING (the server's --activation-delay); PutMedia needs ACTIVE.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = endpoint
            .post_json("/describeStream", &serde_json::json!({"StreamName": name}))
            .await?;
        let active = status == 200
            && serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| {
                    v.get("StreamInfo")?
                        .get("Status")?
                        .as_str()
                        .map(|s| s == "ACTIVE")
                })
                .unwrap_or(false);
        if active {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(LoadError::Setup(format!(
                "stream {name} never became ACTIVE"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
