// SPDX-License-Identifier: MPL-2.0
//! The ErrorId values of PutMedia ERROR ACKs, with what a producer does about each.
//!
//! Fates and actions follow AWS's producer (PIC `StreamEvent.c`), except that "pipeline error"
//! outcomes are called [`ProducerAction::Fatal`] and carry a sentence telling the user what to fix.

/// What happens to the fragment an ERROR ACK names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FragmentFate {
    /// Keep the fragment and send it again on the next connection.
    Retry,
    /// Never resend the fragment: the service will refuse it again.
    Drop,
}

/// What the producer does with its connection after an ERROR ACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProducerAction {
    /// Open a new PutMedia connection (the endpoint may be reused).
    Reconnect,
    /// Describe the stream again (it may have moved or failed over), then reconnect.
    DescribeAndReconnect,
    /// Retrying cannot help: stop and report the advice to the user.
    Fatal,
}

/// One row of the ErrorId table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorIdInfo {
    pub id: u32,
    /// The producer SDK's name (PIC `STATUS_ACK_ERR_<name>`).
    pub name: &'static str,
    /// The symbolic `ErrorCode` the service puts next to the id in the ACK.
    pub service_code: &'static str,
    pub meaning: &'static str,
    pub fragment: FragmentFate,
    pub action: ProducerAction,
    /// What the user should do; shown with fatal errors and logged with the others.
    pub advice: &'static str,
}

const fn row(
    id: u32,
    name: &'static str,
    service_code: &'static str,
    meaning: &'static str,
    fragment: FragmentFate,
    action: ProducerAction,
    advice: &'static str,
) -> ErrorIdInfo {
    ErrorIdInfo {
        id,
        name,
        service_code,
        meaning,
        fragment,
        action,
        advice,
    }
}

use FragmentFate::{Drop, Retry};
use ProducerAction::{DescribeAndReconnect, Fatal, Reconnect};

const KMS_ADVICE: &str = "Check the stream's KMS key: it must exist, be enabled, and allow this identity kms:GenerateDataKey and kms:Decrypt.";

/// Every ErrorId documented for PutMedia ACKs, sorted by id.
#[rustfmt::skip]
pub const ERROR_IDS: &[ErrorIdInfo] = &[
    row(4000, "STREAM_READ_ERROR", "STREAM_READ_ERROR", "the service failed reading the request body", Retry, Reconnect,
        "Usually a network problem; the fragment is sent again on a new connection."),
    row(4001, "FRAGMENT_SIZE_REACHED", "MAX_FRAGMENT_SIZE_REACHED", "a fragment exceeded the maximum size (50 MB)", Drop, Reconnect,
        "Lower the bitrate or send key frames more often so that fragments stay under 50 MB."),
    row(4002, "FRAGMENT_DURATION_REACHED", "MAX_FRAGMENT_DURATION_REACHED", "a fragment exceeded the maximum duration", Drop, Reconnect,
        "Send key frames more often (shorter GOP) so that fragments stay under the duration limit."),
    row(4003, "CONNECTION_DURATION_REACHED", "MAX_CONNECTION_DURATION_REACHED", "the connection was open longer than the service allows", Retry, Reconnect,
        "Nothing to do: the producer reconnects and resends the fragment."),
    row(4004, "FRAGMENT_TIMECODE_NOT_MONOTONIC", "FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS", "a fragment's timecode was not greater than the previous one", Drop, Reconnect,
        "Make buffer timestamps increase; check the source's clock and any timestamp resets upstream."),
    row(4005, "MULTI_TRACK_MKV", "MORE_THAN_ONE_TRACK_FOUND", "the MKV had more tracks than the service accepted (deprecated)", Drop, Fatal,
        "Send fewer tracks in one stream."),
    row(4006, "INVALID_MKV_DATA", "INVALID_MKV_DATA", "the body could not be parsed as MKV", Drop, Reconnect,
        "The producer sent malformed Matroska; report it as a bug with a capture of the stream."),
    row(4007, "INVALID_PRODUCER_TIMESTAMP", "INVALID_PRODUCER_TIMESTAMP", "a producer timestamp was invalid", Drop, Fatal,
        "Check the system clock and the producer timestamps: they must be valid epoch times and not in the future."),
    row(4008, "STREAM_NOT_ACTIVE", "STREAM_NOT_ACTIVE", "the stream does not exist or is not ACTIVE", Drop, Fatal,
        "Check that the stream exists and is ACTIVE in this region (or allow the producer to create it)."),
    row(4009, "FRAGMENT_METADATA_LIMIT_REACHED", "FRAGMENT_METADATA_LIMIT_REACHED", "fragment metadata exceeded a name, value or count limit", Drop, Reconnect,
        "Send fewer or shorter fragment metadata tags (at most 10 per fragment)."),
    row(4010, "TRACK_NUMBER_MISMATCH", "TRACK_NUMBER_MISMATCH", "a block's track number is not declared in Tracks", Drop, Fatal,
        "The producer wrote frames for an undeclared track; report it as a bug."),
    row(4011, "FRAMES_MISSING_FOR_TRACK", "FRAMES_MISSING_FOR_TRACK", "a declared track had no frame in the fragment", Drop, Reconnect,
        "Make every declared track (e.g. audio) deliver data in every fragment, or remove the track."),
    row(4012, "MORE_THAN_ALLOWED_TRACKS_FOUND", "MORE_THAN_ALLOWED_TRACKS_FOUND", "the MKV declared more than 3 tracks", Drop, Fatal,
        "Send at most 3 tracks in one stream."),
    row(4500, "KMS_KEY_ACCESS_DENIED", "KMS_KEY_ACCESS_DENIED", "access to the stream's KMS key was denied", Drop, Fatal, KMS_ADVICE),
    row(4501, "KMS_KEY_DISABLED", "KMS_KEY_DISABLED", "the stream's KMS key is disabled", Drop, Fatal, KMS_ADVICE),
    row(4502, "KMS_KEY_VALIDATION_ERROR", "KMS_KEY_VALIDATION_ERROR", "the stream's KMS key failed validation", Drop, Fatal, KMS_ADVICE),
    row(4503, "KMS_KEY_UNAVAILABLE", "KMS_KEY_UNAVAILABLE", "the stream's KMS key is unavailable", Drop, Fatal, KMS_ADVICE),
    row(4504, "KMS_KEY_INVALID_USAGE", "KMS_KEY_INVALID_USAGE", "the stream's KMS key cannot be used this way", Drop, Fatal, KMS_ADVICE),
    row(4505, "KMS_KEY_INVALID_STATE", "KMS_KEY_INVALID_STATE", "the stream's KMS key is in an invalid state", Drop, Fatal, KMS_ADVICE),
    row(4506, "KMS_KEY_NOT_FOUND", "KMS_KEY_NOT_FOUND", "the stream's KMS key was not found", Drop, Fatal, KMS_ADVICE),
    row(4507, "STREAM_DELETED", "STREAM_DELETED", "the stream was deleted", Drop, Fatal,
        "The stream was deleted; recreate it (or allow the producer to create it) and restart."),
    row(5000, "ACK_INTERNAL_ERROR", "INTERNAL_ERROR", "internal service error", Retry, DescribeAndReconnect,
        "Nothing to do: the producer describes the stream again and resends the fragment."),
    row(5001, "FRAGMENT_ARCHIVAL_ERROR", "ARCHIVAL_ERROR", "the service failed to persist the fragment", Retry, Reconnect,
        "Nothing to do: the producer resends the fragment."),
];

/// An ErrorId as found in an ACK; known or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AckErrorId(pub u32);

impl AckErrorId {
    /// The table row, if the id is documented.
    pub fn info(self) -> Option<&'static ErrorIdInfo> {
        ERROR_IDS
            .binary_search_by_key(&self.0, |row| row.id)
            .ok()
            .and_then(|i| ERROR_IDS.get(i))
    }

    /// The producer SDK's name, or `UNKNOWN_ACK_ERROR`.
    pub fn name(self) -> &'static str {
        self.info().map_or("UNKNOWN_ACK_ERROR", |row| row.name)
    }

    /// Unknown ids are treated as transient: the fragment is kept and resent, as AWS's
    /// producer does, because dropping data on an id we do not understand would be worse.
    pub fn fragment_fate(self) -> FragmentFate {
        self.info().map_or(FragmentFate::Retry, |row| row.fragment)
    }

    pub fn action(self) -> ProducerAction {
        self.info()
            .map_or(ProducerAction::Reconnect, |row| row.action)
    }

    /// True when reconnecting cannot help.
    pub fn is_fatal(self) -> bool {
        self.action() == ProducerAction::Fatal
    }

    /// What to tell the user.
    pub fn advice(self) -> &'static str {
        self.info().map_or(
            "Unknown error id; the producer reconnects and resends the fragment.",
            |row| row.advice,
        )
    }

    /// The ErrorId whose symbolic service code is `code` (for kvs-local and for ACKs that
    /// carry only the code).
    pub fn from_service_code(code: &str) -> Option<Self> {
        ERROR_IDS
            .iter()
            .find(|row| row.service_code == code)
            .map(|row| Self(row.id))
    }
}

impl std::fmt::Display for AckErrorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.0, self.name())
    }
}
