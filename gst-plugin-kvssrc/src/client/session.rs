// SPDX-License-Identifier: MPL-2.0
//! The session task: requests media, feeds the merger, resumes after failures, and hands the
//! element a stream of [`Item`]s through a bounded channel (so a slow pipeline slows the
//! download instead of filling memory).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_kinesisvideo::types::ApiName;
use aws_smithy_types::DateTime;
use aws_smithy_types::byte_stream::ByteStream;
use bytes::Bytes;
use kvs_core::consumer::{
    CompletionRule, ConsumerEvent, FragmentInfo, GetMediaMerger, MergerStats, ResumePoint,
    TimestampSource,
};
use kvs_core::mkv::StreamHeader;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::aws::{CallError, Clients};
use super::backoff::Backoff;
use super::config::{SessionConfig, StartPosition, StreamId};
use super::error::SourceError;
use super::runtime::RUNTIME;
use super::stream_change::StreamChange;

/// Items queued between the session task and the streaming thread.
const CHANNEL_DEPTH: usize = 32;
/// How long a response that ended cleanly without data is left before asking again.
const EMPTY_RESPONSE_PAUSE: Duration = Duration::from_millis(500);

/// What the session hands the element, in stream order.
#[derive(Debug)]
pub enum Item {
    /// Matroska bytes. With `new_stream`, just a header that differs from the one before
    /// (alone, so the element can act before any frame that follows it), saying how.
    Data {
        chunks: Vec<Bytes>,
        new_stream: Option<StreamChange>,
        /// The stream header whose bytes these chunks carry, if any: once the element has
        /// output them, it is what downstream is reading (the session reads ahead of that).
        header: Option<StreamHeader>,
    },
    /// A fragment whose data has all been handed over.
    Fragment(FragmentInfo),
    /// A fragment dropped as a re-sent copy of the one before (same producer start, same
    /// tracks); nothing of it was handed over.
    DuplicateSkipped(FragmentInfo),
    /// The connection was reopened (for logging).
    Reconnecting {
        reason: String,
        attempt: u32,
    },
    /// The archived range has been played.
    Eos,
    Error(SourceError),
}

/// What the element's read-only properties show.
#[derive(Debug, Clone, Default)]
pub struct SessionStatus {
    pub last_fragment_number: Option<String>,
    pub millis_behind_now: Option<u64>,
    pub merger: MergerStats,
    pub reconnects: u64,
    pub fragments_listed: u64,
    pub requests: u64,
    /// The last stream header this session read (tracks, timecode scale). The element may
    /// still be outputting the one before: the session reads ahead.
    pub output_header: Option<kvs_core::mkv::StreamHeader>,
    /// Output time of the first frame this session handed over.
    pub first_pts_ns: Option<u64>,
}

/// A running session; dropping it stops the task.
pub struct Session {
    rx: mpsc::Receiver<Item>,
    task: JoinHandle<()>,
    status: Arc<Mutex<SessionStatus>>,
}

impl Session {
    pub fn start(cfg: SessionConfig) -> Session {
        let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
        // A seek's session continues the output stream's header: a different one from it is
        // a change.
        let status = Arc::new(Mutex::new(SessionStatus {
            output_header: cfg.continue_header.clone(),
            ..SessionStatus::default()
        }));
        let task = RUNTIME.spawn(run(
            cfg,
            Sink {
                tx,
                status: status.clone(),
                first_pts_seen: std::sync::atomic::AtomicBool::new(false),
            },
        ));
        Session { rx, task, status }
    }

    /// The next item; `Eos` once the task is gone.
    pub async fn next(&mut self) -> Item {
        self.rx.recv().await.unwrap_or(Item::Eos)
    }

    pub fn status(&self) -> SessionStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The task's end of the channel plus the shared status.
struct Sink {
    tx: mpsc::Sender<Item>,
    status: Arc<Mutex<SessionStatus>>,
    /// Whether `first_pts_ns` is set, read without the lock on every frame.
    first_pts_seen: std::sync::atomic::AtomicBool,
}

/// The element went away: stop quietly.
struct Closed;

impl Sink {
    async fn send(&self, item: Item) -> Result<(), Closed> {
        self.tx.send(item).await.map_err(|_| Closed)
    }

    fn update(&self, f: impl FnOnce(&mut SessionStatus)) {
        if let Ok(mut s) = self.status.lock() {
            f(&mut s);
        }
    }

    /// Sends what `chunks` holds, if anything, as one data item.
    async fn send_data(
        &self,
        chunks: &mut Vec<Bytes>,
        header: &mut Option<StreamHeader>,
    ) -> Result<(), Closed> {
        if chunks.is_empty() {
            return Ok(());
        }
        self.send(Item::Data {
            chunks: std::mem::take(chunks),
            new_stream: None,
            header: header.take(),
        })
        .await
    }

    /// Sends everything the merger has ready, batching consecutive bytes.
    async fn flush(&self, merger: &mut GetMediaMerger) -> Result<(), StopReason> {
        let mut chunks = Vec::new();
        let mut header_in_chunks = None;
        while let Some(ev) = merger.next_event() {
            match ev {
                ConsumerEvent::StreamHeader {
                    bytes,
                    first,
                    header,
                } => {
                    let mut previous = None;
                    self.update(|s| previous = s.output_header.replace(header.clone()));
                    if first {
                        chunks.push(bytes);
                        header_in_chunks = Some(header);
                        continue;
                    }
                    self.send_data(&mut chunks, &mut header_in_chunks).await?;
                    // Without a previous header (a seek's session continuing one it did not
                    // see) nothing says the shape stayed: start afresh.
                    let change = previous
                        .map_or(StreamChange::Tracks, |p| StreamChange::between(&p, &header));
                    // The header goes alone, so the element can act between the demuxer
                    // reading the new tracks and the first frames of them.
                    self.send(Item::Data {
                        chunks: vec![bytes],
                        new_stream: Some(change),
                        header: Some(header),
                    })
                    .await?;
                }
                ConsumerEvent::Media { bytes, pts_ns } => {
                    if let Some(pts) = pts_ns
                        && !self.first_pts_seen.swap(true, Ordering::Relaxed)
                    {
                        self.update(|s| s.first_pts_ns = Some(pts));
                    }
                    chunks.push(bytes);
                }
                ConsumerEvent::Fragment(info) => {
                    self.send_data(&mut chunks, &mut header_in_chunks).await?;
                    self.update(|s| {
                        s.millis_behind_now = info.millis_behind_now.or(s.millis_behind_now);
                    });
                    self.send(Item::Fragment(info)).await?;
                }
                ConsumerEvent::DuplicateSkipped(info) => {
                    self.send(Item::DuplicateSkipped(info)).await?;
                }
                ConsumerEvent::ServiceError(chunk) => {
                    return Err(StopReason::ServiceError(chunk.error_code, chunk.error_id));
                }
            }
        }
        self.send_data(&mut chunks, &mut header_in_chunks).await?;
        let stats = merger.stats();
        let last = merger.last_fragment_number().map(str::to_owned);
        self.update(|s| {
            s.merger = stats;
            s.last_fragment_number = last.or(s.last_fragment_number.take());
        });
        Ok(())
    }
}

/// Why reading a response stopped early.
enum StopReason {
    Closed,
    Fatal(SourceError),
    ServiceError(Option<String>, Option<u32>),
}

impl From<Closed> for StopReason {
    fn from(_: Closed) -> Self {
        StopReason::Closed
    }
}

/// How a response body ended.
enum BodyEnd {
    Clean,
    Broken(String),
}

async fn run(cfg: SessionConfig, sink: Sink) {
    let result = match cfg.validate().and_then(|()| cfg.range()) {
        Err(e) => Err(StopReason::Fatal(e)),
        Ok(range) => match Clients::new(&cfg).await {
            Err(e) => Err(StopReason::Fatal(e)),
            Ok(clients) => match range {
                Some((start, end)) => run_range(&cfg, &clients, &sink, start, end).await,
                None => run_live(&cfg, &clients, &sink).await,
            },
        },
    };
    let last = match result {
        Ok(()) => Item::Eos,
        Err(StopReason::Closed) => return,
        Err(StopReason::Fatal(e)) => Item::Error(e),
        Err(StopReason::ServiceError(code, id)) => {
            Item::Error(SourceError::ServiceErrorChunk { code, id })
        }
    };
    let _ = sink.send(last).await;
}

/// Reads one response body into the merger until it ends.
async fn pump(
    body: &mut ByteStream,
    merger: &mut GetMediaMerger,
    sink: &Sink,
    idle: Duration,
) -> Result<BodyEnd, StopReason> {
    loop {
        let next = if idle.is_zero() {
            Ok(body.next().await)
        } else {
            tokio::time::timeout(idle, body.next()).await
        };
        match next {
            Err(_) => {
                return Ok(BodyEnd::Broken(format!(
                    "no data for {} s",
                    idle.as_secs_f32()
                )));
            }
            Ok(None) => return Ok(BodyEnd::Clean),
            Ok(Some(Err(e))) => return Ok(BodyEnd::Broken(e.to_string())),
            Ok(Some(Ok(chunk))) => {
                merger
                    .push(chunk)
                    .map_err(|e| StopReason::Fatal(SourceError::Malformed(e)))?;
                sink.flush(merger).await?;
            }
        }
    }
}

/// Ends a response in the merger and forwards what that released.
async fn end_response(
    end: BodyEnd,
    merger: &mut GetMediaMerger,
    sink: &Sink,
) -> Result<Option<String>, StopReason> {
    let broken = match end {
        BodyEnd::Clean => {
            merger
                .finish_response()
                .map_err(|e| StopReason::Fatal(SourceError::Malformed(e)))?;
            None
        }
        BodyEnd::Broken(reason) => {
            merger.connection_lost();
            Some(reason)
        }
    };
    sink.flush(merger).await?;
    Ok(broken)
}

fn give_up(cfg: &SessionConfig, backoff: &Backoff) -> bool {
    cfg.retry_attempts != 0 && backoff.failures() >= cfg.retry_attempts
}

fn fatal_or_retry(
    err: CallError,
    operation: &str,
    url: &str,
    cfg: &SessionConfig,
    backoff: &mut Backoff,
) -> Result<(Duration, String, bool), StopReason> {
    match err {
        CallError::Fatal(e) => Err(StopReason::Fatal(e)),
        CallError::Transient {
            reason,
            stale_endpoint,
        } => {
            let wait = backoff.fail();
            if give_up(cfg, backoff) {
                return Err(StopReason::Fatal(SourceError::Unreachable {
                    operation: operation.to_owned(),
                    url: url.to_owned(),
                    reason,
                    attempts: backoff.failures(),
                }));
            }
            Ok((wait, reason, stale_endpoint))
        }
    }
}

fn start_selector(
    start: &StartPosition,
) -> Result<aws_sdk_kinesisvideomedia::types::StartSelector, SourceError> {
    use aws_sdk_kinesisvideomedia::types::{StartSelector, StartSelectorType as T};
    let ms = |v: u64| DateTime::from_millis(i64::try_from(v).unwrap_or(i64::MAX));
    let b = StartSelector::builder();
    let b = match start {
        StartPosition::Now => b.start_selector_type(T::Now),
        StartPosition::Earliest => b.start_selector_type(T::Earliest),
        StartPosition::AfterFragment(n) => b
            .start_selector_type(T::FragmentNumber)
            .after_fragment_number(n),
        StartPosition::ProducerTimestamp(v) => b
            .start_selector_type(T::ProducerTimestamp)
            .start_timestamp(ms(*v)),
        StartPosition::ServerTimestamp(v) => b
            .start_selector_type(T::ServerTimestamp)
            .start_timestamp(ms(*v)),
        StartPosition::ContinuationToken(t) => b
            .start_selector_type(T::ContinuationToken)
            .continuation_token(t),
    };
    b.build()
        .map_err(|e| SourceError::Config(format!("invalid start selector: {e}")))
}

/// Where the next GetMedia starts: the original selector until something arrived, then
/// wherever the merger says the output stopped.
fn next_start(cfg: &SessionConfig, merger: &GetMediaMerger) -> StartPosition {
    match merger.resume_point() {
        ResumePoint::Original => cfg.start.clone(),
        ResumePoint::ContinuationToken(t) => StartPosition::ContinuationToken(t),
        ResumePoint::AfterFragment(n) => StartPosition::AfterFragment(n),
        ResumePoint::ServerTimestamp { ms, .. } => StartPosition::ServerTimestamp(ms),
    }
}

async fn run_live(cfg: &SessionConfig, clients: &Clients, sink: &Sink) -> Result<(), StopReason> {
    let mut merger = GetMediaMerger::new(cfg.timestamp_source, CompletionRule::TrailingTags);
    let mut backoff = Backoff::default();
    let mut media: Option<(String, aws_sdk_kinesisvideomedia::Client)> = None;
    let mut first = true;
    loop {
        let (endpoint, client) = match &media {
            Some(m) => m.clone(),
            None => {
                let got = clients
                    .timed("GetDataEndpoint", clients.data_endpoint(ApiName::GetMedia))
                    .await;
                match got {
                    Ok(url) => {
                        let m = (url.clone(), clients.media(&url));
                        media = Some(m.clone());
                        m
                    }
                    Err(e) => {
                        let (wait, reason, _) = fatal_or_retry(
                            e,
                            "GetDataEndpoint",
                            &clients.control_url,
                            cfg,
                            &mut backoff,
                        )?;
                        reconnecting(sink, reason, &backoff, wait).await?;
                        continue;
                    }
                }
            }
        };
        let start = next_start(cfg, &merger);
        let selector = start_selector(&start).map_err(StopReason::Fatal)?;
        let req = client.get_media().start_selector(selector);
        let req = match clients.stream() {
            StreamId::Name(n) => req.stream_name(n),
            StreamId::Arn(a) => req.stream_arn(a),
        };
        sink.update(|s| s.requests += 1);
        let resp = clients
            .timed("GetMedia", async {
                req.send()
                    .await
                    .map_err(|e| clients.classify("GetMedia", &endpoint, e))
            })
            .await;
        let mut out = match resp {
            Ok(out) => out,
            Err(e) => {
                let (wait, reason, stale) =
                    fatal_or_retry(e, "GetMedia", &endpoint, cfg, &mut backoff)?;
                if stale {
                    media = None;
                }
                reconnecting(sink, reason, &backoff, wait).await?;
                continue;
            }
        };
        if !first {
            sink.update(|s| s.reconnects += 1);
        }
        first = false;
        let before = merger.stats().bytes_out;
        let end = pump(&mut out.payload, &mut merger, sink, cfg.live_idle_reconnect).await?;
        let broken = match end_response(end, &mut merger, sink).await {
            Err(StopReason::ServiceError(code, id)) if service_error_is_transient(id) => Some(
                format!("the service reported error {id:?} ({code:?}) and ended the session"),
            ),
            other => other?,
        };
        let progressed = merger.stats().bytes_out > before;
        if progressed {
            backoff.reset();
        }
        match broken {
            // The service ends sessions (about every 45 min); just continue.
            None if progressed => {}
            None => {
                tokio::time::sleep(EMPTY_RESPONSE_PAUSE).await;
            }
            Some(reason) => {
                let wait = if progressed {
                    Duration::ZERO
                } else {
                    let wait = backoff.fail();
                    if give_up(cfg, &backoff) {
                        return Err(StopReason::Fatal(SourceError::Unreachable {
                            operation: "GetMedia".into(),
                            url: endpoint,
                            reason,
                            attempts: backoff.failures(),
                        }));
                    }
                    wait
                };
                reconnecting(sink, reason, &backoff, wait).await?;
            }
        }
    }
}

/// 3002 (write error) and 5000 (internal) are the service's own trouble; KMS problems
/// (45xx) and 4000 (fragment gone) will not go away by asking again.
fn service_error_is_transient(id: Option<u32>) -> bool {
    matches!(
        id,
        Some(
            kvs_core::getmedia::GETMEDIA_ERROR_WRITE | kvs_core::getmedia::GETMEDIA_ERROR_INTERNAL
        )
    )
}

async fn reconnecting(
    sink: &Sink,
    reason: String,
    backoff: &Backoff,
    wait: Duration,
) -> Result<(), StopReason> {
    sink.send(Item::Reconnecting {
        reason,
        attempt: backoff.failures(),
    })
    .await?;
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    Ok(())
}

/// One archived fragment to fetch.
#[derive(Debug, Clone)]
struct Listed {
    number: String,
    ms: i64,
}

async fn list_fragments(
    cfg: &SessionConfig,
    clients: &Clients,
    sink: &Sink,
    start_ms: u64,
    end_ms: u64,
) -> Result<Vec<Listed>, StopReason> {
    use aws_sdk_kinesisvideoarchivedmedia::types::{
        FragmentSelector, FragmentSelectorType, TimestampRange,
    };
    let mut backoff = Backoff::default();
    let (endpoint, client) = loop {
        match clients
            .timed(
                "GetDataEndpoint",
                clients.data_endpoint(ApiName::ListFragments),
            )
            .await
        {
            Ok(url) => break (url.clone(), clients.archive(&url)),
            Err(e) => {
                let (wait, reason, _) = fatal_or_retry(
                    e,
                    "GetDataEndpoint",
                    &clients.control_url,
                    cfg,
                    &mut backoff,
                )?;
                reconnecting(sink, reason, &backoff, wait).await?;
            }
        }
    };
    let ms = |v: u64| DateTime::from_millis(i64::try_from(v).unwrap_or(i64::MAX));
    let range = TimestampRange::builder()
        .start_timestamp(ms(start_ms))
        .end_timestamp(ms(end_ms))
        .build()
        .map_err(|e| StopReason::Fatal(SourceError::Config(e.to_string())))?;
    let kind = match cfg.timestamp_source {
        TimestampSource::Producer => FragmentSelectorType::ProducerTimestamp,
        TimestampSource::Server => FragmentSelectorType::ServerTimestamp,
    };
    let selector = FragmentSelector::builder()
        .fragment_selector_type(kind)
        .timestamp_range(range)
        .build()
        .map_err(|e| StopReason::Fatal(SourceError::Config(e.to_string())))?;
    let mut out = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        let mut req = client
            .list_fragments()
            .fragment_selector(selector.clone())
            .max_results(1000);
        req = match clients.stream() {
            StreamId::Name(n) => req.stream_name(n),
            StreamId::Arn(a) => req.stream_arn(a),
        };
        if let Some(t) = &next_token {
            req = req.next_token(t);
        }
        sink.update(|s| s.requests += 1);
        let page = clients
            .timed("ListFragments", async {
                req.send()
                    .await
                    .map_err(|e| clients.classify("ListFragments", &endpoint, e))
            })
            .await;
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                let (wait, reason, _) =
                    fatal_or_retry(e, "ListFragments", &endpoint, cfg, &mut backoff)?;
                reconnecting(sink, reason, &backoff, wait).await?;
                continue;
            }
        };
        for f in page.fragments() {
            let Some(number) = f.fragment_number() else {
                continue;
            };
            let ts = match cfg.timestamp_source {
                TimestampSource::Producer => f.producer_timestamp(),
                TimestampSource::Server => f.server_timestamp(),
            };
            let ms = ts.and_then(|t| t.to_millis().ok()).unwrap_or(0);
            out.push(Listed {
                number: number.to_owned(),
                ms,
            });
        }
        next_token = page
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if next_token.is_none() {
            break;
        }
    }
    // ListFragments answers in no particular order. Fragment numbers grow in ingestion
    // order; comparing them as (length, digits) compares the big integers.
    out.sort_by(|a, b| (a.ms, a.number.len(), &a.number).cmp(&(b.ms, b.number.len(), &b.number)));
    out.dedup_by(|a, b| a.number == b.number);
    let n = out.len() as u64;
    sink.update(|s| s.fragments_listed = n);
    Ok(out)
}

/// The fragment a seek to `ms` starts with: the last one starting at or before it (its key
/// frame is the nearest before the target), else the first.
fn seek_index(fragments: &[Listed], ms: u64) -> usize {
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    fragments.iter().rposition(|f| f.ms <= ms).unwrap_or(0)
}

async fn run_range(
    cfg: &SessionConfig,
    clients: &Clients,
    sink: &Sink,
    start_ms: u64,
    end_ms: u64,
) -> Result<(), StopReason> {
    let fragments = list_fragments(cfg, clients, sink, start_ms, end_ms).await?;
    if fragments.is_empty() {
        return Ok(());
    }
    let mut merger = GetMediaMerger::new(cfg.timestamp_source, CompletionRule::DocumentEnd);
    if let Some(header) = &cfg.continue_header {
        merger.continue_stream(header.clone());
    }
    let mut backoff = Backoff::default();
    let mut archive: Option<(String, aws_sdk_kinesisvideoarchivedmedia::Client)> = None;
    let mut next = cfg.seek_ms.map_or(0, |ms| seek_index(&fragments, ms));
    while next < fragments.len() {
        let (endpoint, client) = match &archive {
            Some(a) => a.clone(),
            None => match clients
                .timed(
                    "GetDataEndpoint",
                    clients.data_endpoint(ApiName::GetMediaForFragmentList),
                )
                .await
            {
                Ok(url) => {
                    let a = (url.clone(), clients.archive(&url));
                    archive = Some(a.clone());
                    a
                }
                Err(e) => {
                    let (wait, reason, _) = fatal_or_retry(
                        e,
                        "GetDataEndpoint",
                        &clients.control_url,
                        cfg,
                        &mut backoff,
                    )?;
                    reconnecting(sink, reason, &backoff, wait).await?;
                    continue;
                }
            },
        };
        let end = (next + cfg.fragment_batch).min(fragments.len());
        let batch: Vec<String> = fragments
            .get(next..end)
            .unwrap_or_default()
            .iter()
            .map(|f| f.number.clone())
            .collect();
        let mut req = client
            .get_media_for_fragment_list()
            .set_fragments(Some(batch));
        req = match clients.stream() {
            StreamId::Name(n) => req.stream_name(n),
            StreamId::Arn(a) => req.stream_arn(a),
        };
        sink.update(|s| s.requests += 1);
        let resp = clients
            .timed("GetMediaForFragmentList", async {
                req.send()
                    .await
                    .map_err(|e| clients.classify("GetMediaForFragmentList", &endpoint, e))
            })
            .await;
        let mut out = match resp {
            Ok(o) => o,
            Err(e) => {
                let (wait, reason, stale) =
                    fatal_or_retry(e, "GetMediaForFragmentList", &endpoint, cfg, &mut backoff)?;
                if stale {
                    archive = None;
                }
                reconnecting(sink, reason, &backoff, wait).await?;
                continue;
            }
        };
        let body_end = pump(&mut out.payload, &mut merger, sink, cfg.request_timeout).await?;
        let broken = end_response(body_end, &mut merger, sink).await?;
        let done = merger.last_fragment_number().and_then(|last| {
            fragments
                .iter()
                .skip(next)
                .position(|f| f.number == last)
                .map(|p| next + p + 1)
        });
        match done {
            Some(d) if d > next => {
                next = d;
                backoff.reset();
                if let Some(reason) = broken {
                    reconnecting(sink, reason, &backoff, Duration::ZERO).await?;
                }
            }
            _ => {
                let reason = broken.unwrap_or_else(|| {
                    "GetMediaForFragmentList returned none of the requested fragments".into()
                });
                let wait = backoff.fail();
                if give_up(cfg, &backoff) {
                    return Err(StopReason::Fatal(SourceError::Unreachable {
                        operation: "GetMediaForFragmentList".into(),
                        url: endpoint,
                        reason,
                        attempts: backoff.failures(),
                    }));
                }
                reconnecting(sink, reason, &backoff, wait).await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(ms: &[i64]) -> Vec<Listed> {
        ms.iter()
            .enumerate()
            .map(|(i, &ms)| Listed {
                number: i.to_string(),
                ms,
            })
            .collect()
    }

    #[test]
    fn seek_starts_at_the_fragment_holding_the_target() {
        let f = listed(&[1000, 2000, 3000]);
        assert_eq!(seek_index(&f, 500), 0, "before the range: its start");
        assert_eq!(seek_index(&f, 1000), 0);
        assert_eq!(seek_index(&f, 2999), 1);
        assert_eq!(seek_index(&f, 3000), 2);
        assert_eq!(seek_index(&f, 99_999), 2, "past the end: the last fragment");
    }
}
