// SPDX-License-Identifier: MPL-2.0
//! Steady-load check of the durability target: 200 streams at 2 Mbit/s, one 250 KB fragment
//! per stream per second with the streams' phases spread over the second (as independent
//! producers are), for `KVS_BENCH_SECS` seconds (default 10). Prints the RECEIVED → PERSISTED
//! latency distribution; the target is p99 < 100 ms.
//!
//! Run: `cargo bench -p kvs-local --bench media_steady_load`

use std::time::{Duration, Instant};

use bytes::Bytes;
use kvs_local::media::{MediaOptions, MediaStore, PendingFragment, now_ms};

const STREAMS: usize = 200;
const FRAGMENT_BYTES: usize = 250_000;

fn main() {
    // `cargo bench` passes `--bench`; a filter that names another bench skips this one.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"media_steady_load".contains(&a))
    {
        return;
    }
    let secs: u64 = std::env::var("KVS_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("runtime: {e}"),
    };
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    let store = match MediaStore::open(dir.path(), MediaOptions::default()) {
        Ok(s) => s,
        Err(e) => panic!("open: {e}"),
    };
    let mut latencies: Vec<Duration> = rt.block_on(async {
        let header = store.intern_header(Bytes::from_static(b"bench header"), 1_000_000);
        let payload = Bytes::from(vec![0x5au8; FRAGMENT_BYTES]);
        // Streams exist before the clock starts: creating one is a once-per-life commit.
        let mut streams = Vec::new();
        for i in 0..STREAMS {
            match store.ensure_stream(&format!("arn:load:{i}"), 1).await {
                Ok(s) => streams.push(s),
                Err(e) => panic!("stream: {e}"),
            }
        }
        let start = tokio::time::Instant::now();
        let mut tasks = Vec::new();
        for (i, stream) in streams.into_iter().enumerate() {
            let (store, header, payload) = (store.clone(), header.clone(), payload.clone());
            tasks.push(tokio::spawn(async move {
                let phase = Duration::from_micros((i as u64 * 1_000_000) / STREAMS as u64);
                let mut out = Vec::new();
                for second in 0..secs {
                    tokio::time::sleep_until(start + Duration::from_secs(second) + phase).await;
                    let id = match store.next_fragment_id(&stream).await {
                        Ok(id) => id,
                        Err(e) => panic!("numbering: {e}"),
                    };
                    let now = now_ms();
                    let received = Instant::now();
                    let r = store
                        .persist(PendingFragment {
                            stream: stream.clone(),
                            id,
                            header: header.clone(),
                            cluster: vec![payload.clone()],
                            producer_ts_ms: now,
                            server_ts_ms: now,
                            duration_ms: 1000,
                            cluster_timecode: now,
                            frame_count: 30,
                            tags: Vec::new(),
                        })
                        .await;
                    if let Err(e) = r {
                        panic!("persist: {e}");
                    }
                    out.push(received.elapsed());
                }
                out
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            match t.await {
                Ok(v) => all.extend(v),
                Err(e) => panic!("task: {e}"),
            }
        }
        all
    });
    let (rounds, fragments) = store.commit_counts();
    store.close();
    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies.get(i).copied().unwrap_or_default()
    };
    println!(
        "media_steady_load: {STREAMS} streams x {secs} s, {} fragments of {FRAGMENT_BYTES} B: \
         RECEIVED->PERSISTED p50 {:?}  p99 {:?}  max {:?}  (target p99 < 100 ms); \
         {rounds} group commits, {:.1} fragments each",
        latencies.len(),
        pct(0.5),
        pct(0.99),
        latencies.last().copied().unwrap_or_default(),
        fragments as f64 / rounds.max(1) as f64,
    );
}
