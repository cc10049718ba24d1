// SPDX-License-Identifier: MPL-2.0
//! kvs-local: the Kinesis Video Streams API on one machine.
//!
//! `Server::start(Config)` runs the whole service (control plane, PutMedia, GetMedia,
//! archived media) on one HTTP/1.1 listener; the `kvs-local` binary wraps it with a command
//! line (`cli`).

pub mod auth;
pub mod cli;
pub mod config;
pub mod control;
pub mod dataplane;
pub mod db;
pub mod ids;
pub mod media;
pub mod server;
pub mod state;

pub use config::Config;
pub use server::{BoxBody, RequestBody, Server, ServerHandle, StartError};
pub use state::{AppState, StreamRecord};
