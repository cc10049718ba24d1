// SPDX-License-Identifier: MPL-2.0
//! Codec private data (avcC, hvcC, AudioSpecificConfig, WAVEFORMATEX) and the NAL
//! handling needed to build it, so every crate derives CodecPrivate and track
//! parameters the same way.
//!
//! Everything here parses bytes a camera, a network peer or a file controls: parsers
//! return [`CodecError`] and never panic.

pub mod aac;
pub mod bits;
mod error;
pub mod g711;
pub mod h264;
pub mod h265;
pub mod inband;
pub mod nal;
pub mod track;

pub use error::CodecError;
pub use inband::VideoCodec;
pub use nal::NalFraming;
pub use track::{CodecConfig, CodecKind};
