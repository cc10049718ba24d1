// SPDX-License-Identifier: MPL-2.0
//! The MKV tags GetMedia adds to each fragment it serves, read by kvssrc and written by
//! kvs-local.
//!
//! Layout per fragment: FRAGMENT_NUMBER, SERVER_TIMESTAMP and PRODUCER_TIMESTAMP in a Tags
//! element before the Cluster; MILLIS_BEHIND_NOW and CONTINUATION_TOKEN in one after it. An
//! error chunk has FRAGMENT_NUMBER (maybe), ERROR_CODE and ERROR_ID but no SERVER_TIMESTAMP.

pub const TAG_FRAGMENT_NUMBER: &str = "AWS_KINESISVIDEO_FRAGMENT_NUMBER";
pub const TAG_SERVER_TIMESTAMP: &str = "AWS_KINESISVIDEO_SERVER_TIMESTAMP";
pub const TAG_PRODUCER_TIMESTAMP: &str = "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP";
pub const TAG_CONTINUATION_TOKEN: &str = "AWS_KINESISVIDEO_CONTINUATION_TOKEN";
pub const TAG_MILLIS_BEHIND_NOW: &str = "AWS_KINESISVIDEO_MILLIS_BEHIND_NOW";
pub const TAG_ERROR_CODE: &str = "AWS_KINESISVIDEO_ERROR_CODE";
pub const TAG_ERROR_ID: &str = "AWS_KINESISVIDEO_ERROR_ID";

/// Every service tag name, for callers that need to tell them from producer metadata.
pub const SERVICE_TAG_NAMES: [&str; 7] = [
    TAG_FRAGMENT_NUMBER,
    TAG_SERVER_TIMESTAMP,
    TAG_PRODUCER_TIMESTAMP,
    TAG_CONTINUATION_TOKEN,
    TAG_MILLIS_BEHIND_NOW,
    TAG_ERROR_CODE,
    TAG_ERROR_ID,
];

/// GetMedia error ids (`AWS_KINESISVIDEO_ERROR_ID`).
pub const GETMEDIA_ERROR_WRITE: u32 = 3002;
pub const GETMEDIA_ERROR_FRAGMENT_NOT_FOUND: u32 = 4000;
pub const GETMEDIA_ERROR_INTERNAL: u32 = 5000;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum GetMediaTagError {
    #[error("tag {tag} must be epoch seconds with up to 3 decimals, got {value:?}")]
    BadTimestamp { tag: &'static str, value: String },
    #[error("tag {tag} must be a non-negative integer, got {value:?}")]
    BadInteger { tag: &'static str, value: String },
}

/// The service tags of one GetMedia fragment. Timestamps are exact epoch milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FragmentServiceTags {
    pub fragment_number: Option<String>,
    pub server_timestamp_ms: Option<u64>,
    pub producer_timestamp_ms: Option<u64>,
    pub continuation_token: Option<String>,
    pub millis_behind_now: Option<u64>,
    pub error_code: Option<String>,
    pub error_id: Option<u32>,
}

impl FragmentServiceTags {
    /// Collects the service tags among `pairs`; other names are ignored.
    pub fn from_pairs<'a, I>(pairs: I) -> Result<Self, GetMediaTagError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut tags = Self::default();
        for (name, value) in pairs {
            tags.apply(name, value)?;
        }
        Ok(tags)
    }

    /// Records one tag; returns whether `name` is a service tag. A later value replaces an
    /// earlier one, as each appears once per fragment.
    pub fn apply(&mut self, name: &str, value: &str) -> Result<bool, GetMediaTagError> {
        match name {
            TAG_FRAGMENT_NUMBER => self.fragment_number = Some(value.to_owned()),
            TAG_SERVER_TIMESTAMP => {
                self.server_timestamp_ms = Some(parse_timestamp(TAG_SERVER_TIMESTAMP, value)?);
            }
            TAG_PRODUCER_TIMESTAMP => {
                self.producer_timestamp_ms = Some(parse_timestamp(TAG_PRODUCER_TIMESTAMP, value)?);
            }
            TAG_CONTINUATION_TOKEN => self.continuation_token = Some(value.to_owned()),
            TAG_MILLIS_BEHIND_NOW => {
                self.millis_behind_now = Some(parse_integer(TAG_MILLIS_BEHIND_NOW, value)?);
            }
            TAG_ERROR_CODE => self.error_code = Some(value.to_owned()),
            TAG_ERROR_ID => {
                let id = parse_integer(TAG_ERROR_ID, value)?;
                let id = u32::try_from(id).map_err(|_| GetMediaTagError::BadInteger {
                    tag: TAG_ERROR_ID,
                    value: value.to_owned(),
                })?;
                self.error_id = Some(id);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// A fragment the service served (AWS's parser keys this on SERVER_TIMESTAMP).
    pub fn is_success(&self) -> bool {
        self.server_timestamp_ms.is_some()
    }

    /// An error chunk: the service stopped the GetMedia session.
    pub fn is_error(&self) -> bool {
        !self.is_success() && (self.error_id.is_some() || self.error_code.is_some())
    }

    /// Both trailing tags seen: the fragment is complete.
    pub fn is_complete(&self) -> bool {
        self.millis_behind_now.is_some() && self.continuation_token.is_some()
    }

    /// The tags that go before the Cluster, in the service's order.
    pub fn leading_pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::with_capacity(3);
        if let Some(n) = &self.fragment_number {
            out.push((TAG_FRAGMENT_NUMBER, n.clone()));
        }
        if let Some(ms) = self.server_timestamp_ms {
            out.push((TAG_SERVER_TIMESTAMP, format_timestamp(ms)));
        }
        if let Some(ms) = self.producer_timestamp_ms {
            out.push((TAG_PRODUCER_TIMESTAMP, format_timestamp(ms)));
        }
        out
    }

    /// The tags that go after the Cluster, in the service's order.
    pub fn trailing_pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::with_capacity(2);
        if let Some(ms) = self.millis_behind_now {
            out.push((TAG_MILLIS_BEHIND_NOW, ms.to_string()));
        }
        if let Some(token) = &self.continuation_token {
            out.push((TAG_CONTINUATION_TOKEN, token.clone()));
        }
        out
    }

    /// The tags of an error chunk.
    pub fn error_pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::with_capacity(3);
        if let Some(n) = &self.fragment_number {
            out.push((TAG_FRAGMENT_NUMBER, n.clone()));
        }
        if let Some(code) = &self.error_code {
            out.push((TAG_ERROR_CODE, code.clone()));
        }
        if let Some(id) = self.error_id {
            out.push((TAG_ERROR_ID, id.to_string()));
        }
        out
    }
}

/// Epoch milliseconds as the service writes them: seconds with exactly three decimals.
pub fn format_timestamp(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Parses `seconds[.fraction]` as a decimal number (unlike PutMedia's producer-start header,
/// `.5` here is 500 ms). Digits past the third decimal are truncated; no float is involved.
pub fn parse_timestamp(tag: &'static str, value: &str) -> Result<u64, GetMediaTagError> {
    let bad = || GetMediaTagError::BadTimestamp {
        tag,
        value: value.to_owned(),
    };
    let trimmed = value.trim();
    let (secs, frac) = trimmed.split_once('.').unwrap_or((trimmed, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if trimmed.contains('.') && frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let secs: u64 = secs.parse().map_err(|_| bad())?;
    let millis = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'));
    secs.checked_mul(1000)
        .and_then(|ms| ms.checked_add(millis))
        .ok_or_else(bad)
}

fn parse_integer(tag: &'static str, value: &str) -> Result<u64, GetMediaTagError> {
    let trimmed = value.trim();
    if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(GetMediaTagError::BadInteger {
            tag,
            value: value.to_owned(),
        });
    }
    trimmed.parse().map_err(|_| GetMediaTagError::BadInteger {
        tag,
        value: value.to_owned(),
    })
}
