// SPDX-License-Identifier: MPL-2.0
//! Parsing the SigV4 `Authorization` header and `X-Amz-Date`.

use std::time::SystemTime;

use super::ALGORITHM;
use super::verify::VerifyError;

/// What a well-formed SigV4 request says about its signer. Holds no secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthInfo {
    pub access_key_id: String,
    /// `yyyymmdd` of the credential scope.
    pub scope_date: String,
    pub region: String,
    pub service: String,
    /// Lower-case names, in the order the signer listed them.
    pub signed_headers: Vec<String>,
    /// `X-Amz-Date` as given and as a time.
    pub amz_date: String,
    pub request_time: SystemTime,
    /// Whether `X-Amz-Security-Token` came with the request.
    pub has_session_token: bool,
}

pub(crate) struct ParsedAuthorization {
    pub access_key_id: String,
    pub scope_date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl ParsedAuthorization {
    pub(crate) fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.scope_date, self.region, self.service
        )
    }
}

/// Parses `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
pub(crate) fn parse_header(value: &str) -> Result<ParsedAuthorization, VerifyError> {
    let incomplete = |why: &str| VerifyError::IncompleteSignature(why.to_owned());
    let rest = value
        .trim()
        .strip_prefix(ALGORITHM)
        .ok_or_else(|| incomplete("unsupported algorithm (expected AWS4-HMAC-SHA256)"))?;
    if !rest.starts_with([' ', '\t']) {
        return Err(incomplete(
            "unsupported algorithm (expected AWS4-HMAC-SHA256)",
        ));
    }
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (key, val) = part
            .split_once('=')
            .ok_or_else(|| incomplete("authorization component without '='"))?;
        let slot = match key.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut signature,
            _ => return Err(incomplete("unknown authorization component")),
        };
        if slot.replace(val.trim()).is_some() {
            return Err(incomplete("authorization component repeated"));
        }
    }
    let credential = credential.ok_or_else(|| incomplete("Credential is missing"))?;
    let signed = signed.ok_or_else(|| incomplete("SignedHeaders is missing"))?;
    let signature = signature.ok_or_else(|| incomplete("Signature is missing"))?;

    let fields: Vec<&str> = credential.split('/').collect();
    let [akid, date, region, service, terminator] = fields.as_slice() else {
        return Err(incomplete(
            "Credential must be <access key>/<date>/<region>/<service>/aws4_request",
        ));
    };
    if akid.is_empty() || region.is_empty() || service.is_empty() {
        return Err(incomplete("Credential has an empty field"));
    }
    if *terminator != "aws4_request" {
        return Err(incomplete("Credential scope must end in aws4_request"));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(incomplete("Credential date must be yyyymmdd"));
    }
    let signed_headers: Vec<String> = signed.split(';').map(str::to_owned).collect();
    if signed_headers.iter().any(|h| {
        h.is_empty()
            || h.bytes()
                .any(|b| b.is_ascii_uppercase() || b.is_ascii_whitespace())
    }) {
        return Err(incomplete(
            "SignedHeaders must be lower-case names separated by ';'",
        ));
    }
    if signature.is_empty() {
        return Err(incomplete("Signature is empty"));
    }
    Ok(ParsedAuthorization {
        access_key_id: (*akid).to_owned(),
        scope_date: (*date).to_owned(),
        region: (*region).to_owned(),
        service: (*service).to_owned(),
        signed_headers,
        signature: signature.to_owned(),
    })
}

/// Parses `yyyymmddThhmmssZ`.
pub(crate) fn parse_amz_date(value: &str) -> Option<SystemTime> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(value.trim(), format)
        .ok()
        .map(|t| t.assume_utc().into())
}

/// Parses an `Authorization` header value and its request's `X-Amz-Date` without checking
/// the signature.
pub fn parse_authorization(
    authorization: &str,
    amz_date: &str,
    has_session_token: bool,
) -> Result<AuthInfo, VerifyError> {
    let parsed = parse_header(authorization)?;
    let request_time = parse_amz_date(amz_date).ok_or_else(|| {
        VerifyError::IncompleteSignature("X-Amz-Date must be yyyymmddThhmmssZ".to_owned())
    })?;
    Ok(AuthInfo {
        access_key_id: parsed.access_key_id,
        scope_date: parsed.scope_date,
        region: parsed.region,
        service: parsed.service,
        signed_headers: parsed.signed_headers,
        amz_date: amz_date.trim().to_owned(),
        request_time,
        has_session_token,
    })
}
