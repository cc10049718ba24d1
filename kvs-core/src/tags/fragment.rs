// SPDX-License-Identifier: MPL-2.0
//! User fragment tags, persistent (sent with every fragment) or one-shot.

use super::TagError;
use super::limits::{check_user_name, check_value};
use super::names::END_OF_FRAGMENT;
use crate::mkv::Tag;

/// A validated user tag. Fields are private so a value always satisfies the limits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FragmentTag {
    name: String,
    value: String,
    persistent: bool,
}

impl FragmentTag {
    pub fn new(
        name: impl Into<String>,
        value: impl Into<String>,
        persistent: bool,
    ) -> Result<Self, TagError> {
        let name = name.into();
        let value = value.into();
        check_user_name(&name)?;
        check_value(&name, &value)?;
        Ok(FragmentTag {
            name,
            value,
            persistent,
        })
    }

    pub fn persistent(name: impl Into<String>, value: impl Into<String>) -> Result<Self, TagError> {
        Self::new(name, value, true)
    }

    pub fn one_shot(name: impl Into<String>, value: impl Into<String>) -> Result<Self, TagError> {
        Self::new(name, value, false)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn value(&self) -> &str {
        &self.value
    }

    pub fn is_persistent(&self) -> bool {
        self.persistent
    }

    /// One Tag holding one SimpleTag, as KVS's producer writes each entry.
    pub fn to_tag(&self) -> Tag {
        Tag::single(self.name.clone(), self.value.clone())
    }
}

/// The tag that ends a fragment explicitly (and a PutMedia body).
pub fn end_of_fragment_tag() -> Tag {
    Tag::single(END_OF_FRAGMENT, "")
}
