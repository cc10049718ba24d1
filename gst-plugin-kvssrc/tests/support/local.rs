// SPDX-License-Identifier: MPL-2.0
//! The shared in-process kvs-local (`gst-kvs-test-support`), kvssink producers that fill it
//! and a proxy that cuts GetMedia connections.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use gst::prelude::*;

pub use gst_kvs_test_support::local::LocalServer as Local;

/// What these tests add to the shared server: pipeline descriptions and a recorded-body
/// replay.
pub trait LocalExt {
    /// Replays a recorded body as one PutMedia with the recording's headers.
    fn put_capture(&self, name: &str, body: Bytes);
    /// kvssink's description for this server (`name=sink`).
    fn kvssink(&self, stream: &str, extra: &str) -> String;
    /// kvssrc's description for this server.
    fn kvssrc(&self, stream: &str, extra: &str) -> String;
}

impl LocalExt for Local {
    fn put_capture(&self, name: &str, body: Bytes) {
        let (status, acks) = self.post(
            "/putMedia",
            &[
                ("content-type", "application/json"),
                ("x-amzn-stream-name", name),
                ("x-amzn-fragment-timecode-type", "ABSOLUTE"),
                ("x-amzn-producer-start-timestamp", "1795417002.229"),
                ("x-amzn-fragment-acknowledgment-required", "1"),
            ],
            body,
        );
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&acks));
        let acks = String::from_utf8_lossy(&acks);
        assert!(acks.contains("PERSISTED"), "no PERSISTED ACK: {acks}");
    }

    fn kvssink(&self, stream: &str, extra: &str) -> String {
        format!(
            "kvssink name=sink stream-name={stream} aws-region=us-east-1 endpoint-uri={} \
             access-key=AKIDLOCAL secret-key=local-secret stop-stream-timeout=30 {extra}",
            self.url()
        )
    }

    fn kvssrc(&self, stream: &str, extra: &str) -> String {
        format!(
            "kvssrc name=src stream-name={stream} aws-region=us-east-1 access-key=AKIDTEST \
             secret-key=test endpoint-uri={} retry-attempts=3 request-timeout=10000 {extra}",
            self.url()
        )
    }
}

/// Runs a producer pipeline to EOS and returns how many buffers reached the sink pads of its
/// element named `sink` (kvssink), by pad kind ("video", "audio"). Fails on an error or after
/// `deadline`.
pub fn produce(desc: &str, deadline: Duration) -> BTreeMap<String, u64> {
    let pipeline = gst::parse::launch(desc)
        .unwrap_or_else(|e| panic!("cannot build {desc}: {e}"))
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
    let counts: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    if let Some(sink) = pipeline.by_name("sink") {
        for pad in sink.sink_pads() {
            let kind = pad.name().split('_').next().unwrap_or_default().to_owned();
            let counts = counts.clone();
            pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                *counts.lock().unwrap().entry(kind.clone()).or_default() += 1;
                gst::PadProbeReturn::Ok
            });
        }
    }
    pipeline.set_state(gst::State::Playing).expect("PLAYING");
    let bus = pipeline.bus().expect("bus");
    let msg = bus.timed_pop_filtered(
        gst::ClockTime::from_nseconds(u64::try_from(deadline.as_nanos()).unwrap_or(u64::MAX)),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    pipeline.set_state(gst::State::Null).expect("NULL");
    match msg.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Eos(_)) => {}
        Some(gst::MessageView::Error(e)) => {
            panic!("producer {desc} failed: {} ({:?})", e.error(), e.debug())
        }
        _ => panic!("producer {desc} did not finish in {deadline:?}"),
    }
    counts.lock().unwrap().clone()
}

/// What the proxy saw.
pub struct ProxyWatch {
    pub addr: std::net::SocketAddr,
    /// The first GetMedia connection was cut.
    pub cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub get_media_requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// kvs-local answered a GetMedia with 200 (its start position is fixed from then on).
    pub get_media_answered: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// A TCP proxy in front of kvs-local that cuts the first GetMedia connection once `cut_after`
/// bytes of its response went through (never with `None`). GetDataEndpoint answers with the
/// Host the request came to, so the data plane goes through the proxy too.
pub fn start_proxy(local: &Local, cut_after: Option<usize>) -> ProxyWatch {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let cut_after = cut_after.unwrap_or(usize::MAX);
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let upstream = local.addr();
    let listener = local
        .runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let cut_done = Arc::new(AtomicBool::new(false));
    let get_media_requests = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicBool::new(false));
    let watch = ProxyWatch {
        addr,
        cut: cut_done.clone(),
        get_media_requests: get_media_requests.clone(),
        get_media_answered: answered.clone(),
    };
    let counter = get_media_requests;
    local.runtime.spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let cut_done = cut_done.clone();
            let counter = counter.clone();
            let answered = answered.clone();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let get_media = Arc::new(AtomicBool::new(false));
                let seen = get_media.clone();
                let up = tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    while let Ok(n) = cr.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        if buf[..n].windows(15).any(|w| w == b"POST /getMedia ") {
                            seen.store(true, Ordering::SeqCst);
                            counter.fetch_add(1, Ordering::SeqCst);
                        }
                        if sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
                let mut buf = vec![0u8; 16 * 1024];
                let mut sent = 0usize;
                while let Ok(n) = sr.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let mut n = n;
                    if get_media.load(Ordering::SeqCst) && buf[..n].starts_with(b"HTTP/1.1 200") {
                        answered.store(true, Ordering::SeqCst);
                    }
                    if get_media.load(Ordering::SeqCst) && !cut_done.load(Ordering::SeqCst) {
                        if sent + n >= cut_after {
                            n = cut_after - sent;
                            let _ = cw.write_all(&buf[..n]).await;
                            cut_done.store(true, Ordering::SeqCst);
                            // Dropping both halves resets the connection mid-body.
                            up.abort();
                            return;
                        }
                        sent += n;
                    }
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                up.abort();
            });
        }
    });
    watch
}
