// SPDX-License-Identifier: MPL-2.0
//! The AWS SDK for Rust (`aws-sdk-kinesisvideo`) as a client: typed outputs and errors,
//! version checks, tags, the CREATING → ACTIVE life cycle and restart persistence.

mod control_support;

use std::time::Duration;

use aws_sdk_kinesisvideo::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kinesisvideo::types::{ApiName, Status, UpdateDataRetentionOperation};
use control_support::{ACCESS_KEY, SECRET_KEY, start, start_with};
use kvs_local::Config;

pub fn client(base_url: &str, key: &str, secret: &str) -> aws_sdk_kinesisvideo::Client {
    let config = aws_sdk_kinesisvideo::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-west-2"))
        .endpoint_url(base_url)
        .credentials_provider(Credentials::new(key, secret, None, None, "test"))
        .build();
    aws_sdk_kinesisvideo::Client::from_conf(config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_sdk_stream_life_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let kv = client(server.base_url(), ACCESS_KEY, SECRET_KEY);

    let arn = kv
        .create_stream()
        .stream_name("sdk-1")
        .data_retention_in_hours(2)
        .media_type("video/h264,audio/aac")
        .tags("a", "1")
        .send()
        .await
        .expect("create")
        .stream_arn
        .expect("arn");
    assert!(arn.starts_with("arn:aws:kinesisvideo:us-west-2:000000000000:stream/sdk-1/"));

    let info = kv
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .expect("describe")
        .stream_info
        .expect("info");
    assert_eq!(info.status, Some(Status::Active));
    assert_eq!(info.data_retention_in_hours, Some(2));
    assert_eq!(info.media_type.as_deref(), Some("video/h264,audio/aac"));
    let created = info.creation_time.expect("creation time");
    let arn_ms: i64 = arn.rsplit('/').next().unwrap().parse().unwrap();
    // Epoch seconds as a double lose a little: the SDK may read x.338 as x.33799….
    assert!(
        (created.to_millis().unwrap() - arn_ms).abs() <= 1,
        "{created:?} vs {arn_ms}"
    );

    let err = kv
        .describe_stream()
        .stream_name("absent")
        .send()
        .await
        .expect_err("absent stream");
    assert!(
        err.as_service_error()
            .unwrap()
            .is_resource_not_found_exception()
    );

    let err = kv
        .update_data_retention()
        .stream_name("sdk-1")
        .current_version("stale")
        .operation(UpdateDataRetentionOperation::DecreaseDataRetention)
        .data_retention_change_in_hours(1)
        .send()
        .await
        .expect_err("stale version");
    assert!(
        err.as_service_error()
            .unwrap()
            .is_version_mismatch_exception()
    );
    kv.update_data_retention()
        .stream_name("sdk-1")
        .current_version(info.version.clone().unwrap())
        .operation(UpdateDataRetentionOperation::DecreaseDataRetention)
        .data_retention_change_in_hours(1)
        .send()
        .await
        .expect("decrease retention");

    // 50 tags at most, counting those already there.
    let mut too_many = kv.tag_stream().stream_name("sdk-1");
    for i in 0..50 {
        too_many = too_many.tags(format!("k{i}"), "v");
    }
    let err = too_many.send().await.expect_err("51 tags");
    assert!(
        err.as_service_error()
            .unwrap()
            .is_tags_per_resource_exceeded_limit_exception()
    );
    let tags = kv
        .list_tags_for_stream()
        .stream_name("sdk-1")
        .send()
        .await
        .expect("tags")
        .tags
        .unwrap_or_default();
    assert_eq!(tags.len(), 1);

    let endpoint = kv
        .get_data_endpoint()
        .stream_name("sdk-1")
        .api_name(ApiName::GetMedia)
        .send()
        .await
        .expect("endpoint")
        .data_endpoint
        .expect("data endpoint");
    assert_eq!(endpoint, server.base_url());

    kv.delete_stream()
        .stream_arn(&arn)
        .send()
        .await
        .expect("delete");
    let err = kv
        .delete_stream()
        .stream_arn(&arn)
        .send()
        .await
        .expect_err("deleted twice");
    assert!(
        err.as_service_error()
            .unwrap()
            .is_resource_not_found_exception()
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let kv = client(server.base_url(), ACCESS_KEY, SECRET_KEY);
    kv.create_stream()
        .stream_name("durable")
        .data_retention_in_hours(5)
        .tags("keep", "me")
        .send()
        .await
        .expect("create");
    let before = kv
        .describe_stream()
        .stream_name("durable")
        .send()
        .await
        .unwrap()
        .stream_info
        .unwrap();
    server.shutdown().await;

    let server = start(dir.path()).await;
    let kv = client(server.base_url(), ACCESS_KEY, SECRET_KEY);
    let after = kv
        .describe_stream()
        .stream_name("durable")
        .send()
        .await
        .expect("still there")
        .stream_info
        .unwrap();
    assert_eq!(after, before);
    let tags = kv
        .list_tags_for_stream()
        .stream_name("durable")
        .send()
        .await
        .unwrap()
        .tags
        .unwrap_or_default();
    assert_eq!(tags.get("keep").map(String::as_str), Some("me"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_streams_are_creating_until_the_activation_delay_passes() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path());
    config.activation_delay = Duration::from_millis(300);
    let server = start_with(config).await;
    let kv = client(server.base_url(), ACCESS_KEY, SECRET_KEY);
    kv.create_stream().stream_name("slow").send().await.unwrap();
    let status = |kv: aws_sdk_kinesisvideo::Client| async move {
        kv.describe_stream()
            .stream_name("slow")
            .send()
            .await
            .unwrap()
            .stream_info
            .unwrap()
            .status
            .unwrap()
    };
    assert_eq!(status(kv.clone()).await, Status::Creating);
    // Updates need an ACTIVE stream.
    let err = kv
        .update_stream()
        .stream_name("slow")
        .current_version("x")
        .send()
        .await
        .expect_err("still creating");
    let svc = err.as_service_error().unwrap();
    assert!(
        svc.is_resource_in_use_exception() || svc.is_version_mismatch_exception(),
        "{svc:?}"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if status(kv.clone()).await == Status::Active {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never became ACTIVE"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.shutdown().await;
}
