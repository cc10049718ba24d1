// SPDX-License-Identifier: MPL-2.0
//! Verifying SigV4 requests in kvs-local.
//!
//! The canonical request is rebuilt from what was received, over exactly the headers the
//! client listed in `SignedHeaders`, so requests from AWS's producer, the AWS SDKs,
//! botocore/the AWS CLI and our own signer all verify, whatever headers each chose to sign.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use aws_sigv4::sign::v4;
use http::HeaderMap;
use subtle::ConstantTimeEq;

use super::authorization::{AuthInfo, ParsedAuthorization, parse_amz_date, parse_header};
use super::canonical::{canonical_header_value, canonical_query, canonical_uri};
use super::secret::SecretStore;
use super::{
    ALGORITHM, EMPTY_PAYLOAD_SHA256, UNSIGNED_PAYLOAD, X_AMZ_CONTENT_SHA256, X_AMZ_DATE,
    X_AMZ_SECURITY_TOKEN, sha256_hex,
};

/// The body the signature is checked against.
#[derive(Clone, Copy)]
pub enum VerifyPayload<'a> {
    /// The whole body was read before verifying (control plane).
    Bytes(&'a [u8]),
    /// The body streams after the headers (PutMedia): unless `x-amz-content-sha256` names
    /// another hash, the empty-string hash is expected, as AWS's producer signs.
    Streaming,
}

impl std::fmt::Debug for VerifyPayload<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Self::Streaming => f.write_str("Streaming"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// Largest accepted distance between `X-Amz-Date` and the server clock (AWS: 15 min).
    pub max_skew: Duration,
    /// The service the credential scope must name; `None` accepts any.
    pub service: Option<Cow<'static, str>>,
    pub normalize_uri_path: bool,
    pub double_uri_encode: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            max_skew: Duration::from_secs(15 * 60),
            service: Some(Cow::Borrowed(crate::putmedia::SIGNING_SERVICE)),
            normalize_uri_path: true,
            double_uri_encode: true,
        }
    }
}

/// Why a request was refused. [`Self::aws_error_code`] and [`Self::http_status`] give what
/// the real service front-end answers.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum VerifyError {
    #[error("request has no Authorization header")]
    MissingAuthentication,
    #[error("malformed SigV4 authorization: {0}")]
    IncompleteSignature(String),
    #[error("credential scope date does not match X-Amz-Date")]
    ScopeDateMismatch,
    #[error("credential scope names service {got:?}, expected {expected:?}")]
    WrongService { expected: String, got: String },
    #[error("request time is {skew_secs} s away from the server clock")]
    RequestExpired { skew_secs: u64 },
    #[error("unknown access key id {0:?}")]
    UnknownAccessKey(String),
    #[error("{0} must be a signed header")]
    RequiredHeaderNotSigned(&'static str),
    #[error("signed header {0} is not in the request")]
    SignedHeaderMissing(String),
    #[error("x-amz-content-sha256 does not match the body")]
    ContentSha256Mismatch,
    #[error("the request signature does not match the signature we calculated")]
    SignatureMismatch,
}

impl VerifyError {
    pub fn aws_error_code(&self) -> &'static str {
        match self {
            Self::MissingAuthentication => "MissingAuthenticationToken",
            Self::IncompleteSignature(_) => "IncompleteSignature",
            Self::RequestExpired { .. } => "RequestExpired",
            Self::UnknownAccessKey(_) => "UnrecognizedClientException",
            Self::ScopeDateMismatch
            | Self::WrongService { .. }
            | Self::RequiredHeaderNotSigned(_)
            | Self::SignedHeaderMissing(_)
            | Self::ContentSha256Mismatch
            | Self::SignatureMismatch => "InvalidSignatureException",
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            Self::IncompleteSignature(_) | Self::RequestExpired { .. } => 400,
            _ => 403,
        }
    }
}

/// A received request, as raw as the server has it.
#[derive(Clone, Copy, Debug)]
pub struct RawRequest<'a> {
    pub method: &'a str,
    /// Percent-encoded path as received.
    pub path: &'a str,
    /// Raw query without `?`, empty if none.
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    /// Used for `host` when the request has no Host header (HTTP/2 `:authority`).
    pub authority: Option<&'a str>,
}

/// Checks the structure of a request's SigV4 authorization without checking the signature
/// (kvs-local's default: any well-formed signature is accepted).
pub fn parse_only(headers: &HeaderMap) -> Result<AuthInfo, VerifyError> {
    parse_request(headers).map(|(info, _)| info)
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, VerifyError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .map_err(|_| VerifyError::IncompleteSignature(format!("{name} is not ASCII")))
        })
        .transpose()
}

fn parse_request(headers: &HeaderMap) -> Result<(AuthInfo, ParsedAuthorization), VerifyError> {
    let authorization = header_str(headers, http::header::AUTHORIZATION.as_str())?
        .ok_or(VerifyError::MissingAuthentication)?;
    let parsed = parse_header(authorization)?;
    let amz_date = header_str(headers, X_AMZ_DATE)?.ok_or_else(|| {
        VerifyError::IncompleteSignature("X-Amz-Date header is missing".to_owned())
    })?;
    let amz_date = amz_date.trim();
    let request_time = parse_amz_date(amz_date).ok_or_else(|| {
        VerifyError::IncompleteSignature("X-Amz-Date must be yyyymmddThhmmssZ".to_owned())
    })?;
    if amz_date.get(..8) != Some(parsed.scope_date.as_str()) {
        return Err(VerifyError::ScopeDateMismatch);
    }
    let info = AuthInfo {
        access_key_id: parsed.access_key_id.clone(),
        scope_date: parsed.scope_date.clone(),
        region: parsed.region.clone(),
        service: parsed.service.clone(),
        signed_headers: parsed.signed_headers.clone(),
        amz_date: amz_date.to_owned(),
        request_time,
        has_session_token: headers.contains_key(X_AMZ_SECURITY_TOKEN),
    };
    Ok((info, parsed))
}

/// Verifies a request received as `http::request::Parts`.
pub fn verify(
    parts: &http::request::Parts,
    payload: VerifyPayload<'_>,
    secrets: &dyn SecretStore,
    now: SystemTime,
    options: &VerifyOptions,
) -> Result<AuthInfo, VerifyError> {
    let request = RawRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        authority: parts.uri.authority().map(|a| a.as_str()),
    };
    verify_raw(&request, payload, secrets, now, options)
}

/// Verifies a request given as raw pieces.
pub fn verify_raw(
    request: &RawRequest<'_>,
    payload: VerifyPayload<'_>,
    secrets: &dyn SecretStore,
    now: SystemTime,
    options: &VerifyOptions,
) -> Result<AuthInfo, VerifyError> {
    let (info, parsed) = parse_request(request.headers)?;
    if let Some(expected) = &options.service
        && parsed.service != **expected
    {
        return Err(VerifyError::WrongService {
            expected: expected.to_string(),
            got: parsed.service.clone(),
        });
    }
    let skew = match now.duration_since(info.request_time) {
        Ok(ahead) => ahead,
        Err(behind) => behind.duration(),
    };
    if skew > options.max_skew {
        return Err(VerifyError::RequestExpired {
            skew_secs: skew.as_secs(),
        });
    }
    for required in ["host", X_AMZ_DATE] {
        if !parsed.signed_headers.iter().any(|h| h == required) {
            return Err(VerifyError::RequiredHeaderNotSigned(required));
        }
    }
    let secret = secrets
        .secret_for(&parsed.access_key_id)
        .ok_or_else(|| VerifyError::UnknownAccessKey(parsed.access_key_id.clone()))?;

    let payload_hash = payload_hash(request.headers, payload)?;
    let canonical = canonical_request(request, &parsed, &payload_hash, options)?;
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{}\n{}",
        info.amz_date,
        parsed.scope(),
        sha256_hex(canonical.as_bytes())
    );
    let key = v4::generate_signing_key(
        secret.expose(),
        info.request_time,
        &parsed.region,
        &parsed.service,
    );
    let expected = v4::calculate_signature(key, string_to_sign.as_bytes());
    if bool::from(expected.as_bytes().ct_eq(parsed.signature.as_bytes())) {
        Ok(info)
    } else {
        Err(VerifyError::SignatureMismatch)
    }
}

fn payload_hash(headers: &HeaderMap, payload: VerifyPayload<'_>) -> Result<String, VerifyError> {
    let declared = header_str(headers, X_AMZ_CONTENT_SHA256)?.map(str::trim);
    match (declared, payload) {
        (Some(declared), VerifyPayload::Bytes(body)) => {
            let actual = sha256_hex(body);
            if declared != UNSIGNED_PAYLOAD && !declared.eq_ignore_ascii_case(&actual) {
                return Err(VerifyError::ContentSha256Mismatch);
            }
            Ok(declared.to_owned())
        }
        (Some(declared), VerifyPayload::Streaming) => Ok(declared.to_owned()),
        (None, VerifyPayload::Bytes(body)) => Ok(sha256_hex(body)),
        (None, VerifyPayload::Streaming) => Ok(EMPTY_PAYLOAD_SHA256.to_owned()),
    }
}

fn canonical_request(
    request: &RawRequest<'_>,
    parsed: &ParsedAuthorization,
    payload_hash: &str,
    options: &VerifyOptions,
) -> Result<String, VerifyError> {
    let mut out = String::with_capacity(512);
    out.push_str(request.method);
    out.push('\n');
    out.push_str(&canonical_uri(
        request.path,
        options.normalize_uri_path,
        options.double_uri_encode,
    ));
    out.push('\n');
    out.push_str(&canonical_query(request.query));
    out.push('\n');
    for name in &parsed.signed_headers {
        let values: Vec<String> = request
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| canonical_header_value(v.as_bytes()))
            .collect();
        let value = if !values.is_empty() {
            values.join(",")
        } else if let (true, Some(authority)) = (name == "host", request.authority) {
            authority.to_owned()
        } else {
            return Err(VerifyError::SignedHeaderMissing(name.clone()));
        };
        out.push_str(name);
        out.push(':');
        out.push_str(&value);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&parsed.signed_headers.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    Ok(out)
}
