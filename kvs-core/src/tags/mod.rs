// SPDX-License-Identifier: MPL-2.0
//! Fragment metadata (MKV tags KVS attaches to fragments), event metadata (image
//! generation, notifications), the limits KVS enforces on them, the queue that
//! decides which tags go before which fragment, and the custom GStreamer event
//! payload that carries them (defined without GStreamer types).

pub mod custom_event;
mod error;
pub mod event;
pub mod fragment;
pub mod limits;
pub mod names;
pub mod queue;

pub use custom_event::{CustomEventError, FieldValue, MetadataEvent};
pub use error::TagError;
pub use event::{EventKind, EventMetadata};
pub use fragment::{FragmentTag, end_of_fragment_tag};
pub use queue::{FragmentMetadataQueue, FragmentTags};
