// SPDX-License-Identifier: MPL-2.0
//! The typed pieces of a KVS MKV stream, shared by the writer and the reader.

use bytes::Bytes;

/// Matroska TrackType values KVS uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackType {
    Video,
    Audio,
    /// Any other TrackType a foreign producer declared (kept so nothing is lost).
    Other(u8),
}

impl TrackType {
    pub fn to_u8(self) -> u8 {
        match self {
            TrackType::Video => 1,
            TrackType::Audio => 2,
            TrackType::Other(v) => v,
        }
    }

    pub fn from_u8(v: u8) -> Self {
        match v {
            1 => TrackType::Video,
            2 => TrackType::Audio,
            other => TrackType::Other(other),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VideoParams {
    pub pixel_width: u32,
    pub pixel_height: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AudioParams {
    pub sampling_frequency: f64,
    pub channels: u32,
    /// Written only when known; AWS's producer omits it for G.711.
    pub bit_depth: Option<u32>,
}

/// One TrackEntry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrackInfo {
    /// TrackNumber: what SimpleBlocks refer to (1-based).
    pub number: u64,
    /// TrackUID: AWS's kvssink uses 1 for video and 2 for audio.
    pub uid: u64,
    pub track_type: Option<TrackType>,
    pub name: Option<String>,
    pub codec_id: String,
    pub codec_private: Option<Bytes>,
    pub video: Option<VideoParams>,
    pub audio: Option<AudioParams>,
}

/// Segment Info.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentInfo {
    pub segment_uid: Option<[u8; 16]>,
    /// Nanoseconds per timecode unit (1 000 000 = milliseconds, the KVS default).
    pub timecode_scale: u64,
    pub title: Option<String>,
    pub muxing_app: Option<String>,
    pub writing_app: Option<String>,
}

impl Default for SegmentInfo {
    fn default() -> Self {
        SegmentInfo {
            segment_uid: None,
            timecode_scale: DEFAULT_TIMECODE_SCALE_NS,
            title: None,
            muxing_app: None,
            writing_app: None,
        }
    }
}

pub const DEFAULT_TIMECODE_SCALE_NS: u64 = 1_000_000;

/// Everything a PutMedia body or GetMedia document starts with.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamHeader {
    pub info: SegmentInfo,
    pub tracks: Vec<TrackInfo>,
}

/// A SimpleTag carrying a string value (KVS only uses TagName + TagString).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SimpleTag {
    pub name: String,
    pub value: String,
}

impl SimpleTag {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        SimpleTag {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// One `Tag` element: its SimpleTags in order. KVS writes no `Targets`; the reader
/// accepts one and ignores it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tag {
    pub simple_tags: Vec<SimpleTag>,
}

impl Tag {
    pub fn single(name: impl Into<String>, value: impl Into<String>) -> Self {
        Tag {
            simple_tags: vec![SimpleTag::new(name, value)],
        }
    }
}
