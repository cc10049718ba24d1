// SPDX-License-Identifier: MPL-2.0
//! kvs-local in process (127.0.0.1, port 0, data in a temporary directory) with the few
//! control-plane and archive calls the tests make themselves, and kvssink producers that fill
//! it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gst::prelude::*;
use http_body_util::BodyExt as _;
use hyper_util::rt::TokioIo;
use kvs_core::api::{
    Fragment, FragmentSelector, FragmentSelectorType, ListFragmentsInput, ListFragmentsOutput,
    TimestampRange,
};

/// kvs-local on 127.0.0.1:0, stopped on drop.
pub struct Local {
    pub runtime: tokio::runtime::Runtime,
    handle: Option<kvs_local::ServerHandle>,
    _dir: tempfile::TempDir,
}

impl Local {
    pub fn start() -> Local {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = kvs_local::Config::new(dir.path());
        // Replayed PutMedia bodies and the tests' own calls carry no usable signature;
        // SigV4 is not what these tests check.
        config.auth.allow_anonymous = true;
        let handle = runtime
            .block_on(kvs_local::Server::start(config))
            .expect("kvs-local starts");
        Local {
            runtime,
            handle: Some(handle),
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        self.handle
            .as_ref()
            .map(|h| h.base_url().to_owned())
            .unwrap_or_default()
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.handle
            .as_ref()
            .map(|h| h.local_addr())
            .expect("kvs-local running")
    }

    /// One plain HTTP/1.1 POST; returns the status and the whole response body.
    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: Bytes) -> (u16, Bytes) {
        let addr = self.addr();
        let path = path.to_owned();
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.runtime.block_on(async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .expect("handshake");
            tokio::spawn(conn);
            let mut req = hyper::Request::post(path).header("host", addr.to_string());
            for (k, v) in &headers {
                req = req.header(k.as_str(), v.as_str());
            }
            let req = req.body(http_body_util::Full::new(body)).expect("request");
            let resp = tokio::time::timeout(Duration::from_secs(60), send.send_request(req))
                .await
                .expect("answer in time")
                .expect("response");
            let status = resp.status().as_u16();
            let body = tokio::time::timeout(Duration::from_secs(60), resp.into_body().collect())
                .await
                .expect("body in time")
                .expect("body")
                .to_bytes();
            (status, body)
        })
    }

    pub fn create_stream(&self, name: &str) {
        let body = serde_json::json!({
            "StreamName": name,
            "MediaType": "video/h264",
            "DataRetentionInHours": 2
        });
        let (status, answer) = self.post(
            "/createStream",
            &[("content-type", "application/json")],
            Bytes::from(body.to_string()),
        );
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    }

    /// Replays a recorded body as one PutMedia with the recording's headers.
    pub fn put_capture(&self, name: &str, body: Bytes) {
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

    /// Every stored fragment of `stream`, oldest producer timestamp first.
    pub fn list_fragments(&self, stream: &str) -> Vec<Fragment> {
        let mut out = Vec::new();
        let mut next_token = None;
        loop {
            let input = ListFragmentsInput {
                stream_name: Some(stream.to_owned()),
                max_results: Some(1000),
                fragment_selector: next_token.is_none().then_some(FragmentSelector {
                    fragment_selector_type: FragmentSelectorType::ServerTimestamp,
                    timestamp_range: TimestampRange {
                        start_timestamp: 0.0,
                        end_timestamp: 4_000_000_000.0,
                    },
                }),
                next_token: next_token.take(),
                ..Default::default()
            };
            let body = serde_json::to_vec(&input).expect("JSON");
            let (status, answer) = self.post(
                kvs_core::putmedia::PATH_LIST_FRAGMENTS,
                &[("content-type", "application/json")],
                Bytes::from(body),
            );
            assert_eq!(
                status,
                200,
                "ListFragments: {}",
                String::from_utf8_lossy(&answer)
            );
            let page: ListFragmentsOutput =
                serde_json::from_slice(&answer).expect("ListFragments JSON");
            out.extend(page.fragments);
            match page.next_token {
                Some(t) => next_token = Some(t),
                None => break,
            }
        }
        out.sort_by(|a, b| a.producer_timestamp.total_cmp(&b.producer_timestamp));
        out
    }

    /// Polls ListFragments until `stream` holds `n` fragments (kvs-local lists a fragment
    /// once it is persisted, which may trail the producer's EOS a little).
    pub fn wait_for_fragments(&self, stream: &str, n: usize, deadline: Duration) -> Vec<Fragment> {
        let end = Instant::now() + deadline;
        loop {
            let got = self.list_fragments(stream);
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < end,
                "{stream} holds {} fragments, not {n}, after {deadline:?}",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// kvssink's description for this server (`name=sink`).
    pub fn kvssink(&self, stream: &str, extra: &str) -> String {
        format!(
            "kvssink name=sink stream-name={stream} aws-region=us-east-1 endpoint-uri={} \
             access-key=AKIDLOCAL secret-key=local-secret stop-stream-timeout=30 {extra}",
            self.url()
        )
    }

    /// kvssrc's description for this server.
    pub fn kvssrc(&self, stream: &str, extra: &str) -> String {
        format!(
            "kvssrc name=src stream-name={stream} aws-region=us-east-1 access-key=AKIDTEST \
             secret-key=test endpoint-uri={} retry-attempts=3 request-timeout=10000 {extra}",
            self.url()
        )
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.runtime.block_on(h.shutdown());
        }
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
