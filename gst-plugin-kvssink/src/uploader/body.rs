// SPDX-License-Identifier: MPL-2.0
//! State shared between the caller's thread (which adds chunks), the session task (which
//! reads ACKs and manages connections) and the request body of the current connection
//! (which pulls chunks out as HTTP body frames).

use std::convert::Infallible;
use std::future::Future as _;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::Buf as _;
use hyper::body::{Body, Frame, SizeHint};

use super::buffer::{Cursor, FragmentBuffer, Piece};
use super::payload::BodyData;

/// The body currently streaming, if any.
#[derive(Debug)]
pub(crate) struct ActiveBody {
    pub(crate) cursor: Cursor,
    pub(crate) waker: Option<Waker>,
    /// The body returned its last frame.
    pub(crate) ended: bool,
    /// The response head has arrived (the service accepted the request).
    pub(crate) accepted: bool,
}

#[derive(Debug)]
pub(crate) struct SharedState {
    pub(crate) buffer: FragmentBuffer,
    pub(crate) active: Option<ActiveBody>,
    pub(crate) bytes_sent: u64,
    pub(crate) last_write: Option<Instant>,
    /// A fatal error happened or the uploader stopped: chunks are thrown away.
    pub(crate) closed: bool,
}

impl SharedState {
    /// Lets the body know there may be more to send.
    pub(crate) fn wake_body(&mut self) {
        if let Some(waker) = self.active.as_mut().and_then(|a| a.waker.take()) {
            waker.wake();
        }
    }
}

#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<SharedState>,
    /// Signalled when fragments leave the buffer or the upload closes: a producer held back
    /// by flow control may go on.
    room: Condvar,
}

impl Shared {
    pub(crate) fn new(buffer: FragmentBuffer) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(SharedState {
                buffer,
                active: None,
                bytes_sent: 0,
                last_write: None,
                closed: false,
            }),
            room: Condvar::new(),
        })
    }

    /// Waits at most `timeout` for [`notify_room`](Self::notify_room).
    pub(crate) fn wait_room<'a>(
        &'a self,
        guard: MutexGuard<'a, SharedState>,
        timeout: std::time::Duration,
    ) -> MutexGuard<'a, SharedState> {
        match self.room.wait_timeout(guard, timeout) {
            Ok((guard, _)) => guard,
            Err(p) => p.into_inner().0,
        }
    }

    pub(crate) fn notify_room(&self) {
        self.room.notify_all();
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, SharedState> {
        // A panic while holding the lock leaves consistent-enough bookkeeping (every
        // mutation is a handful of field updates); carrying on beats poisoning the sink.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// How long the body waits for the response head before sending anyway (what curl does
/// with `Expect: 100-continue`). KVS answers 200 as soon as it has checked the headers; a
/// refusal (403, 404) then arrives before any media is written, so it is read reliably
/// instead of racing a connection reset.
pub(crate) const ACCEPT_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// The PutMedia request body of connection `conn`: pulls from the shared buffer.
pub(crate) struct PullBody {
    shared: Arc<Shared>,
    conn: u64,
    hold: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl PullBody {
    pub(crate) fn new(shared: Arc<Shared>, conn: u64) -> Self {
        Self {
            shared,
            conn,
            hold: Some(Box::pin(tokio::time::sleep(ACCEPT_WAIT))),
        }
    }
}

/// Marks connection `conn` as accepted and lets its body go.
pub(crate) fn accept(shared: &Shared, conn: u64) {
    let mut s = shared.lock();
    if let Some(a) = s.active.as_mut().filter(|a| a.cursor.conn == conn) {
        a.accepted = true;
    }
    s.wake_body();
}

impl Body for PullBody {
    type Data = BodyData;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<BodyData>, Infallible>>> {
        let this = self.get_mut();
        let conn = this.conn;
        let mut guard = this.shared.lock();
        let state = &mut *guard;
        let Some(active) = state.active.as_mut().filter(|a| a.cursor.conn == conn) else {
            return Poll::Ready(None);
        };
        if active.ended {
            return Poll::Ready(None);
        }
        if let Some(hold) = this.hold.as_mut() {
            if !active.accepted && hold.as_mut().poll(cx).is_pending() {
                active.waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            this.hold = None;
        }
        match state.buffer.next_piece(&mut active.cursor) {
            Piece::Data(bytes) => {
                state.bytes_sent += bytes.remaining() as u64;
                state.last_write = Some(Instant::now());
                Poll::Ready(Some(Ok(Frame::data(bytes))))
            }
            Piece::Wait => {
                active.waker = Some(cx.waker().clone());
                Poll::Pending
            }
            Piece::End => {
                active.ended = true;
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        false
    }

    fn size_hint(&self) -> SizeHint {
        // Unknown length: hyper sends it chunked.
        SizeHint::default()
    }
}
