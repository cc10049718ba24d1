// SPDX-License-Identifier: MPL-2.0
//! MKV writer producing the byte layout of AWS's producer SDK (see
//! `shared/spec/producer-wire.md` §3), which KVS is known to accept.
//!
//! Frame payloads are never copied: the functions here only produce the header bytes that
//! go around them. A caller sends `SimpleBlockHeader::as_bytes()` followed by the payload
//! `Bytes` as a separate buffer (e.g. as two chunks of an HTTP body).

use bytes::{BufMut, Bytes, BytesMut};

use super::error::MkvWriteError;
use super::ids;
use super::types::{SegmentInfo, StreamHeader, Tag, TrackInfo};
use crate::ebml::{
    self, write_bytes_element, write_f64_element, write_id, write_size, write_uint_element,
};

/// Title written when `SegmentInfo::title` is `None`.
pub const DEFAULT_TITLE: &str = "gst-kvs";
/// MuxingApp/WritingApp written when the `SegmentInfo` leaves them `None`.
pub const DEFAULT_WRITING_APP: &str = concat!("gst-kvs ", env!("CARGO_PKG_VERSION"));

/// The constant 40-byte EBML header KVS producers send (DocType matroska, version 2).
pub const EBML_HEADER: [u8; 40] = [
    0x1A, 0x45, 0xDF, 0xA3, 0xA3, // EBML, size 35
    0x42, 0x86, 0x81, 0x01, // EBMLVersion 1
    0x42, 0xF7, 0x81, 0x01, // EBMLReadVersion 1
    0x42, 0xF2, 0x81, 0x04, // EBMLMaxIDLength 4
    0x42, 0xF3, 0x81, 0x08, // EBMLMaxSizeLength 8
    0x42, 0x82, 0x88, b'm', b'a', b't', b'r', b'o', b's', b'k', b'a', // DocType
    0x42, 0x87, 0x81, 0x02, // DocTypeVersion 2
    0x42, 0x85, 0x81, 0x02, // DocTypeReadVersion 2
];

/// Segment ID with a 1-byte unknown size: a PutMedia body never closes its Segment.
pub const SEGMENT_START_UNKNOWN_SIZE: [u8; 5] = [0x18, 0x53, 0x80, 0x67, 0xFF];

/// Bytes `write_cluster_start` produces.
pub const CLUSTER_START_LEN: usize = 18;

// Fixed size-field widths AWS uses, kept so our output is byte-comparable with theirs.
const INFO_SIZE_WIDTH: usize = 2;
const TRACKS_SIZE_WIDTH: usize = 4;
const TAG_SIZE_WIDTH: usize = 8;

/// Writes the EBML header, the unknown-size Segment start, Info and Tracks.
pub fn write_stream_header(header: &StreamHeader, out: &mut BytesMut) -> Result<(), MkvWriteError> {
    out.put_slice(&EBML_HEADER);
    out.put_slice(&SEGMENT_START_UNKNOWN_SIZE);
    write_info(&header.info, out)?;
    write_tracks(&header.tracks, out)
}

/// Writes a Segment Info element in AWS's field order. SegmentUID is written only when set
/// (producers should set a random one per stream and keep it across reconnects); unset
/// Title/MuxingApp/WritingApp name this project.
pub fn write_info(info: &SegmentInfo, out: &mut BytesMut) -> Result<(), MkvWriteError> {
    let mut body = BytesMut::with_capacity(128);
    if let Some(uid) = &info.segment_uid {
        write_bytes_element(ids::SEGMENT_UID, uid, &mut body)?;
    }
    write_uint_element(ids::TIMECODE_SCALE, info.timecode_scale, 8, &mut body);
    let title = info.title.as_deref().unwrap_or(DEFAULT_TITLE);
    let muxing = info.muxing_app.as_deref().unwrap_or(DEFAULT_WRITING_APP);
    let writing = info.writing_app.as_deref().unwrap_or(DEFAULT_WRITING_APP);
    write_bytes_element(ids::TITLE, title.as_bytes(), &mut body)?;
    write_bytes_element(ids::MUXING_APP, muxing.as_bytes(), &mut body)?;
    write_bytes_element(ids::WRITING_APP, writing.as_bytes(), &mut body)?;
    write_master(ids::INFO, INFO_SIZE_WIDTH, &body, out)
}

/// Writes a Tracks element; each TrackEntry lists its fields in AWS's order.
pub fn write_tracks(tracks: &[TrackInfo], out: &mut BytesMut) -> Result<(), MkvWriteError> {
    let mut body = BytesMut::new();
    for track in tracks {
        let mut entry = BytesMut::with_capacity(128);
        write_track_entry(track, &mut entry)?;
        write_master(ids::TRACK_ENTRY, TRACKS_SIZE_WIDTH, &entry, &mut body)?;
    }
    write_master(ids::TRACKS, TRACKS_SIZE_WIDTH, &body, out)
}

fn write_track_entry(track: &TrackInfo, out: &mut BytesMut) -> Result<(), MkvWriteError> {
    write_uint_element(ids::TRACK_NUMBER, track.number, 1, out);
    write_uint_element(ids::TRACK_UID, track.uid, 8, out);
    if let Some(track_type) = track.track_type {
        write_uint_element(ids::TRACK_TYPE, u64::from(track_type.to_u8()), 1, out);
    }
    if let Some(name) = track.name.as_deref().filter(|n| !n.is_empty()) {
        write_bytes_element(ids::NAME, name.as_bytes(), out)?;
    }
    write_bytes_element(ids::CODEC_ID, track.codec_id.as_bytes(), out)?;
    if let Some(video) = &track.video {
        let mut v = BytesMut::with_capacity(16);
        write_uint_element(ids::PIXEL_WIDTH, u64::from(video.pixel_width), 2, &mut v);
        write_uint_element(ids::PIXEL_HEIGHT, u64::from(video.pixel_height), 2, &mut v);
        write_master(ids::VIDEO, TRACKS_SIZE_WIDTH, &v, out)?;
    }
    if let Some(audio) = &track.audio {
        let mut a = BytesMut::with_capacity(24);
        write_f64_element(ids::SAMPLING_FREQUENCY, audio.sampling_frequency, &mut a);
        write_uint_element(ids::CHANNELS, u64::from(audio.channels), 1, &mut a);
        if let Some(bits) = audio.bit_depth {
            write_uint_element(ids::BIT_DEPTH, u64::from(bits), 1, &mut a);
        }
        write_master(ids::AUDIO, TRACKS_SIZE_WIDTH, &a, out)?;
    }
    if let Some(cpd) = track.codec_private.as_ref().filter(|c| !c.is_empty()) {
        write_bytes_element(ids::CODEC_PRIVATE, cpd, out)?;
    }
    Ok(())
}

fn write_master(
    id: u32,
    min_size_width: usize,
    body: &[u8],
    out: &mut BytesMut,
) -> Result<(), MkvWriteError> {
    write_id(id, out);
    write_size(body.len() as u64, min_size_width, out)?;
    out.put_slice(body);
    Ok(())
}

/// Writes the start of an unknown-size Cluster: Timecode (8 bytes) and Position 0, as AWS
/// does (18 bytes).
pub fn write_cluster_start(timecode: u64, out: &mut BytesMut) {
    write_id(ids::CLUSTER, out);
    out.put_u8(0xFF);
    write_uint_element(ids::TIMECODE, timecode, 8, out);
    write_uint_element(ids::POSITION, 0, 1, out);
}

/// Writes one Tags element holding `tags` (nothing for an empty slice). AWS writes each
/// metadata entry as its own Tags element, i.e. calls this with one Tag at a time. Sizes use
/// 8-byte vints and no Targets element is written, as AWS does.
pub fn write_tags(tags: &[Tag], out: &mut BytesMut) -> Result<(), MkvWriteError> {
    if tags.is_empty() {
        return Ok(());
    }
    // Sizes are computed up front so the strings are written once, straight into `out`.
    const HDR: u64 = 2 + TAG_SIZE_WIDTH as u64;
    let simple_body = |n: &str, v: &str| 2 * HDR + n.len() as u64 + v.len() as u64;
    let tag_body = |t: &Tag| -> u64 {
        t.simple_tags
            .iter()
            .map(|s| HDR + simple_body(&s.name, &s.value))
            .sum()
    };
    let tags_body: u64 = tags.iter().map(|t| HDR + tag_body(t)).sum();
    write_id(ids::TAGS, out);
    ebml::write_vint(tags_body, TAG_SIZE_WIDTH, out)?;
    for tag in tags {
        write_id(ids::TAG, out);
        ebml::write_vint(tag_body(tag), TAG_SIZE_WIDTH, out)?;
        for st in &tag.simple_tags {
            write_id(ids::SIMPLE_TAG, out);
            ebml::write_vint(simple_body(&st.name, &st.value), TAG_SIZE_WIDTH, out)?;
            write_id(ids::TAG_NAME, out);
            ebml::write_vint(st.name.len() as u64, TAG_SIZE_WIDTH, out)?;
            out.put_slice(st.name.as_bytes());
            write_id(ids::TAG_STRING, out);
            ebml::write_vint(st.value.len() as u64, TAG_SIZE_WIDTH, out)?;
            out.put_slice(st.value.as_bytes());
        }
    }
    Ok(())
}

/// Timecode of a frame relative to its cluster, as a SimpleBlock stores it.
pub fn relative_timecode(cluster_timecode: u64, timecode: u64) -> Result<i16, MkvWriteError> {
    let diff = i128::from(timecode) - i128::from(cluster_timecode);
    i16::try_from(diff).map_err(|_| MkvWriteError::RelativeTimecodeOverflow {
        cluster_timecode,
        timecode,
    })
}

/// SimpleBlock flag bits.
pub mod block_flags {
    pub const KEYFRAME: u8 = 0x80;
    pub const INVISIBLE: u8 = 0x08;
    pub const DISCARDABLE: u8 = 0x01;
}

/// The 13 bytes preceding a frame payload in a SimpleBlock: ID, 8-byte size, 1-byte track
/// number, signed 16-bit relative timecode, flags. Lives on the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimpleBlockHeader([u8; SimpleBlockHeader::LEN]);

impl SimpleBlockHeader {
    pub const LEN: usize = 13;
    /// Largest track number the 1-byte track vint can carry.
    pub const MAX_TRACK_NUMBER: u64 = 126;

    /// Header for a payload of `payload_len` bytes.
    pub fn new(
        track_number: u64,
        relative_timecode: i16,
        keyframe: bool,
        payload_len: usize,
    ) -> Result<Self, MkvWriteError> {
        let flags = if keyframe { block_flags::KEYFRAME } else { 0 };
        Self::with_flags(track_number, relative_timecode, flags, payload_len)
    }

    /// Like [`new`](Self::new) with raw flag bits (see [`block_flags`]); lacing bits are cleared.
    pub fn with_flags(
        track_number: u64,
        relative_timecode: i16,
        flags: u8,
        payload_len: usize,
    ) -> Result<Self, MkvWriteError> {
        if !(1..=Self::MAX_TRACK_NUMBER).contains(&track_number) {
            return Err(MkvWriteError::InvalidTrackNumber(track_number));
        }
        let body_len = (payload_len as u64)
            .checked_add(4)
            .filter(|&l| l <= ebml::MAX_SIZE_VALUE)
            .ok_or(MkvWriteError::PayloadTooLarge(payload_len))?;
        let mut h = [0u8; Self::LEN];
        h[0] = ids::SIMPLE_BLOCK as u8;
        // 8-byte vint: marker byte 0x01 then 7 value bytes.
        h[1..9].copy_from_slice(&(body_len | (1u64 << 56)).to_be_bytes());
        h[9] = 0x80 | track_number as u8;
        h[10..12].copy_from_slice(&relative_timecode.to_be_bytes());
        h[12] = flags & !0x06;
        Ok(SimpleBlockHeader(h))
    }

    pub fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    /// Total SimpleBlock length including the payload.
    pub fn block_len(&self, payload_len: usize) -> usize {
        Self::LEN + payload_len
    }
}

impl AsRef<[u8]> for SimpleBlockHeader {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Collects a whole stream as a list of buffers (header chunks and untouched payload
/// `Bytes`), for tests and tools. Streaming code should use the free functions instead.
#[derive(Debug, Default)]
pub struct MkvWriter {
    chunks: Vec<Bytes>,
    pending: BytesMut,
    cluster_timecode: Option<u64>,
}

impl MkvWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// EBML header, Segment start, Info and Tracks.
    pub fn stream_header(&mut self, header: &StreamHeader) -> Result<(), MkvWriteError> {
        write_stream_header(header, &mut self.pending)
    }

    /// One Tags element (see [`write_tags`]).
    pub fn tags(&mut self, tags: &[Tag]) -> Result<(), MkvWriteError> {
        write_tags(tags, &mut self.pending)
    }

    /// Starts a new unknown-size Cluster (one per fragment).
    pub fn start_cluster(&mut self, timecode: u64) {
        write_cluster_start(timecode, &mut self.pending);
        self.cluster_timecode = Some(timecode);
    }

    /// Adds a frame with an absolute timecode (in TimecodeScale units) to the current cluster.
    pub fn frame(
        &mut self,
        track_number: u64,
        timecode: u64,
        keyframe: bool,
        payload: Bytes,
    ) -> Result<(), MkvWriteError> {
        let cluster = self.cluster_timecode.ok_or(MkvWriteError::NoCluster)?;
        let rel = relative_timecode(cluster, timecode)?;
        let header = SimpleBlockHeader::new(track_number, rel, keyframe, payload.len())?;
        if self.pending.is_empty() {
            // The common case between two frames: one small allocation for the header.
            self.chunks.push(Bytes::copy_from_slice(header.as_bytes()));
        } else {
            self.pending.put_slice(header.as_bytes());
            self.chunks.push(self.pending.split().freeze());
        }
        if !payload.is_empty() {
            self.chunks.push(payload);
        }
        Ok(())
    }

    /// The buffers written so far, in order.
    pub fn into_chunks(mut self) -> Vec<Bytes> {
        if !self.pending.is_empty() {
            self.chunks.push(self.pending.split().freeze());
        }
        self.chunks
    }

    /// The whole stream in one buffer (copies; for tests and files).
    pub fn into_vec(self) -> Vec<u8> {
        let chunks = self.into_chunks();
        let mut out = Vec::with_capacity(chunks.iter().map(Bytes::len).sum());
        for c in chunks {
            out.extend_from_slice(&c);
        }
        out
    }
}
