// SPDX-License-Identifier: MPL-2.0
//! AWS Signature Version 4 for KVS: a signer for our clients (built on `aws-sigv4`) and a
//! verifier for kvs-local (our own canonical-request code, since `aws-sigv4` only signs).

mod authorization;
mod canonical;
mod secret;
mod sign;
mod verify;

pub use authorization::{AuthInfo, parse_authorization};
pub use canonical::{canonical_query, canonical_uri};
pub use secret::{SecretKey, SecretStore, StaticSecrets};
pub use sign::{PayloadHash, SignError, SignOptions, sign, sign_with};
pub use verify::{
    RawRequest, VerifyError, VerifyOptions, VerifyPayload, parse_only, verify, verify_raw,
};

/// The only algorithm KVS uses.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// SHA-256 of the empty string: the payload hash AWS's producer signs for PutMedia.
pub const EMPTY_PAYLOAD_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
pub const X_AMZ_DATE: &str = "x-amz-date";
pub const X_AMZ_CONTENT_SHA256: &str = "x-amz-content-sha256";
pub const X_AMZ_SECURITY_TOKEN: &str = "x-amz-security-token";

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Credentials from fixed keys (properties, environment, tests).
pub fn static_credentials(
    access_key_id: impl Into<String>,
    secret_access_key: impl Into<String>,
    session_token: Option<String>,
) -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(
        access_key_id,
        secret_access_key,
        session_token,
        None,
        "gst-kvs-static",
    )
}
