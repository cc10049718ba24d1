// SPDX-License-Identifier: MPL-2.0
//! KVS-flavoured Matroska: the exact subset AWS's producer writes and the service serves.

mod error;
mod events;
pub mod ids;
mod parse;
pub mod reader;
mod types;
pub mod writer;

pub use error::{MkvError, MkvWriteError};
pub use events::{Block, EbmlHeader, Lacing, MkvEvent, MkvEventAt};
pub use reader::{MkvReader, ReaderLimits};
pub use types::*;
pub use writer::{
    MkvWriter, SimpleBlockHeader, relative_timecode, write_cluster_start, write_info,
    write_stream_header, write_tags, write_tracks,
};
