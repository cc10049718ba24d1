// SPDX-License-Identifier: MPL-2.0
//! The bench's global allocator: counts Rust heap allocations and, when asked, keeps a
//! backtrace of each so that the call sites can be named (`KVSSINK_BENCH_ALLOC_TRACE=N`: about one allocation in N).
//! GLib's `g_malloc` does not come through here.

use std::alloc::{GlobalAlloc, Layout, System};
use std::backtrace::Backtrace;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);
static TRACING: AtomicBool = AtomicBool::new(false);
/// About one allocation in n is traced: capturing is slow enough to disturb the pipeline.
static TRACE_EVERY: AtomicU64 = AtomicU64::new(1);
static TRACES: Mutex<Vec<Backtrace>> = Mutex::new(Vec::new());

thread_local! {
    // Capturing a backtrace allocates; those allocations must not be traced themselves.
    static IN_TRACE: Cell<bool> = const { Cell::new(false) };
}

fn record(size: usize) {
    if !TRACING.load(Ordering::Relaxed) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        ALLOC_BYTES.fetch_add(size as u64, Ordering::Relaxed);
        return;
    }
    let _ = IN_TRACE.try_with(|busy| {
        // The tracer's own allocations are neither counted nor traced.
        if busy.replace(true) {
            return;
        }
        let n = ALLOCS.fetch_add(1, Ordering::Relaxed);
        ALLOC_BYTES.fetch_add(size as u64, Ordering::Relaxed);
        // Sampled at random: allocations repeat with the frame period, so a fixed stride
        // would keep hitting the same site.
        let every = TRACE_EVERY.load(Ordering::Relaxed);
        if every <= 1 || mix(n).is_multiple_of(every) {
            let bt = Backtrace::force_capture();
            if let Ok(mut t) = TRACES.lock() {
                t.push(bt);
            }
        }
        busy.set(false);
    });
}

/// A cheap integer hash (splitmix64 finaliser).
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from System.alloc with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        // SAFETY: ptr came from System with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// (allocations, bytes) so far.
pub fn counts() -> (u64, u64) {
    (
        ALLOCS.load(Ordering::Relaxed),
        ALLOC_BYTES.load(Ordering::Relaxed),
    )
}

/// Traces about one allocation in `every` from now on (0: stop).
pub fn set_tracing(every: u64) {
    TRACE_EVERY.store(every.max(1), Ordering::SeqCst);
    TRACING.store(every > 0, Ordering::SeqCst);
}

/// Frame names that belong to the allocation machinery rather than to its caller.
const ALLOCATOR_FRAMES: &[&str] = &[
    "alloc",
    "grow",
    "reserve",
    "with_capacity",
    "Box",
    "box_",
    "clone_from_ref",
    "RawVec",
    "__rust",
    "{closure",
    "try_with",
    "new_uninit",
    "to_vec",
    "clone<",
    "into_vec",
];

/// The traced allocation sites, most frequent first: (count, the first frames of the
/// project's and its libraries' code under the allocator).
pub fn trace_report(depth: usize) -> Vec<(usize, String)> {
    set_tracing(0);
    let traces = std::mem::take(&mut *TRACES.lock().unwrap_or_else(|e| e.into_inner()));
    let mut sites: HashMap<String, usize> = HashMap::new();
    for bt in traces {
        let text = bt.to_string();
        let names: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with("at "))
            .filter_map(|l| l.split_once(": ").map(|(_, f)| f))
            .collect();
        // Drop the tracing and allocator frames: keep from the first caller outside them.
        let start = names
            .iter()
            .position(|f| *f == "record")
            .map_or(0, |p| p + 1);
        let frames: Vec<&str> = names
            .iter()
            .skip(start)
            .copied()
            .skip_while(|f| ALLOCATOR_FRAMES.iter().any(|p| f.contains(p)))
            .take(depth)
            .collect();
        *sites.entry(frames.join("\n    <- ")).or_default() += 1;
    }
    let mut v: Vec<(usize, String)> = sites.into_iter().map(|(k, n)| (n, k)).collect();
    v.sort_by_key(|s| std::cmp::Reverse(s.0));
    v
}
