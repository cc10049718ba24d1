// SPDX-License-Identifier: MPL-2.0
//! The network side of kvssink: control plane, the PutMedia streaming connection, ACKs,
//! the retry buffer and credentials. Plain Rust on the plugin's tokio runtime; no GObject.
//!
//! The element calls [`Uploader::send`] with every [`Chunk`] in stream order (never blocks on
//! the network), [`Uploader::finish`] at EOS and [`Uploader::stop`] when stopping. Everything
//! that happens on the network comes back through the `events` callback, called from a
//! runtime thread.
//!
//! Behaviour in short:
//! - Before the first connection: region (config, else the AWS chain; none is an error),
//!   credentials (static, `credential-path`, else the AWS default chain), DescribeStream →
//!   CreateStream (or TagStream on an existing stream) → wait for ACTIVE → GetDataEndpoint.
//!   Transient failures are retried `control_plane_attempts` times.
//! - One PutMedia connection at a time. Its body pulls chunks from a bounded buffer of
//!   fragments the service has not confirmed (`storage_size` bytes, `buffer_duration` age);
//!   when full, whole oldest fragments are dropped and reported. A fragment leaves the buffer
//!   on PERSISTED (RECEIVED with retention 0; once written with ACKs off). With a
//!   `flow_control_window` (non-live input) nothing is dropped: the element's thread waits in
//!   [`Uploader::wait_for_room`] instead.
//! - A connection that fails, is closed early, goes stale (no ACK for
//!   `connection_staleness`) or gets a retryable ERROR ACK is replaced after a jittered
//!   exponential backoff; the new body starts with the MKV header of the first fragment not
//!   yet RECEIVED and resends from there. A 401/403 refreshes credentials once first.
//! - A changed `Chunk::Header`, or `max_connection_duration`, ends the body at the next
//!   fragment boundary; the next connection starts with the (new) header.
//! - ERROR ACKs whose ErrorId is fatal (kvs-core's table) end the upload with
//!   [`UploaderError::Ack`]; ids whose fragment must not be resent drop only that fragment.

mod backoff;
mod body;
mod buffer;
mod config;
mod connection;
mod control;
mod credentials;
mod error;
mod flow_window;
mod payload;
mod runtime;
mod session;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc};

pub use self::config::{CredentialsConfig, ENDPOINT_ENV_VARS, UploaderConfig};
pub use self::credentials::{FileCredentialsProvider, parse_credential_file};
pub use self::error::UploaderError;
pub use self::runtime::RUNTIME;
pub use kvs_core::putmedia::{Ack, AckErrorId, AckEventType, TimecodeType};

use self::body::Shared;
use self::buffer::{FragmentBuffer, TrimAt};
use self::session::{Command, Session};
use crate::chunk::Chunk;

/// What the uploader tells the element.
#[derive(Debug, Clone)]
pub enum UploaderEvent {
    /// Every ACK the service sent (IDLE included), in order.
    Ack(Ack),
    /// Whole fragments were removed before the service confirmed them.
    FragmentsDropped {
        count: usize,
        reason: String,
    },
    /// A connection or control-plane call failed and will be retried; not an error yet.
    Reconnecting {
        attempt: u32,
        reason: String,
    },
    Warning(String),
    /// Streaming stopped for good; the element should post an error.
    Error(UploaderError),
}

pub type EventSink = Arc<dyn Fn(UploaderEvent) + Send + Sync>;

/// Counters for the element's `stats` property.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploaderStats {
    /// preparing, connecting, streaming, backoff, idle, finished, error, stopped.
    pub state: &'static str,
    pub connections: u64,
    pub reconnects: u64,
    pub bytes_sent: u64,
    pub acks_buffering: u64,
    pub acks_received: u64,
    pub acks_persisted: u64,
    pub error_acks: u64,
    pub fragments_dropped: u64,
    pub buffered_fragments: usize,
    pub buffered_bytes: usize,
    pub last_persisted_timecode: Option<u64>,
    /// From a fragment's last byte leaving the uploader to its PERSISTED ACK.
    pub last_persist_latency_ms: Option<u64>,
    pub max_persist_latency_ms: u64,
}

/// Handle to one stream's upload. Dropping it stops the upload.
pub struct Uploader {
    shared: Arc<Shared>,
    stats: Arc<Mutex<UploaderStats>>,
    data_ready: Arc<Notify>,
    commands: mpsc::UnboundedSender<Command>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    events: EventSink,
    /// Flow control for non-live input (see `flow_window`); `None` for live input.
    flow_window: Option<self::flow_window::FlowWindow>,
    /// Set by `send_all`, under the lock it takes anyway, when the buffer went over the
    /// window: `wait_for_room` looks at the buffer only then, so a frame under the window
    /// costs no second lock.
    over_window: std::sync::atomic::AtomicBool,
}

impl Uploader {
    /// Validates the configuration and starts the stream's task; returns at once. Control
    /// plane calls happen in the background, while chunks are already being buffered;
    /// their failures arrive as [`UploaderEvent::Error`] and from [`Uploader::finish`].
    pub fn start(
        config: UploaderConfig,
        events: Box<dyn Fn(UploaderEvent) + Send + Sync>,
    ) -> Result<Self, UploaderError> {
        config.validate()?;
        let events: EventSink = Arc::from(events);
        let trim = if !config.fragment_acks {
            TrimAt::Sent
        } else if config.retention_hours == 0 {
            TrimAt::Received
        } else {
            TrimAt::Persisted
        };
        // Under flow control the producer waits instead: nothing is dropped, and memory is
        // bounded by the window (at most storage-size) plus the fragment being written.
        let (max_bytes, max_age) = match config.flow_control_window {
            Some(_) => (u64::MAX, Duration::MAX),
            None => (config.storage_size, config.buffer_duration),
        };
        let flow_control_window = config.flow_control_window;
        let shared = Shared::new(FragmentBuffer::new(max_bytes, max_age, trim));
        let stats = Arc::new(Mutex::new(UploaderStats {
            state: "preparing",
            ..Default::default()
        }));
        let data_ready = Arc::new(Notify::new());
        let (tx, rx) = mpsc::unbounded_channel();
        let session = Session::new(
            Arc::new(config),
            events.clone(),
            shared.clone(),
            stats.clone(),
            data_ready.clone(),
            rx,
        );
        let task = RUNTIME.spawn(session.run());
        Ok(Self {
            shared,
            stats,
            data_ready,
            commands: tx,
            task: Mutex::new(Some(task)),
            events,
            flow_window: flow_control_window.map(self::flow_window::FlowWindow::new),
            over_window: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Adds a chunk to the stream. Never waits for the network: the chunk goes into the
    /// bounded buffer and the connection picks it up. When the buffer is full the oldest
    /// whole fragments are dropped and reported.
    pub fn send(&self, chunk: Chunk) {
        self.send_all(std::iter::once(chunk));
    }

    /// [`send`](Self::send) for several chunks at once (a frame's block header and payload):
    /// one lock and at most one wake-up of the connection for all of them, so the frame
    /// leaves in one write.
    pub fn send_all(&self, chunks: impl IntoIterator<Item = Chunk>) {
        let now = Instant::now();
        let mut dropped: Option<self::buffer::Dropped> = None;
        let idle = {
            let mut s = self.shared.lock();
            if s.closed {
                return;
            }
            for chunk in chunks {
                let d = match chunk {
                    Chunk::Header(bytes) => {
                        s.buffer.push_header(bytes);
                        None
                    }
                    Chunk::FragmentStart { timecode, bytes } => {
                        s.buffer.start_fragment(timecode, bytes, now)
                    }
                    Chunk::Data(bytes) => s.buffer.push_data(bytes, now),
                    Chunk::Buffer(buffer) => s
                        .buffer
                        .push_data(self::payload::Payload::Buffer(buffer), now),
                    Chunk::FragmentEnd => {
                        s.buffer.end_fragment();
                        None
                    }
                };
                if let Some(d) = d {
                    match dropped.as_mut() {
                        Some(total) => {
                            total.count += d.count;
                            total.reason = d.reason;
                        }
                        None => dropped = Some(d),
                    }
                }
            }
            if let Some(flow) = &self.flow_window
                && s.buffer.holds_back(flow.current())
            {
                self.over_window
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
            s.wake_body();
            // The session only needs waking to open a connection; while one streams, the
            // body pulls by itself and the session stays asleep (no per-frame task switch).
            s.active.is_none()
        };
        if idle {
            self.data_ready.notify_one();
        }
        if let Some(d) = dropped {
            if let Ok(mut st) = self.stats.lock() {
                st.fragments_dropped += d.count as u64;
            }
            (self.events)(UploaderEvent::FragmentsDropped {
                count: d.count,
                reason: d.reason,
            });
        }
    }

    /// End of stream: closes the body after the last fragment and waits, at most `timeout`,
    /// until the service has acknowledged everything (PERSISTED; RECEIVED with retention 0;
    /// written out with ACKs off). Blocks the calling thread; must not be called from
    /// inside the runtime.
    pub fn finish(&self, timeout: Duration) -> Result<(), UploaderError> {
        let (tx, rx) = std::sync::mpsc::channel();
        if self.commands.send(Command::Finish(tx)).is_err() {
            return Err(UploaderError::Stopped);
        }
        self.data_ready.notify_one();
        match rx.recv_timeout(timeout) {
            Ok(result) => result,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(UploaderError::FinishTimeout {
                waited: timeout,
                pending: self.shared.lock().buffer.stats().fragments,
            }),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(UploaderError::Stopped),
        }
    }

    /// Stops at once: cancels the connection and the control-plane calls, drops the buffer.
    pub fn stop(&self) {
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            task.abort();
            let mut s = self.shared.lock();
            s.closed = true;
            s.active = None;
            if let Ok(mut st) = self.stats.lock() {
                st.state = "stopped";
            }
        }
        self.shared.notify_room();
    }

    /// Flow control for non-live input: blocks the calling thread while more than the
    /// current window of bytes is unacknowledged and at least one complete fragment is
    /// awaiting its ACK (so the fragment being written can always be finished and no wait can
    /// depend on data not yet sent). The window starts at 1 MiB and doubles, up to the
    /// configured cap, after each long wait (see `flow_window`). Returns at once without flow
    /// control (live input), when the upload closes, or when `interrupted` is set (call
    /// [`wake`](Self::wake) after setting it). Returns true if it waited.
    pub fn wait_for_room(&self, interrupted: &std::sync::atomic::AtomicBool) -> bool {
        let Some(flow) = self.flow_window.as_ref() else {
            return false;
        };
        if !self
            .over_window
            .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            return false;
        }
        let window = flow.current();
        let mut started: Option<Instant> = None;
        let mut s = self.shared.lock();
        while !s.closed
            && !interrupted.load(std::sync::atomic::Ordering::SeqCst)
            && s.buffer.holds_back(window)
        {
            started.get_or_insert_with(Instant::now);
            // The timeout only guards against a missed signal; ACKs normally wake it.
            s = self.shared.wait_room(s, Duration::from_millis(250));
        }
        drop(s);
        let Some(started) = started else {
            return false;
        };
        flow.after_wait(started.elapsed());
        true
    }

    /// Wakes a [`wait_for_room`](Self::wait_for_room) so that it re-checks `interrupted`.
    pub fn wake(&self) {
        self.shared.notify_room();
    }

    pub fn stats(&self) -> UploaderStats {
        let mut stats = self.stats.lock().map(|s| s.clone()).unwrap_or_default();
        let s = self.shared.lock();
        stats.bytes_sent = s.bytes_sent;
        let b = s.buffer.stats();
        stats.buffered_fragments = b.fragments;
        stats.buffered_bytes = b.bytes;
        stats
    }
}

impl Drop for Uploader {
    fn drop(&mut self) {
        self.stop();
    }
}
