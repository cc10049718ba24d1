// SPDX-License-Identifier: MPL-2.0
//! The task that drives one stream: control plane first, then one PutMedia connection at a
//! time, reconnecting with backoff and deciding what each ACK means for the buffer.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::Region;
use http::Uri;
use kvs_core::putmedia::{
    Ack, AckErrorId, AckEventType, FragmentFate, ProducerAction, ProducerStartTimestamp,
    PutMediaHeaders, StreamId,
};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::backoff::Backoff;
use super::body::{ActiveBody, Shared};
use super::buffer::AckLevel;
use super::config::UploaderConfig;
use super::connection::{self, ConnEnd, ConnMsg, ConnParams};
use super::control::{CallError, ControlPlane, auth_error};
use super::credentials::{CredentialCache, provider_from_config};
use super::error::UploaderError;
use super::{EventSink, UploaderEvent, UploaderStats};

/// Requests from the `Uploader` handle.
pub(crate) enum Command {
    Finish(std::sync::mpsc::Sender<Result<(), UploaderError>>),
}

/// How long a connection whose body has ended may linger once nothing on it awaits an ACK.
const LINGER: Duration = Duration::from_secs(2);
/// A connection that lived this long without trouble resets the backoff.
const HEALTHY_AFTER: Duration = Duration::from_secs(30);
/// How often timers are checked when nothing else happens.
const TICK: Duration = Duration::from_millis(500);

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct ActiveConn {
    id: u64,
    _task: AbortOnDrop,
    started: Instant,
    accepted: bool,
    /// Last ACK of any kind, or when the connection was accepted.
    last_ack: Instant,
    acked_something: bool,
    body_ended_at: Option<Instant>,
    rotating: bool,
}

pub(crate) struct Session {
    cfg: Arc<UploaderConfig>,
    events: EventSink,
    shared: Arc<Shared>,
    stats: Arc<Mutex<UploaderStats>>,
    data_ready: Arc<Notify>,
    commands: mpsc::UnboundedReceiver<Command>,
    conn_tx: mpsc::UnboundedSender<ConnMsg>,
    conn_rx: mpsc::UnboundedReceiver<ConnMsg>,
    region: String,
    creds: Option<Arc<CredentialCache>>,
    control: Option<ControlPlane>,
    data_endpoint: Option<String>,
    producer_start: ProducerStartTimestamp,
    conn: Option<ActiveConn>,
    next_conn: u64,
    backoff: Backoff,
    retry_at: Option<Instant>,
    need_describe: bool,
    /// Credentials were refreshed after an auth failure and nothing has succeeded since.
    auth_retry_used: bool,
    finish_waiters: Vec<std::sync::mpsc::Sender<Result<(), UploaderError>>>,
    finish_requested: bool,
    fatal: Option<UploaderError>,
}

impl Session {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        cfg: Arc<UploaderConfig>,
        events: EventSink,
        shared: Arc<Shared>,
        stats: Arc<Mutex<UploaderStats>>,
        data_ready: Arc<Notify>,
        commands: mpsc::UnboundedReceiver<Command>,
    ) -> Self {
        let (conn_tx, conn_rx) = mpsc::unbounded_channel();
        let start = cfg.producer_start_time.unwrap_or_else(SystemTime::now);
        let start_ms = start
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let backoff = Backoff::new(cfg.max_backoff);
        Self {
            cfg,
            events,
            shared,
            stats,
            data_ready,
            commands,
            conn_tx,
            conn_rx,
            region: String::new(),
            creds: None,
            control: None,
            data_endpoint: None,
            producer_start: ProducerStartTimestamp::from_millis(start_ms),
            conn: None,
            next_conn: 1,
            backoff,
            retry_at: None,
            need_describe: false,
            auth_retry_used: false,
            finish_waiters: Vec::new(),
            finish_requested: false,
            fatal: None,
        }
    }

    fn emit(&self, event: UploaderEvent) {
        (self.events)(event);
    }

    fn set_state(&self, state: &'static str) {
        if let Ok(mut s) = self.stats.lock() {
            s.state = state;
        }
    }

    pub(crate) async fn run(mut self) {
        self.set_state("preparing");
        if let Err(err) = self.setup().await {
            self.fail(err);
        }
        loop {
            if self.fatal.is_none() {
                self.maybe_connect().await;
            }
            self.check_timers();
            self.check_finish();
            let wake = self.next_wake();
            tokio::select! {
                cmd = self.commands.recv() => match cmd {
                    Some(Command::Finish(reply)) => self.on_finish(reply),
                    // Every handle is gone: nobody can send or wait any more.
                    None => break,
                },
                Some(msg) = self.conn_rx.recv() => self.on_conn_msg(msg).await,
                () = self.data_ready.notified() => {}
                () = tokio::time::sleep_until(wake) => {}
            }
        }
        self.close_connection();
    }

    /// Region, credentials, control-plane client, stream preparation.
    async fn setup(&mut self) -> Result<(), UploaderError> {
        let region = match self.cfg.region.as_deref().filter(|r| !r.trim().is_empty()) {
            Some(r) => Region::new(r.trim().to_owned()),
            None => aws_config::default_provider::region::DefaultRegionChain::builder()
                .build()
                .region()
                .await
                .ok_or(UploaderError::RegionMissing)?,
        };
        self.region = region.to_string();
        let (provider, mode) = provider_from_config(&self.cfg.credentials, &region).await;
        let cache = Arc::new(CredentialCache::new(provider.clone(), mode));
        // Resolve once now, so a missing or malformed source is reported before anything else.
        cache.get().await?;
        self.creds = Some(cache);
        self.control = Some(ControlPlane::new(&self.cfg, &region, provider).await);
        self.prepare_stream().await
    }

    /// DescribeStream … GetDataEndpoint, retrying transient failures a bounded number of
    /// times and auth failures once after refreshing credentials.
    async fn prepare_stream(&mut self) -> Result<(), UploaderError> {
        let Some(control) = self.control.as_ref() else {
            return Err(UploaderError::Stopped);
        };
        let mut backoff = Backoff::new(self.cfg.max_backoff);
        let mut refreshed = false;
        let attempts = self.cfg.control_plane_attempts.max(1);
        loop {
            match control.prepare(&self.cfg).await {
                Ok((endpoint, warnings)) => {
                    for w in warnings {
                        self.emit(UploaderEvent::Warning(w));
                    }
                    self.data_endpoint = Some(endpoint);
                    self.need_describe = false;
                    return Ok(());
                }
                Err(CallError::Fatal(e)) => return Err(e),
                Err(CallError::NotFound) => {
                    return Err(UploaderError::StreamMissing {
                        stream: self.cfg.stream_name.clone(),
                    });
                }
                Err(CallError::Auth {
                    status,
                    code,
                    message,
                }) => {
                    if refreshed {
                        return Err(auth_error("DescribeStream", status, &code, &message));
                    }
                    refreshed = true;
                    if let Some(c) = &self.creds {
                        c.invalidate().await;
                    }
                    self.emit(UploaderEvent::Warning(format!(
                        "control plane refused the credentials (HTTP {status} {code}); refreshing them once"
                    )));
                }
                Err(CallError::Transient(e)) => {
                    if backoff.attempt() + 1 >= attempts {
                        return Err(e);
                    }
                    let delay = backoff.next_delay();
                    self.emit(UploaderEvent::Reconnecting {
                        attempt: backoff.attempt(),
                        reason: format!("{e}; retrying the control plane in {delay:?}"),
                    });
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    fn fail(&mut self, err: UploaderError) {
        if self.fatal.is_some() {
            return;
        }
        self.set_state("error");
        self.fatal = Some(err.clone());
        {
            let mut s = self.shared.lock();
            s.closed = true;
            s.active = None;
        }
        self.shared.notify_room();
        self.close_connection();
        self.emit(UploaderEvent::Error(err));
    }

    fn close_connection(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut s = self.shared.lock();
            if s.active.as_ref().is_some_and(|a| a.cursor.conn == conn.id) {
                s.active = None;
            }
            s.buffer.connection_ended(conn.id);
        }
    }

    async fn maybe_connect(&mut self) {
        if self.conn.is_some() || self.retry_at.is_some_and(|t| t > Instant::now()) {
            return;
        }
        let pending = self.shared.lock().buffer.has_pending();
        if !pending {
            return;
        }
        self.retry_at = None;
        if self.need_describe || self.data_endpoint.is_none() {
            self.set_state("preparing");
            match self.prepare_stream().await {
                Ok(()) => {}
                Err(
                    e @ (UploaderError::EndpointUnreachable { .. } | UploaderError::Service { .. }),
                ) => {
                    self.schedule_retry(e.to_string());
                    return;
                }
                Err(e) => {
                    self.fail(e);
                    return;
                }
            }
        }
        let Some(creds) = self.creds.clone() else {
            return;
        };
        let credentials = match creds.get().await {
            Ok(c) => c,
            Err(e) => {
                self.schedule_retry(e.to_string());
                return;
            }
        };
        let Some(endpoint) = self.data_endpoint.clone() else {
            return;
        };
        let url = match Uri::try_from(format!("{endpoint}{}", kvs_core::putmedia::PATH_PUT_MEDIA)) {
            Ok(u) => u,
            Err(e) => {
                self.fail(UploaderError::Service {
                    operation: "GetDataEndpoint".into(),
                    code: "InvalidDataEndpoint".into(),
                    message: format!("{endpoint:?}: {e}"),
                    advice: "check endpoint-uri points at a KVS endpoint".into(),
                });
                return;
            }
        };
        let id = self.next_conn;
        self.next_conn += 1;
        {
            let mut s = self.shared.lock();
            let Some(cursor) = s.buffer.new_cursor(id) else {
                return;
            };
            s.active = Some(ActiveBody {
                cursor,
                waker: None,
                ended: false,
                accepted: false,
            });
        }
        let params = ConnParams {
            conn: id,
            url,
            headers: PutMediaHeaders {
                stream: StreamId::Name(self.cfg.stream_name.clone()),
                timecode_type: self.cfg.timecode_type,
                producer_start_timestamp: self.producer_start,
                ack_required: self.cfg.fragment_acks,
                user_agent: Some(self.cfg.user_agent.clone()),
            },
            credentials,
            region: self.region.clone(),
            connect_timeout: self.cfg.connection_timeout,
            shared: self.shared.clone(),
            report: self.conn_tx.clone(),
        };
        let task = tokio::spawn(connection::run(params));
        let now = Instant::now();
        self.conn = Some(ActiveConn {
            id,
            _task: AbortOnDrop(task),
            started: now,
            accepted: false,
            last_ack: now,
            acked_something: false,
            body_ended_at: None,
            rotating: false,
        });
        self.set_state("connecting");
        if let Ok(mut s) = self.stats.lock() {
            s.connections += 1;
        }
    }

    fn schedule_retry(&mut self, reason: String) {
        let delay = self.backoff.next_delay();
        self.retry_at = Some(Instant::now() + delay);
        self.set_state("backoff");
        if let Ok(mut s) = self.stats.lock() {
            s.reconnects += 1;
        }
        self.emit(UploaderEvent::Reconnecting {
            attempt: self.backoff.attempt(),
            reason: format!("{reason}; reconnecting in {delay:?}"),
        });
    }

    async fn on_conn_msg(&mut self, msg: ConnMsg) {
        let current = self.conn.as_ref().map(|c| c.id);
        match msg {
            ConnMsg::Accepted(id) if Some(id) == current => {
                if let Some(c) = self.conn.as_mut() {
                    c.accepted = true;
                    c.last_ack = Instant::now();
                }
                self.set_state("streaming");
            }
            ConnMsg::Ack(id, ack) => self.on_ack(id, current, ack),
            ConnMsg::AckParseError(id, e) if Some(id) == current => {
                self.emit(UploaderEvent::Warning(format!(
                    "unreadable ACK from the service: {e}"
                )));
            }
            ConnMsg::Ended(id, end) if Some(id) == current => self.on_conn_end(end).await,
            _ => {}
        }
    }

    fn on_ack(&mut self, id: u64, current: Option<u64>, ack: Ack) {
        if Some(id) == current
            && let Some(c) = self.conn.as_mut()
        {
            c.last_ack = Instant::now();
        }
        let level = match ack.event_type {
            AckEventType::Buffering => Some(AckLevel::Buffering),
            AckEventType::Received => Some(AckLevel::Received),
            AckEventType::Persisted => Some(AckLevel::Persisted),
            _ => None,
        };
        if let (Some(level), Some(tc)) = (level, ack.fragment_timecode) {
            let matched = {
                let mut s = self.shared.lock();
                let matched = s.buffer.on_ack(id, tc, level);
                s.wake_body();
                matched
            };
            self.shared.notify_room();
            let known = matched.is_some();
            let latency = matched.and_then(|m| m.persist_latency);
            if let Ok(mut s) = self.stats.lock() {
                match level {
                    AckLevel::Buffering => s.acks_buffering += 1,
                    AckLevel::Received => s.acks_received += 1,
                    AckLevel::Persisted => {
                        s.acks_persisted += 1;
                        s.last_persisted_timecode = Some(tc);
                        if let Some(l) = latency {
                            let ms = u64::try_from(l.as_millis()).unwrap_or(u64::MAX);
                            s.last_persist_latency_ms = Some(ms);
                            s.max_persist_latency_ms = s.max_persist_latency_ms.max(ms);
                        }
                    }
                    AckLevel::None => {}
                }
            }
            if known
                && level >= AckLevel::Received
                && let Some(c) = self.conn.as_mut().filter(|c| c.id == id)
            {
                c.acked_something = true;
                self.auth_retry_used = false;
            }
        }
        let is_error = ack.event_type == AckEventType::Error;
        let error_id = ack.error_id;
        let timecode = ack.fragment_timecode;
        self.emit(UploaderEvent::Ack(ack));
        if is_error {
            self.on_error_ack(id, current, error_id.unwrap_or(0), timecode);
        }
    }

    fn on_error_ack(
        &mut self,
        id: u64,
        current: Option<u64>,
        error_id: u32,
        timecode: Option<u64>,
    ) {
        let err_id = AckErrorId(error_id);
        if let Ok(mut s) = self.stats.lock() {
            s.error_acks += 1;
        }
        if err_id.fragment_fate() == FragmentFate::Drop
            && let Some(tc) = timecode
            && self.shared.lock().buffer.drop_fragment(id, tc)
        {
            self.shared.notify_room();
            self.count_dropped(1);
            self.emit(UploaderEvent::FragmentsDropped {
                count: 1,
                reason: format!("the service refused fragment {tc} with {err_id}"),
            });
        }
        match err_id.action() {
            ProducerAction::Fatal => self.fail(UploaderError::Ack {
                id: err_id,
                timecode,
                advice: err_id.advice().to_owned(),
            }),
            action => {
                // The service ends the connection after an ERROR ACK; do not wait for it.
                if Some(id) == current {
                    self.close_connection();
                    if action == ProducerAction::DescribeAndReconnect {
                        self.need_describe = true;
                    }
                    self.schedule_retry(format!("ERROR ACK {err_id}"));
                }
            }
        }
    }

    fn count_dropped(&self, n: usize) {
        if let Ok(mut s) = self.stats.lock() {
            s.fragments_dropped += n as u64;
        }
    }

    async fn on_conn_end(&mut self, end: ConnEnd) {
        let Some(conn) = self.conn.as_ref() else {
            return;
        };
        let body_ended = conn.body_ended_at.is_some()
            || self
                .shared
                .lock()
                .active
                .as_ref()
                .is_some_and(|a| a.cursor.conn == conn.id && a.ended);
        let healthy = conn.acked_something || conn.started.elapsed() >= HEALTHY_AFTER;
        let unacked = if self.cfg.fragment_acks {
            self.shared.lock().buffer.awaiting_on(conn.id)
        } else {
            0
        };
        self.close_connection();
        match end {
            ConnEnd::Closed if body_ended && unacked == 0 => {
                // Our side finished the body (new header, rotation, EOS): go on at once.
                self.backoff.reset();
                let done = self.finish_requested && self.shared.lock().buffer.is_empty();
                self.set_state(if done { "finished" } else { "idle" });
            }
            ConnEnd::Closed => {
                if healthy {
                    self.backoff.reset();
                }
                let reason = if unacked > 0 {
                    format!(
                        "the service closed the PutMedia connection with {unacked} fragment(s) unacknowledged"
                    )
                } else {
                    "the service closed the PutMedia connection".into()
                };
                self.schedule_retry(reason);
            }
            ConnEnd::Failed { reason } => {
                if healthy {
                    self.backoff.reset();
                }
                self.schedule_retry(reason);
            }
            ConnEnd::Http {
                status,
                code,
                message,
            } => self.on_http_error(status, code, message).await,
        }
    }

    async fn on_http_error(&mut self, status: u16, code: String, message: String) {
        match status {
            401 | 403 => {
                if self.auth_retry_used {
                    self.fail(auth_error("PutMedia", status, &code, &message));
                    return;
                }
                self.auth_retry_used = true;
                if let Some(c) = &self.creds {
                    c.invalidate().await;
                }
                self.emit(UploaderEvent::Warning(format!(
                    "PutMedia refused the credentials (HTTP {status} {code}: {message}); refreshing them and reconnecting"
                )));
                // Immediately: nothing suggests the service is overloaded.
                self.retry_at = None;
            }
            404 => {
                self.need_describe = true;
                self.schedule_retry(format!(
                    "PutMedia: stream not found (HTTP 404 {code}: {message})"
                ));
            }
            _ => {
                self.schedule_retry(format!("PutMedia answered HTTP {status} {code}: {message}"));
            }
        }
    }

    fn on_finish(&mut self, reply: std::sync::mpsc::Sender<Result<(), UploaderError>>) {
        self.finish_requested = true;
        {
            let mut s = self.shared.lock();
            s.buffer.set_eos();
            s.wake_body();
        }
        self.finish_waiters.push(reply);
    }

    fn check_finish(&mut self) {
        if self.finish_waiters.is_empty() {
            return;
        }
        let result = if let Some(e) = &self.fatal {
            Err(e.clone())
        } else {
            let s = self.shared.lock();
            let trim_on_send = !self.cfg.fragment_acks;
            // ACKs off: the last bytes are out only once the connection has finished.
            if s.buffer.is_empty() && !(trim_on_send && self.conn.is_some()) {
                Ok(())
            } else {
                return;
            }
        };
        if result.is_ok() {
            self.set_state("finished");
        }
        for w in self.finish_waiters.drain(..) {
            let _ = w.send(result.clone());
        }
    }

    fn check_timers(&mut self) {
        let now = Instant::now();
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let id = conn.id;
        let (ended, awaiting, stats) = {
            let s = self.shared.lock();
            let ended = s
                .active
                .as_ref()
                .is_some_and(|a| a.cursor.conn == id && a.ended);
            (ended, s.buffer.awaiting_on(id), s.buffer.stats())
        };
        if let Ok(mut st) = self.stats.lock() {
            st.buffered_fragments = stats.fragments;
            st.buffered_bytes = stats.bytes;
        }
        if ended && conn.body_ended_at.is_none() {
            conn.body_ended_at = Some(now);
        }
        if let Some(at) = conn.body_ended_at {
            // The body is complete; give the service time for the last ACKs, then let go.
            let limit = if awaiting == 0 || !self.cfg.fragment_acks {
                LINGER
            } else {
                self.cfg.stop_stream_timeout
            };
            if now.saturating_duration_since(at) > limit {
                self.close_connection();
                if awaiting > 0 {
                    self.schedule_retry("no final ACKs after the body ended".into());
                }
            }
            return;
        }
        if self.cfg.fragment_acks
            && !self.cfg.connection_staleness.is_zero()
            && awaiting > 0
            && now.saturating_duration_since(conn.last_ack) > self.cfg.connection_staleness
        {
            let stale = self.cfg.connection_staleness;
            self.close_connection();
            self.schedule_retry(format!("no ACK for {stale:?} (connection-staleness)"));
            return;
        }
        if !self.cfg.max_connection_duration.is_zero()
            && !conn.rotating
            && now.saturating_duration_since(conn.started) > self.cfg.max_connection_duration
        {
            conn.rotating = true;
            let mut s = self.shared.lock();
            if let Some(a) = s.active.as_mut().filter(|a| a.cursor.conn == id) {
                a.cursor.rotate = true;
            }
            s.wake_body();
        }
    }

    fn next_wake(&self) -> Instant {
        let tick = Instant::now() + TICK;
        match self.retry_at {
            Some(t) if self.conn.is_none() => t.min(tick),
            _ => tick,
        }
    }
}
