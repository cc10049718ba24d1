// SPDX-License-Identifier: MPL-2.0
//! Flow control's window against a service whose PERSISTED ACKs are slow: the producer is held
//! at about 1 MiB at first, and after a long wait the window has grown, so the next hold comes
//! later (an upload over a long link is not limited to 1 MiB per round trip).

mod uploader_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gstrskvssink::chunk::Chunk;
use gstrskvssink::uploader::Uploader;
use uploader_support::{ConnPlan, Events, Stub, fragment, header};

/// 10 frames of 30 kB: ≈ 300 kB per fragment.
const FRAMES: usize = 10;
const FRAME_LEN: usize = 30_000;
const MIB: usize = 1024 * 1024;

fn poll_until(deadline: Duration, what: &str, mut ok: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    while !ok() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_long_wait_for_acks_grows_the_window() {
    let stub = Stub::start(true, vec![ConnPlan::Normal]);
    let mut config = stub.config("flow-window");
    config.flow_control_window = Some(64 * MIB as u64);
    let events = Events::default();
    let uploader = Arc::new(Uploader::start(config, events.sink()).expect("uploader starts"));
    // PERSISTED ACKs are held: fragments stay unacknowledged.
    stub.persist_gate.send_replace(false);

    let sent = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (uploader, sent, stop) = (uploader.clone(), sent.clone(), stop.clone());
        std::thread::spawn(move || {
            uploader.send(Chunk::Header(header(1)));
            for i in 0..100u64 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                uploader.send_all(fragment(1_000 * (i + 1), FRAMES, FRAME_LEN));
                sent.fetch_add(1, Ordering::SeqCst);
                uploader.wait_for_room(&stop);
            }
        })
    };
    let buffered = || uploader.stats().buffered_bytes;

    // Held at the initial 1 MiB window: more than 1 MiB, and it stays there while ACKs wait
    // (the window only grows once a wait ends).
    poll_until(Duration::from_secs(30), "the first hold", || {
        buffered() > MIB
    });
    let held_at = sent.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        sent.load(Ordering::SeqCst),
        held_at,
        "the producer waits while 1 MiB is unacknowledged"
    );
    assert!(
        buffered() < 2 * MIB,
        "held near 1 MiB: {} bytes",
        buffered()
    );

    // ACKs arrive after that 400 ms wait: the window doubles. Holding them again shows the
    // producer now goes past 2 MiB before it waits.
    stub.persist_gate.send_replace(true);
    poll_until(Duration::from_secs(30), "the producer to go on", || {
        sent.load(Ordering::SeqCst) > held_at
    });
    stub.persist_gate.send_replace(false);
    poll_until(
        Duration::from_secs(30),
        "a hold above the first window",
        || buffered() > 2 * MIB,
    );

    stop.store(true, Ordering::SeqCst);
    uploader.wake();
    stub.persist_gate.send_replace(true);
    producer.join().expect("producer thread");
    uploader.stop();
}
