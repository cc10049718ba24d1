// SPDX-License-Identifier: MPL-2.0
//! The error half of the KVS rest-json protocol: error type names, their HTTP status codes,
//! and the JSON body plus `x-amzn-ErrorType` header that clients turn into typed exceptions.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Header carrying the error type name; both botocore and the Rust SDK read it first.
pub const ERROR_TYPE_HEADER: &str = "x-amzn-ErrorType";
/// Header carrying the request id on every response.
pub const REQUEST_ID_HEADER: &str = "x-amzn-RequestId";

/// Every error a KVS endpoint answers with. The modelled ones (named in the service models)
/// become typed exceptions in the SDKs; the rest are front-end errors that clients treat as
/// generic service errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    InvalidArgument,
    ClientLimitExceeded,
    ResourceNotFound,
    NotAuthorized,
    AccessDenied,
    ResourceInUse,
    VersionMismatch,
    InvalidResourceFormat,
    TagsPerResourceExceededLimit,
    AccountStreamLimitExceeded,
    DeviceStreamLimitExceeded,
    InvalidDevice,
    NoDataRetention,
    StreamEdgeConfigurationNotFound,
    ConnectionLimitExceeded,
    InvalidEndpoint,
    UnsupportedStreamMediaType,
    MissingCodecPrivateData,
    InvalidCodecPrivateData,
    InvalidMediaFrame,
    // Front-end (not modelled) errors, named as on the AWS common-errors page.
    MissingAuthenticationToken,
    IncompleteSignature,
    RequestExpired,
    InvalidSignature,
    UnrecognizedClient,
    Serialization,
    UnknownOperation,
    MethodNotAllowed,
    InternalFailure,
    ServiceUnavailable,
}

impl ErrorKind {
    /// Every kind, for table-driven tests and code lookups.
    pub const ALL: [ErrorKind; 30] = [
        ErrorKind::InvalidArgument,
        ErrorKind::ClientLimitExceeded,
        ErrorKind::ResourceNotFound,
        ErrorKind::NotAuthorized,
        ErrorKind::AccessDenied,
        ErrorKind::ResourceInUse,
        ErrorKind::VersionMismatch,
        ErrorKind::InvalidResourceFormat,
        ErrorKind::TagsPerResourceExceededLimit,
        ErrorKind::AccountStreamLimitExceeded,
        ErrorKind::DeviceStreamLimitExceeded,
        ErrorKind::InvalidDevice,
        ErrorKind::NoDataRetention,
        ErrorKind::StreamEdgeConfigurationNotFound,
        ErrorKind::ConnectionLimitExceeded,
        ErrorKind::InvalidEndpoint,
        ErrorKind::UnsupportedStreamMediaType,
        ErrorKind::MissingCodecPrivateData,
        ErrorKind::InvalidCodecPrivateData,
        ErrorKind::InvalidMediaFrame,
        ErrorKind::MissingAuthenticationToken,
        ErrorKind::IncompleteSignature,
        ErrorKind::RequestExpired,
        ErrorKind::InvalidSignature,
        ErrorKind::UnrecognizedClient,
        ErrorKind::Serialization,
        ErrorKind::UnknownOperation,
        ErrorKind::MethodNotAllowed,
        ErrorKind::InternalFailure,
        ErrorKind::ServiceUnavailable,
    ];

    /// The error type name as sent in `x-amzn-ErrorType` and `__type`.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "InvalidArgumentException",
            ErrorKind::ClientLimitExceeded => "ClientLimitExceededException",
            ErrorKind::ResourceNotFound => "ResourceNotFoundException",
            ErrorKind::NotAuthorized => "NotAuthorizedException",
            ErrorKind::AccessDenied => "AccessDeniedException",
            ErrorKind::ResourceInUse => "ResourceInUseException",
            ErrorKind::VersionMismatch => "VersionMismatchException",
            ErrorKind::InvalidResourceFormat => "InvalidResourceFormatException",
            ErrorKind::TagsPerResourceExceededLimit => "TagsPerResourceExceededLimitException",
            ErrorKind::AccountStreamLimitExceeded => "AccountStreamLimitExceededException",
            ErrorKind::DeviceStreamLimitExceeded => "DeviceStreamLimitExceededException",
            ErrorKind::InvalidDevice => "InvalidDeviceException",
            ErrorKind::NoDataRetention => "NoDataRetentionException",
            ErrorKind::StreamEdgeConfigurationNotFound => {
                "StreamEdgeConfigurationNotFoundException"
            }
            ErrorKind::ConnectionLimitExceeded => "ConnectionLimitExceededException",
            ErrorKind::InvalidEndpoint => "InvalidEndpointException",
            ErrorKind::UnsupportedStreamMediaType => "UnsupportedStreamMediaTypeException",
            ErrorKind::MissingCodecPrivateData => "MissingCodecPrivateDataException",
            ErrorKind::InvalidCodecPrivateData => "InvalidCodecPrivateDataException",
            ErrorKind::InvalidMediaFrame => "InvalidMediaFrameException",
            ErrorKind::MissingAuthenticationToken => "MissingAuthenticationToken",
            ErrorKind::IncompleteSignature => "IncompleteSignature",
            ErrorKind::RequestExpired => "RequestExpired",
            ErrorKind::InvalidSignature => "InvalidSignatureException",
            ErrorKind::UnrecognizedClient => "UnrecognizedClientException",
            ErrorKind::Serialization => "SerializationException",
            ErrorKind::UnknownOperation => "UnknownOperationException",
            ErrorKind::MethodNotAllowed => "MethodNotAllowedException",
            ErrorKind::InternalFailure => "InternalFailure",
            ErrorKind::ServiceUnavailable => "ServiceUnavailable",
        }
    }

    /// HTTP status, as given by each shape's `httpStatusCode` in the service models (front-end
    /// errors: as the AWS common-errors page lists them).
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::ResourceNotFound
            | ErrorKind::StreamEdgeConfigurationNotFound
            | ErrorKind::UnknownOperation => 404,
            ErrorKind::NotAuthorized | ErrorKind::AccessDenied => 401,
            ErrorKind::MissingAuthenticationToken
            | ErrorKind::InvalidSignature
            | ErrorKind::UnrecognizedClient => 403,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::InternalFailure => 500,
            ErrorKind::ServiceUnavailable => 503,
            _ => 400,
        }
    }

    /// Looks a code up, after cutting what the real service appends (`Name:http://…`) and any
    /// `namespace#` prefix, the way the SDKs do.
    pub fn from_code(code: &str) -> Option<ErrorKind> {
        let name = sanitize_error_code(code);
        ErrorKind::ALL.into_iter().find(|k| k.code() == name)
    }
}

/// Cuts an error code the way botocore and the Rust SDK do: at the first `:` and after the
/// last `#`.
pub fn sanitize_error_code(code: &str) -> &str {
    let code = code.split(':').next().unwrap_or(code);
    code.rsplit('#').next().unwrap_or(code)
}

/// An error as the service reports it: a kind and a human-readable message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.code())]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "__type")]
    kind: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
        }
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ResourceNotFound, message)
    }

    pub fn in_use(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ResourceInUse, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InternalFailure, message)
    }

    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    pub fn status(&self) -> u16 {
        self.kind.status()
    }

    /// The JSON body: `{"__type": "<code>", "message": "<text>"}`.
    pub fn body_json(&self) -> Bytes {
        let body = ErrorBody {
            kind: self.code(),
            message: &self.message,
        };
        // Serialising two strings cannot fail; fall back to a bare object just in case.
        Bytes::from(serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec()))
    }

    /// The complete HTTP response (status, `x-amzn-ErrorType`, `x-amzn-RequestId`, JSON body).
    pub fn to_http_response(&self, request_id: &str) -> http::Response<Bytes> {
        let mut builder = http::Response::builder()
            .status(self.status())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(ERROR_TYPE_HEADER, self.code());
        if !request_id.is_empty() && http::HeaderValue::from_str(request_id).is_ok() {
            builder = builder.header(REQUEST_ID_HEADER, request_id);
        }
        let body = self.body_json();
        builder
            .body(body.clone())
            .unwrap_or_else(|_| http::Response::new(body))
    }
}

/// An error response as a client receives it from any KVS endpoint.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("HTTP {status} {code}: {message}")]
pub struct RemoteError {
    pub status: u16,
    /// The error type name, sanitised; empty when the service named none.
    pub code: String,
    /// `Some` when the code is one this crate knows.
    pub kind: Option<ErrorKind>,
    pub message: String,
}

#[derive(Deserialize, Default)]
struct ErrorBodyIn {
    #[serde(rename = "__type")]
    kind: Option<String>,
    code: Option<String>,
    #[serde(rename = "Code")]
    code_upper: Option<String>,
    message: Option<String>,
    #[serde(rename = "Message")]
    message_upper: Option<String>,
    #[serde(rename = "errorMessage")]
    error_message: Option<String>,
}

impl RemoteError {
    /// Reads an error response the way the SDKs do: the header names the error first, then the
    /// body's `code`/`Code`, then `__type`; the message is `message`, `Message` or
    /// `errorMessage`. A body that is not JSON leaves the message empty.
    pub fn parse(status: u16, error_type_header: Option<&str>, body: &[u8]) -> RemoteError {
        let parsed: ErrorBodyIn = serde_json::from_slice(body).unwrap_or_default();
        let raw_code = error_type_header
            .map(str::to_owned)
            .or(parsed.code)
            .or(parsed.code_upper)
            .or(parsed.kind)
            .unwrap_or_default();
        let code = sanitize_error_code(&raw_code).to_owned();
        let message = parsed
            .message
            .or(parsed.message_upper)
            .or(parsed.error_message)
            .unwrap_or_default();
        RemoteError {
            status,
            kind: ErrorKind::from_code(&code),
            code,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_statuses_follow_the_model() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(ErrorKind::ResourceNotFound.status(), 404);
        assert_eq!(ErrorKind::NotAuthorized.status(), 401);
        assert_eq!(ErrorKind::AccessDenied.status(), 401);
        assert_eq!(ErrorKind::VersionMismatch.status(), 400);
        assert_eq!(ErrorKind::MissingAuthenticationToken.status(), 403);
    }

    #[test]
    fn response_carries_header_and_json_body() {
        let err = ApiError::not_found("no such stream");
        let resp = err.to_http_response("req-1");
        assert_eq!(resp.status(), 404);
        assert_eq!(
            resp.headers()
                .get(ERROR_TYPE_HEADER)
                .and_then(|v| v.to_str().ok()),
            Some("ResourceNotFoundException")
        );
        let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        assert_eq!(body["__type"], "ResourceNotFoundException");
        assert_eq!(body["message"], "no such stream");
    }

    #[test]
    fn parse_prefers_header_and_cuts_suffixes() {
        let e = RemoteError::parse(
            404,
            Some("ResourceNotFoundException:http://internal.amazon.com/coral/com.amazon#x"),
            br#"{"Message":"gone"}"#,
        );
        assert_eq!(e.code, "ResourceNotFoundException");
        assert_eq!(e.kind, Some(ErrorKind::ResourceNotFound));
        assert_eq!(e.message, "gone");

        let e = RemoteError::parse(
            400,
            None,
            br#"{"__type":"com.amazon#VersionMismatchException","message":"v"}"#,
        );
        assert_eq!(e.kind, Some(ErrorKind::VersionMismatch));

        let e = RemoteError::parse(502, None, b"<html>");
        assert_eq!(e.code, "");
        assert_eq!(e.kind, None);
    }
}
