// SPDX-License-Identifier: MPL-2.0
//! The AWS SDK for Rust as a media client: `aws-sdk-kinesisvideomedia` GetMedia and
//! `aws-sdk-kinesisvideoarchivedmedia` ListFragments (paginator, timestamp ranges) and
//! GetMediaForFragmentList against streams filled by replaying kvssink recordings, the
//! errors the SDK maps to typed variants, and the order of PERSISTED ACKs in one session.

mod media_support;

use std::time::Duration;

use archived::error::ProvideErrorMetadata;
use aws_sdk_kinesisvideoarchivedmedia as archived;
use aws_sdk_kinesisvideomedia as media;
use kvs_core::putmedia::{AckEventType, TimecodeType};
use kvs_local::{Config, Server, ServerHandle};
use media_support::http::{create_stream, put_media_chunks};
use media_support::*;

async fn server(dir: &std::path::Path) -> ServerHandle {
    let mut config = Config::new(dir);
    config.auth.allow_anonymous = true;
    Server::start(config).await.expect("server starts")
}

fn media_client(base: &str) -> media::Client {
    let config = media::Config::builder()
        .behavior_version(media::config::BehaviorVersion::latest())
        .region(media::config::Region::new("us-east-1"))
        .endpoint_url(base)
        .credentials_provider(media::config::Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        ))
        .build();
    media::Client::from_conf(config)
}

fn archived_client(base: &str) -> archived::Client {
    let config = archived::Config::builder()
        .behavior_version(archived::config::BehaviorVersion::latest())
        .region(archived::config::Region::new("us-east-1"))
        .endpoint_url(base)
        .credentials_provider(archived::config::Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        ))
        .build();
    archived::Client::from_conf(config)
}

fn token_count(data: &[u8]) -> usize {
    let needle = kvs_core::getmedia::TAG_CONTINUATION_TOKEN.as_bytes();
    data.windows(needle.len()).filter(|w| *w == needle).count()
}

fn tag_values<'a>(parsed: &'a Parsed, name: &str) -> Vec<&'a str> {
    parsed
        .tags
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Epoch milliseconds, rounded: the wire carries epoch seconds as a JSON double (as the
/// service does), which the SDK may read as x.217999… for x.218.
fn millis(dt: &archived::primitives::DateTime) -> i64 {
    (dt.as_secs_f64() * 1000.0).round() as i64
}

async fn sdk_round_trip(name: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = server(dir.path()).await;
    let base = srv.base_url().to_owned();
    let stream = format!("sdk-{name}");
    create_stream(&base, &stream, 2).await;
    let cap = capture(name);
    let n = cap.buffering_timecodes.len();
    assert!(n >= 4, "{name}: enough fragments for pages and ranges");
    let acks = put_media_chunks(
        &base,
        &stream,
        cap.timecode_type,
        cap.producer_start_ms,
        split(&cap.body, &cap.chunks),
        n,
    )
    .await;
    let acked: Vec<String> = check_ack_sequence(&acks, true)
        .into_iter()
        .map(|f| f.0)
        .collect();
    let original_blocks = parse_documents(&cap.body).blocks;

    // ListFragments through the SDK's paginator, pages of 3, over a server-time range.
    let am = archived_client(&base);
    let now = kvs_local::media::now_ms();
    let server_range = archived::types::FragmentSelector::builder()
        .fragment_selector_type(archived::types::FragmentSelectorType::ServerTimestamp)
        .timestamp_range(
            archived::types::TimestampRange::builder()
                .start_timestamp(archived::primitives::DateTime::from_millis(now - 600_000))
                .end_timestamp(archived::primitives::DateTime::from_millis(now + 60_000))
                .build()
                .expect("range"),
        )
        .build()
        .expect("selector");
    let mut pages = am
        .list_fragments()
        .stream_name(&stream)
        .fragment_selector(server_range.clone())
        .max_results(3)
        .into_paginator()
        .send();
    let mut page_count = 0;
    let mut listed = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.expect("ListFragments page");
        page_count += 1;
        let fragments = page.fragments.unwrap_or_default();
        assert!(fragments.len() <= 3, "MaxResults honoured");
        listed.extend(fragments);
    }
    assert_eq!(page_count, n.div_ceil(3), "{name}: pages of 3");
    listed.sort_by(|a, b| a.fragment_number.cmp(&b.fragment_number));
    let numbers: Vec<String> = listed
        .iter()
        .map(|f| f.fragment_number.clone().expect("FragmentNumber"))
        .collect();
    assert_eq!(
        numbers, acked,
        "{name}: the paginator lists every ACKed fragment"
    );
    for (f, tc) in listed.iter().zip(&cap.buffering_timecodes) {
        // ABSOLUTE producer: ProducerTimestamp is the recording's cluster timecode.
        let p = f.producer_timestamp.as_ref().expect("ProducerTimestamp");
        assert_eq!(millis(p), i64::try_from(*tc).unwrap_or(-1), "{f:?}");
        let s = f.server_timestamp.as_ref().expect("ServerTimestamp");
        assert!((now - 600_000..=now + 60_000).contains(&millis(s)), "{f:?}");
        assert!(f.fragment_size_in_bytes > 0);
    }

    // A PRODUCER_TIMESTAMP range exactly from fragment 1 to fragment 2 (both inclusive),
    // through the items() view of the paginator.
    let (t1, t2) = (cap.buffering_timecodes[1], cap.buffering_timecodes[2]);
    let producer_range = archived::types::FragmentSelector::builder()
        .fragment_selector_type(archived::types::FragmentSelectorType::ProducerTimestamp)
        .timestamp_range(
            archived::types::TimestampRange::builder()
                .start_timestamp(archived::primitives::DateTime::from_millis(
                    i64::try_from(t1).unwrap_or(0),
                ))
                .end_timestamp(archived::primitives::DateTime::from_millis(
                    i64::try_from(t2).unwrap_or(0),
                ))
                .build()
                .expect("range"),
        )
        .build()
        .expect("selector");
    let mut items = am
        .list_fragments()
        .stream_name(&stream)
        .fragment_selector(producer_range)
        .into_paginator()
        .items()
        .send();
    let mut in_range = Vec::new();
    while let Some(f) = items.next().await {
        in_range.push(f.expect("fragment").fragment_number.unwrap_or_default());
    }
    in_range.sort();
    assert_eq!(in_range, acked[1..=2].to_vec(), "{name}: producer range");

    // GetMediaForFragmentList: every fragment, all frames.
    let out = am
        .get_media_for_fragment_list()
        .stream_name(&stream)
        .set_fragments(Some(acked.clone()))
        .send()
        .await
        .expect("GetMediaForFragmentList");
    assert_eq!(out.content_type.as_deref(), Some("video/webm"));
    let data = tokio::time::timeout(Duration::from_secs(60), out.payload.collect())
        .await
        .expect("payload within 60 s")
        .expect("payload")
        .into_bytes();
    let parsed = parse_documents(&data);
    assert_eq!(parsed.documents, n, "{name}: one document per fragment");
    assert_eq!(parsed.blocks, original_blocks, "{name}: every frame");
    assert_eq!(
        tag_values(&parsed, "AWS_KINESISVIDEO_FRAGMENT_NUMBER"),
        acked.iter().map(String::as_str).collect::<Vec<_>>()
    );

    // GetMedia EARLIEST: the payload stays open (live), so read until every fragment's
    // continuation token arrived, then drop it.
    let mc = media_client(&base);
    let out = mc
        .get_media()
        .stream_name(&stream)
        .start_selector(
            media::types::StartSelector::builder()
                .start_selector_type(media::types::StartSelectorType::Earliest)
                .build()
                .expect("selector"),
        )
        .send()
        .await
        .expect("GetMedia");
    assert_eq!(out.content_type.as_deref(), Some("video/webm"));
    let mut payload = out.payload;
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while token_count(&got) < n {
        match tokio::time::timeout_at(deadline, payload.next()).await {
            Ok(Some(chunk)) => got.extend_from_slice(&chunk.expect("GetMedia chunk")),
            Ok(None) => panic!("{name}: GetMedia ended before {n} fragments"),
            Err(_) => panic!("{name}: GetMedia delivered fewer than {n} fragments in 60 s"),
        }
    }
    drop(payload);
    let parsed = parse_documents(&got);
    assert_eq!(parsed.documents, n);
    assert_eq!(
        parsed.blocks, original_blocks,
        "{name}: GetMedia, every frame"
    );
    assert_eq!(
        tag_values(&parsed, "AWS_KINESISVIDEO_FRAGMENT_NUMBER"),
        acked.iter().map(String::as_str).collect::<Vec<_>>()
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_h264() {
    sdk_round_trip("h264").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_h265() {
    sdk_round_trip("h265").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_h264_aac() {
    sdk_round_trip("h264-aac").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_aac_only() {
    sdk_round_trip("aac-only").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_errors_are_typed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = server(dir.path()).await;
    let base = srv.base_url().to_owned();
    create_stream(&base, "zero", 0).await;
    create_stream(&base, "kept", 1).await;
    let am = archived_client(&base);
    let mc = media_client(&base);
    let any_range = || {
        archived::types::FragmentSelector::builder()
            .fragment_selector_type(archived::types::FragmentSelectorType::ServerTimestamp)
            .timestamp_range(
                archived::types::TimestampRange::builder()
                    .start_timestamp(archived::primitives::DateTime::from_secs(0))
                    .end_timestamp(archived::primitives::DateTime::from_secs(4_000_000_000))
                    .build()
                    .expect("range"),
            )
            .build()
            .expect("selector")
    };

    let err = am
        .list_fragments()
        .stream_name("absent")
        .fragment_selector(any_range())
        .send()
        .await
        .expect_err("unknown stream");
    let svc = err.as_service_error().expect("service error");
    assert!(svc.is_resource_not_found_exception(), "{svc:?}");

    let err = mc
        .get_media()
        .stream_name("absent")
        .start_selector(
            media::types::StartSelector::builder()
                .start_selector_type(media::types::StartSelectorType::Now)
                .build()
                .expect("selector"),
        )
        .send()
        .await
        .expect_err("unknown stream");
    let svc = err.as_service_error().expect("service error");
    assert!(svc.is_resource_not_found_exception(), "{svc:?}");

    // ListFragments' model has no NoDataRetentionException: the SDK keeps it as an
    // unmodelled error whose code is still readable.
    let err = am
        .list_fragments()
        .stream_name("zero")
        .fragment_selector(any_range())
        .send()
        .await
        .expect_err("retention 0");
    let svc = err.as_service_error().expect("service error");
    assert_eq!(svc.code(), Some("NoDataRetentionException"), "{svc:?}");

    let err = am
        .list_fragments()
        .stream_name("kept")
        .next_token("not-a-token")
        .send()
        .await
        .expect_err("bad token");
    let svc = err.as_service_error().expect("service error");
    assert!(svc.is_invalid_argument_exception(), "{svc:?}");

    let err = mc
        .get_media()
        .stream_name("kept")
        .start_selector(
            media::types::StartSelector::builder()
                .start_selector_type(media::types::StartSelectorType::FragmentNumber)
                .build()
                .expect("selector"),
        )
        .send()
        .await
        .expect_err("FRAGMENT_NUMBER without AfterFragmentNumber");
    let svc = err.as_service_error().expect("service error");
    assert!(svc.is_invalid_argument_exception(), "{svc:?}");

    let err = am
        .get_media_for_fragment_list()
        .stream_name("absent")
        .fragments("91343852333000000000000000000000001099511627776")
        .send()
        .await
        .expect_err("unknown stream");
    let svc = err.as_service_error().expect("service error");
    assert!(svc.is_resource_not_found_exception(), "{svc:?}");
    srv.shutdown().await;
}

/// One PutMedia session of many small fragments sent at once: AWS's producer SDK trims its
/// buffer up to each PERSISTED fragment and consumers expect order, so PERSISTED ACKs come
/// in fragment order even when the store completes several fragments together. Three
/// streams ingest concurrently so that group commits hold fragments of several sessions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persisted_acks_come_in_fragment_order() {
    const FRAGMENTS: u64 = 200;
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = server(dir.path()).await;
    let base = srv.base_url().to_owned();
    let mut sessions = Vec::new();
    for s in 0..3 {
        let stream = format!("order-{s}");
        create_stream(&base, &stream, 1).await;
        let start = 1_700_000_000_000u64;
        let mut body = Synth::new(1);
        for i in 0..FRAGMENTS {
            body.fragment(start + i * 100, 2, 64);
        }
        let body = body.bytes();
        let base = base.clone();
        sessions.push(tokio::spawn(async move {
            let chunks = vec![bytes::Bytes::from(body)];
            put_media_chunks(
                &base,
                &stream,
                TimecodeType::Absolute,
                start,
                chunks,
                FRAGMENTS as usize,
            )
            .await
        }));
    }
    for session in sessions {
        let acks = session.await.expect("session");
        let persisted: Vec<u64> = acks
            .iter()
            .filter(|a| a.event_type == AckEventType::Persisted)
            .map(|a| a.fragment_timecode.expect("FragmentTimecode"))
            .collect();
        assert_eq!(persisted.len(), FRAGMENTS as usize);
        let out_of_order: Vec<(u64, u64)> = persisted
            .windows(2)
            .filter(|w| w[0] >= w[1])
            .map(|w| (w[0], w[1]))
            .collect();
        assert!(
            out_of_order.is_empty(),
            "PERSISTED ACK timecodes must strictly increase; out of order: {out_of_order:?}"
        );
        // RECEIVED of a fragment always precedes its PERSISTED.
        check_ack_sequence(&acks, true);
    }
    srv.shutdown().await;
}
