// SPDX-License-Identifier: MPL-2.0
//! Runs every pipeline of README.md's cookbook (the ```sh blocks after a
//! `<!-- pipeline: NAME -->` marker) with `gst-launch-1.0` against kvs-local, as a user would
//! after the README's `export` lines. Hardware sources are replaced by test sources with the
//! same caps (the README says so); every replacement must match the README text, and every
//! marked pipeline must have a test here, so README and tests cannot drift apart.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;

const KNOWN: &[&str] = &[
    "usb-camera",
    "pi-camera",
    "rtsp-camera",
    "audio-video",
    "recorded-file",
    "tags-motion",
    "live-playback",
    "archived-playback",
];

const V4L2: (&str, &str) = (
    "v4l2src device=/dev/video0",
    "videotestsrc is-live=true num-buffers=90",
);
const ALSA: (&str, &str) = (
    "alsasrc device=hw:1",
    "audiotestsrc is-live=true num-buffers=130",
);
const LIBCAMERA: (&str, &str) = ("libcamerasrc", "videotestsrc is-live=true num-buffers=90");
const LONG: Duration = Duration::from_secs(120);

fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path:?}: {e}"))
}

/// (name, command on one line) for each marked block.
fn readme_pipelines() -> Vec<(String, String)> {
    let text = readme();
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line
            .trim()
            .strip_prefix("<!-- pipeline:")
            .and_then(|r| r.strip_suffix("-->"))
        else {
            continue;
        };
        assert_eq!(
            lines.next().map(str::trim),
            Some("```sh"),
            "{name}: a ```sh block must follow the marker"
        );
        let mut command = String::new();
        for l in lines.by_ref() {
            if l.trim() == "```" {
                break;
            }
            command.push_str(l.trim().trim_end_matches('\\').trim());
            command.push(' ');
        }
        out.push((name.trim().to_owned(), command.trim().to_owned()));
    }
    out
}

fn pipeline(name: &str) -> String {
    readme_pipelines()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, c)| c)
        .unwrap_or_else(|| panic!("README.md has no pipeline marked {name}"))
}

/// Applies stand-ins, each of which must occur in the README's text.
fn substitute(name: &str, subs: &[(&str, &str)]) -> String {
    let mut command = pipeline(name);
    assert!(
        command.starts_with("gst-launch-1.0 "),
        "{name}: not a gst-launch-1.0 line"
    );
    for (from, to) in subs {
        assert!(
            command.contains(from),
            "{name}: the test replaces {from:?}, which the README no longer has"
        );
        command = command.replace(from, to);
    }
    // -m prints bus messages (ACKs, fragments) for the checks; it changes nothing else.
    command.replacen("gst-launch-1.0 ", "gst-launch-1.0 -m ", 1)
}

struct Env {
    local: Local,
    plugins: PluginDir,
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        require_elements(&["videotestsrc", "x264enc", "h264parse", "matroskademux"]);
        Env {
            local: Local::start(),
            plugins: PluginDir::new(),
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Runs a shell command line in the temp dir with the README's environment.
    fn spawn(&self, what: &str, command: &str) -> Proc {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("exec {command}"))
            .current_dir(self.dir.path());
        kvs_env(
            &mut cmd,
            &self.local,
            &self.plugins,
            &self.dir.path().join("registry.bin"),
        );
        Proc::spawn(cmd, what)
    }

    /// Runs to the end and returns the output; fails on a non-zero exit.
    fn run(&self, what: &str, command: &str) -> String {
        let mut p = self.spawn(what, command);
        let status = p.wait_exit(LONG);
        let out = p.output();
        assert!(
            status.success(),
            "{what} failed ({status}):\n{command}\n{out}"
        );
        out
    }

    /// A stand-in camera stream of 90 frames (3 fragments of 1 s) into `stream`.
    /// Returns the number of fragments stored.
    fn produce(&self, stream: &str) -> usize {
        let out = self.run(
            "producer",
            &format!(
                "gst-launch-1.0 -m videotestsrc num-buffers=90 ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 \
                 ! x264enc key-int-max=30 speed-preset=ultrafast ! h264parse ! kvssink stream-name={stream}"
            ),
        );
        let stored = count(&out, PERSISTED);
        assert!(stored >= 3, "{out}");
        stored
    }
}

fn first_ack_timecode(out: &str) -> Option<u64> {
    out.lines()
        .filter(|l| l.contains(PERSISTED))
        .filter_map(|l| l.split("fragment-timecode=(guint64)").nth(1))
        .filter_map(|r| r.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .min()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[test]
fn every_readme_pipeline_has_a_test() {
    let found: BTreeSet<String> = readme_pipelines().into_iter().map(|(n, _)| n).collect();
    let known: BTreeSet<String> = KNOWN.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        found, known,
        "README.md's marked pipelines and this test's list differ"
    );
}

#[test]
fn usb_camera() {
    let env = Env::new();
    let out = env.run("usb-camera", &substitute("usb-camera", &[V4L2]));
    // 3 s of video: at least two fragments (x264 may add key frames at scene cuts).
    assert!(count(&out, PERSISTED) >= 2, "{out}");
    assert_eq!(count(&out, "event-type=(string)ERROR"), 0, "{out}");
}

#[test]
fn pi_camera() {
    let env = Env::new();
    let out = env.run("pi-camera", &substitute("pi-camera", &[LIBCAMERA]));
    assert!(count(&out, PERSISTED) >= 2, "{out}");
    assert_eq!(count(&out, "event-type=(string)ERROR"), 0, "{out}");
}

#[test]
fn rtsp_camera() {
    require_elements(&["rtspsrc", "rtph264depay"]);
    let env = Env::new();
    let camera = common::rtsp::RtspCamera::start(0);
    let url = camera.url();
    let mut p = env.spawn(
        "rtsp-camera",
        &substitute("rtsp-camera", &[("rtsp://192.168.1.10:554/stream1", &url)]),
    );
    let ended = p.wait_for(LONG, |o| count(o, PERSISTED) >= 2);
    assert!(ended.is_none(), "the pipeline ended early:\n{}", p.output());
    // -e: Ctrl-C becomes EOS, and EOS waits for the last ACK, then exits cleanly.
    let status = p.interrupt_and_wait(LONG);
    let out = p.output();
    if !status.success() {
        // rtspsrc (1.22) sometimes sends PAUSE on the RTSP connection after the EOS that
        // gst-launch forced, gets "end-of-file" from the server, and posts an error while the
        // pipeline stops; gst-launch then exits with 1. That is after the pipeline's EOS,
        // which kvssink only lets through once the last fragment is PERSISTED; anything else
        // failing is a failure.
        let eos = out
            .find("Got EOS from element \"pipeline0\"")
            .unwrap_or_else(|| panic!("no EOS:\n{out}"));
        let errors: Vec<&str> = out.lines().filter(|l| l.starts_with("ERROR:")).collect();
        assert!(
            out.find("ERROR:").is_some_and(|first| first > eos)
                && errors.iter().all(|l| l.contains("GstRTSPSrc:rtspsrc0")),
            "an error other than rtspsrc's teardown after EOS:\n{out}"
        );
    }
    // Every fragment that was acknowledged as received was persisted before the exit.
    assert_eq!(
        count(&out, PERSISTED),
        count(&out, "event-type=(string)RECEIVED"),
        "{out}"
    );
    assert_eq!(count(&out, "event-type=(string)ERROR"), 0, "{out}");
}

#[test]
fn audio_video() {
    require_elements(&["audiotestsrc", "avenc_aac", "aacparse"]);
    let env = Env::new();
    let out = env.run("audio-video", &substitute("audio-video", &[V4L2, ALSA]));
    assert!(count(&out, PERSISTED) >= 2, "{out}");
}

#[test]
fn recorded_file() {
    require_elements(&["mp4mux", "qtdemux"]);
    let env = Env::new();
    env.run(
        "recording",
        "gst-launch-1.0 videotestsrc num-buffers=90 ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 \
         ! x264enc key-int-max=30 speed-preset=ultrafast ! h264parse ! mp4mux ! filesink location=recording.mp4",
    );
    let out = env.run("recorded-file", &substitute("recorded-file", &[]));
    // Key frames every 30 frames (x264 may add one at a scene cut).
    assert!(count(&out, PERSISTED) >= 3, "{out}");
    // The first fragment sits at file-start-time, not at the upload time.
    assert_eq!(first_ack_timecode(&out), Some(1_763_884_800_000), "{out}");
}

#[test]
fn tags_and_motion_are_stored() {
    let env = Env::new();
    let out = env.run("tags-motion", &substitute("tags-motion", &[V4L2]));
    assert!(count(&out, PERSISTED) >= 2, "{out}");
    let back = env.run(
        "reading back",
        &format!(
            "gst-launch-1.0 -m kvssrc stream-name=front-cam start-selector=producer-timestamp \
             start-timestamp={} end-timestamp={} ! fakesink",
            now_ms() - 600_000,
            now_ms() + 60_000
        ),
    );
    let fragments: Vec<&str> = back.lines().filter(|l| l.contains(FRAGMENT)).collect();
    assert!(fragments.len() >= 2, "{back}");
    for f in fragments {
        assert!(
            f.contains("camera") && f.contains("front") && f.contains("site") && f.contains("lab"),
            "tags missing: {f}"
        );
    }
}

#[test]
fn live_playback() {
    let env = Env::new();
    // A live camera that runs until interrupted, so the reader sees fragments arrive live
    // however long it takes to connect.
    let mut camera = env.spawn(
        "live producer",
        "gst-launch-1.0 -e -m videotestsrc is-live=true ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 \
         ! x264enc tune=zerolatency key-int-max=30 speed-preset=ultrafast ! h264parse ! kvssink stream-name=front-cam",
    );
    let ended = camera.wait_for(LONG, |o| count(o, PERSISTED) >= 1);
    assert!(ended.is_none(), "the producer ended:\n{}", camera.output());
    let mut reader = env.spawn(
        "live-playback",
        &substitute("live-playback", &[("autovideosink", "fakesink")]),
    );
    let ended = reader.wait_for(LONG, |o| count(o, FRAGMENT) >= 3);
    assert!(
        ended.is_none(),
        "live playback ended on its own:\n{}",
        reader.output()
    );
    reader.interrupt_and_wait(LONG);
    let status = camera.interrupt_and_wait(LONG);
    assert!(status.success(), "{}", camera.output());
}

#[test]
fn archived_playback() {
    require_tool("ffprobe", "apt-get install ffmpeg");
    require_elements(&["mp4mux"]);
    let env = Env::new();
    let stored = env.produce("front-cam");
    let start = (now_ms() - 600_000).to_string();
    let end = (now_ms() + 60_000).to_string();
    let out = env.run(
        "archived-playback",
        &substitute(
            "archived-playback",
            &[("1763884800000", &start), ("1763888400000", &end)],
        ),
    );
    assert_eq!(count(&out, FRAGMENT), stored, "{out}");
    let file = env.dir.path().join("front-cam.mp4");
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(&file)
        .output()
        .expect("ffprobe runs");
    assert!(
        probe.status.success(),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), "90");
}
