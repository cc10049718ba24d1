// SPDX-License-Identifier: MPL-2.0
//! The PutMedia protocol: request headers, the ACK stream the service answers with, and the
//! ErrorId table that tells a producer what to do after an ERROR ACK.
//!
//! Also holds the API path constants, so that the client and kvs-local route the same strings.

pub mod ack;
pub mod error_id;
pub mod headers;

pub use ack::{Ack, AckError, AckEventType, AckParser};
pub use error_id::{AckErrorId, FragmentFate, ProducerAction};
pub use headers::{HeaderError, ProducerStartTimestamp, PutMediaHeaders, StreamId};

/// Signing name of every KVS API (control plane, media, archived media).
pub const SIGNING_SERVICE: &str = "kinesisvideo";

/// Media data plane paths.
pub const PATH_PUT_MEDIA: &str = "/putMedia";
pub const PATH_GET_MEDIA: &str = "/getMedia";

/// Control-plane paths (all `POST`, JSON body).
pub const PATH_DESCRIBE_STREAM: &str = "/describeStream";
pub const PATH_CREATE_STREAM: &str = "/createStream";
pub const PATH_DELETE_STREAM: &str = "/deleteStream";
pub const PATH_LIST_STREAMS: &str = "/listStreams";
pub const PATH_UPDATE_STREAM: &str = "/updateStream";
pub const PATH_UPDATE_DATA_RETENTION: &str = "/updateDataRetention";
pub const PATH_GET_DATA_ENDPOINT: &str = "/getDataEndpoint";
pub const PATH_TAG_STREAM: &str = "/tagStream";
pub const PATH_UNTAG_STREAM: &str = "/untagStream";
pub const PATH_LIST_TAGS_FOR_STREAM: &str = "/listTagsForStream";
/// The three resource-tagging paths start upper-case on the real service.
pub const PATH_TAG_RESOURCE: &str = "/TagResource";
pub const PATH_UNTAG_RESOURCE: &str = "/UntagResource";
pub const PATH_LIST_TAGS_FOR_RESOURCE: &str = "/ListTagsForResource";

/// Archived media paths.
pub const PATH_LIST_FRAGMENTS: &str = "/listFragments";
pub const PATH_GET_MEDIA_FOR_FRAGMENT_LIST: &str = "/getMediaForFragmentList";
pub const PATH_GET_CLIP: &str = "/getClip";
pub const PATH_GET_HLS_STREAMING_SESSION_URL: &str = "/getHLSStreamingSessionURL";
pub const PATH_GET_DASH_STREAMING_SESSION_URL: &str = "/getDASHStreamingSessionURL";
pub const PATH_GET_IMAGES: &str = "/getImages";

/// How the Cluster timecodes of a PutMedia body are to be read
/// (`x-amzn-fragment-timecode-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum TimecodeType {
    /// Cluster timecodes are epoch times (in timecode-scale units).
    #[default]
    Absolute,
    /// Cluster timecodes are offsets from `x-amzn-producer-start-timestamp`.
    Relative,
}

impl TimecodeType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Absolute => "ABSOLUTE",
            Self::Relative => "RELATIVE",
        }
    }

    /// Parses the header value. The service spells it upper-case; other casings are
    /// accepted because nothing is gained by rejecting them.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("ABSOLUTE") {
            Some(Self::Absolute)
        } else if value.eq_ignore_ascii_case("RELATIVE") {
            Some(Self::Relative)
        } else {
            None
        }
    }
}

impl std::fmt::Display for TimecodeType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
