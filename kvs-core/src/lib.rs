// SPDX-License-Identifier: MPL-2.0
//! The Kinesis Video Streams wire format, shared by the GStreamer plugins and by
//! kvs-local so that producer, consumer and server agree on one definition.
//!
//! Knows nothing of GStreamer and nothing of the server.

pub mod api;
pub mod codec;
pub mod consumer;
pub mod ebml;
pub mod getmedia;
pub mod mkv;
pub mod motion;
pub mod producer;
pub mod putmedia;
pub mod sigv4;
pub mod tags;
