// SPDX-License-Identifier: MPL-2.0
//! A light motion detector for raw video: each frame is reduced to a small grid
//! of mean luma, compared with a slowly updated background, and a frame whose
//! changed share reaches a minimum area counts as motion. A state machine turns
//! motion frames into one start and one end event, with a cooldown so that a
//! short pause does not end motion.
//!
//! Pure Rust, no GStreamer: kvsmeta hands it the first plane of each frame.

mod detector;
mod frame;

use thiserror::Error;

pub use detector::{
    DEFAULT_COOLDOWN, DEFAULT_MIN_AREA_PERCENT, DEFAULT_THRESHOLD, MotionConfig, MotionDetector,
    MotionEvent,
};
pub use frame::{FrameView, GridShape, MAX_GRID_HEIGHT, MAX_GRID_WIDTH, PixelLayout};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MotionError {
    #[error("frame is {width}x{height}, both must be at least 1")]
    EmptyFrame { width: usize, height: usize },
    #[error("row stride {stride} is smaller than a row of {row_bytes} bytes")]
    StrideTooSmall { stride: usize, row_bytes: usize },
    #[error("frame buffer has {len} bytes, {needed} are needed")]
    ShortBuffer { len: usize, needed: usize },
    #[error("frame size overflows the address space")]
    FrameTooLarge,
    #[error("pixel layout {0:?} has a byte offset outside its pixel")]
    InvalidLayout(PixelLayout),
}
