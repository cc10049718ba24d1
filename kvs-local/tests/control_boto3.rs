// SPDX-License-Identifier: MPL-2.0
//! boto3 (from the project's virtualenv) as an independent client: ListStreams pagination
//! through botocore's own paginator, prefix conditions and the typed exceptions.

mod control_support;

use control_support::{ACCESS_KEY, AwsEnv, SECRET_KEY, start, venv_bin};

const SCRIPT: &str = r#"
import json, sys
import boto3

kv = boto3.client("kinesisvideo", endpoint_url=sys.argv[1], region_name="eu-west-1")
for i in range(7):
    kv.create_stream(StreamName=f"page-{i:02d}", DataRetentionInHours=1)
for name in ("other-a", "other-b"):
    kv.create_stream(StreamName=name)

pages = []
paginator = kv.get_paginator("list_streams")
for page in paginator.paginate(
    StreamNameCondition={"ComparisonOperator": "BEGINS_WITH", "ComparisonValue": "page-"},
    PaginationConfig={"PageSize": 3},
):
    pages.append([s["StreamName"] for s in page["StreamInfoList"]])

first = kv.list_streams(MaxResults=4)
rest = kv.list_streams(MaxResults=100, NextToken=first["NextToken"])

try:
    kv.describe_stream(StreamName="missing")
    missing = "no error"
except kv.exceptions.ResourceNotFoundException as e:
    missing = e.response["Error"]["Code"]

arn = kv.describe_stream(StreamName="page-00")["StreamInfo"]["StreamARN"]
print(json.dumps({
    "pages": pages,
    "first": [s["StreamName"] for s in first["StreamInfoList"]],
    "first_has_token": "NextToken" in first,
    "rest": [s["StreamName"] for s in rest["StreamInfoList"]],
    "rest_has_token": "NextToken" in rest,
    "missing": missing,
    "arn": arn,
}))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_paginates_list_streams() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let env = AwsEnv::new();
    let out = env
        .command(&venv_bin("python"), ACCESS_KEY, SECRET_KEY)
        .arg("-c")
        .arg(SCRIPT)
        .arg(server.base_url())
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "boto3 script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON from script");
    assert_eq!(
        v["pages"],
        serde_json::json!([
            ["page-00", "page-01", "page-02"],
            ["page-03", "page-04", "page-05"],
            ["page-06"]
        ])
    );
    assert_eq!(
        v["first"],
        serde_json::json!(["other-a", "other-b", "page-00", "page-01"])
    );
    assert_eq!(v["first_has_token"], true);
    assert_eq!(
        v["rest"],
        serde_json::json!(["page-02", "page-03", "page-04", "page-05", "page-06"])
    );
    assert_eq!(v["rest_has_token"], false);
    assert_eq!(v["missing"], "ResourceNotFoundException");
    // Signed requests put their signing region into new ARNs.
    assert!(
        v["arn"]
            .as_str()
            .is_some_and(|a| a.starts_with("arn:aws:kinesisvideo:eu-west-1:")),
        "{}",
        v["arn"]
    );
    server.shutdown().await;
}
