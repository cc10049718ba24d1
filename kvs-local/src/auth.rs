// SPDX-License-Identifier: MPL-2.0
//! Request authentication. Three policies:
//! - default: every request must carry a well-formed SigV4 `Authorization` (what every AWS
//!   client sends), but any key and signature is accepted;
//! - `allow_anonymous`: requests without `Authorization` pass too (curl, browsers);
//! - with credentials: the signature is recomputed and compared in constant time, the clock
//!   skew is bounded, and unknown keys are refused.
//!
//! The payload hash is what makes the body matter: JSON calls are verified against the bytes
//! the router already read; PutMedia is verified against `x-amz-content-sha256` or the
//! empty-string hash AWS's producer signs, so its streaming body is never buffered.

use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use kvs_core::api::{ApiError, ErrorKind};
use kvs_core::sigv4::{self, AuthInfo, StaticSecrets, VerifyError, VerifyOptions, VerifyPayload};

/// AWS's limit on the distance between a request's `X-Amz-Date` and the server clock.
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

#[derive(Clone)]
pub struct AuthSettings {
    /// Accept requests with no `Authorization` header at all.
    pub allow_anonymous: bool,
    /// When set, signatures are verified against these keys.
    pub credentials: Option<StaticSecrets>,
    pub max_clock_skew: Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            allow_anonymous: false,
            credentials: None,
            max_clock_skew: DEFAULT_MAX_CLOCK_SKEW,
        }
    }
}

impl fmt::Debug for AuthSettings {
    // StaticSecrets' own Debug lists key ids only; spelled out here so that stays true even
    // if that type changes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSettings")
            .field("allow_anonymous", &self.allow_anonymous)
            .field("verify_signatures", &self.credentials.is_some())
            .field("max_clock_skew", &self.max_clock_skew)
            .finish()
    }
}

/// What the router hands the verifier as the signed body.
#[derive(Clone, Copy, Debug)]
pub enum Payload<'a> {
    Bytes(&'a [u8]),
    /// Body not read yet (PutMedia).
    Streaming,
}

fn to_api_error(err: &VerifyError) -> ApiError {
    let kind = ErrorKind::from_code(err.aws_error_code()).unwrap_or(ErrorKind::InvalidSignature);
    ApiError::new(kind, err.to_string())
}

/// Checks a request under `settings`. `Ok(None)` = anonymous request allowed through.
pub fn authenticate(
    settings: &AuthSettings,
    parts: &http::request::Parts,
    payload: Payload<'_>,
) -> Result<Option<AuthInfo>, ApiError> {
    if settings.allow_anonymous && !parts.headers.contains_key(http::header::AUTHORIZATION) {
        return Ok(None);
    }
    let result = match &settings.credentials {
        None => sigv4::parse_only(&parts.headers),
        Some(secrets) => {
            let options = VerifyOptions {
                max_skew: settings.max_clock_skew,
                ..VerifyOptions::default()
            };
            let payload = match payload {
                Payload::Bytes(b) => VerifyPayload::Bytes(b),
                Payload::Streaming => VerifyPayload::Streaming,
            };
            sigv4::verify(parts, payload, secrets, SystemTime::now(), &options)
        }
    };
    match result {
        Ok(info) => Ok(Some(info)),
        Err(err) => {
            tracing::info!(path = parts.uri.path(), error = %err, "request refused");
            Err(to_api_error(&err))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsFileError {
    #[error("cannot read credentials file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("credentials file {path} holds no aws_access_key_id/aws_secret_access_key pair")]
    Empty { path: String },
    #[error("credentials file {path}, section [{section}]: {what}")]
    Section {
        path: String,
        section: String,
        what: &'static str,
    },
}

/// Reads every profile of an AWS shared-credentials (INI) file; each profile with both
/// `aws_access_key_id` and `aws_secret_access_key` adds one accepted key pair.
pub fn load_credentials_file(path: &Path) -> Result<StaticSecrets, CredentialsFileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| CredentialsFileError::Read {
        path: shown.clone(),
        source,
    })?;
    parse_credentials(&text, &shown)
}

fn parse_credentials(text: &str, shown: &str) -> Result<StaticSecrets, CredentialsFileError> {
    let mut secrets = StaticSecrets::new();
    let mut found = 0usize;
    let mut section = String::new();
    let (mut key_id, mut secret): (Option<String>, Option<String>) = (None, None);
    let mut flush = |section: &str,
                     key_id: &mut Option<String>,
                     secret: &mut Option<String>|
     -> Result<(), CredentialsFileError> {
        match (key_id.take(), secret.take()) {
            (Some(k), Some(s)) => {
                secrets.insert(k, s);
                found += 1;
                Ok(())
            }
            (None, None) => Ok(()),
            (Some(_), None) => Err(CredentialsFileError::Section {
                path: shown.to_owned(),
                section: section.to_owned(),
                what: "aws_access_key_id without aws_secret_access_key",
            }),
            (None, Some(_)) => Err(CredentialsFileError::Section {
                path: shown.to_owned(),
                section: section.to_owned(),
                what: "aws_secret_access_key without aws_access_key_id",
            }),
        }
    };
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            flush(&section, &mut key_id, &mut secret)?;
            section = name.trim().to_owned();
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            match k.trim() {
                "aws_access_key_id" => key_id = Some(v.trim().to_owned()),
                "aws_secret_access_key" => secret = Some(v.trim().to_owned()),
                _ => {}
            }
        }
    }
    flush(&section, &mut key_id, &mut secret)?;
    if found == 0 {
        return Err(CredentialsFileError::Empty {
            path: shown.to_owned(),
        });
    }
    Ok(secrets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvs_core::sigv4::SecretStore;

    #[test]
    fn credentials_file_profiles() {
        let text = "[default]\naws_access_key_id = AK1\naws_secret_access_key = s1\n\n# c\n[other]\naws_access_key_id=AK2\naws_secret_access_key=s2\nregion=x\n";
        let s = parse_credentials(text, "f").unwrap();
        assert!(s.secret_for("AK1").is_some());
        assert!(s.secret_for("AK2").is_some());
        assert!(s.secret_for("AK3").is_none());
        assert!(parse_credentials("[a]\naws_access_key_id=x\n", "f").is_err());
        assert!(parse_credentials("[a]\nregion=x\n", "f").is_err());
    }
}
