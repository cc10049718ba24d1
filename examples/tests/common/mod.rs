// SPDX-License-Identifier: MPL-2.0
//! Test support: kvs-local in process, the freshly built plugins on GST_PLUGIN_PATH for
//! `gst-launch-1.0` child processes, and a child-process runner that always cleans up.
#![allow(dead_code)]

pub mod rtsp;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// kvs-local in process, shared with the plugins' tests.
pub use gst_kvs_test_support::local::LocalServer as Local;

/// target/<profile>/deps, where cargo leaves the plugin cdylibs it built for this test.
fn deps_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent().expect("deps dir").to_path_buf()
}

/// A directory holding only our three plugins, for GST_PLUGIN_PATH (target/debug/deps also
/// holds proc-macro libraries GStreamer must not try to load).
pub struct PluginDir {
    dir: tempfile::TempDir,
}

impl PluginDir {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let deps = deps_dir();
        for plugin in ["kvssink", "kvssrc", "kvsmeta"] {
            let name = format!("libgstrs{plugin}.so");
            let candidates = [
                deps.join(&name),
                deps.parent().map(|p| p.join(&name)).unwrap_or_default(),
            ];
            let lib = candidates.iter().find(|p| p.is_file()).unwrap_or_else(|| {
                panic!("{name} not built (looked in {candidates:?}); run `cargo build --workspace`")
            });
            std::os::unix::fs::symlink(lib, dir.path().join(&name)).expect("symlink plugin");
        }
        PluginDir { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

pub fn require_tool(tool: &str, hint: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(found, "`{tool}` is missing: {hint}");
}

pub fn require_elements(elements: &[&str]) {
    require_tool("gst-inspect-1.0", "apt-get install gstreamer1.0-tools");
    for e in elements {
        let ok = Command::new("gst-inspect-1.0")
            .arg(e)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            ok,
            "GStreamer element {e} is missing: run scripts/install-deps.sh"
        );
    }
}

/// A child process killed on drop, whose stdout and stderr lines are collected.
pub struct Proc {
    child: Child,
    output: Arc<Mutex<String>>,
    pub what: String,
}

impl Proc {
    pub fn spawn(mut cmd: Command, what: &str) -> Self {
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let output = Arc::new(Mutex::new(String::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = output.clone();
            thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Ok(mut o) = output.lock() {
                        o.push_str(&line);
                        o.push('\n');
                    }
                }
            });
        }
        Proc {
            child,
            output,
            what: what.to_owned(),
        }
    }

    pub fn output(&self) -> String {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls until `done(output)` holds or the process exits; panics at the deadline.
    /// Returns the exit status if the process ended.
    pub fn wait_for(
        &mut self,
        deadline: Duration,
        done: impl Fn(&str) -> bool,
    ) -> Option<ExitStatus> {
        let until = Instant::now() + deadline;
        loop {
            if done(&self.output()) {
                return None;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the reader threads drain the pipes.
                thread::sleep(Duration::from_millis(200));
                return Some(status);
            }
            assert!(
                Instant::now() < until,
                "{} did not get there within {deadline:?}; output:\n{}",
                self.what,
                self.output()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends SIGINT (gst-launch-1.0 -e turns it into EOS) and waits for the exit.
    pub fn interrupt_and_wait(&mut self, deadline: Duration) -> ExitStatus {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        self.wait_exit(deadline)
    }

    pub fn wait_exit(&mut self, deadline: Duration) -> ExitStatus {
        let until = Instant::now() + deadline;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                thread::sleep(Duration::from_millis(200));
                return status;
            }
            assert!(
                Instant::now() < until,
                "{} did not exit within {deadline:?}; output:\n{}",
                self.what,
                self.output()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The environment a user sets up for kvs-local (see the README): endpoint, region, keys.
pub fn kvs_env(cmd: &mut Command, local: &Local, plugins: &PluginDir, registry: &Path) {
    cmd.env("GST_PLUGIN_PATH", plugins.path())
        .env("GST_REGISTRY", registry)
        .env("AWS_ENDPOINT_URL_KINESIS_VIDEO", local.url())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLETEST00000")
        .env("AWS_SECRET_ACCESS_KEY", "local-test-secret")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("CONTROL_PLANE_URI")
        .env_remove("AWS_ENDPOINT_URL");
}

pub fn count(output: &str, needle: &str) -> usize {
    output.lines().filter(|l| l.contains(needle)).count()
}

pub const PERSISTED: &str = "kvs-fragment-ack, event-type=(string)PERSISTED";
pub const FRAGMENT: &str = "kvs-fragment, ";
