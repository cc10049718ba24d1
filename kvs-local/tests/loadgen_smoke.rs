// SPDX-License-Identifier: MPL-2.0
//! Runs `kvs-loadgen` with two streams for a few seconds and checks that what it reports is
//! coherent: every fragment sent was PERSISTED, latencies were measured, nothing failed.
//! No timing thresholds: speed is checked by running the generator, not by tests.

use std::process::Command;
use std::time::Duration;

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn two_streams_report_sane_figures() {
    let child = Command::new(env!("CARGO_BIN_EXE_kvs-loadgen"))
        .args(["--streams", "2", "--seconds", "3", "--warmup", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("start kvs-loadgen");
    let mut guard = KillOnDrop(child);
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = guard.0.try_wait().expect("wait") {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "kvs-loadgen still running after 120 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(guard.0.stdout.as_mut().expect("stdout"), &mut out)
        .expect("read stdout");
    assert!(status.success(), "kvs-loadgen failed: {out}");
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line in {out}"));
    let r: serde_json::Value = serde_json::from_str(line).expect("RESULT is JSON");
    let n = |k: &str| {
        r[k].as_u64()
            .unwrap_or_else(|| panic!("{k} missing in {line}"))
    };
    let f = |a: &str, b: &str| {
        r[a][b]
            .as_f64()
            .unwrap_or_else(|| panic!("{a}.{b} missing in {line}"))
    };

    assert_eq!(n("streams"), 2);
    assert_eq!(n("errors"), 0, "{line}");
    assert_eq!(n("error_acks"), 0, "{line}");
    // 2 streams × ≥ 4 s of 1 s fragments.
    let sent = n("fragments_sent");
    assert!(sent >= 6, "only {sent} fragments sent: {line}");
    assert_eq!(n("fragments_received"), sent, "{line}");
    assert_eq!(n("fragments_persisted"), sent, "{line}");
    assert!(n("fragments_in_window") >= 2, "{line}");
    assert_eq!(
        f("persisted", "samples") as u64,
        n("fragments_in_window"),
        "every fragment of the window has a PERSISTED latency: {line}"
    );
    assert!(f("persisted", "p50_ms") > 0.0, "{line}");
    assert!(
        f("persisted", "p99_ms") >= f("persisted", "p50_ms"),
        "{line}"
    );
    // Readers see what the producers sent (30 frames per fragment in the recording).
    assert!(f("delivery", "samples") >= 30.0, "{line}");
    assert!(f("delivery", "p50_ms") > 0.0, "{line}");
    assert_eq!(n("frames_unmatched"), 0, "{line}");
    assert!(r["server_cpu_percent"].as_f64().is_some(), "{line}");
    assert!(
        r["server_rss_mib"].as_f64().is_some_and(|m| m > 0.0),
        "{line}"
    );
}
