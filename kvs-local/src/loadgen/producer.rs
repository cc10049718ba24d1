// SPDX-License-Identifier: MPL-2.0
//! One PutMedia producer: replays the recording in real time frame by frame with cluster
//! timecodes rewritten to the wall clock, and reads its ACK stream.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use kvs_core::putmedia::{
    AckEventType, AckParser, ProducerStartTimestamp, PutMediaHeaders, StreamId, TimecodeType,
};
use kvs_local::dataplane::channel_body::ChannelBody;

use super::client::Endpoint;
use super::recording::{Recording, cluster_start};
use super::sendlog::SendLog;
use super::{Clock, LoadError, Window};

/// How long after its last fragment a producer waits for the outstanding PERSISTED ACKs.
const ACK_DRAIN: Duration = Duration::from_secs(10);

pub struct ProducerSpec {
    pub endpoint: Endpoint,
    pub stream_name: String,
    pub recording: Arc<Recording>,
    pub log: Arc<SendLog>,
    pub clock: Clock,
    pub window: Window,
    /// First frame time: spreads the streams' fragment boundaries over a second, as
    /// independent cameras are.
    pub start: Instant,
}

#[derive(Default)]
pub struct ProducerStats {
    /// PERSISTED latency in µs of fragments completed inside the window.
    pub persisted_us: Vec<u32>,
    pub fragments_sent: u64,
    pub fragments_in_window: u64,
    pub bytes_sent: u64,
    pub persisted: u64,
    pub received: u64,
    pub error_acks: u64,
    pub errors: Vec<String>,
}

pub async fn run(spec: ProducerSpec) -> ProducerStats {
    let mut stats = ProducerStats::default();
    if let Err(e) = drive(&spec, &mut stats).await {
        stats.errors.push(format!("{}: {e}", spec.stream_name));
    }
    stats
}

async fn drive(spec: &ProducerSpec, stats: &mut ProducerStats) -> Result<(), LoadError> {
    let (tx, body) = ChannelBody::unbounded();
    let headers = PutMediaHeaders {
        stream: StreamId::Name(spec.stream_name.clone()),
        timecode_type: TimecodeType::Absolute,
        producer_start_timestamp: ProducerStartTimestamp::from_millis(
            spec.clock.wall_ms(spec.start),
        ),
        ack_required: true,
        user_agent: Some("kvs-loadgen".into()),
    }
    .to_header_map()
    .map_err(|e| LoadError::Setup(format!("PutMedia headers: {e}")))?;
    let req = spec.endpoint.request("/putMedia", headers, None, body)?;
    tokio::time::sleep_until(spec.start.into()).await;
    let _ = tx.send(spec.recording.header.clone());
    let resp = spec.endpoint.send(req).await?;
    if !resp.status().is_success() {
        return Err(LoadError::Http(format!(
            "PutMedia answered {}",
            resp.status()
        )));
    }
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let acks = tokio::spawn(read_acks(
        resp.into_body(),
        spec.log.clone(),
        spec.window,
        done_rx,
    ));

    let rec = &spec.recording;
    let mut due = spec.start;
    let mut seq = 0u64;
    'outer: loop {
        for frag in &rec.fragments {
            // Stops only at a fragment boundary, so every fragment sent is complete.
            if due >= spec.window.end {
                break 'outer;
            }
            let timecode = spec.clock.wall_ms(due);
            spec.log.start_fragment(seq, timecode);
            let last = frag.frames.len().saturating_sub(1);
            for (i, frame) in frag.frames.iter().enumerate() {
                let at = due + Duration::from_millis(frame.offset_ms);
                tokio::time::sleep_until(at.into()).await;
                let mut ok = true;
                if i == 0 {
                    ok &= send(&tx, cluster_start(timecode), stats);
                }
                ok &= send(&tx, frame.block.clone(), stats);
                if i == last {
                    ok &= send(&tx, rec.end_of_fragment.clone(), stats);
                }
                if !ok {
                    stats
                        .errors
                        .push(format!("{}: PutMedia body closed early", spec.stream_name));
                    break 'outer;
                }
                let now = Instant::now();
                spec.log.frame_sent(seq, i, now);
                if i == last {
                    spec.log.fragment_ended(seq, now);
                    stats.fragments_sent += 1;
                    if spec.window.contains(now) {
                        stats.fragments_in_window += 1;
                    }
                }
            }
            due += Duration::from_millis(frag.duration_ms);
            seq += 1;
        }
    }
    drop(tx);
    let _ = done_tx.send(());
    match acks.await {
        Ok(a) => {
            stats.persisted_us = a.persisted_us;
            stats.persisted = a.persisted;
            stats.received = a.received;
            stats.error_acks = a.error_acks;
            let name = &spec.stream_name;
            stats
                .errors
                .extend(a.errors.into_iter().map(|e| format!("{name}: {e}")));
        }
        Err(e) => stats.errors.push(format!("ACK task: {e}")),
    }
    Ok(())
}

fn send(
    tx: &tokio::sync::mpsc::UnboundedSender<Bytes>,
    b: Bytes,
    stats: &mut ProducerStats,
) -> bool {
    stats.bytes_sent += b.len() as u64;
    tx.send(b).is_ok()
}

#[derive(Default)]
struct AckStats {
    persisted_us: Vec<u32>,
    persisted: u64,
    received: u64,
    error_acks: u64,
    errors: Vec<String>,
}

/// Reads ACKs until the server ends the stream, or until `ACK_DRAIN` after `done` (the
/// producer's last fragment); what was counted by then is kept either way.
async fn read_acks(
    mut body: Incoming,
    log: Arc<SendLog>,
    window: Window,
    mut done: tokio::sync::oneshot::Receiver<()>,
) -> AckStats {
    let mut out = AckStats::default();
    let mut parser = AckParser::new();
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let drain = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        let next = tokio::select! {
            f = body.frame() => f,
            _ = &mut done, if deadline.is_none() => {
                deadline = Some(tokio::time::Instant::now() + ACK_DRAIN);
                continue;
            }
            _ = drain => {
                out.errors.push(format!(
                    "ACK stream still open {ACK_DRAIN:?} after the last fragment"
                ));
                break;
            }
        };
        let data = match next {
            None => break,
            Some(Err(e)) => {
                out.errors.push(format!("ACK stream: {e}"));
                break;
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(d) => d,
                Err(_) => continue,
            },
        };
        let now = Instant::now();
        parser.push(&data);
        while let Some(ack) = parser.next_ack() {
            let ack = match ack {
                Ok(a) => a,
                Err(e) => {
                    out.errors.push(format!("ACK parse: {e}"));
                    continue;
                }
            };
            match ack.event_type {
                AckEventType::Persisted => {
                    out.persisted += 1;
                    if let Some(end) = ack.fragment_timecode.and_then(|tc| log.fragment_end(tc))
                        && window.contains(end)
                    {
                        out.persisted_us
                            .push(micros(now.saturating_duration_since(end)));
                    }
                }
                AckEventType::Received => out.received += 1,
                AckEventType::Error => {
                    out.error_acks += 1;
                    if out.errors.len() < 5 {
                        out.errors
                            .push(format!("ERROR ACK {:?} {:?}", ack.error_id, ack.error_code));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

pub fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}
