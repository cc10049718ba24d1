// SPDX-License-Identifier: MPL-2.0
//! A small KVS endpoint on 127.0.0.1 for uploader tests, with the faults kvs-local cannot
//! produce on demand: dropped connections, ERROR ACKs, refused credentials, held ACKs and a
//! control plane that waits. Also synthetic MKV-shaped chunks and an event recorder.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gstrskvssink::chunk::Chunk;
use gstrskvssink::uploader::{UploaderConfig, UploaderEvent};
use http_body_util::BodyExt as _;
use hyper::body::{Body, Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use kvs_core::putmedia::{Ack, AckErrorId};
use tokio::sync::{mpsc, watch};

pub const CLUSTER_ID: [u8; 4] = [0x1F, 0x43, 0xB6, 0x75];

/// The stream header of the synthetic stream (never contains the Cluster ID).
pub fn header(tag: u8) -> Bytes {
    let mut v = vec![0x1A, 0x45, 0xDF, 0xA3];
    v.extend(std::iter::repeat_n(0xB0 | (tag & 0x0F), 60));
    Bytes::from(v)
}

/// A Cluster start with `timecode`, as the fragmenter would send it.
pub fn cluster_start(timecode: u64) -> Bytes {
    let mut v = CLUSTER_ID.to_vec();
    v.extend_from_slice(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xE7, 0x88]);
    v.extend_from_slice(&timecode.to_be_bytes());
    Bytes::from(v)
}

/// Frame-like filler that cannot contain the Cluster ID (every byte is 0xA0..=0xAF).
pub fn frame(seed: u64, len: usize) -> Bytes {
    Bytes::from(
        (0..len)
            .map(|i| 0xA0 | ((seed as usize + i) % 16) as u8)
            .collect::<Vec<_>>(),
    )
}

/// The chunks of one fragment: start, `frames` data chunks, end.
pub fn fragment(timecode: u64, frames: usize, frame_len: usize) -> Vec<Chunk> {
    let mut out = vec![Chunk::FragmentStart {
        timecode,
        bytes: cluster_start(timecode),
    }];
    for i in 0..frames {
        out.push(Chunk::Data(frame(timecode + i as u64, frame_len)));
    }
    out.push(Chunk::FragmentEnd);
    out
}

pub fn chunk_bytes(chunks: &[Chunk]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in chunks {
        match c {
            Chunk::Header(b) | Chunk::FragmentStart { bytes: b, .. } | Chunk::Data(b) => {
                out.extend_from_slice(b)
            }
            Chunk::Buffer(b) => out.extend_from_slice(&b.map_readable().expect("readable")),
            Chunk::FragmentEnd => {}
        }
    }
    out
}

/// What one PutMedia connection does.
#[derive(Clone, Debug)]
pub enum ConnPlan {
    /// BUFFERING at each cluster start, RECEIVED + PERSISTED once it is complete.
    Normal,
    /// Reset the connection when the `n`th cluster (1-based) starts, before acking it or
    /// completing the one before.
    DropAtCluster(usize),
    /// Send an ERROR ACK for the `n`th cluster when it starts, then end the response.
    ErrorAtCluster { n: usize, error_id: u32 },
    /// Refuse the request.
    Http { status: u16, code: &'static str },
    /// Read everything, acknowledge nothing.
    Silent,
}

#[derive(Default, Debug)]
pub struct PutMediaConn {
    pub body: Vec<u8>,
    pub headers: HashMap<String, String>,
    pub akid: String,
    /// Timecodes of clusters the stub considered stored (PERSISTED sent).
    pub persisted: Vec<u64>,
    pub ended_cleanly: bool,
}

#[derive(Default)]
pub struct StubState {
    pub stream_exists: bool,
    /// DescribeStream answers CREATING this many more times after a create.
    pub creating_polls: u32,
    pub calls: Vec<String>,
    pub create_body: Option<serde_json::Value>,
    pub tag_body: Option<serde_json::Value>,
    pub plans: VecDeque<ConnPlan>,
    pub reject_akids: Vec<String>,
    pub conns: Vec<PutMediaConn>,
}

impl StubState {
    /// Every cluster timecode the stub stored, in order, over all connections.
    pub fn stored(&self) -> Vec<u64> {
        self.conns
            .iter()
            .flat_map(|c| c.persisted.clone())
            .collect()
    }
}

pub struct Stub {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<StubState>>,
    /// While false, control-plane calls wait.
    pub control_gate: watch::Sender<bool>,
    /// While false, PERSISTED ACKs wait (RECEIVED still goes out).
    pub persist_gate: watch::Sender<bool>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Stub {
    pub fn start(stream_exists: bool, plans: Vec<ConnPlan>) -> Self {
        let state = Arc::new(Mutex::new(StubState {
            stream_exists,
            creating_polls: 1,
            plans: plans.into(),
            ..Default::default()
        }));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("stub runtime");
        let (control_gate, control_rx) = watch::channel(true);
        let (persist_gate, persist_rx) = watch::channel(true);
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let st = state.clone();
        runtime.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let st = st.clone();
                let control_rx = control_rx.clone();
                let persist_rx = persist_rx.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        handle(
                            req,
                            st.clone(),
                            addr,
                            control_rx.clone(),
                            persist_rx.clone(),
                        )
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
        Self {
            addr,
            state,
            control_gate,
            persist_gate,
            runtime: Some(runtime),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, StubState> {
        self.state.lock().expect("stub state")
    }

    /// An uploader configuration pointed at this stub, with quick retries.
    pub fn config(&self, stream: &str) -> UploaderConfig {
        let mut cfg = UploaderConfig::new(stream);
        cfg.region = Some("us-east-1".into());
        cfg.endpoint_uri = Some(self.url());
        cfg.credentials.access_key = Some("AKIDTEST".into());
        cfg.credentials.secret_key = Some("secret".into());
        cfg.max_backoff = Duration::from_millis(200);
        cfg.stop_stream_timeout = Duration::from_secs(10);
        cfg
    }
}

type RespBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

fn full(status: u16, body: String, error_type: Option<&str>) -> Response<RespBody> {
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-amzn-RequestId", "stub");
    if let Some(t) = error_type {
        builder = builder.header("x-amzn-ErrorType", t);
    }
    builder
        .body(
            http_body_util::Full::new(Bytes::from(body))
                .map_err(|never: Infallible| match never {})
                .boxed(),
        )
        .expect("response")
}

async fn wait_gate(mut gate: watch::Receiver<bool>) {
    let _ = gate.wait_for(|open| *open).await;
}

fn akid_of(req: &Request<Incoming>) -> String {
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("Credential=").nth(1))
        .and_then(|v| v.split('/').next())
        .unwrap_or("")
        .to_owned()
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<Mutex<StubState>>,
    addr: SocketAddr,
    control_gate: watch::Receiver<bool>,
    persist_gate: watch::Receiver<bool>,
) -> Result<Response<RespBody>, Infallible> {
    let path = req.uri().path().to_owned();
    if path == "/putMedia" {
        return Ok(put_media(req, state, persist_gate).await);
    }
    wait_gate(control_gate).await;
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let mut st = state.lock().expect("stub state");
    st.calls.push(path.clone());
    let name = json
        .get("StreamName")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_owned();
    let resp = match path.as_str() {
        "/describeStream" if !st.stream_exists => full(
            404,
            r#"{"message":"stream not found"}"#.into(),
            Some("ResourceNotFoundException"),
        ),
        "/describeStream" => {
            let status = if st.creating_polls > 0 && st.create_body.is_some() {
                st.creating_polls -= 1;
                "CREATING"
            } else {
                "ACTIVE"
            };
            full(
                200,
                serde_json::json!({"StreamInfo": {
                    "StreamName": name,
                    "StreamARN": format!("arn:aws:kinesisvideo:us-east-1:000000000000:stream/{name}/1"),
                    "Status": status,
                    "DataRetentionInHours": 2,
                    "Version": "1",
                }})
                .to_string(),
                None,
            )
        }
        "/createStream" => {
            st.stream_exists = true;
            st.create_body = Some(json.clone());
            full(
                200,
                serde_json::json!({"StreamARN": format!("arn:aws:kinesisvideo:us-east-1:000000000000:stream/{name}/1")}).to_string(),
                None,
            )
        }
        "/tagStream" => {
            st.tag_body = Some(json.clone());
            full(200, "{}".into(), None)
        }
        "/getDataEndpoint" => full(
            200,
            serde_json::json!({"DataEndpoint": format!("http://{addr}")}).to_string(),
            None,
        ),
        _ => full(
            404,
            r#"{"message":"unknown path"}"#.into(),
            Some("NotFound"),
        ),
    };
    Ok(resp)
}

/// Response body fed from a channel; an `Err` item resets the connection.
struct ChannelBody(mpsc::UnboundedReceiver<Result<Bytes, std::io::Error>>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|item| item.map(|r| r.map(Frame::data)))
    }
}

fn line(ack: &Ack) -> Bytes {
    Bytes::from(ack.to_json_line())
}

async fn put_media(
    req: Request<Incoming>,
    state: Arc<Mutex<StubState>>,
    persist_gate: watch::Receiver<bool>,
) -> Response<RespBody> {
    let akid = akid_of(&req);
    let headers: HashMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let (plan, idx) = {
        let mut st = state.lock().expect("stub state");
        let plan = st.plans.pop_front().unwrap_or(ConnPlan::Normal);
        st.conns.push(PutMediaConn {
            headers,
            akid: akid.clone(),
            ..Default::default()
        });
        let rejected = st.reject_akids.contains(&akid);
        let idx = st.conns.len() - 1;
        if rejected {
            return full(
                403,
                r#"{"message":"The security token included in the request is invalid."}"#.into(),
                Some("UnrecognizedClientException"),
            );
        }
        (plan, idx)
    };
    if let ConnPlan::Http { status, code } = plan {
        return full(
            status,
            format!(r#"{{"message":"stub {code}"}}"#),
            Some(code),
        );
    }
    let (tx, rx) = mpsc::unbounded_channel();
    // PERSISTED ACKs go out in order from their own task, so that holding them (the
    // persist gate) does not stop the stub from reading the body and sending RECEIVED.
    let (persist_tx, mut persist_rx) = mpsc::unbounded_channel::<u64>();
    {
        let tx = tx.clone();
        let state = state.clone();
        tokio::spawn(async move {
            while let Some(tc) = persist_rx.recv().await {
                wait_gate(persist_gate.clone()).await;
                store(&state, idx, tc);
                let _ = tx.send(Ok(line(&Ack::persisted(tc, "1"))));
            }
        });
    }
    let mut body = req.into_body();
    tokio::spawn(async move {
        let mut scanned = 0usize;
        let mut clusters: Vec<u64> = Vec::new();
        let complete = |tc: u64| {
            let _ = tx.send(Ok(line(&Ack::received(tc, "1"))));
            let _ = persist_tx.send(tc);
        };
        let mut errored = false;
        'body: loop {
            let frame = match body.frame().await {
                None => break,
                Some(Err(_)) => return,
                Some(Ok(f)) => f,
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            let new_clusters = {
                let mut st = state.lock().expect("stub state");
                let Some(conn) = st.conns.get_mut(idx) else {
                    return;
                };
                conn.body.extend_from_slice(&data);
                let mut found = Vec::new();
                while let Some(pos) = find(&conn.body[scanned..], &CLUSTER_ID) {
                    let at = scanned + pos;
                    match cluster_timecode(&conn.body[at..]) {
                        // The cluster header has not fully arrived yet.
                        None => break,
                        Some(Some((tc, len))) => {
                            found.push(tc);
                            scanned = at + len;
                        }
                        // The ID bytes inside a payload, not a cluster.
                        Some(None) => scanned = at + CLUSTER_ID.len(),
                    }
                }
                found
            };
            for tc in new_clusters {
                clusters.push(tc);
                let n = clusters.len();
                let prev = n.checked_sub(2).and_then(|i| clusters.get(i)).copied();
                match plan {
                    ConnPlan::DropAtCluster(k) if n == k => {
                        let _ = tx.send(Err(std::io::Error::other("stub drops the connection")));
                        return;
                    }
                    ConnPlan::ErrorAtCluster { n: k, error_id } if n == k => {
                        // Acknowledge the previous cluster fully, in order, then fail this one.
                        if let Some(prev) = prev {
                            let _ = tx.send(Ok(line(&Ack::received(prev, "1"))));
                            store(&state, idx, prev);
                            let _ = tx.send(Ok(line(&Ack::persisted(prev, "1"))));
                        }
                        let _ = tx.send(Ok(line(&Ack::error(
                            Some(tc),
                            Some("1"),
                            AckErrorId(error_id),
                        ))));
                        errored = true;
                        break 'body;
                    }
                    ConnPlan::Silent => {}
                    _ => {
                        if let Some(prev) = prev {
                            complete(prev);
                        }
                        let _ = tx.send(Ok(line(&Ack::buffering(tc, "1"))));
                    }
                }
            }
        }
        if errored {
            // The service ends the response after an ERROR ACK. Keep reading (and
            // discarding) the request until the client lets go, so the close is orderly
            // and the ACKs already written cannot be lost to a connection reset.
            drop(tx);
            drop(persist_tx);
            while let Some(Ok(_)) = body.frame().await {}
            return;
        }
        if !matches!(plan, ConnPlan::Silent)
            && let Some(last) = clusters.last()
        {
            complete(*last);
        }
        if let Some(c) = state.lock().expect("stub state").conns.get_mut(idx) {
            c.ended_cleanly = true;
        }
    });
    Response::builder()
        .status(200)
        .body(ChannelBody(rx).boxed())
        .expect("response")
}

fn store(state: &Arc<Mutex<StubState>>, idx: usize, tc: u64) {
    if let Some(c) = state.lock().expect("stub state").conns.get_mut(idx) {
        c.persisted.push(tc);
    }
}

/// The Timecode of the Cluster starting at `buf[0]` and the bytes up to its end:
/// `None` when more bytes are needed, `Some(None)` when this is not a cluster header.
/// Reads real EBML (any size-field length), as the fragmenter and AWS write it.
pub fn cluster_timecode(buf: &[u8]) -> Option<Option<(u64, usize)>> {
    fn vint(buf: &[u8], at: usize) -> Option<Option<(u64, usize)>> {
        let first = *buf.get(at)?;
        if first == 0 {
            return Some(None);
        }
        let len = first.leading_zeros() as usize + 1;
        let bytes = buf.get(at..at + len)?;
        let mut value = u64::from(first) & ((1u64 << (8 - len)) - 1);
        for b in &bytes[1..] {
            value = (value << 8) | u64::from(*b);
        }
        Some(Some((value, len)))
    }
    let mut pos = CLUSTER_ID.len();
    let Some((_, size_len)) = vint(buf, pos)? else {
        return Some(None);
    };
    pos += size_len;
    if *buf.get(pos)? != 0xE7 {
        return Some(None);
    }
    pos += 1;
    let Some((tc_len, len_len)) = vint(buf, pos)? else {
        return Some(None);
    };
    pos += len_len;
    let tc_len = usize::try_from(tc_len).ok().filter(|l| (1..=8).contains(l));
    let Some(tc_len) = tc_len else {
        return Some(None);
    };
    let bytes = buf.get(pos..pos + tc_len)?;
    let tc = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    Some(Some((tc, pos + tc_len)))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Records uploader events and lets a test wait for a condition on them.
#[derive(Clone, Default)]
pub struct Events {
    inner: Arc<(Mutex<Vec<UploaderEvent>>, Condvar)>,
}

impl Events {
    pub fn sink(&self) -> Box<dyn Fn(UploaderEvent) + Send + Sync> {
        let inner = self.inner.clone();
        Box::new(move |e| {
            let (list, cv) = &*inner;
            if let Ok(mut l) = list.lock() {
                l.push(e);
            }
            cv.notify_all();
        })
    }

    pub fn snapshot(&self) -> Vec<UploaderEvent> {
        self.inner.0.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Waits until `pred` holds on the events so far; false on timeout.
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&[UploaderEvent]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let (list, cv) = &*self.inner;
        let mut guard = list.lock().expect("events");
        loop {
            if pred(&guard) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            guard = cv.wait_timeout(guard, deadline - now).expect("events").0;
        }
    }

    /// Timecodes of ACKs of one event type, in arrival order.
    pub fn acks(&self, kind: &str) -> Vec<u64> {
        acks_of(&self.snapshot(), kind)
    }
}

pub fn acks_of(events: &[UploaderEvent], kind: &str) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e {
            UploaderEvent::Ack(a) if a.event_type.as_str() == kind => a.fragment_timecode,
            _ => None,
        })
        .collect()
}

pub const WAIT: Duration = Duration::from_secs(20);
