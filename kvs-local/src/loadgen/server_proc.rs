// SPDX-License-Identifier: MPL-2.0
//! The server under test as its own process, so its CPU and memory are its own. By default
//! the generator re-executes itself in server mode (`KVS_LOADGEN_SERVE=1`), which runs the
//! same `kvs_local::cli::main` as the `kvs-local` binary; `--server-bin` runs another binary.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::LoadError;

pub const SERVE_ENV: &str = "KVS_LOADGEN_SERVE";

/// Kills the server and removes its data directory when dropped.
pub struct ServerProcess {
    child: Child,
    pub base_url: String,
    data_dir: PathBuf,
    remove_dir: bool,
}

impl ServerProcess {
    pub fn start(bin: Option<&Path>, data_dir: Option<&Path>) -> Result<Self, LoadError> {
        let (data_dir, remove_dir) = match data_dir {
            Some(d) => (d.to_path_buf(), false),
            None => (
                std::env::temp_dir().join(format!("kvs-loadgen-{}", std::process::id())),
                true,
            ),
        };
        std::fs::create_dir_all(&data_dir)
            .map_err(|e| LoadError::Setup(format!("{}: {e}", data_dir.display())))?;
        let mut cmd = match bin {
            Some(b) => Command::new(b),
            None => {
                let me = std::env::current_exe()
                    .map_err(|e| LoadError::Setup(format!("current_exe: {e}")))?;
                let mut c = Command::new(me);
                c.env(SERVE_ENV, "1");
                c
            }
        };
        cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir)
            .args(["--log-level", "warn"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .map_err(|e| LoadError::Setup(format!("starting the server: {e}")))?;
        let guard_child = |child: &mut Child| {
            let _ = child.kill();
            let _ = child.wait();
        };
        let Some(stdout) = child.stdout.take() else {
            guard_child(&mut child);
            return Err(LoadError::Setup("server stdout not captured".into()));
        };
        let mut line = String::new();
        let read = std::io::BufReader::new(stdout).read_line(&mut line);
        let url = line
            .trim()
            .strip_prefix("kvs-local listening on ")
            .map(str::to_owned);
        match (read, url) {
            (Ok(_), Some(base_url)) => Ok(ServerProcess {
                child,
                base_url,
                data_dir,
                remove_dir,
            }),
            _ => {
                guard_child(&mut child);
                Err(LoadError::Setup(format!(
                    "server did not announce its address (first line {line:?})"
                )))
            }
        }
    }

    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.remove_dir {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}
