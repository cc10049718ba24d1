// SPDX-License-Identifier: MPL-2.0
//! Signing requests the way AWS's KVS producer does, through the `aws-sigv4` crate.

use std::borrow::Cow;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SessionTokenMode, SignableBody, SignableRequest,
    SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::{HeaderName, HeaderValue};

use super::EMPTY_PAYLOAD_SHA256;

/// What the canonical request's payload hash covers.
#[derive(Clone, Copy)]
pub enum PayloadHash<'a> {
    /// A body streamed after signing (PutMedia): AWS's producer signs the hash of the empty
    /// string, and the service accepts it.
    EmptyStreaming,
    /// A body known up front (control-plane JSON): its SHA-256.
    Bytes(&'a [u8]),
    /// `UNSIGNED-PAYLOAD`, for peers that ask for it.
    Unsigned,
}

impl std::fmt::Debug for PayloadHash<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::EmptyStreaming => f.write_str("EmptyStreaming"),
            Self::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Self::Unsigned => f.write_str("Unsigned"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("request has neither a Host header nor a host in its URI")]
    MissingHost,
    #[error("header {0} is not visible ASCII and cannot be signed")]
    NonAsciiHeader(String),
    #[error("signing failed: {0}")]
    Signing(String),
}

/// Signer settings. The defaults reproduce AWS's KVS producer.
#[derive(Clone, Debug)]
pub struct SignOptions {
    pub service: Cow<'static, str>,
    /// Headers left out of the signature. AWS's producer leaves out `content-type` and
    /// `content-length` (and signs `user-agent`, `connection`, `transfer-encoding`, which
    /// `aws-sigv4` would skip by default); `expect` is added by HTTP stacks after signing.
    pub excluded_headers: Vec<Cow<'static, str>>,
    /// Encode `%` again in the canonical path (all AWS services but S3).
    pub double_uri_encode: bool,
    pub normalize_uri_path: bool,
    /// Also send and sign `x-amz-content-sha256`.
    pub content_sha256_header: bool,
    /// Sign `x-amz-security-token` (as the AWS SDKs do; AWS's producer does not, and the
    /// service accepts both).
    pub sign_session_token: bool,
}

impl Default for SignOptions {
    fn default() -> Self {
        Self {
            service: Cow::Borrowed(crate::putmedia::SIGNING_SERVICE),
            excluded_headers: [
                "authorization",
                "content-type",
                "content-length",
                "expect",
                "x-amzn-trace-id",
            ]
            .into_iter()
            .map(Cow::Borrowed)
            .collect(),
            double_uri_encode: true,
            normalize_uri_path: true,
            content_sha256_header: false,
            sign_session_token: true,
        }
    }
}

/// Signs `parts` for KVS with the default options: adds `X-Amz-Date`, `Authorization` and,
/// with temporary credentials, `X-Amz-Security-Token`.
pub fn sign(
    parts: &mut http::request::Parts,
    credentials: &Credentials,
    region: &str,
    time: SystemTime,
    payload: PayloadHash<'_>,
) -> Result<(), SignError> {
    sign_with(
        parts,
        credentials,
        region,
        time,
        payload,
        &SignOptions::default(),
    )
}

pub fn sign_with(
    parts: &mut http::request::Parts,
    credentials: &Credentials,
    region: &str,
    time: SystemTime,
    payload: PayloadHash<'_>,
    options: &SignOptions,
) -> Result<(), SignError> {
    // aws-sigv4 panics when it has to take the host from a URI without one.
    if !parts.headers.contains_key(http::header::HOST) && parts.uri.host().is_none() {
        return Err(SignError::MissingHost);
    }
    let mut headers = Vec::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        let value = value
            .to_str()
            .map_err(|_| SignError::NonAsciiHeader(name.to_string()))?;
        headers.push((name.as_str(), value));
    }
    let body = match payload {
        PayloadHash::EmptyStreaming => SignableBody::Precomputed(EMPTY_PAYLOAD_SHA256.to_owned()),
        PayloadHash::Bytes(bytes) => SignableBody::Bytes(bytes),
        PayloadHash::Unsigned => SignableBody::UnsignedPayload,
    };
    let uri = parts.uri.to_string();
    let signable = SignableRequest::new(parts.method.as_str(), uri, headers.into_iter(), body)
        .map_err(|e| SignError::Signing(e.to_string()))?;

    let mut settings = SigningSettings::default();
    settings.excluded_headers = Some(options.excluded_headers.clone());
    settings.percent_encoding_mode = if options.double_uri_encode {
        PercentEncodingMode::Double
    } else {
        PercentEncodingMode::Single
    };
    settings.uri_path_normalization_mode = if options.normalize_uri_path {
        UriPathNormalizationMode::Enabled
    } else {
        UriPathNormalizationMode::Disabled
    };
    settings.payload_checksum_kind = if options.content_sha256_header {
        PayloadChecksumKind::XAmzSha256
    } else {
        PayloadChecksumKind::NoHeader
    };
    settings.session_token_mode = if options.sign_session_token {
        SessionTokenMode::Include
    } else {
        SessionTokenMode::Exclude
    };

    let identity: Identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(&options.service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| SignError::Signing(e.to_string()))?
        .into();
    let (instructions, _signature) = aws_sigv4::http_request::sign(signable, &params)
        .map_err(|e| SignError::Signing(e.to_string()))?
        .into_parts();
    let (new_headers, _query) = instructions.into_parts();
    for header in new_headers {
        let name = HeaderName::from_bytes(header.name().as_bytes())
            .map_err(|e| SignError::Signing(e.to_string()))?;
        let mut value = HeaderValue::from_str(header.value())
            .map_err(|_| SignError::NonAsciiHeader(header.name().to_owned()))?;
        // Keep the signature out of Debug output too, not only the session token.
        value.set_sensitive(header.sensitive() || name == http::header::AUTHORIZATION);
        parts.headers.insert(name, value);
    }
    Ok(())
}
