// SPDX-License-Identifier: MPL-2.0
//! Why a kvssrc session stopped, worded for the person who has to fix it.

use thiserror::Error;

use kvs_core::consumer::ConsumerError;

#[derive(Debug, Clone, Error)]
pub enum SourceError {
    #[error("invalid settings: {0}")]
    Config(String),
    #[error(
        "no AWS region is set: set the aws-region property, put region=... in the kvs:// URI, \
         or set the AWS_REGION environment variable (or a region in ~/.aws/config)"
    )]
    RegionMissing,
    #[error(
        "stream {stream} was not found at {endpoint}: check stream-name/stream-arn, aws-region \
         and endpoint-uri ({message})"
    )]
    StreamNotFound {
        stream: String,
        endpoint: String,
        message: String,
    },
    #[error(
        "access to stream {stream} was denied ({code}: {message}): check the credentials \
         (access-key/secret-key/session-token or the default AWS chain) and that they allow \
         kinesisvideo:{operation}"
    )]
    AccessDenied {
        stream: String,
        operation: String,
        code: String,
        message: String,
    },
    #[error(
        "stream {stream} keeps no data (DataRetentionInHours = 0): archived playback needs \
         retention; raise it with UpdateDataRetention or play live without end-timestamp"
    )]
    NoRetention { stream: String },
    #[error("end-timestamp ({end_ms} ms) is before start-timestamp ({start_ms} ms): swap them")]
    EndBeforeStart { start_ms: u64, end_ms: u64 },
    #[error("{operation} was refused ({code}): {message}")]
    InvalidRequest {
        operation: String,
        code: String,
        message: String,
    },
    #[error(
        "{operation} failed {attempts} times in a row, last at {url}: {reason}; check the \
         network and endpoint-uri, or raise retry-attempts"
    )]
    Unreachable {
        operation: String,
        url: String,
        reason: String,
        attempts: u32,
    },
    #[error("the service sent data kvssrc cannot read: {0}")]
    Malformed(#[from] ConsumerError),
    #[error(
        "the service stopped the session with error {id:?} ({code:?}); if it is 4000 the \
         requested fragment no longer exists: pick a later start"
    )]
    ServiceErrorChunk {
        code: Option<String>,
        id: Option<u32>,
    },
}

/// What kind of GStreamer error a failure is, so the element picks the right domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    Settings,
    NotFound,
    NotAuthorized,
    Read,
    Format,
}

impl SourceError {
    pub fn class(&self) -> ErrorClass {
        match self {
            SourceError::Config(_)
            | SourceError::RegionMissing
            | SourceError::EndBeforeStart { .. }
            | SourceError::InvalidRequest { .. }
            | SourceError::NoRetention { .. } => ErrorClass::Settings,
            SourceError::StreamNotFound { .. } => ErrorClass::NotFound,
            SourceError::AccessDenied { .. } => ErrorClass::NotAuthorized,
            SourceError::Unreachable { .. } | SourceError::ServiceErrorChunk { .. } => {
                ErrorClass::Read
            }
            SourceError::Malformed(_) => ErrorClass::Format,
        }
    }
}
