// SPDX-License-Identifier: MPL-2.0
//! What the measured runs need: the encoded input files and a kvs-local process.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use gst::prelude::*;

/// Encodes `frames` frames of 1080p30 H.264 byte-stream into `path` once.
pub fn encode(path: &Path, frames: u32) {
    if path.exists() {
        return;
    }
    for e in [
        "videotestsrc",
        "x264enc",
        "h264parse",
        "filesrc",
        "fakesink",
        "identity",
    ] {
        assert!(
            gst::ElementFactory::find(e).is_some(),
            "GStreamer element {e} is missing: apt-get install gstreamer1.0-plugins-ugly gstreamer1.0-plugins-good"
        );
    }
    let tmp = path.with_extension("partial");
    let desc = format!(
        "videotestsrc num-buffers={frames} pattern=snow ! \
         video/x-raw,width=1920,height=1080,framerate=30/1 ! \
         x264enc speed-preset=ultrafast key-int-max=30 bitrate=5000 ! \
         video/x-h264,stream-format=byte-stream ! filesink location={}",
        tmp.display()
    );
    let p = gst::parse::launch(&desc).expect("encoder pipeline");
    p.set_state(gst::State::Playing).expect("encode");
    let bus = p.bus().expect("bus");
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(600)) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => panic!("encoding failed: {}", e.error()),
            _ => {}
        }
    }
    p.set_state(gst::State::Null).expect("NULL");
    std::fs::rename(&tmp, path).expect("rename input");
}

/// The kvs-local binary, killed on drop.
pub struct Server {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start(target: &Path) -> Server {
        let bin = target.join("release").join("kvs-local");
        assert!(
            bin.exists(),
            "{} is missing: run `cargo build --release -p kvs-local` first",
            bin.display()
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new(&bin)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--log-level",
                "warn",
                "--data-dir",
            ])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("kvs-local starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("first line");
        let url = line
            .split_whitespace()
            .last()
            .filter(|u| u.starts_with("http://"))
            .unwrap_or_else(|| panic!("unexpected first line from kvs-local: {line}"))
            .to_owned();
        Server {
            child,
            url,
            _dir: dir,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
