// SPDX-License-Identifier: MPL-2.0
//! What the streaming reader reports.

use bytes::Bytes;

use super::types::{SegmentInfo, Tag, TrackInfo};

/// The EBML header of one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EbmlHeader {
    pub version: u64,
    pub read_version: u64,
    pub max_id_length: u64,
    pub max_size_length: u64,
    pub doc_type: String,
    pub doc_type_version: u64,
    pub doc_type_read_version: u64,
}

impl Default for EbmlHeader {
    /// The values EBML specifies when an element is absent.
    fn default() -> Self {
        EbmlHeader {
            version: 1,
            read_version: 1,
            max_id_length: 4,
            max_size_length: 8,
            doc_type: "matroska".to_owned(),
            doc_type_version: 1,
            doc_type_read_version: 1,
        }
    }
}

/// Lacing declared in a block's flags. KVS never laces; the payload is handed over as-is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lacing {
    None,
    Xiph,
    FixedSize,
    Ebml,
}

/// One SimpleBlock, or the Block of a BlockGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub track_number: u64,
    /// Timecode relative to the cluster's, in TimecodeScale units.
    pub relative_timecode: i16,
    /// SimpleBlock key flag; for a BlockGroup, true when it has no ReferenceBlock.
    pub keyframe: bool,
    pub invisible: bool,
    pub discardable: bool,
    pub lacing: Lacing,
    /// The frame bytes: a slice of the pushed input (no copy) when the block arrived in one
    /// chunk.
    pub payload: Bytes,
}

/// One step of the document structure.
#[derive(Debug, Clone, PartialEq)]
pub enum MkvEvent {
    EbmlHeader(EbmlHeader),
    /// `size` is `None` for an unknown-size Segment (what KVS sends).
    SegmentStart {
        size: Option<u64>,
    },
    Info(SegmentInfo),
    Tracks(Vec<TrackInfo>),
    /// Reported once the cluster's Timecode has been read.
    ClusterStart {
        timecode: u64,
        size: Option<u64>,
    },
    Block(Block),
    /// One Tags element (Targets are accepted and ignored).
    Tags(Vec<Tag>),
    ClusterEnd,
    SegmentEnd,
    /// An element read past without interpretation (SeekHead, Void, Cues, Position, …).
    Skipped {
        id: u32,
        size: u64,
    },
}

/// An event and the byte offset (in the whole input) of the element it comes from; for
/// `ClusterEnd`/`SegmentEnd` the offset where the element ended.
#[derive(Debug, Clone, PartialEq)]
pub struct MkvEventAt {
    pub offset: u64,
    pub event: MkvEvent,
}
