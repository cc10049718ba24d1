// SPDX-License-Identifier: MPL-2.0
//! CPU per frame of the motion detector at 1080p and 640x480, on I420 luma (the
//! common case after a camera or videoconvert) and on packed BGRx (the costliest
//! layout: luma is computed from three channels). Target: under 1 ms per 1080p
//! frame. Each iteration feeds a frame with a moving square, so the background
//! update and the state machine run as they would on live video.
//!
//! Run: `cargo bench -p kvs-core --bench motion`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use kvs_core::motion::{FrameView, MotionConfig, MotionDetector, PixelLayout};

/// Two frames of `bytes_per_pixel`-byte pixels with a bright square at two
/// positions, so alternating them is motion at every frame.
fn frames(width: usize, height: usize, bytes_per_pixel: usize) -> [Vec<u8>; 2] {
    let make = |x0: usize| {
        let stride = width * bytes_per_pixel;
        let mut f = vec![0u8; stride * height];
        for y in 0..height {
            for x in 0..width {
                let v =
                    if (x0..x0 + width / 8).contains(&x) && (height / 3..height / 2).contains(&y) {
                        230
                    } else {
                        ((x + y) % 64) as u8 + 30
                    };
                let at = y * stride + x * bytes_per_pixel;
                f[at..at + bytes_per_pixel].fill(v);
            }
        }
        f
    };
    [make(width / 4), make(width / 2)]
}

fn bench_layout(
    c: &mut Criterion,
    name: &str,
    (width, height): (usize, usize),
    layout: PixelLayout,
    bytes_per_pixel: usize,
) {
    let frames = frames(width, height, bytes_per_pixel);
    let views = [
        FrameView::new(&frames[0], width, height, width * bytes_per_pixel, layout)
            .expect("valid frame"),
        FrameView::new(&frames[1], width, height, width * bytes_per_pixel, layout)
            .expect("valid frame"),
    ];
    let mut detector = MotionDetector::new(MotionConfig::default());
    let mut n: u32 = 0;
    let mut group = c.benchmark_group("motion");
    group.throughput(Throughput::Elements(1));
    group.bench_function(name, |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            let view = &views[(n % 2) as usize];
            black_box(detector.process(black_box(view), Duration::from_millis(u64::from(n) * 33)))
        })
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let bgrx = PixelLayout::Rgb {
        r: 2,
        g: 1,
        b: 0,
        pixel_stride: 4,
    };
    bench_layout(
        &mut c,
        "i420_1920x1080",
        (1920, 1080),
        PixelLayout::Luma8,
        1,
    );
    bench_layout(&mut c, "i420_640x480", (640, 480), PixelLayout::Luma8, 1);
    bench_layout(&mut c, "bgrx_1920x1080", (1920, 1080), bgrx, 4);
    bench_layout(&mut c, "bgrx_640x480", (640, 480), bgrx, 4);
    c.final_summary();
}
