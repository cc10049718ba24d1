// SPDX-License-Identifier: MPL-2.0
//! What the uploader needs to know, filled from the element's properties.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::SharedCredentialsProvider;
use kvs_core::putmedia::TimecodeType;

use super::error::UploaderError;

/// Where credentials come from. Precedence (as AWS's kvssink): a provider set by code, static
/// keys, the `credential-path` file, then the SDK's default chain.
#[derive(Clone, Default)]
pub struct CredentialsConfig {
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    pub session_token: Option<String>,
    pub credential_path: Option<PathBuf>,
    /// Overrides everything else; for IoT providers and tests.
    pub provider: Option<SharedCredentialsProvider>,
}

impl std::fmt::Debug for CredentialsConfig {
    // Secrets never reach logs: only say which sources are set.
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
            .field("credential_path", &self.credential_path)
            .field("provider", &self.provider.is_some())
            .finish()
    }
}

pub use kvs_core::api::ENDPOINT_ENV_VARS;

pub const DEFAULT_DEVICE_NAME: &str = "Kinesis_Video_Device";

#[derive(Clone, Debug)]
pub struct UploaderConfig {
    pub stream_name: String,
    pub region: Option<String>,
    pub credentials: CredentialsConfig,
    /// Control-plane base URL; `None` = the env variables above, then AWS's regional endpoint.
    pub endpoint_uri: Option<String>,
    pub retention_hours: u32,
    /// MediaType for CreateStream (e.g. `video/h264`).
    pub media_type: String,
    pub kms_key_id: Option<String>,
    pub stream_tags: Vec<(String, String)>,
    pub allow_create_stream: bool,
    pub device_name: String,
    pub timecode_type: TimecodeType,
    pub fragment_acks: bool,
    /// Oldest unacknowledged fragment kept, by arrival time.
    pub buffer_duration: Duration,
    /// Bytes of unacknowledged fragments kept.
    pub storage_size: u64,
    /// Flow control (non-live input, `streaming-type=offline`): the producer waits in
    /// [`Uploader::wait_for_room`](super::Uploader::wait_for_room) while too much is
    /// unacknowledged (a window that starts at 1 MiB and grows up to this cap while ACKs are
    /// slow), and fragments never age out. `None` (live input): never wait; drop the oldest
    /// fragments beyond `storage_size`/`buffer_duration`.
    pub flow_control_window: Option<u64>,
    /// Accepted for compatibility; fragments are resent from the first unacknowledged one.
    pub replay_duration: Duration,
    /// With ACKs on, a connection that got no ACK for this long while data was pending is
    /// dropped and reopened. Zero disables the check.
    pub connection_staleness: Duration,
    pub connection_timeout: Duration,
    /// Bound on each control-plane call.
    pub completion_timeout: Duration,
    pub stop_stream_timeout: Duration,
    pub user_agent: String,
    /// `x-amzn-producer-start-timestamp`; `None` = when the uploader starts.
    pub producer_start_time: Option<SystemTime>,
    /// Rotate the PutMedia connection at a fragment boundary after this long (the service
    /// ends connections at about 45 min). Zero disables rotation.
    pub max_connection_duration: Duration,
    /// Longest wait between reconnection attempts.
    pub max_backoff: Duration,
    /// Control-plane attempts before a transient failure becomes an error.
    pub control_plane_attempts: u32,
    /// Total wait for a new stream to become ACTIVE.
    pub stream_active_timeout: Duration,
}

impl UploaderConfig {
    /// Defaults as AWS's kvssink has them.
    pub fn new(stream_name: impl Into<String>) -> Self {
        Self {
            stream_name: stream_name.into(),
            region: None,
            credentials: CredentialsConfig::default(),
            endpoint_uri: None,
            retention_hours: 2,
            media_type: "video/h264".into(),
            kms_key_id: None,
            stream_tags: Vec::new(),
            allow_create_stream: true,
            device_name: DEFAULT_DEVICE_NAME.into(),
            timecode_type: TimecodeType::Absolute,
            fragment_acks: true,
            buffer_duration: Duration::from_secs(120),
            storage_size: 128 * 1024 * 1024,
            flow_control_window: None,
            replay_duration: Duration::from_secs(40),
            connection_staleness: Duration::from_secs(60),
            connection_timeout: Duration::from_secs(5),
            completion_timeout: Duration::from_secs(15),
            stop_stream_timeout: Duration::from_secs(120),
            user_agent: concat!("gst-kvs/", env!("CARGO_PKG_VERSION")).into(),
            producer_start_time: None,
            max_connection_duration: Duration::from_secs(40 * 60),
            max_backoff: Duration::from_secs(10),
            control_plane_attempts: 5,
            stream_active_timeout: Duration::from_secs(60),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), UploaderError> {
        let bad = |s: &str| Err(UploaderError::InvalidConfig(s.to_owned()));
        if self.stream_name.is_empty() || self.stream_name.len() > 256 {
            return bad("stream-name must be 1 to 256 characters");
        }
        if !self
            .stream_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            return bad("stream-name may contain only letters, digits, '_', '.' and '-'");
        }
        if self.storage_size == 0 {
            return bad("storage-size must be greater than 0");
        }
        if self.buffer_duration.is_zero() {
            return bad("buffer-duration must be greater than 0");
        }
        let creds = &self.credentials;
        if creds.access_key.is_some() != creds.secret_key.is_some() {
            return bad("set both access-key and secret-key, or neither");
        }
        Ok(())
    }

    /// The control-plane endpoint set by property or environment, if any.
    pub(crate) fn resolved_endpoint(&self) -> Option<String> {
        self.resolved_endpoint_with(|name| std::env::var(name).ok())
    }

    pub(crate) fn resolved_endpoint_with(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Option<String> {
        self.endpoint_uri
            .clone()
            .filter(|s| !s.trim().is_empty())
            .or_else(|| {
                ENDPOINT_ENV_VARS
                    .iter()
                    .find_map(|name| env(name).filter(|s| !s.trim().is_empty()))
            })
            .map(|s| s.trim().trim_end_matches('/').to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_precedence() {
        let mut cfg = UploaderConfig::new("s");
        let env = |name: &str| match name {
            "AWS_ENDPOINT_URL" => Some("http://global:1".to_owned()),
            "AWS_ENDPOINT_URL_KINESIS_VIDEO" => Some("http://kvs:2/".to_owned()),
            _ => None,
        };
        assert_eq!(
            cfg.resolved_endpoint_with(env).as_deref(),
            Some("http://kvs:2")
        );
        assert_eq!(
            cfg.resolved_endpoint_with(|n| (n == "CONTROL_PLANE_URI").then(|| "http://cp".into()))
                .as_deref(),
            Some("http://cp")
        );
        cfg.endpoint_uri = Some("http://prop:3".into());
        assert_eq!(
            cfg.resolved_endpoint_with(env).as_deref(),
            Some("http://prop:3")
        );
        cfg.endpoint_uri = None;
        assert_eq!(cfg.resolved_endpoint_with(|_| None), None);
    }

    #[test]
    fn validation() {
        assert!(UploaderConfig::new("ok-name_1.x").validate().is_ok());
        assert!(UploaderConfig::new("").validate().is_err());
        assert!(UploaderConfig::new("bad name").validate().is_err());
        let mut cfg = UploaderConfig::new("s");
        cfg.credentials.access_key = Some("AK".into());
        assert!(cfg.validate().is_err());
    }

    #[test]
    fn debug_hides_secrets() {
        let mut cfg = UploaderConfig::new("s");
        cfg.credentials.secret_key = Some("very-secret".into());
        cfg.credentials.session_token = Some("tok-secret".into());
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("very-secret"));
        assert!(!dbg.contains("tok-secret"));
    }
}
