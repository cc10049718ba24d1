// SPDX-License-Identifier: MPL-2.0
//! moto (an independent KVS control-plane emulator) as a reference: the same AWS CLI calls
//! against moto and against kvs-local must give answers with the same JSON members, and the
//! same error names.

mod control_support;

use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use control_support::{AwsCli, start, venv_bin};
use serde_json::Value;

struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_moto() -> (ChildGuard, String) {
    // moto cannot report the port it picked, so pick a free one for it.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = Command::new(venv_bin("moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn moto_server");
    let guard = ChildGuard(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto_server did not start listening"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (guard, format!("http://127.0.0.1:{port}"))
}

/// Every member path in a JSON value (`StreamInfo.Status`, `StreamInfoList[].StreamARN`).
fn member_paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(path.clone());
                member_paths(child, &path, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                member_paths(item, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

fn paths(v: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    member_paths(v, "", &mut out);
    out
}

fn error_name(stderr: &str) -> Option<&'static str> {
    ["ResourceNotFoundException", "ResourceInUseException"]
        .into_iter()
        .find(|name| stderr.contains(name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_have_the_same_shape_as_moto() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let (_moto, moto_url) = start_moto();
    let ours = AwsCli::new(server.base_url());
    let theirs = AwsCli::new(&moto_url);

    let create = [
        "create-stream",
        "--stream-name",
        "shape",
        "--data-retention-in-hours",
        "2",
        "--media-type",
        "video/h264",
        "--device-name",
        "dev",
    ];
    let calls: [&[&str]; 4] = [
        &create,
        &["describe-stream", "--stream-name", "shape"],
        &["list-streams"],
        &[
            "get-data-endpoint",
            "--stream-name",
            "shape",
            "--api-name",
            "GET_MEDIA",
        ],
    ];
    for call in calls {
        let a = ours.ok(call);
        let b = theirs.ok(call);
        // moto omits KmsKeyId when none was given; the service reports its default key.
        let mut ours_paths = paths(&a);
        ours_paths.retain(|p| !p.ends_with("KmsKeyId"));
        let mut moto_paths = paths(&b);
        moto_paths.retain(|p| !p.ends_with("KmsKeyId"));
        assert_eq!(ours_paths, moto_paths, "{call:?}: ours {a} vs moto {b}");
    }

    for call in [
        &["describe-stream", "--stream-name", "absent"][..],
        &create[..],
    ] {
        let a = ours.err(call);
        let b = theirs.err(call);
        assert!(error_name(&a).is_some(), "{a}");
        assert_eq!(
            error_name(&a),
            error_name(&b),
            "{call:?}: ours {a} vs moto {b}"
        );
    }
    server.shutdown().await;
}
