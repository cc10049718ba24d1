// SPDX-License-Identifier: MPL-2.0
//! CPU pinning. On a VM a wake-up that crosses to another vCPU costs an inter-processor
//! interrupt (a VM exit), whose price moves with the host's load; with kvs-local on one CPU
//! and the measured pipeline on the other, the figures stop depending on where the
//! scheduler put each thread.

/// Environment variable that tells a child which CPU to run on.
pub const CHILD_CPU: &str = "KVSSINK_BENCH_CHILD_CPU";

/// Restricts the calling thread, and every thread and process it starts afterwards, to
/// `cpu`. False if the system refused.
pub fn to_cpu(cpu: usize) -> bool {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET writes inside it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` is below CPU_SETSIZE for any machine this runs on (checked by callers
    // with available_parallelism).
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 = the calling thread; the set is valid for its size.
    unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0 }
}
