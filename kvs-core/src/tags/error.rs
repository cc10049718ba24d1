// SPDX-License-Identifier: MPL-2.0
//! The one error type of tag validation and queueing.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TagError {
    #[error("tag name is empty")]
    EmptyName,
    #[error("tag name '{name}' is {len} bytes, at most {max} are allowed")]
    NameTooLong {
        name: String,
        len: usize,
        max: usize,
    },
    #[error("value of tag '{name}' is {len} bytes, at most {max} are allowed")]
    ValueTooLong {
        name: String,
        len: usize,
        max: usize,
    },
    #[error("tag name '{name}' starts with the reserved prefix 'AWS'")]
    ReservedName { name: String },
    #[error("event has {count} name/value pairs, at most {max} are allowed")]
    TooManyPairs { count: usize, max: usize },
    #[error("image prefix is {len} bytes, allowed are 1 to {max}")]
    InvalidImagePrefix { len: usize, max: usize },
    #[error("{count} persistent tags would exceed the per-fragment limit of {max}")]
    TooManyPersistent { count: usize, max: usize },
    #[error("metadata queue is full ({max} pending entries); the entry was not added")]
    QueueFull { max: usize },
}
