// SPDX-License-Identifier: MPL-2.0
//! A small HTTP/1.1 client over hyper for the data-plane tests (unsigned requests; the test
//! servers allow anonymous access).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// Sends one request on a fresh connection and returns the response with its body unread.
pub async fn send<B>(base_url: &str, req: Request<B>) -> Response<Incoming>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let addr = base_url.trim_start_matches("http://").to_owned();
    let tcp = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .expect("handshake");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender.send_request(req).await.expect("request")
}

fn json_request(base_url: &str, path: &str, body: &serde_json::Value) -> Request<Full<Bytes>> {
    let addr = base_url.trim_start_matches("http://");
    Request::post(path)
        .header("host", addr)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("request")
}

/// POST with a JSON body; the response body is read whole.
pub async fn post_json(
    base_url: &str,
    path: &str,
    body: &serde_json::Value,
) -> (u16, Option<String>, Bytes) {
    let resp = send(base_url, json_request(base_url, path, body)).await;
    let status = resp.status().as_u16();
    let error_type = resp
        .headers()
        .get("x-amzn-ErrorType")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, error_type, body)
}

/// POST with a JSON body; the response body is left streaming.
pub async fn post_json_streaming(
    base_url: &str,
    path: &str,
    body: &serde_json::Value,
) -> Response<Incoming> {
    send(base_url, json_request(base_url, path, body)).await
}

pub async fn create_stream(base_url: &str, name: &str, retention_hours: u32) -> String {
    let (status, _, body) = post_json(
        base_url,
        "/createStream",
        &serde_json::json!({"StreamName": name, "DataRetentionInHours": retention_hours, "MediaType": "video/h264"}),
    )
    .await;
    assert_eq!(
        status,
        200,
        "createStream: {}",
        String::from_utf8_lossy(&body)
    );
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    v["StreamARN"].as_str().expect("StreamARN").to_owned()
}

/// PutMedia of `chunks` (sent one by one, so ACKs stream while the body is still open) with
/// ACKs required; returns every ACK once `persisted` PERSISTED ACKs arrived.
pub async fn put_media_chunks(
    base_url: &str,
    stream: &str,
    timecode_type: kvs_core::putmedia::TimecodeType,
    producer_start_ms: u64,
    chunks: Vec<Bytes>,
    persisted: usize,
) -> Vec<kvs_core::putmedia::Ack> {
    use kvs_core::putmedia::{AckEventType, AckParser, ProducerStartTimestamp};
    let (tx, body) = kvs_local::dataplane::channel_body::ChannelBody::unbounded();
    let req = Request::post("/putMedia")
        .header("host", base_url.trim_start_matches("http://"))
        .header("x-amzn-stream-name", stream)
        .header("x-amzn-fragment-timecode-type", timecode_type.as_str())
        .header(
            "x-amzn-producer-start-timestamp",
            ProducerStartTimestamp::from_millis(producer_start_ms).to_header_string(),
        )
        .header("x-amzn-fragment-acknowledgment-required", "1")
        .header("content-type", "application/json")
        .body(body)
        .expect("request");
    let sender = tokio::spawn(async move {
        for c in chunks {
            if tx.send(c).is_err() {
                return;
            }
            tokio::task::yield_now().await;
        }
        // The body ends here; PERSISTED ACKs of the last fragments still follow.
    });
    let resp = send(base_url, req).await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let mut parser = AckParser::new();
    let mut acks = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while acks
        .iter()
        .filter(|a: &&kvs_core::putmedia::Ack| a.event_type == AckEventType::Persisted)
        .count()
        < persisted
    {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("ACKs within 60 s")
            .expect("ACK stream open")
            .expect("ACK frame");
        if let Ok(data) = frame.into_data() {
            assert!(data.len() <= 1024, "each ACK write ≤ 1024 bytes");
            for ack in parser.push_and_drain(&data) {
                acks.push(ack.expect("ACK parses"));
            }
        }
    }
    sender.abort();
    acks
}

/// Replays a recording as PutMedia with its recorded headers and chunking.
pub async fn put_capture(
    base_url: &str,
    stream: &str,
    cap: &super::Capture,
    persisted: usize,
) -> Vec<kvs_core::putmedia::Ack> {
    put_media_chunks(
        base_url,
        stream,
        cap.timecode_type,
        cap.producer_start_ms,
        super::split(&cap.body, &cap.chunks),
        persisted,
    )
    .await
}

/// The fragment numbers ListFragments returns for the last hour of server time.
pub async fn list_fragment_numbers(base_url: &str, stream: &str) -> Vec<String> {
    let now = kvs_local::media::now_ms() as f64 / 1000.0;
    let (status, _, body) = post_json(
        base_url,
        "/listFragments",
        &serde_json::json!({"StreamName": stream, "MaxResults": 1000, "FragmentSelector": {
            "FragmentSelectorType": "SERVER_TIMESTAMP",
            "TimestampRange": {"StartTimestamp": now - 3600.0, "EndTimestamp": now + 60.0}}}),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    v["Fragments"]
        .as_array()
        .expect("Fragments")
        .iter()
        .filter_map(|f| f["FragmentNumber"].as_str().map(str::to_owned))
        .collect()
}
