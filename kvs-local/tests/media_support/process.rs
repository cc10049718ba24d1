// SPDX-License-Identifier: MPL-2.0
//! The real `kvs-local` binary as a child process on 127.0.0.1:0, killed when the test ends
//! however it ends, for the tests that signal or kill the server.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct ServerProcess {
    child: Option<Child>,
    pub base_url: String,
}

impl ServerProcess {
    /// Starts the binary on `data_dir` (anonymous access on) and waits for its address line.
    pub async fn start(data_dir: &std::path::Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kvs-local"))
            .args(["--listen", "127.0.0.1:0", "--allow-anonymous"])
            .arg("--data-dir")
            .arg(data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn kvs-local");
        let stdout = child.stdout.take().expect("stdout");
        let mut guard = Self {
            child: Some(child),
            base_url: String::new(),
        };
        let line = tokio::time::timeout(
            Duration::from_secs(60),
            tokio::task::spawn_blocking(move || {
                let mut line = String::new();
                let _ = BufReader::new(stdout).read_line(&mut line);
                line
            }),
        )
        .await
        .expect("kvs-local printed its address within 60 s")
        .expect("reader thread");
        guard.base_url = line
            .trim()
            .strip_prefix("kvs-local listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        guard
    }

    /// SIGKILL (what `Child::kill` sends on Unix): no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn send_sigterm(&self) {
        let child = self.child.as_ref().expect("running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Polls for the exit within `deadline`.
    pub async fn wait_exit(&mut self, deadline: Duration) -> std::process::ExitStatus {
        let child = self.child.as_mut().expect("running");
        let until = Instant::now() + deadline;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < until,
                "kvs-local did not exit within {deadline:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One complete fragment (a Cluster of 30 frames of `frame_len` bytes); the first piece of a
/// body also carries the stream header.
pub fn fragment_bytes(first: bool, timecode: u64, frame_len: usize) -> bytes::Bytes {
    let mut w = kvs_core::mkv::MkvWriter::new();
    if first {
        w.stream_header(&super::synth_header(1)).expect("header");
    }
    w.start_cluster(timecode);
    for i in 0..30 {
        w.frame(
            1,
            timecode + i * 33,
            i == 0,
            bytes::Bytes::from(vec![7u8; frame_len]),
        )
        .expect("frame");
    }
    bytes::Bytes::from(w.into_vec())
}
