// SPDX-License-Identifier: MPL-2.0
//! Where to ask the service to start again after a connection ended.

/// The start selector that continues a session without gaps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResumePoint {
    /// Nothing has been received yet: use the caller's original start selector.
    Original,
    /// `CONTINUATION_TOKEN`: the service continues after the fragment this token ends.
    ContinuationToken(String),
    /// `FRAGMENT_NUMBER`: fragments were complete but carried no token (GetMediaForFragmentList).
    AfterFragment(String),
    /// No fragment finished yet but one was in progress: `SERVER_TIMESTAMP` with this value
    /// selects the chunk containing it. Frames of it already written are dropped on replay.
    ServerTimestamp { fragment_number: String, ms: u64 },
}
