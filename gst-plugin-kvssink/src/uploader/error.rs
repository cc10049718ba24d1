// SPDX-License-Identifier: MPL-2.0
//! Errors the uploader reports. Each message names what failed and says what to do, because
//! it ends up verbatim in a GStreamer error message the user reads.

use std::time::Duration;

use kvs_core::putmedia::AckErrorId;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum UploaderError {
    #[error("invalid uploader settings: {0}")]
    InvalidConfig(String),

    #[error(
        "no AWS region is set: set the kvssink property aws-region (e.g. aws-region=us-east-1), \
         or the AWS_REGION environment variable, or region in ~/.aws/config"
    )]
    RegionMissing,

    #[error(
        "could not load AWS credentials ({0}): set access-key and secret-key, \
             credential-path, or the standard AWS variables/profile (AWS_ACCESS_KEY_ID, AWS_PROFILE)"
    )]
    CredentialsUnavailable(String),

    #[error(
        "credential file {path}: {reason}; expected a line \
             `CREDENTIALS <access key id> <secret key>` or \
             `CREDENTIALS <access key id> <expiration ISO-8601> <secret key> <session token>`"
    )]
    CredentialFile { path: String, reason: String },

    #[error(
        "stream {stream:?} does not exist and allow-create-stream is false: create the stream \
             (aws kinesisvideo create-stream --stream-name {stream}) or set allow-create-stream=true"
    )]
    StreamMissing { stream: String },

    #[error("stream {stream:?} is {status}, not ACTIVE: {advice}")]
    StreamNotActive {
        stream: String,
        status: String,
        advice: String,
    },

    #[error(
        "access denied by KVS on {operation} ({code}: {message}): grant this identity \
             kinesisvideo:{operation} on the stream (and kinesisvideo:PutMedia, GetDataEndpoint, \
             DescribeStream, CreateStream when creating)"
    )]
    AccessDenied {
        operation: String,
        code: String,
        message: String,
    },

    #[error(
        "KVS rejected the credentials on {operation} ({code}: {message}), also after \
             refreshing them once: check the access key, secret key and session token (expired?) \
             and the system clock"
    )]
    InvalidCredentials {
        operation: String,
        code: String,
        message: String,
    },

    #[error(
        "cannot reach the KVS endpoint {url} ({reason}): check the network, aws-region and \
             endpoint-uri (or CONTROL_PLANE_URI / AWS_ENDPOINT_URL)"
    )]
    EndpointUnreachable { url: String, reason: String },

    #[error("KVS {operation} failed ({code}: {message}): {advice}")]
    Service {
        operation: String,
        code: String,
        message: String,
        advice: String,
    },

    #[error("KVS PutMedia ERROR ACK {id} for fragment {timecode:?}: {advice}")]
    Ack {
        id: AckErrorId,
        timecode: Option<u64>,
        advice: String,
    },

    #[error("PutMedia to {url} answered HTTP {status} ({message}): {advice}")]
    PutMediaHttp {
        url: String,
        status: u16,
        message: String,
        advice: String,
    },

    #[error(
        "timed out after {waited:?} waiting for the last PERSISTED ACK ({pending} fragment(s) \
             not yet acknowledged): raise stop-stream-timeout or check the connection"
    )]
    FinishTimeout { waited: Duration, pending: usize },

    #[error("the uploader was stopped")]
    Stopped,
}
