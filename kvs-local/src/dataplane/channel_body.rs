// SPDX-License-Identifier: MPL-2.0
//! A response body fed by a channel, for responses produced while the request runs: the
//! PutMedia ACK stream and the GetMedia MKV stream. The body ends when every sender is gone.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

pub struct ChannelBody {
    rx: ChannelRx,
}

enum ChannelRx {
    Bounded(mpsc::Receiver<Bytes>),
    Unbounded(mpsc::UnboundedReceiver<Bytes>),
}

impl ChannelBody {
    /// A bounded channel: a slow client makes the producer of the body wait.
    pub fn bounded(capacity: usize) -> (mpsc::Sender<Bytes>, Self) {
        let (tx, rx) = mpsc::channel(capacity);
        (
            tx,
            Self {
                rx: ChannelRx::Bounded(rx),
            },
        )
    }

    pub fn unbounded() -> (mpsc::UnboundedSender<Bytes>, Self) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            tx,
            Self {
                rx: ChannelRx::Unbounded(rx),
            },
        )
    }
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let polled = match &mut self.rx {
            ChannelRx::Bounded(rx) => rx.poll_recv(cx),
            ChannelRx::Unbounded(rx) => rx.poll_recv(cx),
        };
        polled.map(|item| item.map(|bytes| Ok(Frame::data(bytes))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
