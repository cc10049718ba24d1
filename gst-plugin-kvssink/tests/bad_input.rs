// SPDX-License-Identifier: MPL-2.0
//! Input kvssink cannot use must end in a clear element error, never a crash or a hang.

mod common;

use std::time::Duration;

use common::*;
use gst::prelude::*;
use kvs_core::codec::CodecConfig;

const DEADLINE: Duration = Duration::from_secs(30);

/// A pipeline `appsrc ! <sink>`; `push` feeds it, then EOS.
fn run_appsrc(caps: &str, sink: &str, buffers: Vec<(Vec<u8>, bool)>) -> RunResult {
    init();
    let pipeline = launch(&format!(
        "appsrc name=src format=time caps=\"{caps}\" ! {sink}"
    ));
    let src = pipeline
        .by_name("src")
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .expect("appsrc");
    for (i, (data, keyframe)) in buffers.into_iter().enumerate() {
        let mut buffer = gst::Buffer::from_mut_slice(data);
        {
            let b = buffer.get_mut().expect("fresh buffer");
            let t = gst::ClockTime::from_mseconds(33 * i as u64);
            b.set_pts(t);
            b.set_dts(t);
            if !keyframe {
                b.set_flags(gst::BufferFlags::DELTA_UNIT);
            }
        }
        // Pushing only queues; a refused stream shows on the bus.
        let _ = src.push_buffer(buffer);
    }
    let _ = src.end_of_stream();
    run(&pipeline, DEADLINE)
}

fn h264_codec_data() -> Vec<u8> {
    let annexb = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../kvs-core/tests/fixtures/h264-320x240.annexb"
    ))
    .expect("kvs-core H.264 fixture");
    CodecConfig::h264(&annexb)
        .expect("fixture parses")
        .codec_private
        .to_vec()
}

fn expect_error(result: &RunResult, needle: &str) {
    let err = result
        .error
        .as_deref()
        .unwrap_or_else(|| panic!("expected an error mentioning {needle:?}, got none"));
    assert!(
        err.contains(needle),
        "error {err:?} does not mention {needle:?}"
    );
}

#[test]
fn avc_caps_without_codec_data_is_a_negotiation_error() {
    for sink in [
        "kvsmkvmux ! fakesink",
        "kvssink stream-name=s aws-region=us-east-1",
    ] {
        let result = run_appsrc(
            "video/x-h264,stream-format=avc,alignment=au",
            sink,
            vec![(vec![0, 0, 0, 1, 0x65], true)],
        );
        expect_error(&result, "codec_data");
    }
}

#[test]
fn byte_stream_without_parameter_sets_names_the_cause() {
    // An IDR slice with no SPS/PPS before it.
    let idr = vec![0, 0, 0, 1, 0x65, 0x88, 0x84, 0x00, 0x10];
    let result = run_appsrc(
        "video/x-h264,stream-format=byte-stream,alignment=au",
        "kvsmkvmux ! fakesink",
        vec![(idr, true)],
    );
    expect_error(&result, "parameter sets");
}

#[test]
fn garbage_avc_buffers_are_an_element_error() {
    let caps = format!(
        "video/x-h264,stream-format=avc,alignment=au,codec_data=(buffer){}",
        hex::encode(h264_codec_data())
    );
    for sink in [
        "kvsmkvmux ! fakesink",
        "kvssink stream-name=s aws-region=us-east-1",
    ] {
        let garbage = (0..200u32).map(|i| (i * 37 % 251) as u8 | 0x80).collect();
        let result = run_appsrc(&caps, sink, vec![(garbage, true)]);
        expect_error(&result, "not valid");
    }
}

#[test]
fn garbage_byte_stream_buffers_are_an_element_error() {
    let result = run_appsrc(
        "video/x-h264,stream-format=byte-stream,alignment=au",
        "kvsmkvmux ! fakesink",
        vec![(vec![0xde; 64], true)],
    );
    expect_error(&result, "not valid");
}

#[test]
fn second_pad_of_a_kind_is_refused() {
    init();
    let sink = gst::ElementFactory::make("kvssink")
        .build()
        .expect("kvssink");
    assert!(sink.request_pad_simple("video_%u").is_some());
    assert!(sink.request_pad_simple("video_%u").is_none());
    assert!(sink.request_pad_simple("audio_%u").is_some());
    assert!(sink.request_pad_simple("audio_%u").is_none());
}

#[test]
fn shutdown_while_eos_waits_for_acks_does_not_hang() {
    require_elements(&["videotestsrc", "x264enc", "h264parse"]);
    // An endpoint that accepts connections and never answers: the EOS wait would last
    // stop-stream-timeout (120 s) if shutting down did not cut it short.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let url = format!("http://{}", silent.local_addr().expect("addr"));
    let pipeline = launch(&format!(
        "videotestsrc num-buffers=30 ! x264enc key-int-max=30 speed-preset=ultrafast ! h264parse ! \
         kvssink name=sink stream-name=s aws-region=us-east-1 access-key=a secret-key=b \
         endpoint-uri={url} completion-timeout=100"
    ));
    let upload_sink = pipeline
        .by_name("sink")
        .and_then(|s| s.downcast::<gst::Bin>().ok())
        .and_then(|b| b.by_name("uploader"))
        .expect("kvssink's upload sink");
    let (tx, rx) = std::sync::mpsc::channel();
    upload_sink.static_pad("sink").expect("sink pad").add_probe(
        gst::PadProbeType::EVENT_DOWNSTREAM,
        move |_, info| {
            if let Some(gst::PadProbeData::Event(e)) = &info.data
                && e.type_() == gst::EventType::Eos
            {
                let _ = tx.send(());
            }
            gst::PadProbeReturn::Ok
        },
    );
    pipeline.set_state(gst::State::Playing).expect("playing");
    rx.recv_timeout(DEADLINE)
        .expect("EOS reaches the upload sink");
    let start = std::time::Instant::now();
    pipeline.set_state(gst::State::Null).expect("stops");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "stopping took {:?}",
        start.elapsed()
    );
    drop(silent);
}
