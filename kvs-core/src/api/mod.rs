// SPDX-License-Identifier: MPL-2.0
//! The KVS JSON API as serde types: the control plane (streams, tags, image and notification
//! configuration), the JSON request shapes of the media and archived-media planes, the error
//! shape every endpoint answers with, and the model's field constraints.
//!
//! Timestamps are `f64` epoch seconds, as on the wire; `media::{epoch_seconds_from_millis,
//! millis_from_epoch_seconds}` convert to the milliseconds used everywhere else.

pub mod arn;
pub mod config;
pub mod error;
pub mod media;
pub mod stream;
pub mod tags;
pub mod validate;

pub use arn::StreamArn;
pub use config::*;
pub use error::{ApiError, ERROR_TYPE_HEADER, ErrorKind, REQUEST_ID_HEADER, RemoteError};
pub use media::*;
pub use stream::*;
pub use tags::*;

/// Environment variables naming the control-plane endpoint, most specific first. One list
/// for producer and consumer; `CONTROL_PLANE_URI` is what AWS's producer reads.
pub const ENDPOINT_ENV_VARS: &[&str] = &[
    "CONTROL_PLANE_URI",
    "AWS_ENDPOINT_URL_KINESIS_VIDEO",
    "AWS_ENDPOINT_URL",
];
