// SPDX-License-Identifier: MPL-2.0
//! MKV writer and reader speed on one KVS fragment: 30 frames of 100 KB.
//!
//! Before the criterion runs, heap allocations are counted with a counting global allocator
//! and printed per frame.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput};
use kvs_core::mkv::{
    MkvReader, MkvWriter, SegmentInfo, SimpleBlockHeader, StreamHeader, Tag, TrackInfo, TrackType,
    VideoParams, write_cluster_start, write_stream_header, write_tags,
};

struct CountingAlloc;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const FRAMES: usize = 30;
const FRAME_SIZE: usize = 100_000;

fn header() -> StreamHeader {
    StreamHeader {
        info: SegmentInfo {
            segment_uid: Some([1; 16]),
            ..SegmentInfo::default()
        },
        tracks: vec![TrackInfo {
            number: 1,
            uid: 1,
            track_type: Some(TrackType::Video),
            name: Some("kinesis_video".into()),
            codec_id: "V_MPEG4/ISO/AVC".into(),
            codec_private: Some(Bytes::from_static(&[1, 0x64, 0, 0x1E, 0xFF, 0xE1, 0, 0])),
            video: Some(VideoParams {
                pixel_width: 1280,
                pixel_height: 720,
            }),
            audio: None,
        }],
    }
}

fn payloads() -> Vec<Bytes> {
    (0..FRAMES)
        .map(|i| Bytes::from(vec![i as u8; FRAME_SIZE]))
        .collect()
}

/// The streaming path a sink uses: header bytes into a reused buffer, block headers on the
/// stack, payloads handed on untouched. `sink` stands for the HTTP body.
fn write_fragment_streaming(payloads: &[Bytes], headers: &mut BytesMut, sink: &mut usize) {
    headers.clear();
    write_tags(&[], headers).ok();
    write_cluster_start(1_000_000, headers);
    *sink += black_box(headers.len());
    for (i, p) in payloads.iter().enumerate() {
        let block =
            SimpleBlockHeader::new(1, (i * 33) as i16, i == 0, p.len()).expect("valid block");
        *sink += black_box(block.as_bytes()).len();
        *sink += black_box(p).len();
    }
}

fn fragment_bytes(payloads: &[Bytes]) -> Bytes {
    let mut w = MkvWriter::new();
    w.stream_header(&header()).expect("header");
    w.start_cluster(1_000_000);
    for (i, p) in payloads.iter().enumerate() {
        w.frame(1, 1_000_000 + i as u64 * 33, i == 0, p.clone())
            .expect("frame");
    }
    w.tags(&[Tag::single("AWS_KINESISVIDEO_END_OF_FRAGMENT", "")])
        .expect("tags");
    Bytes::from(w.into_vec())
}

fn parse(data: &Bytes) -> usize {
    let mut r = MkvReader::new();
    r.push(data.clone());
    let mut n = 0;
    while let Some(ev) = r.next_event().expect("valid") {
        black_box(&ev);
        n += 1;
    }
    r.finish().expect("finish");
    while r.next_event().expect("valid").is_some() {
        n += 1;
    }
    n
}

fn count_allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    f();
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

fn report_allocations() {
    let payloads = payloads();
    let mut headers = BytesMut::with_capacity(4096);
    let mut sink = 0;
    write_fragment_streaming(&payloads, &mut headers, &mut sink);
    let streaming = count_allocations(|| {
        write_fragment_streaming(&payloads, &mut headers, &mut sink);
    });
    let collected = count_allocations(|| {
        let mut w = MkvWriter::new();
        w.start_cluster(0);
        for (i, p) in payloads.iter().enumerate() {
            w.frame(1, i as u64 * 33, i == 0, p.clone()).expect("frame");
        }
        black_box(w.into_chunks());
    });
    let header = count_allocations(|| {
        let mut b = BytesMut::new();
        write_stream_header(&header(), &mut b).expect("header");
        black_box(b);
    });
    let data = fragment_bytes(&payloads);
    parse(&data);
    let parsing = count_allocations(|| {
        black_box(parse(&data));
    });
    let per = |n: usize| n as f64 / FRAMES as f64;
    println!("allocations for one fragment of {FRAMES} frames x {FRAME_SIZE} bytes:");
    println!(
        "  streaming writer (cluster start + block headers): {streaming} total, {:.2}/frame",
        per(streaming)
    );
    println!(
        "  MkvWriter (collects Vec<Bytes>):                  {collected} total, {:.2}/frame",
        per(collected)
    );
    println!("  stream header (once per stream):                  {header} total");
    println!(
        "  reader, whole fragment incl. Info/Tracks/Tags:    {parsing} total, {:.2}/frame",
        per(parsing)
    );
}

fn benches(c: &mut Criterion) {
    let payloads = payloads();
    let mut group = c.benchmark_group("mkv_write");
    group.throughput(Throughput::Elements(FRAMES as u64));
    let mut headers = BytesMut::with_capacity(4096);
    group.bench_function("fragment_30x100KB_streaming", |b| {
        b.iter(|| {
            let mut sink = 0;
            write_fragment_streaming(&payloads, &mut headers, &mut sink);
            sink
        })
    });
    group.bench_function("fragment_30x100KB_mkvwriter", |b| {
        b.iter(|| {
            let mut w = MkvWriter::new();
            w.start_cluster(0);
            for (i, p) in payloads.iter().enumerate() {
                w.frame(1, i as u64 * 33, i == 0, p.clone()).expect("frame");
            }
            w.into_chunks()
        })
    });
    group.finish();

    let data = fragment_bytes(&payloads);
    let mut group = c.benchmark_group("mkv_parse");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("fragment_30x100KB_whole", |b| b.iter(|| parse(&data)));
    let chunks: Vec<Bytes> = data.chunks(16 * 1024).map(Bytes::copy_from_slice).collect();
    group.bench_function("fragment_30x100KB_16KiB_chunks", |b| {
        b.iter(|| {
            let mut r = MkvReader::new();
            let mut n = 0;
            for c in &chunks {
                r.push(c.clone());
                while let Some(ev) = r.next_event().expect("valid") {
                    black_box(&ev);
                    n += 1;
                }
            }
            r.finish().expect("finish");
            n
        })
    });
    group.finish();
}

fn main() {
    report_allocations();
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
}
