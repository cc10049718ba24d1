// SPDX-License-Identifier: MPL-2.0
//! Mutex locking for element state.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, recovering from poisoning: a panic while the lock was held has already been
/// turned into an element error at the FFI boundary, and the data is still consistent
/// enough to shut down with.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
