// SPDX-License-Identifier: MPL-2.0
//! kvssink's own properties (the fragmenter's live in `fragmenter_settings`): AWS's names,
//! types, units and defaults, plus ours (`endpoint-uri`, `kms-key-id`, `stats`).

use std::path::PathBuf;
use std::time::Duration;

use gst::glib;
use gst::prelude::*;

use crate::uploader::{CredentialsConfig, UploaderConfig};

pub const DEFAULT_STREAM_NAME: &str = "DEFAULT_STREAM";
pub const DEFAULT_USER_AGENT: &str = concat!("gst-kvs/", env!("CARGO_PKG_VERSION"));
pub const DEFAULT_RETENTION_PERIOD_H: u32 = 2;
pub const DEFAULT_CONTENT_TYPE: &str = "video/h264";
pub const DEFAULT_MAX_LATENCY_S: u32 = 60;
pub const DEFAULT_FRAGMENT_ACKS: bool = true;
pub const DEFAULT_RESTART_ON_ERROR: bool = true;
pub const DEFAULT_RECALCULATE_METRICS: bool = true;
pub const DEFAULT_FRAMERATE: u32 = 25;
pub const DEFAULT_AVG_BANDWIDTH_BPS: u32 = 4 * 1024 * 1024;
pub const DEFAULT_BUFFER_DURATION_S: u32 = 120;
pub const DEFAULT_REPLAY_DURATION_S: u32 = 40;
pub const DEFAULT_CONNECTION_STALENESS_S: u32 = 60;
pub const DEFAULT_ROTATION_PERIOD_S: u32 = 3600;
pub const DEFAULT_STORAGE_SIZE_MIB: u32 = 128;
pub const DEFAULT_MAX_UNACKED_SIZE_MIB: u32 = 32;
pub const DEFAULT_STOP_STREAM_TIMEOUT_S: u32 = 120;
pub const DEFAULT_CONNECTION_TIMEOUT_S: u32 = 5;
pub const DEFAULT_COMPLETION_TIMEOUT_S: u32 = 10;
/// AWS's default; used only if the file exists, unless set explicitly.
pub const DEFAULT_CREDENTIAL_PATH: &str = ".kvs/credential";
pub const DEFAULT_DISABLE_BUFFER_CLIPPING: bool = false;
pub const DEFAULT_GET_KVS_METRICS: bool = false;
pub const DEFAULT_ALLOW_CREATE_STREAM: bool = true;

#[derive(Clone)]
pub struct Settings {
    pub stream_name: String,
    pub user_agent: String,
    pub retention_period_h: u32,
    pub content_type: String,
    pub max_latency_s: u32,
    pub fragment_acks: bool,
    pub restart_on_error: bool,
    pub recalculate_metrics: bool,
    pub framerate: u32,
    pub avg_bandwidth_bps: u32,
    pub buffer_duration_s: u32,
    pub replay_duration_s: u32,
    pub connection_staleness_s: u32,
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    pub session_token: Option<String>,
    pub aws_region: Option<String>,
    pub rotation_period_s: u32,
    pub log_config: Option<String>,
    pub storage_size_mib: u32,
    pub max_unacked_size_mib: u32,
    pub stop_stream_timeout_s: u32,
    pub connection_timeout_s: u32,
    pub completion_timeout_s: u32,
    pub credential_path: String,
    pub credential_path_set: bool,
    pub iot_certificate: Option<gst::Structure>,
    pub stream_tags: Option<gst::Structure>,
    pub disable_buffer_clipping: bool,
    pub get_kvs_metrics: bool,
    pub allow_create_stream: bool,
    pub endpoint_uri: Option<String>,
    pub kms_key_id: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            stream_name: DEFAULT_STREAM_NAME.to_owned(),
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            retention_period_h: DEFAULT_RETENTION_PERIOD_H,
            content_type: DEFAULT_CONTENT_TYPE.to_owned(),
            max_latency_s: DEFAULT_MAX_LATENCY_S,
            fragment_acks: DEFAULT_FRAGMENT_ACKS,
            restart_on_error: DEFAULT_RESTART_ON_ERROR,
            recalculate_metrics: DEFAULT_RECALCULATE_METRICS,
            framerate: DEFAULT_FRAMERATE,
            avg_bandwidth_bps: DEFAULT_AVG_BANDWIDTH_BPS,
            buffer_duration_s: DEFAULT_BUFFER_DURATION_S,
            replay_duration_s: DEFAULT_REPLAY_DURATION_S,
            connection_staleness_s: DEFAULT_CONNECTION_STALENESS_S,
            access_key: None,
            secret_key: None,
            session_token: None,
            aws_region: None,
            rotation_period_s: DEFAULT_ROTATION_PERIOD_S,
            log_config: None,
            storage_size_mib: DEFAULT_STORAGE_SIZE_MIB,
            max_unacked_size_mib: DEFAULT_MAX_UNACKED_SIZE_MIB,
            stop_stream_timeout_s: DEFAULT_STOP_STREAM_TIMEOUT_S,
            connection_timeout_s: DEFAULT_CONNECTION_TIMEOUT_S,
            completion_timeout_s: DEFAULT_COMPLETION_TIMEOUT_S,
            credential_path: DEFAULT_CREDENTIAL_PATH.to_owned(),
            credential_path_set: false,
            iot_certificate: None,
            stream_tags: None,
            disable_buffer_clipping: DEFAULT_DISABLE_BUFFER_CLIPPING,
            get_kvs_metrics: DEFAULT_GET_KVS_METRICS,
            allow_create_stream: DEFAULT_ALLOW_CREATE_STREAM,
            endpoint_uri: None,
            kms_key_id: None,
        }
    }
}

// Secrets are kept out of Debug so that a stray `{:?}` cannot leak them.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("stream_name", &self.stream_name)
            .field("aws_region", &self.aws_region)
            .field("access_key", &self.access_key)
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("endpoint_uri", &self.endpoint_uri)
            .finish_non_exhaustive()
    }
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

fn secs(v: u32) -> Duration {
    Duration::from_secs(u64::from(v))
}

/// Stream tags as key/value pairs; every value is rendered as a string.
pub fn structure_pairs(s: &gst::StructureRef) -> Result<Vec<(String, String)>, String> {
    s.iter()
        .map(|(k, v)| {
            let value = v
                .get::<String>()
                .or_else(|_| {
                    v.transform::<String>()
                        .map_err(|e| e.to_string())
                        .and_then(|t| t.get::<String>().map_err(|e| e.to_string()))
                })
                .map_err(|e| format!("stream-tags field {k}: {e}"))?;
            if value.is_empty() {
                return Err(format!("stream-tags field {k} is empty"));
            }
            Ok((k.to_string(), value))
        })
        .collect()
}

impl Settings {
    /// The uploader's configuration (media type and timecode type are filled in by the
    /// caller, which knows the negotiated tracks).
    pub fn uploader_config(&self) -> Result<UploaderConfig, String> {
        let mut c = UploaderConfig::new(self.stream_name.clone());
        c.region = non_empty(self.aws_region.clone());
        let credential_path = PathBuf::from(&self.credential_path);
        c.credentials = CredentialsConfig {
            access_key: non_empty(self.access_key.clone()),
            secret_key: non_empty(self.secret_key.clone()),
            session_token: non_empty(self.session_token.clone()),
            credential_path: (self.credential_path_set || credential_path.is_file())
                .then_some(credential_path)
                .filter(|p| !p.as_os_str().is_empty()),
            provider: None,
        };
        c.endpoint_uri = non_empty(self.endpoint_uri.clone());
        c.retention_hours = self.retention_period_h;
        c.kms_key_id = non_empty(self.kms_key_id.clone());
        c.stream_tags = match &self.stream_tags {
            Some(s) => structure_pairs(s)?,
            None => Vec::new(),
        };
        c.allow_create_stream = self.allow_create_stream;
        c.fragment_acks = self.fragment_acks;
        c.buffer_duration = secs(self.buffer_duration_s);
        c.storage_size = u64::from(self.storage_size_mib) * 1024 * 1024;
        // Whether it applies (non-live input or offline) is known only once data flows.
        c.flow_control_window = (self.max_unacked_size_mib > 0)
            .then(|| (u64::from(self.max_unacked_size_mib) * 1024 * 1024).min(c.storage_size));
        c.replay_duration = secs(self.replay_duration_s.min(self.buffer_duration_s));
        c.connection_staleness = secs(self.connection_staleness_s);
        c.connection_timeout = secs(self.connection_timeout_s);
        c.completion_timeout = secs(self.completion_timeout_s);
        c.stop_stream_timeout = secs(self.stop_stream_timeout_s);
        c.user_agent = self.user_agent.clone();
        Ok(c)
    }

    pub fn set(&mut self, name: &str, value: &glib::Value) {
        let s = |v: &glib::Value| v.get::<Option<String>>().ok().flatten();
        let u = |v: &glib::Value| v.get::<u32>().unwrap_or_default();
        let b = |v: &glib::Value| v.get::<bool>().unwrap_or_default();
        match name {
            "stream-name" => {
                self.stream_name = s(value).unwrap_or_else(|| DEFAULT_STREAM_NAME.to_owned())
            }
            "user-agent" => {
                self.user_agent = s(value).unwrap_or_else(|| DEFAULT_USER_AGENT.to_owned())
            }
            "retention-period" => self.retention_period_h = u(value),
            "content-type" => {
                self.content_type = s(value).unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned())
            }
            "max-latency" => self.max_latency_s = u(value),
            "fragment-acks" => self.fragment_acks = b(value),
            "restart-on-error" => self.restart_on_error = b(value),
            "recalculate-metrics" => self.recalculate_metrics = b(value),
            "framerate" => self.framerate = u(value),
            "avg-bandwidth-bps" => self.avg_bandwidth_bps = u(value),
            "buffer-duration" => self.buffer_duration_s = u(value),
            "replay-duration" => self.replay_duration_s = u(value),
            "connection-staleness" => self.connection_staleness_s = u(value),
            "access-key" => self.access_key = s(value),
            "secret-key" => self.secret_key = s(value),
            "session-token" => self.session_token = s(value),
            "aws-region" => self.aws_region = s(value),
            "rotation-period" => self.rotation_period_s = u(value),
            "log-config" => self.log_config = s(value),
            "storage-size" => self.storage_size_mib = u(value),
            "max-unacked-size" => self.max_unacked_size_mib = u(value),
            "stop-stream-timeout" => self.stop_stream_timeout_s = u(value),
            "connection-timeout" => self.connection_timeout_s = u(value),
            "completion-timeout" => self.completion_timeout_s = u(value),
            "credential-path" => {
                let v = s(value);
                self.credential_path_set = v.is_some();
                self.credential_path = v.unwrap_or_else(|| DEFAULT_CREDENTIAL_PATH.to_owned());
            }
            "iot-certificate" => self.iot_certificate = value.get().ok().flatten(),
            "stream-tags" => self.stream_tags = value.get().ok().flatten(),
            "disable-buffer-clipping" => self.disable_buffer_clipping = b(value),
            "get-kvs-metrics" => self.get_kvs_metrics = b(value),
            "allow-create-stream" => self.allow_create_stream = b(value),
            "endpoint-uri" => self.endpoint_uri = s(value),
            "kms-key-id" => self.kms_key_id = s(value),
            _ => {}
        }
    }

    /// Readable properties; secrets are write-only and never come back.
    pub fn get(&self, name: &str) -> Option<glib::Value> {
        Some(match name {
            "stream-name" => self.stream_name.to_value(),
            "user-agent" => self.user_agent.to_value(),
            "retention-period" => self.retention_period_h.to_value(),
            "content-type" => self.content_type.to_value(),
            "max-latency" => self.max_latency_s.to_value(),
            "fragment-acks" => self.fragment_acks.to_value(),
            "restart-on-error" => self.restart_on_error.to_value(),
            "recalculate-metrics" => self.recalculate_metrics.to_value(),
            "framerate" => self.framerate.to_value(),
            "avg-bandwidth-bps" => self.avg_bandwidth_bps.to_value(),
            "buffer-duration" => self.buffer_duration_s.to_value(),
            "replay-duration" => self.replay_duration_s.to_value(),
            "connection-staleness" => self.connection_staleness_s.to_value(),
            "access-key" => self.access_key.to_value(),
            "aws-region" => self.aws_region.to_value(),
            "rotation-period" => self.rotation_period_s.to_value(),
            "log-config" => self.log_config.to_value(),
            "storage-size" => self.storage_size_mib.to_value(),
            "max-unacked-size" => self.max_unacked_size_mib.to_value(),
            "stop-stream-timeout" => self.stop_stream_timeout_s.to_value(),
            "connection-timeout" => self.connection_timeout_s.to_value(),
            "completion-timeout" => self.completion_timeout_s.to_value(),
            "credential-path" => self.credential_path.to_value(),
            "iot-certificate" => self.iot_certificate.to_value(),
            "stream-tags" => self.stream_tags.to_value(),
            "disable-buffer-clipping" => self.disable_buffer_clipping.to_value(),
            "get-kvs-metrics" => self.get_kvs_metrics.to_value(),
            "allow-create-stream" => self.allow_create_stream.to_value(),
            "endpoint-uri" => self.endpoint_uri.to_value(),
            "kms-key-id" => self.kms_key_id.to_value(),
            _ => return None,
        })
    }
}

fn string(name: &str, nick: &str, blurb: &str, default: Option<&str>) -> glib::ParamSpec {
    glib::ParamSpecString::builder(name)
        .nick(nick)
        .blurb(blurb)
        .default_value(default)
        .mutable_ready()
        .build()
}

fn secret(name: &str, nick: &str, blurb: &str) -> glib::ParamSpec {
    glib::ParamSpecString::builder(name)
        .nick(nick)
        .blurb(blurb)
        .write_only()
        .mutable_ready()
        .build()
}

fn uint(name: &str, nick: &str, blurb: &str, default: u32) -> glib::ParamSpec {
    glib::ParamSpecUInt::builder(name)
        .nick(nick)
        .blurb(blurb)
        .default_value(default)
        .mutable_ready()
        .build()
}

fn boolean(name: &str, nick: &str, blurb: &str, default: bool) -> glib::ParamSpec {
    glib::ParamSpecBoolean::builder(name)
        .nick(nick)
        .blurb(blurb)
        .default_value(default)
        .mutable_ready()
        .build()
}

fn structure(name: &str, nick: &str, blurb: &str) -> glib::ParamSpec {
    glib::ParamSpecBoxed::builder::<gst::Structure>(name)
        .nick(nick)
        .blurb(blurb)
        .mutable_ready()
        .build()
}

pub fn param_specs() -> Vec<glib::ParamSpec> {
    vec![
        string("stream-name", "Stream name", "Name of the KVS stream (1-256 characters)", Some(DEFAULT_STREAM_NAME)),
        string("aws-region", "AWS region", "Region of the stream, e.g. us-east-1. Unset: AWS_REGION / AWS_DEFAULT_REGION, then the profile; streaming fails with a hint if none is found", None),
        string("access-key", "Access key ID", "AWS access key ID (with secret-key). Unset: credential-path, then the standard AWS chain (environment, profile, SSO, web identity, ECS, IMDS)", None),
        secret("secret-key", "Secret access key", "AWS secret access key (write-only, never logged)"),
        secret("session-token", "Session token", "AWS session token for temporary credentials (write-only, never logged)"),
        string("credential-path", "Credential file", "File with 'CREDENTIALS <key id> [<expiration>] <secret> [<token>]', re-read when it changes. The default is used only if it exists", Some(DEFAULT_CREDENTIAL_PATH)),
        structure("iot-certificate", "IoT certificate", "AWS IoT credential provider settings (endpoint, cert-path, key-path, ca-path, role-aliases): not supported yet, setting it is an error at start"),
        string("endpoint-uri", "Endpoint URI", "Control-plane base URL (e.g. http://127.0.0.1:4566 for kvs-local). Unset: CONTROL_PLANE_URI, AWS_ENDPOINT_URL_KINESIS_VIDEO, AWS_ENDPOINT_URL, then AWS's regional endpoint", None),
        uint("retention-period", "Retention period", "Hours of retention when the stream is created (0: no retention)", DEFAULT_RETENTION_PERIOD_H),
        string("kms-key-id", "KMS key ID", "KMS key to encrypt a stream this element creates (unset: the AWS-managed key)", None),
        structure("stream-tags", "Stream tags", "Tags for a stream this element creates, as string fields of a structure, e.g. \"tags,team=video,site=lab\""),
        boolean("allow-create-stream", "Allow create stream", "Create the stream if it does not exist", DEFAULT_ALLOW_CREATE_STREAM),
        boolean("fragment-acks", "Fragment ACKs", "Ask the service for per-fragment acknowledgements (needed to resend lost fragments and to know when data is stored)", DEFAULT_FRAGMENT_ACKS),
        boolean("restart-on-error", "Restart on error", "Accepted for compatibility: transient failures are always retried with backoff; errors that cannot be retried always stop the pipeline", DEFAULT_RESTART_ON_ERROR),
        uint("buffer-duration", "Buffer duration", "Seconds of unacknowledged media kept for resending (oldest whole fragments are dropped beyond it, with a warning)", DEFAULT_BUFFER_DURATION_S),
        uint("replay-duration", "Replay duration", "Seconds: accepted for compatibility; after a reconnect everything not yet acknowledged is resent (at most buffer-duration)", DEFAULT_REPLAY_DURATION_S),
        uint("storage-size", "Storage size", "MiB of unacknowledged media kept in memory at most (allocated as used, not up front)", DEFAULT_STORAGE_SIZE_MIB),
        uint("max-unacked-size", "Max unacknowledged size", "Flow control for non-live input (files) and streaming-type=offline: kvssink waits for ACKs instead of taking more once this much is unacknowledged, so nothing is dropped. The window starts at 1 MiB and doubles up to this cap (MiB, at most storage-size) while ACKs are slow, so a nearby service costs little memory and a long link stays busy; 0 disables. Live real-time input never waits: the oldest fragments beyond storage-size/buffer-duration are dropped", DEFAULT_MAX_UNACKED_SIZE_MIB),
        uint("connection-staleness", "Connection staleness", "Seconds without an ACK while data is pending after which the connection is reopened (0: never)", DEFAULT_CONNECTION_STALENESS_S),
        uint("max-latency", "Max latency", "Seconds: accepted for compatibility, no effect (see buffer-duration)", DEFAULT_MAX_LATENCY_S),
        uint("stop-stream-timeout", "Stop stream timeout", "Seconds EOS waits for the last fragment to be acknowledged", DEFAULT_STOP_STREAM_TIMEOUT_S),
        uint("connection-timeout", "Connection timeout", "Seconds to establish a connection", DEFAULT_CONNECTION_TIMEOUT_S),
        uint("completion-timeout", "Completion timeout", "Seconds a control-plane call may take", DEFAULT_COMPLETION_TIMEOUT_S),
        string("user-agent", "User agent", "User-Agent sent with every request", Some(DEFAULT_USER_AGENT)),
        string("content-type", "Content type", "Accepted for compatibility, ignored: the MediaType of a created stream comes from the negotiated caps", Some(DEFAULT_CONTENT_TYPE)),
        uint("framerate", "Frame rate", "Accepted for compatibility, no effect (the buffer is sized in bytes and seconds)", DEFAULT_FRAMERATE),
        uint("avg-bandwidth-bps", "Average bandwidth", "Accepted for compatibility, no effect", DEFAULT_AVG_BANDWIDTH_BPS),
        uint("rotation-period", "Rotation period", "Seconds: accepted for compatibility, no effect (connections rotate before the service's 45-minute limit)", DEFAULT_ROTATION_PERIOD_S),
        string("log-config", "Log configuration", "Accepted for compatibility, ignored: logging goes through GStreamer (GST_DEBUG=kvssink:5)", None),
        boolean("recalculate-metrics", "Recalculate metrics", "Accepted for compatibility, no effect (see stats)", DEFAULT_RECALCULATE_METRICS),
        boolean("disable-buffer-clipping", "Disable buffer clipping", "Accepted for compatibility, no effect: buffers are not clipped to the segment", DEFAULT_DISABLE_BUFFER_CLIPPING),
        boolean("get-kvs-metrics", "Get KVS metrics", "Accepted for compatibility, no effect: read the stats property and the kvs-fragment-ack messages instead", DEFAULT_GET_KVS_METRICS),
        glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
            .nick("Statistics")
            .blurb("Upload counters: fragments sent/acked/persisted, bytes, errors, dropped fragments, reconnects")
            .read_only()
            .build(),
    ]
}
