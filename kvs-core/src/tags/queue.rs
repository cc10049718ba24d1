// SPDX-License-Identifier: MPL-2.0
//! Which metadata goes before which fragment.
//!
//! Persistent tags go before every fragment, one-shot tags and events before the
//! next one only. KVS rejects fragments carrying more than
//! [`MAX_TAGS_PER_FRAGMENT`] metadata entries (ACK 4009), so entries beyond the
//! limit wait for the following fragment instead of being dropped or sent to fail.
//! Each Tag element counts as one entry (a fragment tag, or an event with its pairs),
//! the unit AWS's producer queues them in.

use std::collections::VecDeque;

use super::limits::MAX_TAGS_PER_FRAGMENT;
use super::{EventMetadata, FragmentTag, MetadataEvent, TagError};
use crate::mkv::Tag;

/// Pending one-shot entries beyond which new ones are refused rather than kept
/// growing without bound when fragments are rare or the limit is saturated.
pub const DEFAULT_MAX_PENDING: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pending {
    Tag(FragmentTag),
    Event(EventMetadata),
}

impl Pending {
    fn to_tag(&self) -> Tag {
        match self {
            Pending::Tag(t) => t.to_tag(),
            Pending::Event(e) => e.to_tag(),
        }
    }
}

/// What to write before the next fragment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FragmentTags {
    /// Persistent tags first (in the order they were first added), then one-shot
    /// tags and events in arrival order.
    pub tags: Vec<Tag>,
    /// One-shot entries held back for a later fragment by the per-fragment limit.
    pub deferred: usize,
}

#[derive(Debug, Clone)]
pub struct FragmentMetadataQueue {
    persistent: Vec<FragmentTag>,
    pending: VecDeque<Pending>,
    per_fragment_limit: usize,
    max_pending: usize,
}

impl Default for FragmentMetadataQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl FragmentMetadataQueue {
    pub fn new() -> Self {
        Self::with_limits(MAX_TAGS_PER_FRAGMENT, DEFAULT_MAX_PENDING)
    }

    /// `per_fragment_limit` entries per fragment, at most `max_pending` one-shot
    /// entries waiting.
    pub fn with_limits(per_fragment_limit: usize, max_pending: usize) -> Self {
        FragmentMetadataQueue {
            persistent: Vec::new(),
            pending: VecDeque::new(),
            per_fragment_limit,
            max_pending,
        }
    }

    /// Adds a tag. A persistent tag replaces one of the same name in place; a
    /// persistent tag with an empty value removes it (as AWS's producer does).
    pub fn add_tag(&mut self, tag: FragmentTag) -> Result<(), TagError> {
        if !tag.is_persistent() {
            return self.push_pending(Pending::Tag(tag));
        }
        let existing = self.persistent.iter().position(|t| t.name() == tag.name());
        match (existing, tag.value().is_empty()) {
            (Some(i), true) => {
                self.persistent.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => self.persistent[i] = tag,
            (None, false) => {
                if self.persistent.len() >= self.per_fragment_limit {
                    return Err(TagError::TooManyPersistent {
                        count: self.persistent.len() + 1,
                        max: self.per_fragment_limit,
                    });
                }
                self.persistent.push(tag);
            }
        }
        Ok(())
    }

    pub fn add_event(&mut self, event: EventMetadata) -> Result<(), TagError> {
        self.push_pending(Pending::Event(event))
    }

    /// Removes a persistent tag; returns whether it existed.
    pub fn remove_persistent(&mut self, name: &str) -> bool {
        let before = self.persistent.len();
        self.persistent.retain(|t| t.name() != name);
        self.persistent.len() != before
    }

    /// Applies a decoded custom event.
    pub fn apply(&mut self, event: MetadataEvent) -> Result<(), TagError> {
        match event {
            MetadataEvent::AddTag(tag) => self.add_tag(tag),
            MetadataEvent::RemoveTag(name) => {
                self.remove_persistent(&name);
                Ok(())
            }
            MetadataEvent::AddEvent(event) => self.add_event(event),
        }
    }

    fn push_pending(&mut self, entry: Pending) -> Result<(), TagError> {
        if self.pending.len() >= self.max_pending {
            return Err(TagError::QueueFull {
                max: self.max_pending,
            });
        }
        self.pending.push_back(entry);
        Ok(())
    }

    pub fn persistent_tags(&self) -> &[FragmentTag] {
        &self.persistent
    }

    /// One-shot tags and events not yet taken.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// The tags for the fragment about to start: all persistent tags, then as many
    /// pending entries as the per-fragment limit leaves room for.
    pub fn take_for_next_fragment(&mut self) -> FragmentTags {
        let room = self
            .per_fragment_limit
            .saturating_sub(self.persistent.len());
        let taken = room.min(self.pending.len());
        let mut tags = Vec::with_capacity(self.persistent.len() + taken);
        tags.extend(self.persistent.iter().map(FragmentTag::to_tag));
        tags.extend(self.pending.drain(..taken).map(|p| p.to_tag()));
        FragmentTags {
            tags,
            deferred: self.pending.len(),
        }
    }
}
