// SPDX-License-Identifier: MPL-2.0
//! The example apps against kvs-local: `kvs-gateway` streams an RTSP camera served on
//! 127.0.0.1 (which goes away and comes back), then `kvs-thumbnails` reads the stream back,
//! printing the gateway's tags and writing JPEG thumbnails.

mod common;

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::rtsp::RtspCamera;
use common::*;

const LONG: Duration = Duration::from_secs(120);

fn acks(out: &str) -> usize {
    count(out, "cam1: ack PERSISTED")
}

fn acks2(out: &str) -> usize {
    count(out, "cam2: ack PERSISTED")
}

fn example(bin: &str, local: &Local) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLETEST00000")
        .env("AWS_SECRET_ACCESS_KEY", "local-test-secret")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("GST_PLUGIN_PATH")
        .env("AWS_ENDPOINT_URL_KINESIS_VIDEO", local.url());
    cmd
}

#[test]
fn gateway_survives_the_camera_going_away_and_thumbnails_read_it_back() {
    require_elements(&[
        "rtspsrc",
        "rtph264depay",
        "x264enc",
        "avdec_h264",
        "jpegenc",
    ]);
    let local = Local::start();
    let camera = RtspCamera::start(0);
    let port = camera.port;
    let start_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);

    let mut cmd = example(env!("CARGO_BIN_EXE_kvs-gateway"), &local);
    // Two cameras (one RTSP server, two KVS streams), each with its own pipeline.
    cmd.args([
        "--tag",
        "site=test-lab",
        &format!("cam1={}", camera.url()),
        &format!("cam2={}", camera.url()),
    ]);
    let mut gateway = Proc::spawn(cmd, "kvs-gateway");
    let ended = gateway.wait_for(LONG, |o| acks(o) >= 2 && acks2(o) >= 2);
    assert!(ended.is_none(), "gateway exited:\n{}", gateway.output());

    // The camera goes away: the gateway reports it and keeps trying.
    drop(camera);
    let ended = gateway.wait_for(LONG, |o| o.contains("cam1: reopening the camera"));
    assert!(ended.is_none(), "gateway exited:\n{}", gateway.output());
    let before = acks(&gateway.output());
    let before2 = acks2(&gateway.output());

    // ... and comes back on the same address: streaming resumes.
    let camera = RtspCamera::start(port);
    let ended = gateway.wait_for(LONG, |o| acks(o) >= before + 2 && acks2(o) >= before2 + 2);
    assert!(ended.is_none(), "gateway exited:\n{}", gateway.output());
    let status = gateway.interrupt_and_wait(LONG);
    let out = gateway.output();
    assert!(status.success(), "{out}");
    assert!(
        out.contains("cam1: stopped") && out.contains("cam2: stopped"),
        "{out}"
    );
    drop(camera);

    let thumbs = tempfile::tempdir().expect("temp dir");
    let end_ms = start_ms + 600_000;
    let mut cmd = example(env!("CARGO_BIN_EXE_kvs-thumbnails"), &local);
    cmd.args(["--stream", "cam1", "--out"])
        .arg(thumbs.path())
        .args(["--start-ms", &start_ms.saturating_sub(60_000).to_string()])
        .args(["--end-ms", &end_ms.to_string()]);
    let mut reader = Proc::spawn(cmd, "kvs-thumbnails");
    let status = reader.wait_exit(LONG);
    let out = reader.output();
    assert!(status.success(), "{out}");
    let fragments: Vec<&str> = out.lines().filter(|l| l.starts_with("fragment ")).collect();
    assert!(fragments.len() >= 4, "{out}");
    for f in &fragments {
        assert!(
            f.contains("camera=cam1") && f.contains("site=test-lab"),
            "tags missing: {f}"
        );
    }
    // One one-shot marker per (re)connection of the camera.
    assert!(count(&out, "gateway-event=connected") >= 2, "{out}");
    let jpegs = std::fs::read_dir(thumbs.path())
        .expect("thumbnail dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".jpg"))
        .count();
    assert!(jpegs >= 2, "only {jpegs} thumbnails:\n{out}");
}
