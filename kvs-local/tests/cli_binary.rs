// SPDX-License-Identifier: MPL-2.0
//! The `kvs-local` binary: first stdout line, serving, clean exit on SIGTERM and SIGINT,
//! data kept across runs, and `--help`.

mod control_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use control_support::raw_request;

/// Kills the child if the test fails before it exits on its own.
struct ChildGuard(Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn spawn(data_dir: &std::path::Path) -> (ChildGuard, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kvs-local"))
        .args(["--listen", "127.0.0.1:0", "--allow-anonymous", "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn kvs-local");
    let stdout = child.stdout.take().expect("stdout");
    let guard = ChildGuard(Some(child));
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    let url = line
        .trim()
        .strip_prefix("kvs-local listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    (guard, url)
}

fn signal_and_wait(guard: &mut ChildGuard, signal: &str) -> std::process::ExitStatus {
    let child = guard.0.as_mut().expect("running");
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            guard.0 = None;
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "kvs-local did not exit after {signal}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn binary_serves_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (mut guard, url) = spawn(dir.path());
    let created = raw_request(&url, "POST", "/createStream", br#"{"StreamName":"bin"}"#);
    assert_eq!(
        created.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&created.body)
    );
    let status = signal_and_wait(&mut guard, "-TERM");
    assert!(status.success(), "exit status {status:?}");

    // Same data directory, new process: the stream is still there. SIGINT stops it too.
    let (mut guard, url) = spawn(dir.path());
    let described = raw_request(&url, "POST", "/describeStream", br#"{"StreamName":"bin"}"#);
    assert_eq!(described.status, 200);
    assert_eq!(described.json()["StreamInfo"]["Status"], "ACTIVE");
    let status = signal_and_wait(&mut guard, "-INT");
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn help_explains_every_option() {
    let out = Command::new(env!("CARGO_BIN_EXE_kvs-local"))
        .arg("--help")
        .output()
        .expect("run --help");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for option in [
        "--listen",
        "--data-dir",
        "--advertised-url",
        "--region",
        "--account-id",
        "--access-key-id",
        "--secret-access-key",
        "--credentials-file",
        "--allow-anonymous",
        "--max-clock-skew",
        "--activation-delay",
        "--shutdown-grace",
        "--log-level",
    ] {
        assert!(help.contains(option), "--help lacks {option}:\n{help}");
    }
}

#[test]
fn bad_options_fail_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_kvs-local"))
        .args(["--listen", "127.0.0.1:0", "--account-id", "12"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--account-id"));
}
