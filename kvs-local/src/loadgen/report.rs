// SPDX-License-Identifier: MPL-2.0
//! Percentiles and the printed summary (human-readable lines, then one `RESULT {json}` line
//! for scripts and the smoke test).

use serde::Serialize;

/// Latency distribution in milliseconds.
#[derive(Serialize, Default, Clone, Copy)]
pub struct Dist {
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Dist {
    pub fn of(mut us: Vec<u32>) -> Dist {
        if us.is_empty() {
            return Dist::default();
        }
        us.sort_unstable();
        let pct = |p: f64| {
            let i = ((us.len() as f64 - 1.0) * p).round() as usize;
            f64::from(us.get(i).copied().unwrap_or(0)) / 1000.0
        };
        Dist {
            samples: us.len(),
            p50_ms: pct(0.5),
            p99_ms: pct(0.99),
            max_ms: pct(1.0),
        }
    }
}

#[derive(Serialize, Default)]
pub struct Summary {
    pub streams: usize,
    pub window_secs: f64,
    pub load_average_before: Option<String>,
    pub load_average_after: Option<String>,
    /// Percent of one core over the window; `None` when the server is not a local process.
    pub server_cpu_percent: Option<f64>,
    pub server_rss_mib: Option<f64>,
    pub server_hwm_mib: Option<f64>,
    pub generator_cpu_percent: Option<f64>,
    pub offered_mbit_per_stream: f64,
    pub persisted: Dist,
    pub delivery: Dist,
    pub fragments_sent: u64,
    pub fragments_in_window: u64,
    pub fragments_persisted: u64,
    pub fragments_received: u64,
    pub error_acks: u64,
    pub frames_read: u64,
    pub frames_unmatched: u64,
    pub errors: usize,
    pub first_errors: Vec<String>,
}

fn opt(v: Option<f64>, unit: &str) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.1}{unit}"))
}

impl Summary {
    pub fn print(&self) {
        println!(
            "kvs-loadgen: {} streams x {:.2} Mbit/s, window {:.0} s, load average before [{}] after [{}]",
            self.streams,
            self.offered_mbit_per_stream,
            self.window_secs,
            self.load_average_before.as_deref().unwrap_or("?"),
            self.load_average_after.as_deref().unwrap_or("?"),
        );
        println!(
            "  server CPU {} of one core, RSS {} (peak {}); generator CPU {}",
            opt(self.server_cpu_percent, "%"),
            opt(self.server_rss_mib, " MiB"),
            opt(self.server_hwm_mib, " MiB"),
            opt(self.generator_cpu_percent, "%"),
        );
        println!(
            "  PERSISTED ACK latency: p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  ({} fragments)",
            self.persisted.p50_ms,
            self.persisted.p99_ms,
            self.persisted.max_ms,
            self.persisted.samples
        );
        println!(
            "  GetMedia delivery latency: p50 {:.2} ms  p99 {:.2} ms  max {:.1} ms  ({} frames)",
            self.delivery.p50_ms, self.delivery.p99_ms, self.delivery.max_ms, self.delivery.samples
        );
        println!(
            "  fragments sent {} (in window {}), RECEIVED {}, PERSISTED {} ({} not), ERROR ACKs {}; frames read {} ({} unmatched); errors {}",
            self.fragments_sent,
            self.fragments_in_window,
            self.fragments_received,
            self.fragments_persisted,
            self.fragments_sent.saturating_sub(self.fragments_persisted),
            self.error_acks,
            self.frames_read,
            self.frames_unmatched,
            self.errors,
        );
        for e in &self.first_errors {
            println!("  error: {e}");
        }
        match serde_json::to_string(self) {
            Ok(j) => println!("RESULT {j}"),
            Err(e) => println!("RESULT serialization failed: {e}"),
        }
    }
}
