// SPDX-License-Identifier: MPL-2.0
//! Flow control for non-live input: a file read far faster than the service acknowledges
//! makes kvssink wait for ACKs instead of dropping fragments beyond `storage-size`, so an
//! upload ten times larger than the buffer arrives whole.

mod common;
mod e2e_support;

use std::time::Duration;

use common::{init, launch, require_elements, run};
use e2e_support::{Local, SentCounter, ffprobe, kvssink_desc};
use gst::prelude::*;

const FRAMES: u64 = 300;

/// 10 s of 640×360 noise at ≈ 8 Mbit/s (≈ 10 MB), a key frame every second, as a file.
fn encode_file(path: &std::path::Path) {
    let pipeline = launch(&format!(
        "videotestsrc num-buffers={FRAMES} pattern=snow ! \
         video/x-raw,width=640,height=360,framerate=30/1 ! \
         x264enc key-int-max=30 speed-preset=ultrafast tune=zerolatency bitrate=8000 ! \
         video/x-h264,stream-format=byte-stream ! filesink location={}",
        path.display()
    ));
    let result = run(&pipeline, Duration::from_secs(120));
    assert!(
        result.error.is_none(),
        "encoding failed: {:?}",
        result.error
    );
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 5 << 20,
        "the file is larger than the buffer: {size} bytes"
    );
}

#[test]
fn a_file_larger_than_storage_size_is_uploaded_whole_by_waiting_for_acks() {
    require_elements(&[
        "videotestsrc",
        "x264enc",
        "h264parse",
        "filesrc",
        "filesink",
    ]);
    init();
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("input.h264");
    encode_file(&input);

    let local = Local::start();
    let stream = "e2e-flow-control";
    let pipeline = launch(&format!(
        "filesrc location={} ! h264parse ! {}",
        input.display(),
        kvssink_desc(
            &local.url(),
            stream,
            "storage-size=1 max-unacked-size=1 buffer-duration=1"
        )
    ));
    let sink = pipeline.by_name("sink").expect("kvssink in pipeline");
    let sent = SentCounter::attach(&sink);
    let result = run(&pipeline, Duration::from_secs(120));
    assert!(
        result.error.is_none(),
        "pipeline failed: {:?}",
        result.error
    );
    let stats = sink.property::<gst::Structure>("stats");
    eprintln!("{stats}");
    assert_eq!(stats.get::<u64>("dropped").ok(), Some(0), "{stats}");
    assert!(
        stats.get::<u64>("flow-control-waits").unwrap_or(0) > 0,
        "a file read at disk speed outpaces the ACKs, so kvssink must have waited: {stats}"
    );

    let fragments = local.list_fragments(stream);
    assert_eq!(fragments.len(), 10, "one fragment per key frame");
    let media = local.fragment_media(stream, &fragments);
    let path = dir.path().join("stored.mkv");
    std::fs::write(&path, &media).expect("write media");
    let probe = ffprobe(&path);
    let video = probe
        .streams
        .iter()
        .find(|s| s.codec_type == "video")
        .unwrap_or_else(|| panic!("no video track in {:?}", probe.streams));
    assert_eq!(sent.get("video"), FRAMES);
    assert_eq!(video.frames, FRAMES, "every frame stored");
}
