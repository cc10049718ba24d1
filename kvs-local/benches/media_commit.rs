// SPDX-License-Identifier: MPL-2.0
//! Group-commit cost of the media store: time from handing fragments to the committer until
//! they are durable (fsynced and indexed), i.e. the RECEIVED → PERSISTED delay.
//!
//! `persist/1_stream`: one 250 KB fragment (1 s at 2 Mbit/s) alone.
//! `persist/200_streams`: 200 streams hand in one such fragment each at the same moment, the
//! per-second load of the 200 × 2 Mbit/s target; the round must stay well under 100 ms.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use kvs_local::media::{MediaOptions, MediaStore, PendingFragment, StreamMedia, now_ms};

const FRAGMENT_BYTES: usize = 250_000;

async fn persist_all(store: &Arc<MediaStore>, streams: &[Arc<StreamMedia>], payload: &Bytes) {
    let header = store.intern_header(Bytes::from_static(b"bench header"), 1_000_000);
    let mut waits = Vec::with_capacity(streams.len());
    let now = now_ms();
    for s in streams {
        let id = match store.next_fragment_id(s).await {
            Ok(id) => id,
            Err(e) => panic!("numbering failed: {e}"),
        };
        waits.push(store.persist(PendingFragment {
            stream: s.clone(),
            id,
            header: header.clone(),
            cluster: vec![payload.clone()],
            producer_ts_ms: now,
            server_ts_ms: now,
            duration_ms: 1000,
            cluster_timecode: now,
            frame_count: 30,
            tags: Vec::new(),
        }));
    }
    for w in waits {
        if let Err(e) = w.await {
            panic!("persist failed: {e}");
        }
    }
}

fn bench(c: &mut Criterion) {
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
    let streams: Vec<Arc<StreamMedia>> = rt.block_on(async {
        let mut v = Vec::new();
        for i in 0..200 {
            match store.ensure_stream(&format!("arn:bench:{i}"), 1).await {
                Ok(s) => v.push(s),
                Err(e) => panic!("stream: {e}"),
            }
        }
        v
    });
    let payload = Bytes::from(vec![0x5au8; FRAGMENT_BYTES]);

    let mut group = c.benchmark_group("persist");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("1_stream", |b| {
        b.iter(|| rt.block_on(persist_all(&store, &streams[..1], &payload)));
    });
    group.bench_function("200_streams", |b| {
        b.iter(|| rt.block_on(persist_all(&store, &streams, &payload)));
    });
    group.finish();
    store.close();
}

criterion_group!(benches, bench);
criterion_main!(benches);
