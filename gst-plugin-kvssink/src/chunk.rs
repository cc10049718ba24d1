// SPDX-License-Identifier: MPL-2.0
//! What the element hands to the uploader, and how the fragmenter marks its buffers.
//!
//! Note for the uploader (src/uploader/): import `crate::chunk::Chunk`; the element calls
//! `Uploader::send(Chunk)` for every piece in stream order, from a GStreamer streaming
//! thread, so `send` must not block on the network. A `Header` always comes right before
//! a `FragmentStart`; a `Header` after the first one means the codec private data or the
//! track set changed: finish the current PutMedia body and start a new connection with it.
//! `FragmentEnd` is sent when the next fragment (or header) begins and at EOS, so the bytes
//! of a fragment are complete once it arrives.
//!
//! `FragmentStart` bytes end with kvs-core's `write_cluster_start`: the Cluster ID, a
//! 1-byte unknown size `FF` (as AWS writes it), the 8-byte Timecode element and Position 0.
//! Note for tests/uploader_support: its stub reads the timecode as if the size were 8 bytes
//! (`01 FF…FF`), so it mis-reads real fragmenter output.
//!
//! Buffers from `kvsmkvmux` follow these conventions (so an upload sink can recover the
//! structure without parsing MKV):
//! - flag `HEADER`: the stream header (EBML + Segment + Info + Tracks);
//! - no `DELTA_UNIT` flag (and not `HEADER`): a fragment start (the fragment's Tags, if any,
//!   then the Cluster header); the buffer's `offset` carries the cluster timecode;
//! - flag `DELTA_UNIT`: anything else (SimpleBlock headers, frame payloads, final Tags).

use bytes::Bytes;

/// One piece of the PutMedia body, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// EBML header + Segment start + Info + Tracks; starts a PutMedia body.
    Header(Bytes),
    /// The fragment's Tags (if any) then its Cluster header.
    FragmentStart {
        /// Cluster timecode in timecode units: the `FragmentTimecode` its ACKs will carry.
        timecode: u64,
        bytes: Bytes,
    },
    /// A SimpleBlock header or a frame payload (sent as they come, never buffered whole).
    Data(Bytes),
    /// Like `Data`, as a GStreamer buffer of one memory: kept by reference and written from
    /// its own memory. Saves the allocation that wrapping each buffer in `Bytes` costs.
    Buffer(gst::Buffer),
    /// The current fragment has no more bytes.
    FragmentEnd,
}

impl Chunk {
    /// Bytes this chunk adds to the body.
    pub fn len(&self) -> usize {
        match self {
            Chunk::Header(b) | Chunk::FragmentStart { bytes: b, .. } | Chunk::Data(b) => b.len(),
            Chunk::Buffer(b) => b.size(),
            Chunk::FragmentEnd => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What kind of piece a fragmenter output buffer is (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferRole {
    Header,
    FragmentStart { timecode: u64 },
    Data,
}

impl BufferRole {
    pub fn of(buffer: &gst::BufferRef) -> Self {
        let flags = buffer.flags();
        if flags.contains(gst::BufferFlags::HEADER) {
            BufferRole::Header
        } else if !flags.contains(gst::BufferFlags::DELTA_UNIT) {
            BufferRole::FragmentStart {
                timecode: buffer.offset(),
            }
        } else {
            BufferRole::Data
        }
    }

    /// Marks `buffer` with this role.
    pub fn apply(self, buffer: &mut gst::BufferRef) {
        match self {
            BufferRole::Header => {
                buffer.set_flags(gst::BufferFlags::HEADER);
                buffer.unset_flags(gst::BufferFlags::DELTA_UNIT);
            }
            BufferRole::FragmentStart { timecode } => {
                buffer.unset_flags(gst::BufferFlags::HEADER | gst::BufferFlags::DELTA_UNIT);
                buffer.set_offset(timecode);
            }
            BufferRole::Data => {
                buffer.unset_flags(gst::BufferFlags::HEADER);
                buffer.set_flags(gst::BufferFlags::DELTA_UNIT);
            }
        }
    }
}

/// A buffer the uploader can keep by reference and write from its memory directly (one
/// memory, readable); other buffers go through [`buffer_to_bytes`].
pub fn is_directly_sendable(buffer: &gst::BufferRef) -> bool {
    buffer.n_memory() == 1 && buffer.map_readable().is_ok()
}

/// The buffer's memory as `Bytes`, without copying: the mapping lives as long as the
/// `Bytes` (and its clones) do.
pub fn buffer_to_bytes(buffer: gst::Buffer) -> Result<Bytes, gst::Buffer> {
    buffer.into_mapped_buffer_readable().map(Bytes::from_owner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_buffer_flags() {
        gst::init().unwrap();
        for role in [
            BufferRole::Header,
            BufferRole::FragmentStart { timecode: 1234 },
            BufferRole::Data,
        ] {
            let mut buffer = gst::Buffer::with_size(4).unwrap();
            role.apply(buffer.get_mut().unwrap());
            assert_eq!(BufferRole::of(&buffer), role);
        }
    }

    #[test]
    fn buffer_bytes_are_not_copied() {
        gst::init().unwrap();
        let buffer = gst::Buffer::from_slice(vec![1u8, 2, 3]);
        let ptr = buffer.map_readable().unwrap().as_ptr();
        let bytes = buffer_to_bytes(buffer).unwrap();
        assert_eq!(&bytes[..], &[1, 2, 3]);
        assert_eq!(bytes.as_ptr(), ptr);
    }
}
