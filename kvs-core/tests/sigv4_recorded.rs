// SPDX-License-Identifier: MPL-2.0
//! SigV4 against requests recorded from AWS's kvssink and from boto3 / the Rust SDK.

mod sigv4_common;

use std::time::Duration;

use kvs_core::sigv4::{
    self, PayloadHash, SignOptions, StaticSecrets, VerifyError, VerifyOptions, VerifyPayload,
};
use sigv4_common::*;

fn secrets() -> StaticSecrets {
    StaticSecrets::new().with(RECORDED_ACCESS_KEY, RECORDED_SECRET)
}

fn is_put_media(r: &RecordedRequest) -> bool {
    r.path == "/putMedia"
}

fn payload(r: &RecordedRequest) -> VerifyPayload<'_> {
    if is_put_media(r) {
        VerifyPayload::Streaming
    } else {
        VerifyPayload::Bytes(&r.body)
    }
}

#[test]
fn verifier_accepts_every_recorded_kvssink_request() {
    let requests = all_recorded_requests();
    assert!(
        requests.len() >= 30,
        "only {} requests parsed",
        requests.len()
    );
    let mut put_media = 0;
    for r in &requests {
        let now = amz_time(r.header("X-Amz-Date").expect("date"));
        let info = sigv4::verify(
            &r.parts(),
            payload(r),
            &secrets(),
            now,
            &VerifyOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{} {}: {e}", r.file, r.path));
        assert_eq!(info.access_key_id, RECORDED_ACCESS_KEY);
        assert_eq!(info.region, RECORDED_REGION);
        assert_eq!(info.service, "kinesisvideo");
        put_media += usize::from(is_put_media(r));
    }
    assert_eq!(put_media, 10, "one PutMedia per capture, two for reconnect");
}

#[test]
fn verifier_rejects_recorded_requests_with_the_wrong_secret() {
    let wrong = StaticSecrets::new().with(RECORDED_ACCESS_KEY, "not-the-secret");
    for r in all_recorded_requests() {
        let now = amz_time(r.header("X-Amz-Date").expect("date"));
        let err = sigv4::verify(
            &r.parts(),
            payload(&r),
            &wrong,
            now,
            &VerifyOptions::default(),
        )
        .expect_err("wrong secret must fail");
        assert_eq!(err, VerifyError::SignatureMismatch);
    }
}

#[test]
fn recorded_requests_fail_when_the_clock_is_far_off() {
    let r = &all_recorded_requests()[0];
    let t = amz_time(r.header("X-Amz-Date").expect("date"));
    let opts = VerifyOptions::default();
    let late = t + Duration::from_secs(16 * 60);
    let err = sigv4::verify(&r.parts(), payload(r), &secrets(), late, &opts).unwrap_err();
    assert_eq!(err, VerifyError::RequestExpired { skew_secs: 960 });
    assert_eq!(err.aws_error_code(), "RequestExpired");
    let ok = t + Duration::from_secs(14 * 60);
    sigv4::verify(&r.parts(), payload(r), &secrets(), ok, &opts).expect("within 15 min");
}

/// Our signer, given the headers AWS's producer had set before signing, must produce the
/// very signature the producer sent.
#[test]
fn signer_reproduces_kvssink_signatures_exactly() {
    let creds = sigv4::static_credentials(RECORDED_ACCESS_KEY, RECORDED_SECRET, None);
    let mut checked = 0;
    for r in all_recorded_requests() {
        let mut unsigned = r.clone();
        // curl adds Accept and Expect after the producer has signed; the signer adds the rest.
        unsigned.headers.retain(|(n, _)| {
            !["accept", "expect", "authorization", "x-amz-date"]
                .contains(&n.to_ascii_lowercase().as_str())
        });
        let mut parts = unsigned.parts();
        let time = amz_time(r.header("X-Amz-Date").expect("date"));
        let hash = if is_put_media(&r) {
            PayloadHash::EmptyStreaming
        } else {
            PayloadHash::Bytes(&r.body)
        };
        sigv4::sign(&mut parts, &creds, RECORDED_REGION, time, hash).expect("sign");
        let ours = parts.headers["authorization"].to_str().expect("ascii");
        assert_eq!(
            ours,
            r.header("Authorization").expect("recorded authorization"),
            "{} {}",
            r.file,
            r.path
        );
        checked += 1;
    }
    assert!(checked >= 30);
}

/// One recorded line of sdk-control-plane-requests.txt.
struct SdkRequest {
    client: String,
    path: String,
    content_type: String,
    region: String,
    signed: Vec<String>,
    body: String,
}

fn sdk_requests() -> Vec<SdkRequest> {
    let text = std::fs::read_to_string(format!("{SHARED}/sdk-control-plane-requests.txt"))
        .expect("read sdk-control-plane-requests.txt");
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix('[') else {
            continue;
        };
        let (client, path) = rest.split_once(']').expect("client");
        let meta = lines[i + 1];
        let body = lines[i + 2]
            .trim()
            .strip_prefix("body=")
            .expect("body line");
        let field = |key: &str| {
            meta.split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .expect("meta field")
                .to_owned()
        };
        let scope = field("scope=");
        out.push(SdkRequest {
            client: client.trim().to_owned(),
            path: path.trim().to_owned(),
            content_type: field("content-type="),
            region: scope.split('/').next().expect("region").to_owned(),
            signed: field("signed=").split(';').map(str::to_owned).collect(),
            body: body.to_owned(),
        });
    }
    out
}

/// The SDK recordings have their signatures trimmed, so their structure is rebuilt here:
/// the same path, body and signed-header set, signed with a known key; the verifier must
/// accept each shape (boto3 signs content-type, the Rust SDK also content-length and
/// x-amz-user-agent).
#[test]
fn verifier_accepts_sdk_request_shapes() {
    let requests = sdk_requests();
    assert_eq!(requests.len(), 13);
    let creds = sigv4::static_credentials("AKIDSDK", "sdk-secret", None);
    let secrets = StaticSecrets::new().with("AKIDSDK", "sdk-secret");
    let time = amz_time("20240102T030405Z");
    for r in &requests {
        let mut builder = http::Request::builder()
            .method("POST")
            .uri(format!("http://127.0.0.1:5124{}", r.path))
            .header("host", "127.0.0.1:5124")
            .header("content-type", &r.content_type)
            .header("content-length", r.body.len().to_string());
        if r.client == "rust" {
            builder = builder
                .header("x-amz-user-agent", "aws-sdk-rust/1.3.x")
                .header("user-agent", "aws-sdk-rust/1.3.x os/linux")
                .header("amz-sdk-request", "attempt=1; max=3");
        }
        let mut parts = builder.body(()).expect("request").into_parts().0;
        // Exclude every header present but not in the recorded signed set.
        let excluded: Vec<std::borrow::Cow<'static, str>> = parts
            .headers
            .keys()
            .map(|k| k.as_str().to_owned())
            .filter(|k| !r.signed.contains(k))
            .map(std::borrow::Cow::Owned)
            .collect();
        let options = SignOptions {
            excluded_headers: excluded,
            ..SignOptions::default()
        };
        sigv4::sign_with(
            &mut parts,
            &creds,
            &r.region,
            time,
            PayloadHash::Bytes(r.body.as_bytes()),
            &options,
        )
        .expect("sign");
        let info = sigv4::verify(
            &parts,
            VerifyPayload::Bytes(r.body.as_bytes()),
            &secrets,
            time,
            &VerifyOptions::default(),
        )
        .unwrap_or_else(|e| panic!("[{}] {}: {e}", r.client, r.path));
        assert_eq!(info.signed_headers, r.signed, "[{}] {}", r.client, r.path);
        assert_eq!(info.region, "us-west-2");
        let parsed = sigv4::parse_only(&parts.headers).expect("parse only");
        assert_eq!(parsed, info);
    }
}
