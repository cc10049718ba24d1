// SPDX-License-Identifier: MPL-2.0
//! What the consumer reports about each fragment.

use crate::mkv::SimpleTag;

/// One fragment the service served, reported once its data has been written out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FragmentInfo {
    /// The service's decimal fragment number (never parsed into an integer).
    pub fragment_number: Option<String>,
    pub producer_timestamp_ms: Option<u64>,
    pub server_timestamp_ms: Option<u64>,
    pub millis_behind_now: Option<u64>,
    /// Where a GetMedia started with this token resumes: after this fragment.
    pub continuation_token: Option<String>,
    /// The producer's fragment metadata (everything that is not a service tag), in order,
    /// each (name, value) pair once.
    pub tags: Vec<SimpleTag>,
    /// Frames written for this fragment, including frames written by an earlier connection.
    pub frames: u64,
    /// Output time of the fragment's first frame, in nanoseconds.
    pub start_ns: Option<u64>,
    /// Output time just past the fragment's last frame start, in nanoseconds.
    pub end_ns: Option<u64>,
}

/// An error chunk: the service stopped the session and said why.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceErrorChunk {
    pub fragment_number: Option<String>,
    pub error_code: Option<String>,
    pub error_id: Option<u32>,
}
