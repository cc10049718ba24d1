// SPDX-License-Identifier: MPL-2.0
//! The consumer side of GetMedia and GetMediaForFragmentList: turns the service's sequence of
//! complete Matroska documents (one per fragment) into one continuous Matroska stream that a
//! demuxer can play, and reports what each fragment was.
//!
//! The service repeats the EBML header, Segment, Info and Tracks in every fragment. The
//! [`GetMediaMerger`] writes them once and drops the repeats while the tracks (codec, codec
//! private data, dimensions) and the timecode scale stay the same; when they change it starts
//! a new Matroska stream and says so with [`ConsumerEvent::StreamHeader`]. Service tags and
//! the producer's fragment tags do not go into the output: they come out as
//! [`FragmentInfo`] instead.
//!
//! Cluster timecodes are rewritten so frames carry the fragment's producer (or server)
//! timestamp as epoch time (see [`TimestampSource`]); the offsets of frames inside a
//! fragment are kept.
//!
//! A fragment with the same producer start timestamp and tracks as the one written before it
//! is a producer's re-send whose ACK was lost (the service keeps both copies): it is dropped
//! whole and reported as [`ConsumerEvent::DuplicateSkipped`].
//!
//! Resuming after a broken connection: [`GetMediaMerger::connection_lost`] remembers how far
//! into an unfinished fragment the output got, [`GetMediaMerger::resume_point`] tells where to
//! ask the service to start again, and frames of that fragment already written are dropped
//! when the service sends it again, so nothing is duplicated or skipped.

mod error;
mod fragment;
mod merger;
mod resume;
mod timestamps;

#[cfg(test)]
mod tests;

pub use error::ConsumerError;
pub use fragment::{FragmentInfo, ServiceErrorChunk};
pub use merger::{CompletionRule, ConsumerEvent, GetMediaMerger, MergerStats};
pub use resume::ResumePoint;
pub use timestamps::{TimestampSource, frame_time_ns, map_cluster_timecode};
