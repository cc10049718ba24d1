// SPDX-License-Identifier: MPL-2.0
//! The HTTP surface seen without an SDK: routing, methods, malformed bodies and validation,
//! each answered in the AWS rest-json error shape.

mod control_support;

use control_support::{RawResponse, raw_request, start_with};
use kvs_local::Config;
use serde_json::json;

async fn anonymous_server(dir: &std::path::Path) -> kvs_local::ServerHandle {
    let mut config = Config::new(dir);
    config.auth.allow_anonymous = true;
    start_with(config).await
}

fn post(base: &str, path: &str, body: serde_json::Value) -> RawResponse {
    raw_request(base, "POST", path, body.to_string().as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_aws_shaped_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = anonymous_server(dir.path()).await;
    let base = server.base_url();

    raw_request(base, "POST", "/noSuchOperation", b"{}")
        .assert_error(404, "UnknownOperationException");
    // Paths are case-sensitive, as on the service.
    raw_request(base, "POST", "/tagresource", b"{}").assert_error(404, "UnknownOperationException");
    let resp = raw_request(base, "GET", "/describeStream", b"");
    resp.assert_error(405, "MethodNotAllowedException");
    assert_eq!(resp.header("allow"), Some("POST"));

    raw_request(base, "POST", "/createStream", b"{\"StreamName\": ")
        .assert_error(400, "SerializationException");
    raw_request(base, "POST", "/createStream", b"[1,2]")
        .assert_error(400, "InvalidArgumentException");
    post(base, "/createStream", json!({})).assert_error(400, "InvalidArgumentException");
    post(base, "/createStream", json!({"StreamName": 5}))
        .assert_error(400, "InvalidArgumentException");
    post(
        base,
        "/createStream",
        json!({"StreamName": "x".repeat(257)}),
    )
    .assert_error(400, "InvalidArgumentException");
    post(
        base,
        "/createStream",
        json!({"StreamName": "ok", "MediaType": "h264"}),
    )
    .assert_error(400, "InvalidArgumentException");
    post(
        base,
        "/createStream",
        json!({"StreamName": "ok", "DataRetentionInHours": 87_601}),
    )
    .assert_error(400, "InvalidArgumentException");
    post(
        base,
        "/createStream",
        json!({"StreamName": "ok", "DeviceName": "bad device"}),
    )
    .assert_error(400, "InvalidArgumentException");
    let tags: serde_json::Map<_, _> = (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    post(
        base,
        "/createStream",
        json!({"StreamName": "ok", "Tags": tags}),
    )
    .assert_error(400, "TagsPerResourceExceededLimitException");
    post(
        base,
        "/createStream",
        json!({"StreamName": "ok", "Tags": {"bad\u{1}key": "v"}}),
    )
    .assert_error(400, "InvalidArgumentException");
    post(base, "/describeStream", json!({})).assert_error(400, "InvalidArgumentException");
    post(
        base,
        "/describeStream",
        json!({"StreamARN": "arn:aws:s3:::bucket"}),
    )
    .assert_error(400, "InvalidArgumentException");
    post(base, "/listStreams", json!({"MaxResults": 0}))
        .assert_error(400, "InvalidArgumentException");
    post(base, "/listStreams", json!({"NextToken": "zz"}))
        .assert_error(400, "InvalidArgumentException");
    post(
        base,
        "/listStreams",
        json!({"StreamNameCondition": {"ComparisonOperator": "ENDS_WITH", "ComparisonValue": "a"}}),
    )
    .assert_error(400, "InvalidArgumentException");
    post(
        base,
        "/getDataEndpoint",
        json!({"StreamName": "nope", "APIName": "GET_MEDIA"}),
    )
    .assert_error(404, "ResourceNotFoundException");
    post(
        base,
        "/deleteStream",
        json!({"StreamARN": "arn:aws:kinesisvideo:us-east-1:000000000000:stream/nope/1"}),
    )
    .assert_error(404, "ResourceNotFoundException");

    // None of the refused creates left anything behind.
    let listed = post(base, "/listStreams", json!({}));
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json()["StreamInfoList"], json!([]));

    // An empty body reads as `{}`.
    let resp = raw_request(base, "POST", "/listStreams", b"");
    assert_eq!(resp.status, 200);
    assert!(resp.header("x-amzn-RequestId").is_some());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_and_configuration_rules() {
    let dir = tempfile::tempdir().unwrap();
    let server = anonymous_server(dir.path()).await;
    let base = server.base_url();
    let created = post(
        base,
        "/createStream",
        json!({"StreamName": "t", "DataRetentionInHours": 1}),
    );
    assert_eq!(created.status, 200);
    let arn = created.json()["StreamARN"].as_str().unwrap().to_owned();

    post(base, "/tagStream", json!({"StreamName": "t", "Tags": {}}))
        .assert_error(400, "InvalidArgumentException");
    post(
        base,
        "/tagStream",
        json!({"StreamARN": "not-an-arn", "Tags": {"a": "b"}}),
    )
    .assert_error(400, "InvalidResourceFormatException");
    post(
        base,
        "/untagStream",
        json!({"StreamName": "t", "TagKeyList": []}),
    )
    .assert_error(400, "InvalidArgumentException");
    post(
        base,
        "/TagResource",
        json!({"ResourceARN": arn, "Tags": [{"Key": "k"}]}),
    )
    .assert_error(400, "InvalidArgumentException");
    let tags: Vec<_> = (0..50)
        .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
        .collect();
    assert_eq!(
        post(
            base,
            "/TagResource",
            json!({"ResourceARN": arn, "Tags": tags})
        )
        .status,
        200
    );
    // Overwriting an existing key does not count as a new tag; a 51st does.
    assert_eq!(
        post(
            base,
            "/tagStream",
            json!({"StreamName": "t", "Tags": {"k0": "new"}})
        )
        .status,
        200
    );
    post(
        base,
        "/tagStream",
        json!({"StreamName": "t", "Tags": {"k50": "v"}}),
    )
    .assert_error(400, "TagsPerResourceExceededLimitException");
    let listed = post(base, "/ListTagsForResource", json!({"ResourceARN": arn}));
    assert_eq!(listed.json()["Tags"].as_object().unwrap().len(), 50);
    assert_eq!(listed.json()["Tags"]["k0"], "new");

    let image = |region: &str, interval: i64| {
        json!({"StreamName": "t", "ImageGenerationConfiguration": {
            "Status": "ENABLED", "ImageSelectorType": "PRODUCER_TIMESTAMP",
            "DestinationConfig": {"Uri": "s3://b/p", "DestinationRegion": region},
            "SamplingInterval": interval, "Format": "PNG"}})
    };
    post(
        base,
        "/updateImageGenerationConfiguration",
        image("eu-west-1", 1000),
    )
    .assert_error(400, "InvalidArgumentException");
    post(
        base,
        "/updateImageGenerationConfiguration",
        image("us-east-1", 10),
    )
    .assert_error(400, "InvalidArgumentException");
    assert_eq!(
        post(
            base,
            "/updateImageGenerationConfiguration",
            image("us-east-1", 1000)
        )
        .status,
        200
    );
    let got = post(
        base,
        "/describeImageGenerationConfiguration",
        json!({"StreamName": "t"}),
    );
    assert_eq!(got.json()["ImageGenerationConfiguration"]["Format"], "PNG");
    // Absent configuration removes it.
    assert_eq!(
        post(
            base,
            "/updateImageGenerationConfiguration",
            json!({"StreamName": "t"})
        )
        .status,
        200
    );
    let got = post(
        base,
        "/describeImageGenerationConfiguration",
        json!({"StreamName": "t"}),
    );
    assert_eq!(got.json(), json!({}));
    server.shutdown().await;
}
