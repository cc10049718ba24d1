// SPDX-License-Identifier: MPL-2.0
//! The uploader against kvs-local (in process, SigV4 verification on): real control plane,
//! real MKV ingest, real ACKs. Fault injection stays in uploader_stream.rs's stub.

mod uploader_support;

use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use gst_kvs_test_support::local::{LocalServer as Local, Options};
use gstrskvssink::chunk::Chunk;
use gstrskvssink::uploader::{Uploader, UploaderConfig, UploaderError};
use kvs_core::mkv::writer::{SimpleBlockHeader, write_cluster_start, write_stream_header};
use kvs_core::mkv::{SegmentInfo, StreamHeader, TrackInfo, TrackType, VideoParams};
use kvs_core::sigv4::StaticSecrets;
use uploader_support::{Events, WAIT};

const AKID: &str = "AKIDLOCAL";
const SECRET: &str = "local-secret";

fn start_local() -> Local {
    Local::start_with(Options {
        credentials: Some(StaticSecrets::new().with(AKID, SECRET)),
        ..Default::default()
    })
}

/// Cluster timecodes of the fragments kvs-local stored for `stream`.
fn stored(local: &Local, stream: &str) -> Vec<i64> {
    let state = local.handle().state().clone();
    local.runtime.block_on(async move {
        let record = state
            .stream_by_name_or_arn(Some(stream), None)
            .expect("stream exists");
        let media = state
            .media
            .ensure_stream(&record.arn, record.data_retention_hours)
            .await
            .expect("media");
        state
            .media
            .fragments_after(&media, None, 1000)
            .expect("fragments")
            .iter()
            .map(|f| f.cluster_timecode)
            .collect()
    })
}

fn config(local: &Local, stream: &str) -> UploaderConfig {
    let mut cfg = UploaderConfig::new(stream);
    cfg.region = Some("us-east-1".into());
    cfg.endpoint_uri = Some(local.url());
    cfg.credentials.access_key = Some(AKID.into());
    cfg.credentials.secret_key = Some(SECRET.into());
    cfg.max_backoff = Duration::from_millis(200);
    cfg
}

fn stream_header() -> Bytes {
    let header = StreamHeader {
        info: SegmentInfo::default(),
        tracks: vec![TrackInfo {
            number: 1,
            uid: 1,
            track_type: Some(TrackType::Video),
            name: Some("kvs video track".into()),
            codec_id: "V_MPEG4/ISO/AVC".into(),
            codec_private: Some(Bytes::from_static(&[
                0x01, 0x42, 0xC0, 0x1E, 0xFF, 0xE1, 0x00, 0x04, 0x67, 0x42, 0xC0, 0x1E, 0x01, 0x00,
                0x02, 0x68, 0xCE,
            ])),
            video: Some(VideoParams {
                pixel_width: 320,
                pixel_height: 240,
            }),
            audio: None,
        }],
    };
    let mut out = BytesMut::new();
    write_stream_header(&header, &mut out).expect("header");
    out.freeze()
}

/// One fragment of `frames` frames at 30 fps: a key frame then delta frames.
fn fragment(timecode: u64, frames: u64) -> Vec<Chunk> {
    let mut start = BytesMut::new();
    write_cluster_start(timecode, &mut start);
    let mut out = vec![Chunk::FragmentStart {
        timecode,
        bytes: start.freeze(),
    }];
    for i in 0..frames {
        let payload = Bytes::from(vec![
            0x00,
            0x00,
            0x00,
            0x05,
            0x65,
            (i % 200) as u8,
            0x11,
            0x22,
            0x33,
        ]);
        let rel = i16::try_from(i * 33).expect("small");
        let block = SimpleBlockHeader::new(1, rel, i == 0, payload.len()).expect("block");
        out.push(Chunk::Data(Bytes::copy_from_slice(block.as_bytes())));
        out.push(Chunk::Data(payload));
    }
    out.push(Chunk::FragmentEnd);
    out
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[test]
fn streams_into_kvs_local_and_every_fragment_is_stored() {
    let local = start_local();
    let events = Events::default();
    let up = Uploader::start(config(&local, "to-local"), events.sink()).expect("start");
    let t0 = now_ms();
    let sent: Vec<u64> = (0..5).map(|i| t0 + i * 1000).collect();
    up.send(Chunk::Header(stream_header()));
    for &tc in &sent {
        for c in fragment(tc, 30) {
            up.send(c);
        }
    }
    up.finish(WAIT).expect("finish");
    // kvs-local may persist fragments out of order; each must be acknowledged once.
    let mut persisted = events.acks("PERSISTED");
    persisted.sort_unstable();
    assert_eq!(persisted, sent);
    let mut stored: Vec<u64> = stored(&local, "to-local")
        .into_iter()
        .map(|t| t as u64)
        .collect();
    stored.sort_unstable();
    assert_eq!(stored, sent);
}

#[test]
fn wrong_secret_is_refused_by_kvs_local_with_a_clear_error() {
    let local = start_local();
    let mut cfg = config(&local, "bad-secret");
    cfg.credentials.secret_key = Some("not-the-secret".into());
    let events = Events::default();
    let up = Uploader::start(cfg, events.sink()).expect("start");
    up.send(Chunk::Header(stream_header()));
    for c in fragment(now_ms(), 3) {
        up.send(c);
    }
    let err = up.finish(WAIT).expect_err("signature mismatch");
    assert!(
        matches!(
            err,
            UploaderError::InvalidCredentials { .. } | UploaderError::AccessDenied { .. }
        ),
        "{err:?}"
    );
}
