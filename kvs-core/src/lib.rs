// SPDX-License-Identifier: MPL-2.0
//! The Kinesis Video Streams wire format, shared by the GStreamer plugins and by
//! kvs-local so that producer, consumer and server agree on one definition.
//!
//! Knows nothing of GStreamer and nothing of the server.
