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
