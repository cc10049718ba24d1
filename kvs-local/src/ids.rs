// SPDX-License-Identifier: MPL-2.0
//! Opaque identifiers: stream versions and request ids.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

pub use crate::media::now_ms;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// 64 unpredictable bits: SipHash under a per-call random key over a process-wide counter.
/// Identifiers only need to be unique and hard to guess by accident, not cryptographic.
fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_i64(now_ms());
    h.finish()
}

/// A new stream version: 20 lower-case alphanumerics (the model allows `[a-zA-Z0-9]{1,64}`).
pub fn new_version() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(20);
    let mut bits = random_u64();
    for i in 0..20 {
        if i == 10 {
            bits = random_u64();
        }
        let idx = (bits % ALPHABET.len() as u64) as usize;
        out.push(char::from(ALPHABET.get(idx).copied().unwrap_or(b'a')));
        bits /= ALPHABET.len() as u64;
    }
    out
}

/// A request id in the UUID layout the service uses.
pub fn new_request_id() -> String {
    let (a, b) = (random_u64(), random_u64());
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_distinct_and_well_formed() {
        let a = new_version();
        let b = new_version();
        assert_ne!(a, b);
        assert_eq!(a.len(), 20);
        assert!(kvs_core::api::validate::version(&a).is_ok());
        assert_eq!(new_request_id().len(), 36);
    }
}
