// SPDX-License-Identifier: MPL-2.0
//! The control-plane calls made before streaming: DescribeStream, CreateStream (with tags)
//! when allowed, a bounded wait for ACTIVE, and GetDataEndpoint(PUT_MEDIA).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_kinesisvideo::Client;
use aws_sdk_kinesisvideo::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kinesisvideo::types::{ApiName, Status as StreamStatus};

use super::backoff::Backoff;
use super::config::UploaderConfig;
use super::credentials::error_chain;
use super::error::UploaderError;

/// How a control-plane call failed, as far as what to do next is concerned.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The stream does not exist.
    NotFound,
    /// 401/403: maybe stale credentials, maybe missing permissions.
    Auth {
        status: u16,
        code: String,
        message: String,
    },
    /// Network, timeout, throttling or a 5xx: worth another try.
    Transient(UploaderError),
    /// Retrying cannot help.
    Fatal(UploaderError),
}

/// For a plain `http://` endpoint (kvs-local, a proxy), a client without TLS: the SDK's
/// default client loads and parses the system's CA certificates on its first request, which
/// costs more than everything else at start-up and is useless without TLS. `https://`
/// endpoints keep the SDK's default client. Only the control-plane client gets this; the
/// credential providers keep their own (STS, SSO are https).
pub(crate) fn plain_http_client(
    url: &str,
) -> Option<aws_sdk_kinesisvideo::config::SharedHttpClient> {
    let scheme = url.split_once("://").map(|(s, _)| s)?;
    scheme
        .eq_ignore_ascii_case("http")
        .then(|| aws_smithy_http_client::Builder::new().build_http())
}

/// The control-plane client for one stream.
pub(crate) struct ControlPlane {
    client: Client,
    /// TagStream is sent once per uploader, not on every re-describe.
    tagged: AtomicBool,
    /// The URL calls go to, for error messages.
    url: String,
}

impl ControlPlane {
    pub(crate) async fn new(
        cfg: &UploaderConfig,
        region: &aws_config::Region,
        credentials: SharedCredentialsProvider,
    ) -> Self {
        let endpoint = cfg.resolved_endpoint();
        let url = endpoint
            .clone()
            .unwrap_or_else(|| format!("https://kinesisvideo.{region}.amazonaws.com"));
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(region.clone())
            .credentials_provider(credentials)
            .retry_config(RetryConfig::standard().with_max_attempts(2))
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(cfg.connection_timeout)
                    .operation_timeout(cfg.completion_timeout)
                    .build(),
            );
        if let Some(endpoint) = endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let sdk = loader.load().await;
        let mut client_config = aws_sdk_kinesisvideo::config::Builder::from(&sdk);
        if let Some(http) = plain_http_client(&url) {
            client_config = client_config.http_client(http);
        }
        Self {
            client: Client::from_conf(client_config.build()),
            tagged: AtomicBool::new(false),
            url,
        }
    }

    fn classify<E>(
        &self,
        operation: &str,
        err: SdkError<E, aws_sdk_kinesisvideo::config::http::HttpResponse>,
    ) -> CallError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        let code = err.code().unwrap_or("").to_owned();
        let message = err.message().unwrap_or("").to_owned();
        match &err {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
                return CallError::Transient(UploaderError::EndpointUnreachable {
                    url: self.url.clone(),
                    reason: error_chain(&err),
                });
            }
            SdkError::ConstructionFailure(_) => {
                let chain = error_chain(&err);
                // Credential resolution failures surface here, before any request is sent.
                return CallError::Fatal(if chain.to_ascii_lowercase().contains("credential") {
                    UploaderError::CredentialsUnavailable(chain)
                } else {
                    UploaderError::Service {
                        operation: operation.to_owned(),
                        code: "ConstructionFailure".into(),
                        message: chain,
                        advice: "check aws-region and endpoint-uri".into(),
                    }
                });
            }
            _ => {}
        }
        if code == "ResourceNotFoundException" || status == Some(404) {
            return CallError::NotFound;
        }
        if matches!(status, Some(401 | 403))
            || code == "NotAuthorizedException"
            || code == "AccessDeniedException"
        {
            return CallError::Auth {
                status: status.unwrap_or(403),
                code,
                message,
            };
        }
        let transient = status.is_none_or(|s| s >= 500 || s == 429)
            || code == "ClientLimitExceededException"
            || code.contains("Throttl");
        let message = if message.is_empty() {
            error_chain(&err)
        } else {
            message
        };
        let err = UploaderError::Service {
            operation: operation.to_owned(),
            code: if code.is_empty() {
                format!("HTTP {}", status.unwrap_or(0))
            } else {
                code
            },
            message,
            advice: if transient {
                "the service is busy or failing; retrying".into()
            } else {
                "check the stream settings (name, retention, KMS key, tags)".into()
            },
        };
        if transient {
            CallError::Transient(err)
        } else {
            CallError::Fatal(err)
        }
    }

    /// The stream's status, or `None` when it does not exist.
    async fn describe(&self, cfg: &UploaderConfig) -> Result<Option<StreamStatus>, CallError> {
        match self
            .client
            .describe_stream()
            .stream_name(&cfg.stream_name)
            .send()
            .await
        {
            Ok(out) => match out.stream_info().and_then(|i| i.status()) {
                Some(status) => Ok(Some(status.clone())),
                None => Err(CallError::Transient(UploaderError::Service {
                    operation: "DescribeStream".into(),
                    code: "InvalidResponse".into(),
                    message: "the answer has no StreamInfo.Status".into(),
                    advice: "check endpoint-uri points at a KVS endpoint".into(),
                })),
            },
            Err(err) => match self.classify("DescribeStream", err) {
                CallError::NotFound => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn create(&self, cfg: &UploaderConfig) -> Result<(), CallError> {
        let mut req = self
            .client
            .create_stream()
            .stream_name(&cfg.stream_name)
            .device_name(&cfg.device_name)
            .media_type(&cfg.media_type)
            .data_retention_in_hours(i32::try_from(cfg.retention_hours).unwrap_or(i32::MAX));
        if let Some(kms) = &cfg.kms_key_id {
            req = req.kms_key_id(kms);
        }
        for (k, v) in &cfg.stream_tags {
            req = req.tags(k, v);
        }
        match req.send().await {
            Ok(_) => Ok(()),
            // Someone else created it in the meantime: fine, wait for ACTIVE below.
            Err(err) if err.code() == Some("ResourceInUseException") => Ok(()),
            Err(err) => Err(self.classify("CreateStream", err)),
        }
    }

    async fn data_endpoint(&self, cfg: &UploaderConfig) -> Result<String, CallError> {
        let out = self
            .client
            .get_data_endpoint()
            .stream_name(&cfg.stream_name)
            .api_name(ApiName::PutMedia)
            .send()
            .await
            .map_err(|err| match self.classify("GetDataEndpoint", err) {
                CallError::NotFound => CallError::Fatal(UploaderError::StreamMissing {
                    stream: cfg.stream_name.clone(),
                }),
                other => other,
            })?;
        out.data_endpoint()
            .filter(|e| !e.is_empty())
            .map(|e| e.trim_end_matches('/').to_owned())
            .ok_or_else(|| {
                CallError::Transient(UploaderError::Service {
                    operation: "GetDataEndpoint".into(),
                    code: "InvalidResponse".into(),
                    message: "the answer has no DataEndpoint".into(),
                    advice: "check endpoint-uri points at a KVS endpoint".into(),
                })
            })
    }

    /// Adds the configured tags to an existing stream. Failing to tag does not stop
    /// streaming (AWS's producer reports it and goes on); the reason is returned.
    async fn tag(&self, cfg: &UploaderConfig) -> Option<String> {
        if cfg.stream_tags.is_empty() || self.tagged.swap(true, Ordering::Relaxed) {
            return None;
        }
        let mut req = self.client.tag_stream().stream_name(&cfg.stream_name);
        for (k, v) in &cfg.stream_tags {
            req = req.tags(k, v);
        }
        req.send().await.err().map(|err| {
            format!(
                "could not tag stream {:?} (TagStream: {}); streaming goes on without the tags",
                cfg.stream_name,
                err.message()
                    .map_or_else(|| error_chain(&err), str::to_owned)
            )
        })
    }

    /// Describe → create when missing and allowed (or tag when it exists) → wait for
    /// ACTIVE → data endpoint. One attempt of the whole sequence; the caller retries
    /// transient failures. Returns the endpoint and warnings worth showing.
    pub(crate) async fn prepare(
        &self,
        cfg: &UploaderConfig,
    ) -> Result<(String, Vec<String>), CallError> {
        let mut warnings = Vec::new();
        let mut status = self.describe(cfg).await?;
        if status.is_some() {
            warnings.extend(self.tag(cfg).await);
        } else {
            if !cfg.allow_create_stream {
                return Err(CallError::Fatal(UploaderError::StreamMissing {
                    stream: cfg.stream_name.clone(),
                }));
            }
            self.create(cfg).await?;
            status = Some(StreamStatus::Creating);
        }
        let deadline = tokio::time::Instant::now() + cfg.stream_active_timeout;
        let mut wait = Backoff::new(Duration::from_secs(2));
        loop {
            match status {
                Some(StreamStatus::Active) => break,
                Some(StreamStatus::Deleting) => {
                    return Err(CallError::Fatal(UploaderError::StreamNotActive {
                        stream: cfg.stream_name.clone(),
                        status: "DELETING".into(),
                        advice: "wait until the deletion finishes, then restart to recreate it"
                            .into(),
                    }));
                }
                _ => {}
            }
            let delay = wait.next_delay();
            if tokio::time::Instant::now() + delay > deadline {
                return Err(CallError::Fatal(UploaderError::StreamNotActive {
                    stream: cfg.stream_name.clone(),
                    status: status.map_or_else(|| "missing".into(), |s| s.as_str().to_owned()),
                    advice: format!(
                        "it did not become ACTIVE within {:?}; check the stream in the console",
                        cfg.stream_active_timeout
                    ),
                }));
            }
            tokio::time::sleep(delay).await;
            // A stream just created may not be visible yet: keep waiting on "not found".
            status = self.describe(cfg).await?.or(Some(StreamStatus::Creating));
        }
        Ok((self.data_endpoint(cfg).await?, warnings))
    }
}

/// Turns an auth failure into the error the user sees.
pub(crate) fn auth_error(operation: &str, status: u16, code: &str, message: &str) -> UploaderError {
    let lower = message.to_ascii_lowercase();
    let denied = code.contains("AccessDenied")
        || lower.contains("not authorized to perform")
        || lower.contains("access denied");
    if denied {
        UploaderError::AccessDenied {
            operation: operation.to_owned(),
            code: if code.is_empty() {
                format!("HTTP {status}")
            } else {
                code.to_owned()
            },
            message: message.to_owned(),
        }
    } else {
        UploaderError::InvalidCredentials {
            operation: operation.to_owned(),
            code: if code.is_empty() {
                format!("HTTP {status}")
            } else {
                code.to_owned()
            },
            message: message.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_endpoints_skip_tls() {
        assert!(plain_http_client("http://127.0.0.1:4566").is_some());
        assert!(plain_http_client("HTTP://localhost").is_some());
        assert!(plain_http_client("https://kinesisvideo.us-east-1.amazonaws.com").is_none());
        assert!(plain_http_client("no-scheme").is_none());
    }
}
