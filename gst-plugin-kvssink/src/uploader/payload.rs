// SPDX-License-Identifier: MPL-2.0
//! The pieces of media the buffer keeps and the request body writes: `Bytes`, or GStreamer
//! buffers kept by reference. Wrapping a buffer in `Bytes` costs one allocation per buffer
//! (two per frame); a buffer reference costs none, and it is mapped only while hyper writes
//! it.

use std::fmt;

use bytes::{Buf, Bytes};

/// A piece of a fragment as the element handed it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Payload {
    Bytes(Bytes),
    /// One memory, readable (checked before it is accepted).
    Buffer(gst::Buffer),
}

impl Payload {
    pub(crate) fn len(&self) -> usize {
        match self {
            Payload::Bytes(b) => b.len(),
            Payload::Buffer(b) => b.size(),
        }
    }

    /// What the body writes for it; `None` if the buffer cannot be read any more.
    pub(crate) fn to_body_data(&self) -> Option<BodyData> {
        match self {
            Payload::Bytes(b) => Some(BodyData::Bytes(b.clone())),
            Payload::Buffer(b) => b
                .clone()
                .into_mapped_buffer_readable()
                .ok()
                .map(|map| BodyData::Mapped { map, pos: 0 }),
        }
    }
}

impl From<Bytes> for Payload {
    fn from(b: Bytes) -> Self {
        Payload::Bytes(b)
    }
}

/// One HTTP body frame's data.
pub(crate) enum BodyData {
    Bytes(Bytes),
    Mapped {
        map: gst::MappedBuffer<gst::buffer::Readable>,
        pos: usize,
    },
}

impl Buf for BodyData {
    fn remaining(&self) -> usize {
        match self {
            BodyData::Bytes(b) => b.remaining(),
            BodyData::Mapped { map, pos } => map.len().saturating_sub(*pos),
        }
    }

    fn chunk(&self) -> &[u8] {
        match self {
            BodyData::Bytes(b) => b.chunk(),
            BodyData::Mapped { map, pos } => map.as_slice().get(*pos..).unwrap_or_default(),
        }
    }

    fn advance(&mut self, cnt: usize) {
        match self {
            BodyData::Bytes(b) => b.advance(cnt.min(b.remaining())),
            BodyData::Mapped { map, pos } => *pos = pos.saturating_add(cnt).min(map.len()),
        }
    }
}

impl std::ops::Deref for BodyData {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.chunk()
    }
}

impl PartialEq for BodyData {
    fn eq(&self, other: &Self) -> bool {
        self.chunk() == other.chunk()
    }
}

impl Eq for BodyData {}

impl fmt::Debug for BodyData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BodyData({} bytes)", self.remaining())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_written_from_their_own_memory() {
        gst::init().unwrap();
        let buffer = gst::Buffer::from_slice(vec![1u8, 2, 3, 4]);
        let ptr = buffer.map_readable().unwrap().as_ptr();
        let payload = Payload::Buffer(buffer);
        assert_eq!(payload.len(), 4);
        let mut data = payload.to_body_data().expect("maps");
        assert_eq!(data.chunk().as_ptr(), ptr, "no copy");
        data.advance(3);
        assert_eq!(data.chunk(), &[4]);
        data.advance(10);
        assert_eq!(data.remaining(), 0);
        let bytes = Payload::from(Bytes::from_static(b"ab"))
            .to_body_data()
            .unwrap();
        assert_eq!(&bytes[..], b"ab");
    }
}
