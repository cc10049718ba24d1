// SPDX-License-Identifier: MPL-2.0
//! One live GetMedia reader (StartSelector NOW): parses the MKV it receives and matches each
//! frame to the producer's send instant by (cluster timecode, block index in the cluster).

use std::sync::Arc;
use std::time::Instant;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use kvs_core::mkv::{MkvEvent, MkvReader};

use super::client::Endpoint;
use super::producer::micros;
use super::sendlog::SendLog;
use super::{LoadError, Window};

#[derive(Default)]
pub struct ReaderStats {
    /// Delivery latency in µs of frames sent inside the window.
    pub delivery_us: Vec<u32>,
    pub frames: u64,
    /// Frames whose send instant was no longer (or never) in the producer's log.
    pub unmatched: u64,
    pub bytes: u64,
    pub errors: Vec<String>,
}

/// Opens the GetMedia connection; returns once the server has answered 200.
pub async fn open(endpoint: &Endpoint, stream_name: &str) -> Result<Incoming, LoadError> {
    let json = serde_json::json!({
        "StreamName": stream_name,
        "StartSelector": {"StartSelectorType": "NOW"}
    });
    let body = bytes::Bytes::from(json.to_string());
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    let req = endpoint.request(
        "/getMedia",
        headers,
        Some(&body),
        http_body_util::Full::new(body.clone()),
    )?;
    let resp = endpoint.send(req).await?;
    if !resp.status().is_success() {
        return Err(LoadError::Http(format!(
            "GetMedia answered {}",
            resp.status()
        )));
    }
    Ok(resp.into_body())
}

/// Reads until the body ends or `stop` fires.
pub async fn run(
    mut body: Incoming,
    log: Arc<SendLog>,
    window: Window,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> ReaderStats {
    let mut stats = ReaderStats::default();
    let mut reader = MkvReader::new();
    let mut cluster: Option<u64> = None;
    let mut index = 0usize;
    loop {
        let frame = tokio::select! {
            f = body.frame() => f,
            _ = stop.changed() => break,
        };
        let data = match frame {
            None => break,
            Some(Err(e)) => {
                stats.errors.push(format!("GetMedia body: {e}"));
                break;
            }
            Some(Ok(f)) => match f.into_data() {
                Ok(d) => d,
                Err(_) => continue,
            },
        };
        let now = Instant::now();
        stats.bytes += data.len() as u64;
        reader.push(data);
        loop {
            match reader.next_event() {
                Ok(Some(ev)) => match ev.event {
                    MkvEvent::ClusterStart { timecode, .. } => {
                        cluster = Some(timecode);
                        index = 0;
                    }
                    MkvEvent::Block(_) => {
                        stats.frames += 1;
                        match cluster.and_then(|tc| log.frame_time(tc, index)) {
                            Some(sent) => {
                                if window.contains(sent) {
                                    stats
                                        .delivery_us
                                        .push(micros(now.saturating_duration_since(sent)));
                                }
                            }
                            None => stats.unmatched += 1,
                        }
                        index += 1;
                    }
                    _ => {}
                },
                Ok(None) => break,
                Err(e) => {
                    stats.errors.push(format!("GetMedia MKV: {e}"));
                    return stats;
                }
            }
        }
    }
    stats
}
