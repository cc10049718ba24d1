// SPDX-License-Identifier: MPL-2.0
//! Errors of the MKV reader and writer.

use thiserror::Error;

use crate::ebml::EbmlError;

/// Why a stream could not be parsed. Offsets count bytes from the start of all pushed input.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum MkvError {
    #[error("malformed EBML at byte {offset}: {source}")]
    Ebml { offset: u64, source: EbmlError },
    #[error("input ended inside an element (at byte {offset})")]
    Truncated { offset: u64 },
    #[error("element {id:#X} at byte {offset} has size {size}, above the limit of {limit}")]
    ElementTooLarge {
        id: u32,
        offset: u64,
        size: u64,
        limit: u64,
    },
    #[error(
        "element {id:#X} at byte {offset} has an unknown size, allowed only for Segment and Cluster"
    )]
    UnknownSizeNotAllowed { id: u32, offset: u64 },
    #[error("element {id:#X} at byte {offset} extends past the end of its parent")]
    OverflowsParent { id: u32, offset: u64 },
    #[error("element {id:#X} at byte {offset}: {reason}")]
    InvalidElement {
        id: u32,
        offset: u64,
        reason: &'static str,
    },
    #[error("more than {limit} tracks")]
    TooManyTracks { limit: usize },
    #[error("more than {limit} SimpleTags in one Tags element")]
    TooManyTags { limit: usize },
    #[error("elements nested deeper than {limit} levels")]
    NestingTooDeep { limit: usize },
    #[error("block at byte {offset} precedes its cluster's Timecode")]
    BlockBeforeClusterTimecode { offset: u64 },
    #[error("cluster at byte {offset} ended without a Timecode")]
    MissingClusterTimecode { offset: u64 },
    #[error("data pushed after finish()")]
    PushAfterFinish,
}

/// Why the writer refused a value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MkvWriteError {
    #[error(
        "frame timecode {timecode} is not within -32768..=32767 units of its cluster's {cluster_timecode}"
    )]
    RelativeTimecodeOverflow {
        cluster_timecode: u64,
        timecode: u64,
    },
    #[error("track number {0} outside 1..=126")]
    InvalidTrackNumber(u64),
    #[error("payload of {0} bytes is too large for a SimpleBlock")]
    PayloadTooLarge(usize),
    #[error("a frame was added before any cluster was started")]
    NoCluster,
    #[error("cannot encode element: {0}")]
    Ebml(#[from] EbmlError),
}
