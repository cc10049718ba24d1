// SPDX-License-Identifier: MPL-2.0
//! Helpers shared by the control-plane tests: an in-process server, a raw HTTP client, and
//! runners for the AWS CLI and boto3 from the project's virtualenv.

#![allow(dead_code)] // each test file uses a different subset

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use kvs_local::{Config, Server, ServerHandle};

pub const ACCESS_KEY: &str = "AKIDKVSLOCALTEST";
pub const SECRET_KEY: &str = "kvs-local-test-secret";

/// Starts a server on 127.0.0.1:0 over `dir`.
pub async fn start(dir: &Path) -> ServerHandle {
    start_with(Config::new(dir)).await
}

pub async fn start_with(config: Config) -> ServerHandle {
    Server::start(config).await.expect("server starts")
}

/// A raw HTTP/1.1 answer.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts the AWS error shape: status, `x-amzn-ErrorType`, `__type`, a message and a
    /// request id.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.header("x-amzn-ErrorType"), Some(code));
        let body = self.json();
        assert_eq!(body["__type"], code);
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        assert!(self.header("x-amzn-RequestId").is_some());
    }
}

/// Sends one unsigned request over a fresh connection (blocking; call from the test body,
/// which does not run on the server's worker threads).
pub fn raw_request(base_url: &str, method: &str, path: &str, body: &[u8]) -> RawResponse {
    raw_request_with(base_url, method, path, body, &[])
}

pub fn raw_request_with(
    base_url: &str,
    method: &str,
    path: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> RawResponse {
    let addr = base_url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).expect("write head");
    stream.write_all(body).expect("write body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    RawResponse {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// The project's virtualenv (`scripts/install-deps.sh` creates it).
pub fn venv_bin(tool: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(".venv")
        .join("bin")
        .join(tool);
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-deps.sh (or `make deps`) to install the Python test tools",
        path.display()
    );
    path
}

/// An environment for AWS tools with dummy credentials and no user configuration.
pub struct AwsEnv {
    pub dir: tempfile::TempDir,
}

impl AwsEnv {
    pub fn new() -> AwsEnv {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("config"), "").expect("config");
        std::fs::write(dir.path().join("credentials"), "").expect("credentials");
        AwsEnv { dir }
    }

    pub fn command(&self, program: &Path, key: &str, secret: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.dir.path())
            .env("AWS_ACCESS_KEY_ID", key)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", self.dir.path().join("config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.dir.path().join("credentials"),
            )
            .env("AWS_PAGER", "");
        cmd
    }
}

/// Runs `aws kinesisvideo <args>` against `base_url`.
pub struct AwsCli {
    env: AwsEnv,
    aws: PathBuf,
    base_url: String,
    key: String,
    secret: String,
}

impl AwsCli {
    pub fn new(base_url: &str) -> AwsCli {
        AwsCli::with_keys(base_url, ACCESS_KEY, SECRET_KEY)
    }

    pub fn with_keys(base_url: &str, key: &str, secret: &str) -> AwsCli {
        AwsCli {
            env: AwsEnv::new(),
            aws: venv_bin("aws"),
            base_url: base_url.to_owned(),
            key: key.to_owned(),
            secret: secret.to_owned(),
        }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.env
            .command(&self.aws, &self.key, &self.secret)
            .arg("kinesisvideo")
            .args(args)
            .args([
                "--endpoint-url",
                &self.base_url,
                "--region",
                "us-east-1",
                "--output",
                "json",
            ])
            .output()
            .expect("run aws")
    }

    /// Runs and parses stdout as JSON, failing with stderr on a non-zero exit.
    pub fn ok(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "aws {args:?} failed ({:?}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        if out.stdout.iter().all(u8::is_ascii_whitespace) {
            return serde_json::Value::Null;
        }
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "aws {args:?}: stdout not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Runs, expects a service error, and returns stderr (which names the error).
    pub fn err(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let code = out.status.code();
        assert!(
            matches!(code, Some(254) | Some(255)),
            "aws {args:?}: expected a service error exit (254/255), got {code:?}; stdout {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}
