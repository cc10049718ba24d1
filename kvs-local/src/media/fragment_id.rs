// SPDX-License-Identifier: MPL-2.0
//! Fragment ids and the 47-digit fragment numbers clients see.
//!
//! A fragment id is the index's primary key: `stream_id << 40 | seq`. The number a client
//! sees is a fixed prefix followed by the id zero-padded to 36 digits, so the string order,
//! the big-integer order and the id order all agree, and a number parses back to the key
//! without a lookup.

use std::fmt;

/// Prefix of every fragment number (the real service's numbers start the same way).
const NUMBER_PREFIX: &str = "91343852333";
/// Digits after the prefix.
const NUMBER_ID_DIGITS: usize = 36;
/// Length of every fragment number.
pub const FRAGMENT_NUMBER_LEN: usize = NUMBER_PREFIX.len() + NUMBER_ID_DIGITS;

/// Bits of the per-stream sequence number inside a fragment id.
pub const SEQ_BITS: u32 = 40;
/// Largest stream id that keeps fragment ids positive in SQLite's signed 64-bit integers.
pub const MAX_STREAM_ID: i64 = (1 << (63 - SEQ_BITS)) - 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FragmentId(i64);

impl FragmentId {
    pub fn new(stream_id: i64, seq: i64) -> Self {
        Self((stream_id << SEQ_BITS) | (seq & ((1 << SEQ_BITS) - 1)))
    }

    pub fn from_raw(raw: i64) -> Self {
        Self(raw)
    }

    pub fn raw(self) -> i64 {
        self.0
    }

    pub fn stream_id(self) -> i64 {
        self.0 >> SEQ_BITS
    }

    pub fn seq(self) -> i64 {
        self.0 & ((1 << SEQ_BITS) - 1)
    }

    /// First id of a stream (seq 0), for range queries.
    pub fn stream_start(stream_id: i64) -> Self {
        Self::new(stream_id, 0)
    }

    /// One past the last possible id of a stream, for range queries.
    pub fn stream_end(stream_id: i64) -> Self {
        Self((stream_id + 1) << SEQ_BITS)
    }

    /// The decimal string clients see.
    pub fn to_number(self) -> String {
        format!(
            "{NUMBER_PREFIX}{:0width$}",
            self.0,
            width = NUMBER_ID_DIGITS
        )
    }

    /// Parses a number this server handed out; `None` for anything else.
    pub fn parse(number: &str) -> Option<Self> {
        if number.len() != FRAGMENT_NUMBER_LEN || !number.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let rest = number.strip_prefix(NUMBER_PREFIX)?;
        let raw: i64 = rest.parse().ok()?;
        Some(Self(raw))
    }
}

impl fmt::Display for FragmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_number())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_round_trips_and_orders_like_the_id() {
        let a = FragmentId::new(3, 41);
        let b = FragmentId::new(3, 42);
        let c = FragmentId::new(4, 0);
        for id in [a, b, c] {
            let n = id.to_number();
            assert_eq!(n.len(), 47);
            assert_eq!(FragmentId::parse(&n), Some(id));
        }
        assert!(a.to_number() < b.to_number());
        assert!(b.to_number() < c.to_number());
        assert_eq!(b.stream_id(), 3);
        assert_eq!(b.seq(), 42);
    }

    #[test]
    fn foreign_numbers_are_rejected() {
        assert_eq!(FragmentId::parse(""), None);
        assert_eq!(FragmentId::parse("12"), None);
        assert_eq!(
            FragmentId::parse("91343852333181432392682062607743920146264772637"),
            None,
            "id part does not fit an i64"
        );
        assert_eq!(
            FragmentId::parse("1134385233300000000000000000000000000000000001"),
            None
        );
    }
}
