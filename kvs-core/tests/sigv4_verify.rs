// SPDX-License-Identifier: MPL-2.0
//! Sign-then-verify round trips and the verifier's refusals.

use std::time::{Duration, SystemTime};

use http::HeaderValue;
use kvs_core::putmedia::{ProducerStartTimestamp, PutMediaHeaders, StreamId, TimecodeType};
use kvs_core::sigv4::{
    self, PayloadHash, SecretKey, StaticSecrets, VerifyError, VerifyOptions, VerifyPayload,
};

const AKID: &str = "AKIDLOCAL";
const SECRET: &str = "local/secret+KEY";
const TOKEN: &str = "session-token-value";
const BODY: &[u8] = br#"{"StreamName":"cam-1"}"#;

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_417_002)
}

fn secrets() -> StaticSecrets {
    StaticSecrets::new().with(AKID, SECRET)
}

fn control_plane(token: Option<&str>) -> http::request::Parts {
    let mut parts = http::Request::post("http://127.0.0.1:4566/describeStream")
        .header("content-type", "application/json")
        .header("content-length", BODY.len().to_string())
        .header("user-agent", "gst-kvs/0.1")
        .body(())
        .expect("request")
        .into_parts()
        .0;
    let creds = sigv4::static_credentials(AKID, SECRET, token.map(str::to_owned));
    sigv4::sign(
        &mut parts,
        &creds,
        "eu-west-1",
        t0(),
        PayloadHash::Bytes(BODY),
    )
    .expect("sign");
    parts
}

fn put_media() -> http::request::Parts {
    let mut parts = http::Request::post("http://127.0.0.1:4566/putMedia")
        .header("transfer-encoding", "chunked")
        .header("connection", "keep-alive")
        .body(())
        .expect("request")
        .into_parts()
        .0;
    PutMediaHeaders {
        stream: StreamId::Name("cam-1".into()),
        timecode_type: TimecodeType::Absolute,
        producer_start_timestamp: ProducerStartTimestamp::from_millis(1_795_417_002_005),
        ack_required: true,
        user_agent: Some("gst-kvs/0.1".into()),
    }
    .apply(&mut parts.headers)
    .expect("headers");
    let creds = sigv4::static_credentials(AKID, SECRET, None);
    sigv4::sign(
        &mut parts,
        &creds,
        "eu-west-1",
        t0(),
        PayloadHash::EmptyStreaming,
    )
    .expect("sign");
    parts
}

fn check(
    parts: &http::request::Parts,
    payload: VerifyPayload<'_>,
) -> Result<sigv4::AuthInfo, VerifyError> {
    sigv4::verify(parts, payload, &secrets(), t0(), &VerifyOptions::default())
}

#[test]
fn control_plane_round_trip() {
    let parts = control_plane(None);
    let info = check(&parts, VerifyPayload::Bytes(BODY)).expect("verify");
    assert_eq!(info.access_key_id, AKID);
    assert_eq!(info.region, "eu-west-1");
    assert_eq!(info.service, "kinesisvideo");
    // Like AWS's producer: content-type and content-length are not signed.
    assert_eq!(info.signed_headers, ["host", "user-agent", "x-amz-date"]);
    assert!(!info.has_session_token);
}

#[test]
fn session_token_is_sent_signed_and_accepted() {
    let parts = control_plane(Some(TOKEN));
    assert_eq!(parts.headers["x-amz-security-token"], TOKEN);
    let info = check(&parts, VerifyPayload::Bytes(BODY)).expect("verify");
    assert!(info.has_session_token);
    assert!(
        info.signed_headers
            .contains(&"x-amz-security-token".to_owned())
    );
}

#[test]
fn put_media_round_trip_signs_like_aws() {
    let parts = put_media();
    let info = check(&parts, VerifyPayload::Streaming).expect("verify");
    assert_eq!(
        info.signed_headers.join(";"),
        "connection;host;transfer-encoding;user-agent;x-amz-date;\
         x-amzn-fragment-acknowledgment-required;x-amzn-fragment-timecode-type;\
         x-amzn-producer-start-timestamp;x-amzn-stream-name"
    );
    // A streaming request does not verify against a non-empty body hash.
    assert_eq!(
        check(&parts, VerifyPayload::Bytes(b"x")).unwrap_err(),
        VerifyError::SignatureMismatch
    );
}

#[test]
fn tampered_header_fails() {
    let mut parts = put_media();
    parts
        .headers
        .insert("x-amzn-stream-name", HeaderValue::from_static("other"));
    let err = check(&parts, VerifyPayload::Streaming).unwrap_err();
    assert_eq!(err, VerifyError::SignatureMismatch);
    assert_eq!(err.aws_error_code(), "InvalidSignatureException");
    assert_eq!(err.http_status(), 403);
}

#[test]
fn unsigned_extra_header_is_ignored() {
    let mut parts = control_plane(None);
    parts
        .headers
        .insert("accept", HeaderValue::from_static("*/*"));
    check(&parts, VerifyPayload::Bytes(BODY)).expect("unsigned headers do not matter");
}

#[test]
fn tampered_body_fails() {
    let parts = control_plane(None);
    let err = check(&parts, VerifyPayload::Bytes(br#"{"StreamName":"cam-2"}"#)).unwrap_err();
    assert_eq!(err, VerifyError::SignatureMismatch);
}

#[test]
fn content_sha256_header_must_match_body() {
    let mut parts = control_plane(None);
    parts.headers.insert(
        "x-amz-content-sha256",
        HeaderValue::from_static(sigv4::EMPTY_PAYLOAD_SHA256),
    );
    let err = check(&parts, VerifyPayload::Bytes(BODY)).unwrap_err();
    assert_eq!(err, VerifyError::ContentSha256Mismatch);
}

#[test]
fn tampered_signature_fails() {
    let mut parts = control_plane(None);
    let auth = parts.headers["authorization"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let last = auth.chars().last().expect("non-empty");
    let flipped = if last == '0' { '1' } else { '0' };
    let tampered = format!("{}{flipped}", &auth[..auth.len() - 1]);
    parts.headers.insert(
        "authorization",
        HeaderValue::from_str(&tampered).expect("ascii"),
    );
    assert_eq!(
        check(&parts, VerifyPayload::Bytes(BODY)).unwrap_err(),
        VerifyError::SignatureMismatch
    );
    // parse-only mode accepts any well-formed signature.
    let info = sigv4::parse_only(&parts.headers).expect("well formed");
    assert_eq!(
        (info.access_key_id.as_str(), info.region.as_str()),
        (AKID, "eu-west-1")
    );
}

#[test]
fn unknown_access_key() {
    let parts = control_plane(None);
    let other = StaticSecrets::new().with("SOMEONE", SECRET);
    let err = sigv4::verify(
        &parts,
        VerifyPayload::Bytes(BODY),
        &other,
        t0(),
        &VerifyOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err, VerifyError::UnknownAccessKey(AKID.into()));
    assert_eq!(err.aws_error_code(), "UnrecognizedClientException");
}

#[test]
fn secret_lookup_by_closure() {
    let parts = control_plane(None);
    let lookup = |akid: &str| (akid == AKID).then(|| SecretKey::new(SECRET));
    sigv4::verify(
        &parts,
        VerifyPayload::Bytes(BODY),
        &lookup,
        t0(),
        &VerifyOptions::default(),
    )
    .expect("verify");
}

#[test]
fn clock_skew_limit_both_ways() {
    let parts = control_plane(None);
    let opts = VerifyOptions::default();
    for (offset, ok) in [(14 * 60, true), (15 * 60, true), (15 * 60 + 1, false)] {
        for now in [
            t0() + Duration::from_secs(offset),
            t0() - Duration::from_secs(offset),
        ] {
            let r = sigv4::verify(&parts, VerifyPayload::Bytes(BODY), &secrets(), now, &opts);
            match (ok, r) {
                (true, Ok(_)) => {}
                (false, Err(VerifyError::RequestExpired { skew_secs })) => {
                    assert_eq!(skew_secs, offset);
                }
                (ok, r) => panic!("offset {offset}: expected ok={ok}, got {r:?}"),
            }
        }
    }
    let tight = VerifyOptions {
        max_skew: Duration::from_secs(10),
        ..VerifyOptions::default()
    };
    let err = sigv4::verify(
        &parts,
        VerifyPayload::Bytes(BODY),
        &secrets(),
        t0() + Duration::from_secs(11),
        &tight,
    )
    .unwrap_err();
    assert_eq!(err.http_status(), 400);
}

#[test]
fn missing_and_malformed_authorization() {
    let mut parts = control_plane(None);
    parts.headers.remove("authorization");
    let err = check(&parts, VerifyPayload::Bytes(BODY)).unwrap_err();
    assert_eq!(err, VerifyError::MissingAuthentication);
    assert_eq!(err.aws_error_code(), "MissingAuthenticationToken");

    let date = parts.headers["x-amz-date"].to_str().expect("ascii")[..8].to_owned();
    let bad = [
        "Basic dXNlcjpwYXNz".to_owned(),
        "AWS4-HMAC-SHA256".to_owned(),
        format!(
            "AWS4-HMAC-SHA256 Credential={AKID}/{date}/eu-west-1/kinesisvideo/aws4_request, SignedHeaders=host;x-amz-date"
        ),
        format!(
            "AWS4-HMAC-SHA256 Credential={AKID}/{date}/eu-west-1/kinesisvideo, SignedHeaders=host;x-amz-date, Signature=00"
        ),
        format!(
            "AWS4-HMAC-SHA256 Credential={AKID}/2026-11/eu-west-1/kinesisvideo/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"
        ),
        format!(
            "AWS4-HMAC-SHA256 Credential={AKID}/{date}/eu-west-1/kinesisvideo/aws4_request, SignedHeaders=Host;x-amz-date, Signature=00"
        ),
        format!(
            "AWS4-HMAC-SHA256 Credential={AKID}/{date}/eu-west-1/kinesisvideo/aws4_request, Credential=x, SignedHeaders=host, Signature=00"
        ),
    ];
    for value in bad {
        parts.headers.insert(
            "authorization",
            HeaderValue::from_str(&value).expect("ascii"),
        );
        let err = check(&parts, VerifyPayload::Bytes(BODY)).unwrap_err();
        assert!(
            matches!(err, VerifyError::IncompleteSignature(_)),
            "{value}: {err:?}"
        );
        assert_eq!(err.aws_error_code(), "IncompleteSignature");
        assert!(sigv4::parse_only(&parts.headers).is_err());
    }
}

#[test]
fn date_problems() {
    let mut parts = control_plane(None);
    parts.headers.remove("x-amz-date");
    assert!(matches!(
        check(&parts, VerifyPayload::Bytes(BODY)).unwrap_err(),
        VerifyError::IncompleteSignature(_)
    ));
    parts.headers.insert(
        "x-amz-date",
        HeaderValue::from_static("2026-11-23T06:56:42Z"),
    );
    assert!(matches!(
        check(&parts, VerifyPayload::Bytes(BODY)).unwrap_err(),
        VerifyError::IncompleteSignature(_)
    ));
    // A valid date on another day than the credential scope.
    parts
        .headers
        .insert("x-amz-date", HeaderValue::from_static("20261124T065642Z"));
    assert_eq!(
        check(&parts, VerifyPayload::Bytes(BODY)).unwrap_err(),
        VerifyError::ScopeDateMismatch
    );
}

#[test]
fn wrong_service_and_unsigned_host() {
    let parts = control_plane(None);
    let auth = parts.headers["authorization"]
        .to_str()
        .expect("ascii")
        .to_owned();

    let mut other_service = parts.clone();
    other_service.headers.insert(
        "authorization",
        HeaderValue::from_str(&auth.replace("/kinesisvideo/", "/s3/")).expect("ascii"),
    );
    assert!(matches!(
        check(&other_service, VerifyPayload::Bytes(BODY)).unwrap_err(),
        VerifyError::WrongService { .. }
    ));

    let mut no_host = parts.clone();
    no_host.headers.insert(
        "authorization",
        HeaderValue::from_str(&auth.replace("SignedHeaders=host;", "SignedHeaders="))
            .expect("ascii"),
    );
    assert_eq!(
        check(&no_host, VerifyPayload::Bytes(BODY)).unwrap_err(),
        VerifyError::RequiredHeaderNotSigned("host")
    );

    let mut missing = parts.clone();
    missing.headers.remove("user-agent");
    assert_eq!(
        check(&missing, VerifyPayload::Bytes(BODY)).unwrap_err(),
        VerifyError::SignedHeaderMissing("user-agent".into())
    );
}

#[test]
fn host_falls_back_to_uri_authority() {
    // HTTP/2 servers see :authority in the URI instead of a Host header.
    let mut parts = control_plane(None);
    let host = parts.headers.remove("host");
    assert!(host.is_none(), "signer must not add Host; hyper does");
    check(&parts, VerifyPayload::Bytes(BODY)).expect("authority used for host");
}

#[test]
fn signer_refuses_requests_without_host() {
    let mut parts = http::Request::post("/describeStream")
        .body(())
        .expect("request")
        .into_parts()
        .0;
    let creds = sigv4::static_credentials(AKID, SECRET, None);
    let err = sigv4::sign(
        &mut parts,
        &creds,
        "eu-west-1",
        t0(),
        PayloadHash::Bytes(BODY),
    )
    .unwrap_err();
    assert!(matches!(err, sigv4::SignError::MissingHost));
}

#[test]
fn secrets_never_reach_debug_output() {
    let parts = control_plane(Some(TOKEN));
    let auth = parts.headers["authorization"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let signature = auth
        .rsplit_once("Signature=")
        .expect("signature")
        .1
        .to_owned();
    let outputs = [
        format!("{parts:?}"),
        format!("{:?}", secrets()),
        format!("{:?}", SecretKey::new(SECRET)),
        format!(
            "{:?}",
            sigv4::static_credentials(AKID, SECRET, Some(TOKEN.into()))
        ),
        format!("{:?}", sigv4::parse_only(&parts.headers)),
    ];
    for out in outputs {
        assert!(!out.contains(SECRET), "secret leaked: {out}");
        assert!(!out.contains(TOKEN), "token leaked: {out}");
        assert!(!out.contains(&signature), "signature leaked: {out}");
    }
}

#[test]
fn error_codes_agree_with_the_api_error_table() {
    let errors = [
        VerifyError::MissingAuthentication,
        VerifyError::IncompleteSignature(String::new()),
        VerifyError::ScopeDateMismatch,
        VerifyError::WrongService {
            expected: String::new(),
            got: String::new(),
        },
        VerifyError::RequestExpired { skew_secs: 0 },
        VerifyError::UnknownAccessKey(String::new()),
        VerifyError::RequiredHeaderNotSigned("host"),
        VerifyError::SignedHeaderMissing(String::new()),
        VerifyError::ContentSha256Mismatch,
        VerifyError::SignatureMismatch,
    ];
    for err in errors {
        let kind = kvs_core::api::ErrorKind::from_code(err.aws_error_code())
            .unwrap_or_else(|| panic!("{} not in api::ErrorKind", err.aws_error_code()));
        assert_eq!(kind.status(), err.http_status(), "{err:?}");
    }
}
