// SPDX-License-Identifier: MPL-2.0
//! CPU time and memory of a process, from /proc (Linux only).

use std::time::Instant;

/// utime + stime of `pid` in seconds, and when it was read.
#[derive(Clone, Copy)]
pub struct CpuSample {
    pub cpu_secs: f64,
    pub at: Instant,
}

/// Clock ticks per second for /proc/PID/stat; `getconf CLK_TCK`, 100 on every common Linux.
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

pub fn cpu(pid: &str, ticks: f64) -> Option<CpuSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields are counted after the last ')'.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace();
    // After ')': state is field 3 of the man page, utime 14 and stime 15.
    let utime: f64 = fields.nth(11)?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some(CpuSample {
        cpu_secs: (utime + stime) / ticks,
        at: Instant::now(),
    })
}

/// CPU use between two samples, in percent of one core.
pub fn percent(a: Option<CpuSample>, b: Option<CpuSample>) -> Option<f64> {
    let (a, b) = (a?, b?);
    let wall = b.at.checked_duration_since(a.at)?.as_secs_f64();
    (wall > 0.0).then(|| 100.0 * (b.cpu_secs - a.cpu_secs) / wall)
}

/// (VmRSS, VmHWM) in MiB.
pub fn memory(pid: &str) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: f64 = line
            .get(name.len()..)?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// The 1-minute load average.
pub fn load_average() -> Option<String> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}
