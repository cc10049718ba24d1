// SPDX-License-Identifier: MPL-2.0
//! Per-buffer cost of kvsmeta in a pipeline, against `identity` as the floor of
//! any passthrough element: with motion=false it should cost what identity
//! costs (no frame is mapped or read); with motion=true the difference is the
//! detector plus mapping the frame.
//!
//! Run: `cargo bench -p gst-plugin-kvsmeta --bench passthrough`

use std::hint::black_box;

use criterion::{Criterion, Throughput};

const WIDTH: usize = 1920;
const HEIGHT: usize = 1080;

/// An I420 1080p harness around `launch`, and two frames that differ (a moved
/// bright block), so the detector works as on live video.
fn setup(launch: &str) -> (gst_check::Harness, [gst::Buffer; 2]) {
    let mut h = gst_check::Harness::new_parse(launch);
    h.set_src_caps_str(&format!(
        "video/x-raw,format=I420,width={WIDTH},height={HEIGHT},framerate=30/1"
    ));
    h.play();
    let frame = |x0: usize| {
        let mut data = vec![60u8; WIDTH * HEIGHT * 3 / 2];
        for y in HEIGHT / 3..HEIGHT / 2 {
            data[y * WIDTH + x0..y * WIDTH + x0 + WIDTH / 8].fill(230);
        }
        gst::Buffer::from_mut_slice(data)
    };
    (h, [frame(WIDTH / 4), frame(WIDTH / 2)])
}

fn bench(c: &mut Criterion, name: &str, launch: &str) {
    let (mut h, frames) = setup(launch);
    let mut n: u64 = 0;
    let mut group = c.benchmark_group("element_1080p");
    group.throughput(Throughput::Elements(1));
    group.bench_function(name, |b| {
        b.iter(|| {
            n += 1;
            let mut buf = frames[(n % 2) as usize].clone();
            let pts = gst::ClockTime::from_nseconds(n * 33_333_333);
            buf.make_mut().set_pts(pts);
            h.push(buf).expect("pushed");
            black_box(h.pull().expect("pulled"))
        })
    });
    group.finish();
}

fn main() {
    gst::init().expect("GStreamer initialises");
    gstrskvsmeta::plugin_register_static().expect("plugin registers");
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, "identity", "identity");
    bench(
        &mut c,
        "kvsmeta_motion_false",
        "kvsmeta tags=\"t,camera=front\"",
    );
    bench(&mut c, "kvsmeta_motion_true", "kvsmeta motion=true");
    c.final_summary();
}
