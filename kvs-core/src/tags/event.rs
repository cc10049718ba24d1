// SPDX-License-Identifier: MPL-2.0
//! KVS event metadata: image generation and notification requests for a fragment.

use super::TagError;
use super::limits::{MAX_EVENT_PAIRS, MAX_IMAGE_PREFIX_LEN, check_user_name, check_value};
use super::names::{IMAGE_GENERATION, IMAGE_PREFIX, NOTIFICATION};
use crate::mkv::{SimpleTag, Tag};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// Asks KVS to generate images from the fragment, optionally under an S3 key prefix.
    ImageGeneration { image_prefix: Option<String> },
    /// Asks KVS to publish a notification for the fragment.
    Notification,
}

/// A validated event. Fields are private so a value always satisfies the limits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventMetadata {
    kind: EventKind,
    pairs: Vec<(String, String)>,
}

impl EventMetadata {
    pub fn new(kind: EventKind, pairs: Vec<(String, String)>) -> Result<Self, TagError> {
        if let EventKind::ImageGeneration {
            image_prefix: Some(prefix),
        } = &kind
            && (prefix.is_empty() || prefix.len() > MAX_IMAGE_PREFIX_LEN)
        {
            return Err(TagError::InvalidImagePrefix {
                len: prefix.len(),
                max: MAX_IMAGE_PREFIX_LEN,
            });
        }
        if pairs.len() > MAX_EVENT_PAIRS {
            return Err(TagError::TooManyPairs {
                count: pairs.len(),
                max: MAX_EVENT_PAIRS,
            });
        }
        for (name, value) in &pairs {
            check_user_name(name)?;
            check_value(name, value)?;
        }
        Ok(EventMetadata { kind, pairs })
    }

    pub fn notification(pairs: Vec<(String, String)>) -> Result<Self, TagError> {
        Self::new(EventKind::Notification, pairs)
    }

    pub fn image_generation(
        image_prefix: Option<String>,
        pairs: Vec<(String, String)>,
    ) -> Result<Self, TagError> {
        Self::new(EventKind::ImageGeneration { image_prefix }, pairs)
    }

    pub fn kind(&self) -> &EventKind {
        &self.kind
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// One Tag: the event's SimpleTag, then the image prefix if any, then the pairs
    /// in order (the layout of AWS's producer).
    pub fn to_tag(&self) -> Tag {
        let mut simple_tags = Vec::with_capacity(self.pairs.len() + 2);
        match &self.kind {
            EventKind::Notification => simple_tags.push(SimpleTag::new(NOTIFICATION, "")),
            EventKind::ImageGeneration { image_prefix } => {
                simple_tags.push(SimpleTag::new(IMAGE_GENERATION, ""));
                if let Some(prefix) = image_prefix {
                    simple_tags.push(SimpleTag::new(IMAGE_PREFIX, prefix.clone()));
                }
            }
        }
        simple_tags.extend(
            self.pairs
                .iter()
                .map(|(n, v)| SimpleTag::new(n.clone(), v.clone())),
        );
        Tag { simple_tags }
    }
}
