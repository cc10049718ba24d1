// SPDX-License-Identifier: MPL-2.0
//! Why a GetMedia byte stream could not be turned into playable output.

use thiserror::Error;

use crate::getmedia::GetMediaTagError;
use crate::mkv::{MkvError, MkvWriteError};

#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConsumerError {
    #[error("malformed Matroska from the service: {0}")]
    Mkv(#[from] MkvError),
    #[error("malformed service tag: {0}")]
    Tag(#[from] GetMediaTagError),
    #[error("fragment {fragment} has frames but no Tracks element before them")]
    MissingTracks { fragment: String },
    #[error("fragment {fragment} cannot be re-muxed: {source}")]
    Write {
        fragment: String,
        source: MkvWriteError,
    },
    #[error("fragment {fragment}: timecode scale 0 is invalid")]
    ZeroTimecodeScale { fragment: String },
}
