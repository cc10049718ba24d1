// SPDX-License-Identifier: MPL-2.0
//! Producer-side decisions that do not depend on GStreamer: how buffer timestamps become
//! KVS timecodes, where fragments start, and which track's frame goes next.
//!
//! The kvssink element feeds frames through these types in decode order; keeping them
//! here lets them be tested without a pipeline and reused by any other producer.

mod fragment;
mod interleave;
mod timestamps;

pub use fragment::{
    FragmentConfig, FragmentPlanner, FragmentStart, FrameIn, Placement, ProducerWarning, SkipReason,
};
pub use interleave::{Pick, QuietTracker, TrackHead, pick_next};
pub use timestamps::{
    FrameTimes, TimestampConfig, TimestampError, TimestampMapper, TimestampSource,
};
