// SPDX-License-Identifier: MPL-2.0
//! The element's settings and how they turn into a session's configuration and a URI.

use std::time::Duration;

use kvs_core::consumer::TimestampSource;

use super::super::uri::{KvsUri, UriStart};
use super::super::{StartSelector, TimestampType};
use crate::client::{CredentialsConfig, SessionConfig, SourceError, StartPosition, StreamId};

pub(super) const DEFAULT_IS_LIVE: bool = false;
pub(super) const DEFAULT_RETRY_ATTEMPTS: u32 = 10;
pub(super) const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 15_000;
pub(super) const MIN_REQUEST_TIMEOUT_MS: u64 = 100;

#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub(super) stream_name: Option<String>,
    pub(super) stream_arn: Option<String>,
    pub(super) region: Option<String>,
    pub(super) credentials: CredentialsConfig,
    pub(super) endpoint_uri: Option<String>,
    pub(super) start_selector: StartSelector,
    pub(super) start_fragment_number: Option<String>,
    pub(super) start_continuation_token: Option<String>,
    pub(super) start_timestamp_ms: u64,
    pub(super) end_timestamp_ms: u64,
    pub(super) timestamp_type: TimestampType,
    pub(super) is_live: bool,
    pub(super) retry_attempts: u32,
    pub(super) request_timeout_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            stream_name: None,
            stream_arn: None,
            region: None,
            credentials: CredentialsConfig::default(),
            endpoint_uri: None,
            start_selector: StartSelector::default(),
            start_fragment_number: None,
            start_continuation_token: None,
            start_timestamp_ms: 0,
            end_timestamp_ms: 0,
            timestamp_type: TimestampType::default(),
            is_live: DEFAULT_IS_LIVE,
            retry_attempts: DEFAULT_RETRY_ATTEMPTS,
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
        }
    }
}

impl Settings {
    pub(super) fn session_config(&self) -> Result<SessionConfig, SourceError> {
        let stream = match (&self.stream_arn, &self.stream_name) {
            (Some(arn), _) => StreamId::Arn(arn.clone()),
            (None, Some(name)) => StreamId::Name(name.clone()),
            (None, None) => {
                return Err(SourceError::Config(
                    "set stream-name (or stream-arn) to the stream to play".into(),
                ));
            }
        };
        let need_ts = |what: &str| {
            if self.start_timestamp_ms == 0 {
                Err(SourceError::Config(format!(
                    "start-selector {what} needs start-timestamp (epoch milliseconds)"
                )))
            } else {
                Ok(self.start_timestamp_ms)
            }
        };
        let start = match self.start_selector {
            StartSelector::Now => StartPosition::Now,
            StartSelector::Earliest => StartPosition::Earliest,
            StartSelector::FragmentNumber => StartPosition::AfterFragment(
                self.start_fragment_number.clone().ok_or_else(|| {
                    SourceError::Config(
                        "start-selector fragment-number needs start-fragment-number".into(),
                    )
                })?,
            ),
            StartSelector::ProducerTimestamp => {
                StartPosition::ProducerTimestamp(need_ts("producer-timestamp")?)
            }
            StartSelector::ServerTimestamp => {
                StartPosition::ServerTimestamp(need_ts("server-timestamp")?)
            }
            StartSelector::ContinuationToken => StartPosition::ContinuationToken(
                self.start_continuation_token.clone().unwrap_or_default(),
            ),
        };
        let mut cfg = SessionConfig::new(stream);
        cfg.region = self.region.clone();
        cfg.credentials = self.credentials.clone();
        cfg.endpoint_uri = self.endpoint_uri.clone();
        cfg.start = start;
        cfg.end_ms = Some(self.end_timestamp_ms).filter(|&ms| ms != 0);
        cfg.timestamp_source = match self.timestamp_type {
            TimestampType::Producer => TimestampSource::Producer,
            TimestampType::Server => TimestampSource::Server,
        };
        cfg.retry_attempts = self.retry_attempts;
        cfg.request_timeout = Duration::from_millis(self.request_timeout_ms);
        cfg.validate()?;
        Ok(cfg)
    }

    pub(super) fn to_uri(&self) -> Option<String> {
        if self.stream_name.is_none() && self.stream_arn.is_none() {
            return None;
        }
        let ts = self.start_timestamp_ms;
        let start = match self.start_selector {
            StartSelector::Now => None,
            StartSelector::Earliest => Some(UriStart::Earliest),
            StartSelector::FragmentNumber => {
                self.start_fragment_number.clone().map(UriStart::Fragment)
            }
            StartSelector::ContinuationToken => {
                self.start_continuation_token.clone().map(UriStart::Token)
            }
            StartSelector::ProducerTimestamp => Some(UriStart::Producer(ts)),
            StartSelector::ServerTimestamp => Some(UriStart::Server(ts)),
        };
        let uri = KvsUri {
            stream_name: self.stream_name.clone(),
            stream_arn: self.stream_arn.clone(),
            region: self.region.clone(),
            start,
            end_ms: Some(self.end_timestamp_ms).filter(|&ms| ms != 0),
            endpoint: self.endpoint_uri.clone(),
            server_timestamps: (self.timestamp_type == TimestampType::Server).then_some(true),
        };
        Some(uri.to_uri_string())
    }

    pub(super) fn apply_uri(&mut self, uri: KvsUri) {
        self.stream_name = uri.stream_name;
        self.stream_arn = uri.stream_arn;
        if uri.region.is_some() {
            self.region = uri.region;
        }
        if uri.endpoint.is_some() {
            self.endpoint_uri = uri.endpoint;
        }
        if let Some(server) = uri.server_timestamps {
            self.timestamp_type = if server {
                TimestampType::Server
            } else {
                TimestampType::Producer
            };
        }
        self.end_timestamp_ms = uri.end_ms.unwrap_or(0);
        match uri.start {
            None | Some(UriStart::Now) => self.start_selector = StartSelector::Now,
            Some(UriStart::Earliest) => self.start_selector = StartSelector::Earliest,
            Some(UriStart::Fragment(n)) => {
                self.start_selector = StartSelector::FragmentNumber;
                self.start_fragment_number = Some(n);
            }
            Some(UriStart::Token(t)) => {
                self.start_selector = StartSelector::ContinuationToken;
                self.start_continuation_token = Some(t);
            }
            Some(UriStart::Producer(ms)) => {
                self.start_selector = StartSelector::ProducerTimestamp;
                self.start_timestamp_ms = ms;
            }
            Some(UriStart::Server(ms)) => {
                self.start_selector = StartSelector::ServerTimestamp;
                self.start_timestamp_ms = ms;
            }
            Some(UriStart::Time(ms)) => {
                self.start_selector = match self.timestamp_type {
                    TimestampType::Producer => StartSelector::ProducerTimestamp,
                    TimestampType::Server => StartSelector::ServerTimestamp,
                };
                self.start_timestamp_ms = ms;
            }
        }
    }
}
