// SPDX-License-Identifier: MPL-2.0
//! The streaming thread's side: waiting for the session's next item (cancellable by
//! `unlock`) and turning merged Matroska bytes into buffers.

use bytes::Bytes;
use futures::future::{AbortHandle, Abortable};
use gst::subclass::prelude::*;
use gst_base::subclass::base_src::CreateSuccess;

use super::{CAT, KvsSrc, State, lock};
use crate::client::{Item, Session, StreamChange};

#[derive(Default)]
pub(super) enum Canceller {
    #[default]
    None,
    Handle(AbortHandle),
    Cancelled,
}

impl KvsSrc {
    pub(super) fn next_item(&self) -> Result<Item, gst::FlowError> {
        let mut session = {
            let mut state = lock(&self.state);
            match &mut *state {
                State::Started { session, .. } => session.take(),
                State::Stopped => None,
            }
        };
        let Some(sess) = session.as_mut() else {
            gst::element_imp_error!(self, gst::CoreError::Failed, ["Not started yet"]);
            return Err(gst::FlowError::Error);
        };
        let (handle, registration) = AbortHandle::new_pair();
        {
            let mut canceller = lock(&self.canceller);
            if matches!(*canceller, Canceller::Cancelled) {
                drop(canceller);
                self.put_back(session);
                return Err(gst::FlowError::Flushing);
            }
            *canceller = Canceller::Handle(handle);
        }
        // Not a tokio runtime: the streaming thread may belong to an application that runs
        // one itself, and the channel works with any executor.
        let res = futures::executor::block_on(Abortable::new(sess.next(), registration));
        {
            let mut canceller = lock(&self.canceller);
            if matches!(*canceller, Canceller::Handle(_)) {
                *canceller = Canceller::None;
            }
        }
        self.put_back(session);
        res.map_err(|_| gst::FlowError::Flushing)
    }

    pub(super) fn put_back(&self, session: Option<Session>) {
        if let State::Started {
            session: slot,
            last_status,
            stream_start_ns,
            ..
        } = &mut *lock(&self.state)
        {
            if let Some(s) = &session {
                *last_status = s.status();
                if stream_start_ns.is_none() {
                    *stream_start_ns = last_status.first_pts_ns;
                }
            }
            *slot = session;
        }
    }

    pub(super) fn produce(&self) -> Result<CreateSuccess, gst::FlowError> {
        if self.is_range() {
            self.watch_downstream_seeks();
        }
        // The buffer with the new tracks went out last time: the demuxer's new pads exist.
        self.finish_switch();
        loop {
            match self.next_item()? {
                Item::Data {
                    chunks,
                    new_stream,
                    header,
                } => {
                    if header.is_some()
                        && let State::Started { header: out, .. } = &mut *lock(&self.state)
                    {
                        *out = header;
                    }
                    if new_stream == Some(StreamChange::Tracks) {
                        self.start_new_stream();
                    }
                    return self.data_buffer(chunks, new_stream.is_some());
                }
                Item::Fragment(info) => {
                    if info.continuation_token.is_some() {
                        lock(&self.played_token).clone_from(&info.continuation_token);
                    }
                    self.post_fragment(&info);
                }
                Item::DuplicateSkipped(info) => gst::debug!(
                    CAT,
                    imp = self,
                    "fragment {:?} skipped: it repeats the one before (producer start {:?} ms, \
                     same tracks), as a producer re-sending an unacknowledged fragment does",
                    info.fragment_number,
                    info.producer_timestamp_ms
                ),
                Item::Reconnecting { reason, attempt } => {
                    gst::warning!(
                        CAT,
                        imp = self,
                        "reconnecting (attempt {attempt}): {reason}"
                    );
                }
                Item::Eos => {
                    gst::info!(CAT, imp = self, "archived range played to the end");
                    return Err(gst::FlowError::Eos);
                }
                Item::Error(err) => {
                    self.post_source_error(&err);
                    return Err(gst::FlowError::Error);
                }
            }
        }
    }

    /// One buffer of merged Matroska bytes, at the byte offset the output has reached.
    fn data_buffer(
        &self,
        chunks: Vec<Bytes>,
        new_header: bool,
    ) -> Result<CreateSuccess, gst::FlowError> {
        let mut buffer = gst::Buffer::new();
        let len: usize = chunks.iter().map(|c| c.len()).sum();
        let mut state = lock(&self.state);
        let State::Started { offset, .. } = &mut *state else {
            return Err(gst::FlowError::Flushing);
        };
        {
            let b = buffer.get_mut().ok_or(gst::FlowError::Error)?;
            for c in chunks {
                b.append_memory(gst::Memory::from_slice(c));
            }
            b.set_offset(*offset);
            b.set_offset_end(*offset + len as u64);
            if new_header {
                // A fresh EBML header starts here: the demuxer drops any partial element it
                // still holds and re-reads the header.
                b.set_flags(gst::BufferFlags::DISCONT);
            }
        }
        *offset += len as u64;
        Ok(CreateSuccess::NewBuffer(buffer))
    }

    pub(super) fn cancel(&self) -> Result<(), gst::ErrorMessage> {
        let mut canceller = lock(&self.canceller);
        if let Canceller::Handle(h) = &*canceller {
            h.abort();
        }
        *canceller = Canceller::Cancelled;
        Ok(())
    }

    pub(super) fn uncancel(&self) -> Result<(), gst::ErrorMessage> {
        *lock(&self.canceller) = Canceller::None;
        Ok(())
    }
}
