// SPDX-License-Identifier: MPL-2.0
//! Authentication policies: signatures verified when keys are configured, unsigned requests
//! refused unless allowed, and refusals in the AWS error shape.

mod control_support;

use control_support::{ACCESS_KEY, AwsCli, SECRET_KEY, raw_request, start_with};
use kvs_core::sigv4::StaticSecrets;
use kvs_local::Config;

fn verifying_config(dir: &std::path::Path) -> Config {
    let mut config = Config::new(dir);
    config.auth.credentials = Some(StaticSecrets::new().with(ACCESS_KEY, SECRET_KEY));
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_are_verified_when_keys_are_configured() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(verifying_config(dir.path())).await;

    // The AWS CLI with the right key works.
    let good = AwsCli::new(server.base_url());
    good.ok(&["create-stream", "--stream-name", "signed"]);
    let info = good.ok(&["describe-stream", "--stream-name", "signed"]);
    assert_eq!(info["StreamInfo"]["StreamName"], "signed");

    // A wrong secret is a signature mismatch, an unknown key an unrecognised client.
    let wrong_secret = AwsCli::with_keys(server.base_url(), ACCESS_KEY, "not-the-secret");
    let err = wrong_secret.err(&["describe-stream", "--stream-name", "signed"]);
    assert!(err.contains("InvalidSignatureException"), "{err}");
    let unknown_key = AwsCli::with_keys(server.base_url(), "AKIDUNKNOWN", SECRET_KEY);
    let err = unknown_key.err(&["list-streams"]);
    assert!(err.contains("UnrecognizedClientException"), "{err}");

    // The Rust SDK signs differently (more headers, double URI encoding): same verdicts.
    let kv = control_rust_sdk_client(server.base_url(), ACCESS_KEY, SECRET_KEY);
    kv.describe_stream()
        .stream_name("signed")
        .send()
        .await
        .expect("correct key");
    let bad = control_rust_sdk_client(server.base_url(), ACCESS_KEY, "wrong");
    let err = bad
        .describe_stream()
        .stream_name("signed")
        .send()
        .await
        .expect_err("wrong secret");
    let raw = err.raw_response().expect("an HTTP answer");
    assert_eq!(raw.status().as_u16(), 403);
    assert_eq!(
        raw.headers().get("x-amzn-ErrorType"),
        Some("InvalidSignatureException")
    );

    // No Authorization at all.
    let resp = raw_request(server.base_url(), "POST", "/listStreams", b"{}");
    resp.assert_error(403, "MissingAuthenticationToken");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_requests_need_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(Config::new(dir.path())).await;
    let resp = raw_request(server.base_url(), "POST", "/listStreams", b"{}");
    resp.assert_error(403, "MissingAuthenticationToken");
    // A malformed Authorization is refused even when signatures are not checked.
    let resp = control_support::raw_request_with(
        server.base_url(),
        "POST",
        "/listStreams",
        b"{}",
        &[("Authorization", "Bearer abc")],
    );
    resp.assert_error(400, "IncompleteSignature");
    server.shutdown().await;

    let mut config = Config::new(dir.path());
    config.auth.allow_anonymous = true;
    let server = start_with(config).await;
    let resp = raw_request(server.base_url(), "POST", "/listStreams", b"{}");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["StreamInfoList"], serde_json::json!([]));
    server.shutdown().await;
}

fn control_rust_sdk_client(base: &str, key: &str, secret: &str) -> aws_sdk_kinesisvideo::Client {
    use aws_sdk_kinesisvideo::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_kinesisvideo::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(base)
        .credentials_provider(Credentials::new(key, secret, None, None, "test"))
        .build();
    aws_sdk_kinesisvideo::Client::from_conf(config)
}
