// SPDX-License-Identifier: MPL-2.0
//! The AWS SigV4 signing test suite shipped inside the `aws-sigv4` crate source
//! (`aws-signing-test-suite/v4/*`), run through our signer and our verifier.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use kvs_core::sigv4::{
    self, PayloadHash, RawRequest, SignOptions, StaticSecrets, VerifyOptions, VerifyPayload,
    canonical_query, canonical_uri,
};

/// Cases whose request cannot be held in `http` types, with the reason; each is asserted
/// to really fail that way, so the list cannot silently grow stale.
const NOT_AN_HTTP_HEADER_VALUE: &[&str] = &["get-header-value-multiline"]; // folded header

fn suite_dir() -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("CARGO_HOME or HOME must be set");
    let mut found: Vec<PathBuf> = std::fs::read_dir(cargo_home.join("registry/src"))
        .expect("no cargo registry sources; run `cargo fetch` first")
        .flat_map(|index| {
            std::fs::read_dir(index.expect("entry").path())
                .into_iter()
                .flatten()
        })
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("aws-sigv4-1."))
        })
        .map(|p| p.join("aws-signing-test-suite/v4"))
        .filter(|p| p.is_dir())
        .collect();
    found.sort();
    found
        .pop()
        .expect("aws-sigv4 1.x sources with aws-signing-test-suite/v4 not found in the cargo registry; run `cargo fetch`")
}

struct Case {
    name: String,
    dir: PathBuf,
}

fn cases() -> Vec<Case> {
    let dir = suite_dir();
    let mut out: Vec<Case> = std::fs::read_dir(&dir)
        .expect("read suite")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .map(|p| Case {
            name: p.file_name().unwrap().to_string_lossy().into_owned(),
            dir: p,
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(out.len() >= 40, "suite has only {} cases", out.len());
    out
}

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }
    fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }
    fn header_map(&self) -> Result<http::HeaderMap, String> {
        let mut map = http::HeaderMap::new();
        for (n, v) in &self.headers {
            let name = http::HeaderName::from_bytes(n.as_bytes()).map_err(|e| e.to_string())?;
            let value = http::HeaderValue::from_str(v).map_err(|e| e.to_string())?;
            map.append(name, value);
        }
        Ok(map)
    }
}

fn parse_request(path: &Path) -> Request {
    let text = std::fs::read_to_string(path).expect("read request");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let request_line = lines.next().expect("request line");
    let (method, rest) = request_line.split_once(' ').expect("method");
    let target = rest.rsplit_once(' ').expect("version").0;
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) || !line.contains(':') {
            // A folded continuation line: keep it in the value, as it was sent.
            let last = headers.last_mut().expect("continuation after a header");
            last.1.push('\n');
            last.1.push_str(line);
            continue;
        }
        let (n, v) = line.split_once(':').expect("header");
        headers.push((n.to_owned(), v.to_owned()));
    }
    Request {
        method: method.to_owned(),
        target: target.to_owned(),
        headers,
        body: body.as_bytes().to_vec(),
    }
}

struct Context {
    access_key_id: String,
    secret: String,
    token: Option<String>,
    region: String,
    service: String,
    time: SystemTime,
    normalize: bool,
    sign_body: bool,
    omit_session_token: bool,
}

fn context(case: &Case) -> Option<Context> {
    let text = std::fs::read_to_string(case.dir.join("context.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).expect("context json");
    let s = |x: &serde_json::Value| x.as_str().expect("string").to_owned();
    let time = time::OffsetDateTime::parse(
        v["timestamp"].as_str().expect("timestamp"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("timestamp")
    .into();
    Some(Context {
        access_key_id: s(&v["credentials"]["access_key_id"]),
        secret: s(&v["credentials"]["secret_access_key"]),
        token: v["credentials"]["token"].as_str().map(str::to_owned),
        region: s(&v["region"]),
        service: s(&v["service"]),
        time,
        normalize: v["normalize"].as_bool().expect("normalize"),
        sign_body: v["sign_body"].as_bool().unwrap_or(false),
        omit_session_token: v["omit_session_token"].as_bool().unwrap_or(false),
    })
}

fn expected_canonical(case: &Case) -> Vec<String> {
    std::fs::read_to_string(case.dir.join("header-canonical-request.txt"))
        .expect("canonical request")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn canonical_uri_and_query_match_the_suite() {
    let mut checked = 0;
    for case in cases() {
        let request = parse_request(&case.dir.join("request.txt"));
        let expected = expected_canonical(&case);
        // Cases without a context are the double-encoding ones (and normalise).
        let (normalize, double) = match context(&case) {
            Some(ctx) => (ctx.normalize, false),
            None => (true, true),
        };
        assert_eq!(
            canonical_uri(request.path(), normalize, double),
            expected[1],
            "{}",
            case.name
        );
        assert_eq!(
            canonical_query(request.query()),
            expected[2],
            "{}",
            case.name
        );
        checked += 1;
    }
    assert!(checked >= 40);
}

#[test]
fn verifier_accepts_every_signed_request_of_the_suite() {
    let mut verified = 0;
    for case in cases() {
        let Some(ctx) = context(&case) else {
            continue; // No credentials: covered by the canonical test above.
        };
        let signed = parse_request(&case.dir.join("header-signed-request.txt"));
        let headers = match signed.header_map() {
            Ok(h) => h,
            Err(e) => {
                assert!(
                    NOT_AN_HTTP_HEADER_VALUE.contains(&case.name.as_str()),
                    "{}: {e}",
                    case.name
                );
                continue;
            }
        };
        assert!(
            !NOT_AN_HTTP_HEADER_VALUE.contains(&case.name.as_str()),
            "{} unexpectedly parsed",
            case.name
        );
        let raw = RawRequest {
            method: &signed.method,
            path: signed.path(),
            query: signed.query(),
            headers: &headers,
            authority: None,
        };
        let secrets = StaticSecrets::new().with(&ctx.access_key_id, &ctx.secret);
        let options = VerifyOptions {
            service: Some(Cow::Owned(ctx.service.clone())),
            normalize_uri_path: ctx.normalize,
            double_uri_encode: false,
            ..VerifyOptions::default()
        };
        let info = sigv4::verify_raw(
            &raw,
            VerifyPayload::Bytes(&signed.body),
            &secrets,
            ctx.time,
            &options,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(info.region, ctx.region);

        // A one-character change to the secret must break it.
        let wrong = StaticSecrets::new().with(&ctx.access_key_id, format!("{}x", ctx.secret));
        assert!(
            sigv4::verify_raw(
                &raw,
                VerifyPayload::Bytes(&signed.body),
                &wrong,
                ctx.time,
                &options
            )
            .is_err(),
            "{}",
            case.name
        );
        verified += 1;
    }
    assert!(verified >= 35, "verified only {verified}");
}

/// The request target as a client puts it on the wire: bytes a URI cannot hold raw (space,
/// non-ASCII) percent-encoded. Signers take the URI in that encoded form.
fn wire_target(target: &str) -> String {
    let mut out = String::with_capacity(target.len());
    for &b in target.as_bytes() {
        if b.is_ascii_graphic() {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn signature_of(authorization: &str) -> &str {
    authorization
        .rsplit_once("Signature=")
        .expect("Signature=")
        .1
        .trim()
}

#[test]
fn signer_matches_every_suite_signature() {
    let mut signed_count = 0;
    let mut unrepresentable = Vec::new();
    for case in cases() {
        let Some(ctx) = context(&case) else {
            continue;
        };
        let request = parse_request(&case.dir.join("request.txt"));
        let expected =
            std::fs::read_to_string(case.dir.join("header-signature.txt")).expect("signature");
        let mut builder = http::Request::builder()
            .method(request.method.as_str())
            .uri(wire_target(&request.target));
        for (n, v) in &request.headers {
            builder = builder.header(n.as_str(), v.as_str());
        }
        let mut parts = match builder.body(()) {
            Ok(r) => r.into_parts().0,
            Err(_) => {
                unrepresentable.push(case.name.clone());
                continue;
            }
        };
        let creds = sigv4::static_credentials(&ctx.access_key_id, &ctx.secret, ctx.token.clone());
        let options = SignOptions {
            service: Cow::Owned(ctx.service.clone()),
            excluded_headers: vec![Cow::Borrowed("authorization")],
            double_uri_encode: false,
            normalize_uri_path: ctx.normalize,
            content_sha256_header: ctx.sign_body,
            sign_session_token: !ctx.omit_session_token,
        };
        sigv4::sign_with(
            &mut parts,
            &creds,
            &ctx.region,
            ctx.time,
            PayloadHash::Bytes(&request.body),
            &options,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let authorization = parts.headers["authorization"].to_str().expect("ascii");
        assert_eq!(
            signature_of(authorization),
            expected.trim(),
            "{}",
            case.name
        );
        signed_count += 1;
    }
    assert_eq!(unrepresentable, NOT_AN_HTTP_HEADER_VALUE);
    assert!(signed_count >= 35, "signed only {signed_count}");
}
