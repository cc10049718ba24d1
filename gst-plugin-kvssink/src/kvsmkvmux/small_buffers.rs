// SPDX-License-Identifier: MPL-2.0
//! Reused small output buffers (SimpleBlock headers): one GStreamer buffer and memory per
//! frame would be allocated otherwise. Downstream releases them in the order they were made
//! (the uploader frees whole fragments oldest first), so only the oldest is checked.

use std::collections::VecDeque;

/// Buffers kept for reuse, at most: beyond, new ones are simply not kept.
const MAX_KEPT: usize = 4096;

pub(crate) struct SmallBuffers {
    len: usize,
    /// Oldest first; each also referenced downstream until it is writable again.
    ring: VecDeque<gst::Buffer>,
}

impl SmallBuffers {
    pub(crate) fn new(len: usize) -> Self {
        Self {
            len,
            ring: VecDeque::new(),
        }
    }

    /// A buffer holding `data` (which must be `len` bytes long), reused when downstream
    /// has let go of the oldest one. `prepare` sets its flags and times: once handed out,
    /// the buffer is shared with this pool and cannot be changed any more.
    pub(crate) fn filled(
        &mut self,
        data: &[u8],
        prepare: impl FnOnce(&mut gst::BufferRef),
    ) -> gst::Buffer {
        if data.len() != self.len {
            let mut buffer = gst::Buffer::from_mut_slice(data.to_vec());
            if let Some(b) = buffer.get_mut() {
                prepare(b);
            }
            return buffer;
        }
        let reusable = self.ring.front().is_some_and(|b| b.is_writable());
        let mut buffer = reusable
            .then(|| self.ring.pop_front())
            .flatten()
            .or_else(|| gst::Buffer::with_size(self.len).ok());
        let written = buffer
            .as_mut()
            .and_then(|b| b.get_mut())
            // A memory still shared elsewhere is copied by the write, never overwritten.
            .is_some_and(|b| b.copy_from_slice(0, data).is_ok());
        let Some(mut buffer) = buffer.filter(|_| written) else {
            let mut buffer = gst::Buffer::from_mut_slice(data.to_vec());
            if let Some(b) = buffer.get_mut() {
                prepare(b);
            }
            return buffer;
        };
        if let Some(b) = buffer.get_mut() {
            prepare(b);
        }
        if self.ring.len() < MAX_KEPT {
            self.ring.push_back(buffer.clone());
        }
        buffer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_buffers_are_reused_and_held_ones_are_not_overwritten() {
        gst::init().unwrap();
        let mut pool = SmallBuffers::new(3);
        let a = pool.filled(b"abc", |b| b.set_offset(1));
        assert_eq!(a.offset(), 1);
        let a_ptr = a.as_ptr();
        let b = pool.filled(b"def", |_| {});
        assert_ne!(a.as_ptr(), b.as_ptr(), "a is still held");
        assert_eq!(&*a.map_readable().unwrap(), b"abc");
        drop(a);
        let c = pool.filled(b"ghi", |b| b.set_offset(3));
        assert_eq!(c.as_ptr(), a_ptr, "a was released, so it is reused");
        assert_eq!(&*c.map_readable().unwrap(), b"ghi");
        assert_eq!(c.offset(), 3);
        assert_eq!(&*b.map_readable().unwrap(), b"def");
        let odd = pool.filled(b"toolong", |b| b.set_offset(7));
        assert_eq!(odd.offset(), 7);
        assert_eq!(&*odd.map_readable().unwrap(), b"toolong");
    }
}
