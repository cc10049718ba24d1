// SPDX-License-Identifier: MPL-2.0
//! Everything kvssrc does off the streaming thread, without GStreamer types: the settings a
//! session runs with, the AWS calls, and the session task that reads GetMedia (or the
//! archive), merges fragments and resumes after failures.

mod aws;
mod backoff;
pub mod config;
pub mod error;
mod runtime;
pub mod session;
pub mod stream_change;

pub use config::{CredentialsConfig, ENDPOINT_ENV_VARS, SessionConfig, StartPosition, StreamId};
pub use error::SourceError;
pub use session::{Item, Session, SessionStatus};
pub use stream_change::StreamChange;
