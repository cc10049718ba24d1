// SPDX-License-Identifier: MPL-2.0
//! The settings one kvssrc session runs with, taken from the element's properties.

use std::time::Duration;

use kvs_core::consumer::TimestampSource;
use kvs_core::mkv::StreamHeader;

use super::error::SourceError;

pub use kvs_core::api::ENDPOINT_ENV_VARS;

/// Which stream to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamId {
    Name(String),
    Arn(String),
}

impl StreamId {
    pub fn describe(&self) -> &str {
        match self {
            StreamId::Name(n) | StreamId::Arn(n) => n,
        }
    }
}

/// Where a live session starts (GetMedia's StartSelector).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartPosition {
    Now,
    Earliest,
    /// Starts after this fragment.
    AfterFragment(String),
    /// Epoch milliseconds.
    ProducerTimestamp(u64),
    ServerTimestamp(u64),
    ContinuationToken(String),
}

#[derive(Clone, Default)]
pub struct CredentialsConfig {
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for CredentialsConfig {
    // Secrets never reach logs: only say whether they are set.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsConfig")
            .field("access_key", &self.access_key)
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub stream: StreamId,
    pub region: Option<String>,
    pub credentials: CredentialsConfig,
    /// Control-plane base URL; `None` = the environment variables above, then AWS.
    pub endpoint_uri: Option<String>,
    pub start: StartPosition,
    /// With an end, the session plays the archived range [start, end] and then ends.
    pub end_ms: Option<u64>,
    pub timestamp_source: TimestampSource,
    /// Consecutive failed attempts before the session gives up; 0 retries forever.
    pub retry_attempts: u32,
    /// Bound on each request until its response starts (and on archive body stalls).
    pub request_timeout: Duration,
    /// A live response that delivers nothing for this long is reopened (the connection may
    /// be dead without either side noticing). Reopening is harmless: the output continues
    /// from the last continuation token.
    pub live_idle_reconnect: Duration,
    /// Fragments asked for per GetMediaForFragmentList call.
    pub fragment_batch: usize,
    /// Archived range only: start at the fragment holding this time (epoch ms of
    /// `timestamp_source`) instead of the range's first fragment; a seek.
    pub seek_ms: Option<u64>,
    /// The header of the output stream this session continues (after a seek), so that the
    /// same tracks do not start a new stream downstream.
    pub continue_header: Option<StreamHeader>,
}

impl SessionConfig {
    pub fn new(stream: StreamId) -> Self {
        SessionConfig {
            stream,
            region: None,
            credentials: CredentialsConfig::default(),
            endpoint_uri: None,
            start: StartPosition::Now,
            end_ms: None,
            timestamp_source: TimestampSource::Producer,
            retry_attempts: 10,
            request_timeout: Duration::from_secs(15),
            live_idle_reconnect: Duration::from_secs(120),
            fragment_batch: 100,
            seek_ms: None,
            continue_header: None,
        }
    }

    /// The archived range to play, if an end is set: needs a timestamp start.
    pub fn range(&self) -> Result<Option<(u64, u64)>, SourceError> {
        let Some(end_ms) = self.end_ms else {
            return Ok(None);
        };
        let start_ms = match self.start {
            StartPosition::ProducerTimestamp(ms) | StartPosition::ServerTimestamp(ms) => ms,
            StartPosition::Earliest => 0,
            _ => {
                return Err(SourceError::Config(
                    "end-timestamp needs start-selector producer-timestamp, server-timestamp \
                     or earliest"
                        .into(),
                ));
            }
        };
        if end_ms < start_ms {
            return Err(SourceError::EndBeforeStart { start_ms, end_ms });
        }
        Ok(Some((start_ms, end_ms)))
    }

    pub fn validate(&self) -> Result<(), SourceError> {
        let bad = |s: &str| Err(SourceError::Config(s.to_owned()));
        match &self.stream {
            StreamId::Name(n) if n.is_empty() || n.len() > 256 => {
                return bad("stream-name must be 1 to 256 characters");
            }
            StreamId::Name(n)
                if !n
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) =>
            {
                return bad("stream-name may contain only letters, digits, '_', '.' and '-'");
            }
            StreamId::Arn(a) if !a.starts_with("arn:") => {
                return bad("stream-arn must start with arn:");
            }
            _ => {}
        }
        let creds = &self.credentials;
        if creds.access_key.is_some() != creds.secret_key.is_some() {
            return bad("set both access-key and secret-key, or neither");
        }
        match &self.start {
            StartPosition::AfterFragment(n)
                if n.is_empty() || n.len() > 128 || !n.bytes().all(|b| b.is_ascii_digit()) =>
            {
                return bad("start-fragment-number must be 1 to 128 decimal digits");
            }
            StartPosition::ContinuationToken(t) if t.is_empty() => {
                return bad("start-selector continuation-token needs start-continuation-token");
            }
            _ => {}
        }
        if self.fragment_batch == 0 {
            return bad("fragment batch must not be 0");
        }
        self.range().map(|_| ())
    }

    /// The control-plane endpoint set by property or environment, if any.
    pub fn resolved_endpoint(&self) -> Option<String> {
        self.endpoint_uri
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| {
                ENDPOINT_ENV_VARS
                    .iter()
                    .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_checks() {
        let mut c = SessionConfig::new(StreamId::Name("cam".into()));
        assert_eq!(c.range().ok(), Some(None));
        c.end_ms = Some(5);
        assert!(matches!(c.range(), Err(SourceError::Config(_))));
        c.start = StartPosition::ProducerTimestamp(10);
        assert!(matches!(
            c.range(),
            Err(SourceError::EndBeforeStart {
                start_ms: 10,
                end_ms: 5
            })
        ));
        c.end_ms = Some(20);
        assert_eq!(c.range().ok(), Some(Some((10, 20))));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn validation_names_the_property() {
        let mut c = SessionConfig::new(StreamId::Name("bad name".into()));
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("stream-name")
        );
        c.stream = StreamId::Name("ok".into());
        c.credentials.access_key = Some("AKID".into());
        assert!(c.validate().unwrap_err().to_string().contains("secret-key"));
        c.credentials.secret_key = Some("s3cr3t".into());
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }
}
