// SPDX-License-Identifier: MPL-2.0
//! The media data plane: PutMedia ingest, GetMedia, ListFragments, GetMediaForFragmentList.
//!
//! `ingest` and `serve` hold the logic, free of HTTP; `put_media`, `get_media` and
//! `archive` parse requests and wire bodies to them.

mod archive;
pub mod channel_body;
mod dedup;
pub mod documents;
mod get_media;
pub mod ingest;
mod put_media;
pub mod serve;

pub use archive::{get_media_for_fragment_list, list_fragments};
pub use get_media::get_media;
pub use put_media::put_media;
