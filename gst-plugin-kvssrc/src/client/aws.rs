// SPDX-License-Identifier: MPL-2.0
//! The AWS SDK side: one control-plane client per session, data-plane clients built on the
//! endpoints GetDataEndpoint returns, and the classification of failures into "retry" and
//! "tell the user".

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::Credentials;
use aws_sdk_kinesisvideo::config::http::HttpResponse;
use aws_sdk_kinesisvideo::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kinesisvideo::types::ApiName;
use aws_smithy_types::error::display::DisplayErrorContext;

use super::config::{SessionConfig, StreamId};
use super::error::SourceError;

/// How a call failed, as far as what to do next is concerned.
#[derive(Debug)]
pub(crate) enum CallError {
    /// Retrying cannot help.
    Fatal(SourceError),
    /// Network, timeout, throttling, a 5xx or a stale data endpoint.
    Transient {
        reason: String,
        stale_endpoint: bool,
    },
}

pub(crate) struct Clients {
    sdk: aws_config::SdkConfig,
    control: aws_sdk_kinesisvideo::Client,
    /// Where control-plane calls go, for messages.
    pub(crate) control_url: String,
    stream: StreamId,
    request_timeout: Duration,
}

impl Clients {
    pub(crate) async fn new(cfg: &SessionConfig) -> Result<Self, SourceError> {
        let region = match cfg.region.clone().filter(|r| !r.is_empty()) {
            Some(r) => Some(aws_config::Region::new(r)),
            None => RegionProviderChain::default_provider().region().await,
        };
        let region = region.ok_or(SourceError::RegionMissing)?;
        let endpoint = cfg.resolved_endpoint();
        let control_url = endpoint
            .clone()
            .unwrap_or_else(|| format!("https://kinesisvideo.{region}.amazonaws.com"));
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(region)
            // The SDK retries a little by itself; kvssrc's own loop does the rest.
            .retry_config(RetryConfig::standard().with_max_attempts(2))
            // GetMedia of a quiet stream sends nothing for long stretches; that is not a stall.
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(cfg.request_timeout)
                    .build(),
            );
        if let (Some(ak), Some(sk)) = (&cfg.credentials.access_key, &cfg.credentials.secret_key) {
            loader = loader.credentials_provider(Credentials::new(
                ak.clone(),
                sk.clone(),
                cfg.credentials.session_token.clone(),
                None,
                "kvssrc-properties",
            ));
        }
        if let Some(endpoint) = endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let sdk = loader.load().await;
        Ok(Clients {
            control: aws_sdk_kinesisvideo::Client::new(&sdk),
            sdk,
            control_url,
            stream: cfg.stream.clone(),
            request_timeout: cfg.request_timeout,
        })
    }

    pub(crate) fn stream(&self) -> &StreamId {
        &self.stream
    }

    /// Bounds `fut` by the request timeout.
    pub(crate) async fn timed<T>(
        &self,
        what: &str,
        fut: impl Future<Output = Result<T, CallError>>,
    ) -> Result<T, CallError> {
        match tokio::time::timeout(self.request_timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(CallError::Transient {
                reason: format!(
                    "{what} got no answer within {} ms (request-timeout)",
                    self.request_timeout.as_millis()
                ),
                stale_endpoint: false,
            }),
        }
    }

    pub(crate) async fn data_endpoint(&self, api: ApiName) -> Result<String, CallError> {
        let req = self.control.get_data_endpoint().api_name(api);
        let req = match &self.stream {
            StreamId::Name(n) => req.stream_name(n),
            StreamId::Arn(a) => req.stream_arn(a),
        };
        let out = req
            .send()
            .await
            .map_err(|e| self.classify("GetDataEndpoint", &self.control_url, e))?;
        out.data_endpoint()
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| CallError::Transient {
                reason: "GetDataEndpoint answered without a DataEndpoint".into(),
                stale_endpoint: false,
            })
    }

    pub(crate) fn media(&self, endpoint: &str) -> aws_sdk_kinesisvideomedia::Client {
        let conf = aws_sdk_kinesisvideomedia::config::Builder::from(&self.sdk)
            .endpoint_url(endpoint)
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .build();
        aws_sdk_kinesisvideomedia::Client::from_conf(conf)
    }

    pub(crate) fn archive(&self, endpoint: &str) -> aws_sdk_kinesisvideoarchivedmedia::Client {
        let conf = aws_sdk_kinesisvideoarchivedmedia::config::Builder::from(&self.sdk)
            .endpoint_url(endpoint)
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .build();
        aws_sdk_kinesisvideoarchivedmedia::Client::from_conf(conf)
    }

    pub(crate) fn classify<E>(
        &self,
        operation: &str,
        url: &str,
        err: SdkError<E, HttpResponse>,
    ) -> CallError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        let code = err.code().unwrap_or("").to_owned();
        let message = err.message().unwrap_or("").to_owned();
        let chain = DisplayErrorContext(&err).to_string();
        match &err {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
                return CallError::Transient {
                    reason: format!("{url} unreachable: {chain}"),
                    stale_endpoint: false,
                };
            }
            SdkError::ConstructionFailure(_) => {
                return CallError::Fatal(SourceError::Config(format!(
                    "cannot build the {operation} request ({chain}); set access-key and \
                     secret-key, or configure the default AWS credential chain"
                )));
            }
            _ => {}
        }
        let stream = self.stream.describe().to_owned();
        let message = if message.is_empty() { chain } else { message };
        match code.as_str() {
            "ResourceNotFoundException" => {
                return CallError::Fatal(SourceError::StreamNotFound {
                    stream,
                    endpoint: url.to_owned(),
                    message,
                });
            }
            "NotAuthorizedException"
            | "AccessDeniedException"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "MissingAuthenticationToken" => {
                return CallError::Fatal(SourceError::AccessDenied {
                    stream,
                    operation: operation.to_owned(),
                    code,
                    message,
                });
            }
            "NoDataRetentionException" => {
                return CallError::Fatal(SourceError::NoRetention { stream });
            }
            "ConnectionLimitExceededException" | "ClientLimitExceededException" => {
                return CallError::Transient {
                    reason: format!("{operation}: {code}: {message}"),
                    stale_endpoint: false,
                };
            }
            "InvalidEndpointException" => {
                return CallError::Transient {
                    reason: format!("{operation}: {code}: {message}"),
                    stale_endpoint: true,
                };
            }
            _ => {}
        }
        match status {
            Some(404) => CallError::Fatal(SourceError::StreamNotFound {
                stream,
                endpoint: url.to_owned(),
                message,
            }),
            Some(401 | 403) => CallError::Fatal(SourceError::AccessDenied {
                stream,
                operation: operation.to_owned(),
                code: if code.is_empty() {
                    format!("HTTP {}", status.unwrap_or(0))
                } else {
                    code
                },
                message,
            }),
            Some(s) if (400..500).contains(&s) && s != 429 => {
                CallError::Fatal(SourceError::InvalidRequest {
                    operation: operation.to_owned(),
                    code: if code.is_empty() {
                        format!("HTTP {s}")
                    } else {
                        code
                    },
                    message,
                })
            }
            _ => CallError::Transient {
                reason: format!(
                    "{operation} at {url}: {} {message}",
                    if code.is_empty() {
                        format!("HTTP {}", status.unwrap_or(0))
                    } else {
                        code
                    }
                ),
                stale_endpoint: false,
            },
        }
    }
}
