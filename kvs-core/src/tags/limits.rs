// SPDX-License-Identifier: MPL-2.0
//! Limits KVS and its producer SDK put on fragment metadata, and their checks.

use super::TagError;
use super::names::RESERVED_PREFIX;

/// Tag name length in bytes (the SDK's MKV_MAX_TAG_NAME_LEN).
pub const MAX_NAME_LEN: usize = 128;
/// Tag value length in bytes (MKV_MAX_TAG_VALUE_LEN).
pub const MAX_VALUE_LEN: usize = 256;
/// Custom name/value pairs in one event.
pub const MAX_EVENT_PAIRS: usize = 10;
/// Image prefix length of an image-generation event.
pub const MAX_IMAGE_PREFIX_LEN: usize = 256;
/// User metadata entries per fragment; KVS answers more with ACK ErrorId 4009.
pub const MAX_TAGS_PER_FRAGMENT: usize = 10;

/// A name a user may set: 1..=128 bytes, not starting with `AWS`.
pub fn check_user_name(name: &str) -> Result<(), TagError> {
    if name.is_empty() {
        return Err(TagError::EmptyName);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(TagError::NameTooLong {
            name: name.to_owned(),
            len: name.len(),
            max: MAX_NAME_LEN,
        });
    }
    if name.starts_with(RESERVED_PREFIX) {
        return Err(TagError::ReservedName {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// A value of at most 256 bytes (empty is allowed).
pub fn check_value(name: &str, value: &str) -> Result<(), TagError> {
    if value.len() > MAX_VALUE_LEN {
        return Err(TagError::ValueTooLong {
            name: name.to_owned(),
            len: value.len(),
            max: MAX_VALUE_LEN,
        });
    }
    Ok(())
}
