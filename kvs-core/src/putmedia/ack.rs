// SPDX-License-Identifier: MPL-2.0
//! The PutMedia ACK stream: JSON objects the service writes on the response body, one per
//! event, newline-separated in practice.
//!
//! [`AckParser`] is incremental: bytes may arrive split anywhere. It only finds object
//! boundaries (brackets outside strings) and hands each complete object to serde_json, so
//! memory stays bounded by [`MAX_ACK_OBJECT_LEN`] plus the ACKs not yet taken.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::error_id::AckErrorId;

/// Largest ACK object accepted. Real ACKs are under 300 bytes; anything near this limit is
/// garbage, and refusing it keeps a misbehaving peer from making us buffer without end.
pub const MAX_ACK_OBJECT_LEN: usize = 64 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AckEventType {
    Buffering,
    Received,
    Persisted,
    Error,
    Idle,
    Unknown(String),
}

impl AckEventType {
    pub fn parse(value: &str) -> Self {
        match value {
            "BUFFERING" => Self::Buffering,
            "RECEIVED" => Self::Received,
            "PERSISTED" => Self::Persisted,
            "ERROR" => Self::Error,
            "IDLE" => Self::Idle,
            other => Self::Unknown(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Buffering => "BUFFERING",
            Self::Received => "RECEIVED",
            Self::Persisted => "PERSISTED",
            Self::Error => "ERROR",
            Self::Idle => "IDLE",
            Self::Unknown(other) => other,
        }
    }
}

/// One ACK event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    pub event_type: AckEventType,
    /// The fragment's Cluster timecode as the producer wrote it (absent on IDLE; the
    /// service's `-1` on parse errors is read as absent too).
    pub fragment_timecode: Option<u64>,
    pub fragment_number: Option<String>,
    pub error_id: Option<u32>,
    pub error_code: Option<String>,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AckError {
    #[error("ACK object longer than {MAX_ACK_OBJECT_LEN} bytes; skipped to the next line")]
    TooLarge,
    #[error("unexpected byte 0x{0:02x} between ACK objects; skipped to the next line")]
    UnexpectedByte(u8),
    #[error("line break inside a JSON string; ACK object dropped")]
    BrokenString,
    #[error("malformed ACK JSON: {0}")]
    Malformed(String),
    #[error("ACK has no EventType")]
    MissingEventType,
    #[error("ERROR ACK has no ErrorId")]
    MissingErrorId,
    #[error("ACK field {0} has the wrong type")]
    BadField(&'static str),
    #[error("ACK stream ended inside an object")]
    Truncated,
}

impl Ack {
    fn event(event_type: AckEventType, fragment_timecode: u64, fragment_number: &str) -> Self {
        Self {
            event_type,
            fragment_timecode: Some(fragment_timecode),
            fragment_number: Some(fragment_number.to_owned()),
            error_id: None,
            error_code: None,
        }
    }

    pub fn buffering(fragment_timecode: u64, fragment_number: &str) -> Self {
        Self::event(AckEventType::Buffering, fragment_timecode, fragment_number)
    }

    pub fn received(fragment_timecode: u64, fragment_number: &str) -> Self {
        Self::event(AckEventType::Received, fragment_timecode, fragment_number)
    }

    pub fn persisted(fragment_timecode: u64, fragment_number: &str) -> Self {
        Self::event(AckEventType::Persisted, fragment_timecode, fragment_number)
    }

    pub fn idle() -> Self {
        Self {
            event_type: AckEventType::Idle,
            fragment_timecode: None,
            fragment_number: None,
            error_id: None,
            error_code: None,
        }
    }

    /// An ERROR ACK; `ErrorCode` is the table's service code for known ids.
    pub fn error(
        fragment_timecode: Option<u64>,
        fragment_number: Option<&str>,
        id: AckErrorId,
    ) -> Self {
        Self {
            event_type: AckEventType::Error,
            fragment_timecode,
            fragment_number: fragment_number.map(str::to_owned),
            error_id: Some(id.0),
            error_code: id.info().map(|row| row.service_code.to_owned()),
        }
    }

    /// The ErrorId of an ERROR ACK, with its table entry and classification.
    pub fn error_kind(&self) -> Option<AckErrorId> {
        self.error_id.map(AckErrorId)
    }

    /// The ACK as the service sends it: compact JSON, keys in the service's order, then "\n".
    pub fn to_json_line(&self) -> String {
        let wire = WireAckOut {
            event_type: self.event_type.as_str(),
            fragment_timecode: self.fragment_timecode,
            fragment_number: self.fragment_number.as_deref(),
            error_code: self.error_code.as_deref(),
            error_id: self.error_id,
        };
        // Serialising plain strings and integers cannot fail; fall back to a valid IDLE
        // rather than panic if it somehow did.
        let mut line = serde_json::to_string(&wire)
            .unwrap_or_else(|_| String::from("{\"EventType\":\"IDLE\"}"));
        line.push('\n');
        line
    }

    fn from_object(bytes: &[u8]) -> Result<Self, AckError> {
        let raw: WireAckIn =
            serde_json::from_slice(bytes).map_err(|e| AckError::Malformed(e.to_string()))?;
        let event_type = raw
            .event_type
            .map(|s| AckEventType::parse(&s))
            .ok_or(AckError::MissingEventType)?;
        let fragment_timecode = match raw.fragment_timecode {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Number(n)) => {
                if n.as_i64().is_some_and(|v| v < 0) {
                    None
                } else {
                    Some(n.as_u64().ok_or(AckError::BadField("FragmentTimecode"))?)
                }
            }
            Some(_) => return Err(AckError::BadField("FragmentTimecode")),
        };
        let error_id = match raw.error_id {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Number(n)) => Some(
                n.as_u64()
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or(AckError::BadField("ErrorId"))?,
            ),
            Some(_) => return Err(AckError::BadField("ErrorId")),
        };
        if event_type == AckEventType::Error && error_id.is_none() {
            return Err(AckError::MissingErrorId);
        }
        Ok(Self {
            event_type,
            fragment_timecode,
            fragment_number: raw.fragment_number,
            error_id,
            error_code: raw.error_code,
        })
    }
}

// serde's derive rejects a key seen twice, as AWS's parser does.
#[derive(Deserialize)]
struct WireAckIn {
    #[serde(rename = "EventType")]
    event_type: Option<String>,
    #[serde(rename = "FragmentTimecode")]
    fragment_timecode: Option<serde_json::Value>,
    #[serde(rename = "FragmentNumber")]
    fragment_number: Option<String>,
    #[serde(rename = "ErrorId")]
    error_id: Option<serde_json::Value>,
    #[serde(rename = "ErrorCode")]
    error_code: Option<String>,
}

#[derive(Serialize)]
struct WireAckOut<'a> {
    #[serde(rename = "EventType")]
    event_type: &'a str,
    #[serde(rename = "FragmentTimecode", skip_serializing_if = "Option::is_none")]
    fragment_timecode: Option<u64>,
    #[serde(rename = "FragmentNumber", skip_serializing_if = "Option::is_none")]
    fragment_number: Option<&'a str>,
    #[serde(rename = "ErrorCode", skip_serializing_if = "Option::is_none")]
    error_code: Option<&'a str>,
    #[serde(rename = "ErrorId", skip_serializing_if = "Option::is_none")]
    error_id: Option<u32>,
}

/// Incremental ACK-stream parser.
#[derive(Debug, Default)]
pub struct AckParser {
    object: Vec<u8>,
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// Discarding input up to the next line break after an error.
    skipping: bool,
    ready: VecDeque<Result<Ack, AckError>>,
}

impl AckParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes from the response body.
    pub fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.push_byte(b);
        }
    }

    /// The next complete ACK (or error), in stream order.
    pub fn next_ack(&mut self) -> Option<Result<Ack, AckError>> {
        self.ready.pop_front()
    }

    /// Feeds bytes and returns everything that became complete.
    pub fn push_and_drain(&mut self, bytes: &[u8]) -> Vec<Result<Ack, AckError>> {
        self.push(bytes);
        self.ready.drain(..).collect()
    }

    /// Call at end of stream: reports an object left unfinished.
    pub fn finish(&mut self) -> Option<AckError> {
        let truncated = self.depth > 0;
        self.reset_object();
        self.skipping = false;
        truncated.then_some(AckError::Truncated)
    }

    /// Bytes held for an object not yet complete.
    pub fn buffered_len(&self) -> usize {
        self.object.len()
    }

    fn reset_object(&mut self) {
        self.object.clear();
        self.depth = 0;
        self.in_string = false;
        self.escaped = false;
    }

    fn fail(&mut self, err: AckError, resync_at_newline: bool) {
        self.reset_object();
        self.skipping = resync_at_newline;
        self.ready.push_back(Err(err));
    }

    fn push_byte(&mut self, b: u8) {
        if self.skipping {
            if b == b'\n' {
                self.skipping = false;
            }
            return;
        }
        if self.depth == 0 {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => {}
                b'{' => {
                    self.object.push(b);
                    self.depth = 1;
                }
                other => self.fail(AckError::UnexpectedByte(other), other != b'\n'),
            }
            return;
        }
        if self.object.len() >= MAX_ACK_OBJECT_LEN {
            self.fail(AckError::TooLarge, b != b'\n');
            return;
        }
        self.object.push(b);
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
            } else if b == b'\n' {
                // JSON strings cannot hold a raw line break, so this object was cut off;
                // whatever follows the break is a fresh start.
                self.fail(AckError::BrokenString, false);
            }
            return;
        }
        match b {
            b'"' => self.in_string = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => {
                self.depth -= 1;
                if self.depth == 0 {
                    let parsed = Ack::from_object(&self.object);
                    self.reset_object();
                    self.ready.push_back(parsed);
                }
            }
            _ => {}
        }
    }
}
