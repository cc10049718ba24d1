// SPDX-License-Identifier: MPL-2.0
//! kvssink holding a non-live producer back (flow control) while the service withholds its
//! PERSISTED ACKs must still stop at once when the application sets the pipeline to NULL:
//! the wait in `render` is cut short, nothing hangs.

mod common;
mod uploader_support;

use std::time::{Duration, Instant};

use common::{init, launch, require_elements};
use gst::prelude::*;
use uploader_support::{ConnPlan, Stub};

#[test]
fn a_producer_held_by_flow_control_stops_at_once_on_null() {
    require_elements(&["videotestsrc", "x264enc", "h264parse"]);
    init();
    let stub = Stub::start(true, vec![ConnPlan::Normal]);
    stub.persist_gate.send_replace(false);
    // ≈ 1 MB per second of noise: the 1 MiB window fills within the first two fragments.
    let pipeline = launch(&format!(
        "videotestsrc num-buffers=600 pattern=snow ! \
         video/x-raw,width=640,height=360,framerate=30/1 ! \
         x264enc key-int-max=30 speed-preset=ultrafast tune=zerolatency bitrate=8000 ! \
         h264parse ! kvssink name=sink stream-name=held aws-region=us-east-1 \
         endpoint-uri={} access-key=AKIDTEST secret-key=secret",
        stub.url()
    ));
    let sink = pipeline.by_name("sink").expect("kvssink in pipeline");
    pipeline
        .set_state(gst::State::Playing)
        .expect("pipeline plays");

    // Held: more than the window is unacknowledged and no more arrives.
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let stats = sink.property::<gst::Structure>("stats");
        if stats.get::<u64>("buffered-bytes").unwrap_or(0) > 1024 * 1024 {
            break;
        }
        assert!(
            Instant::now() < end,
            "kvssink never filled its window: {stats}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Unheld, the encoder would push the remaining ≈ 15 MB within this second.
    std::thread::sleep(Duration::from_secs(1));
    let queued = sink
        .property::<gst::Structure>("stats")
        .get::<u64>("bytes-queued")
        .unwrap_or(0);
    assert!(
        queued < 3 * 1024 * 1024,
        "the producer is held near the window, not running ahead: {queued} bytes queued"
    );

    let (tx, rx) = std::sync::mpsc::channel();
    let p = pipeline.clone();
    std::thread::spawn(move || {
        let _ = tx.send(p.set_state(gst::State::Null));
    });
    let result = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("setting NULL returns while kvssink waits for ACKs");
    assert!(result.is_ok(), "NULL: {result:?}");
    stub.persist_gate.send_replace(true);
}
