// SPDX-License-Identifier: MPL-2.0
//! The PutMedia request headers, built by the producer and parsed by kvs-local.

use http::{HeaderMap, HeaderName, HeaderValue};

use super::TimecodeType;

pub const STREAM_NAME: HeaderName = HeaderName::from_static("x-amzn-stream-name");
pub const STREAM_ARN: HeaderName = HeaderName::from_static("x-amzn-stream-arn");
pub const FRAGMENT_TIMECODE_TYPE: HeaderName =
    HeaderName::from_static("x-amzn-fragment-timecode-type");
pub const PRODUCER_START_TIMESTAMP: HeaderName =
    HeaderName::from_static("x-amzn-producer-start-timestamp");
pub const FRAGMENT_ACK_REQUIRED: HeaderName =
    HeaderName::from_static("x-amzn-fragment-acknowledgment-required");

/// Longest stream name the service accepts.
pub const MAX_STREAM_NAME_LEN: usize = 256;
/// Longest stream ARN the service accepts.
pub const MAX_STREAM_ARN_LEN: usize = 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeaderError {
    #[error("neither x-amzn-stream-name nor x-amzn-stream-arn is present")]
    MissingStream,
    #[error("both x-amzn-stream-name and x-amzn-stream-arn are present; send only one")]
    BothStreamNameAndArn,
    #[error("stream name must be 1 to {MAX_STREAM_NAME_LEN} characters of [a-zA-Z0-9_.-]")]
    BadStreamName,
    #[error("stream ARN must be 1 to {MAX_STREAM_ARN_LEN} characters")]
    BadStreamArn,
    #[error("x-amzn-fragment-timecode-type is missing")]
    MissingTimecodeType,
    #[error("x-amzn-fragment-timecode-type must be ABSOLUTE or RELATIVE, got {0:?}")]
    BadTimecodeType(String),
    #[error("x-amzn-producer-start-timestamp is missing")]
    MissingProducerStartTimestamp,
    #[error("x-amzn-producer-start-timestamp must be <epoch seconds>[.<millis>], got {0:?}")]
    BadProducerStartTimestamp(String),
    #[error("x-amzn-fragment-acknowledgment-required must be 1 or 0, got {0:?}")]
    BadAckRequired(String),
    #[error("header {0} is not visible ASCII")]
    NotAscii(&'static str),
    #[error("header {0} appears more than once")]
    Repeated(&'static str),
}

/// Which stream a PutMedia request writes to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StreamId {
    Name(String),
    Arn(String),
}

/// Producer start time as epoch milliseconds.
///
/// On the wire it is `<seconds>.<millis>`. We always write three fraction digits. AWS's
/// producer prints the milliseconds as an unpadded integer (5 ms → `…123.5`); the recorded
/// `capture-h264-alaw` exchange confirms it (header `1795417042.6`, first cluster at
/// `1795417042000`, i.e. 6 ms earlier, as in the other captures — not 600 ms). So a fraction of
/// one or two digits without a leading zero is read as an integer count of milliseconds, and
/// every other fraction as a decimal (`.05` = 50 ms, `.0` = 0, `.123456` = 123 ms, truncated).
/// A decimal writer that drops trailing zeros (`.5` meaning 500 ms) is indistinguishable from
/// AWS's form; AWS's reading wins because it is the producer actually deployed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ProducerStartTimestamp {
    millis: u64,
}

impl ProducerStartTimestamp {
    pub const fn from_millis(millis: u64) -> Self {
        Self { millis }
    }

    pub const fn as_millis(self) -> u64 {
        self.millis
    }

    /// `<seconds>.<millis>` with the milliseconds zero-padded to three digits.
    pub fn to_header_string(self) -> String {
        format!("{}.{:03}", self.millis / 1000, self.millis % 1000)
    }

    /// Parses the header value leniently (see the type's documentation).
    pub fn parse(value: &str) -> Result<Self, HeaderError> {
        let bad = || HeaderError::BadProducerStartTimestamp(value.to_owned());
        let trimmed = value.trim();
        let (secs, frac) = match trimmed.split_once('.') {
            Some((secs, frac)) => (secs, Some(frac)),
            None => (trimmed, None),
        };
        if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let secs: u64 = secs.parse().map_err(|_| bad())?;
        let millis = match frac {
            None => 0,
            Some(frac) => {
                if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                let aws_unpadded = frac.len() < 3 && !frac.starts_with('0');
                if aws_unpadded {
                    frac.parse::<u64>().map_err(|_| bad())?
                } else {
                    // Decimal fraction: the first three digits, right-padded, are the ms.
                    frac.bytes()
                        .chain(std::iter::repeat(b'0'))
                        .take(3)
                        .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'))
                }
            }
        };
        secs.checked_mul(1000)
            .and_then(|ms| ms.checked_add(millis))
            .map(Self::from_millis)
            .ok_or_else(bad)
    }
}

impl std::fmt::Display for ProducerStartTimestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_header_string())
    }
}

/// The protocol headers of a PutMedia request (transport and SigV4 headers aside).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutMediaHeaders {
    pub stream: StreamId,
    pub timecode_type: TimecodeType,
    pub producer_start_timestamp: ProducerStartTimestamp,
    /// Whether the producer wants the ACK stream. Defaults to true when the header is absent,
    /// since every known producer asks for ACKs.
    pub ack_required: bool,
    pub user_agent: Option<String>,
}

impl PutMediaHeaders {
    /// Writes the headers into `headers`, replacing earlier values of the same names.
    pub fn apply(&self, headers: &mut HeaderMap) -> Result<(), HeaderError> {
        let (name, value, label) = match &self.stream {
            StreamId::Name(name) => {
                check_name(name)?;
                (STREAM_NAME, name.as_str(), "x-amzn-stream-name")
            }
            StreamId::Arn(arn) => {
                check_len(arn, MAX_STREAM_ARN_LEN, HeaderError::BadStreamArn)?;
                (STREAM_ARN, arn.as_str(), "x-amzn-stream-arn")
            }
        };
        let value = visible_ascii(value, label)?;
        headers.remove(STREAM_NAME);
        headers.remove(STREAM_ARN);
        headers.insert(name, value);
        headers.insert(
            FRAGMENT_TIMECODE_TYPE,
            HeaderValue::from_static(self.timecode_type.as_str()),
        );
        let ts = HeaderValue::from_str(&self.producer_start_timestamp.to_header_string())
            .map_err(|_| HeaderError::NotAscii("x-amzn-producer-start-timestamp"))?;
        headers.insert(PRODUCER_START_TIMESTAMP, ts);
        headers.insert(
            FRAGMENT_ACK_REQUIRED,
            HeaderValue::from_static(if self.ack_required { "1" } else { "0" }),
        );
        if let Some(agent) = &self.user_agent {
            headers.insert(
                http::header::USER_AGENT,
                visible_ascii(agent, "user-agent")?,
            );
        }
        Ok(())
    }

    pub fn to_header_map(&self) -> Result<HeaderMap, HeaderError> {
        let mut headers = HeaderMap::new();
        self.apply(&mut headers)?;
        Ok(headers)
    }

    /// Reads the headers of an incoming PutMedia request.
    pub fn from_header_map(headers: &HeaderMap) -> Result<Self, HeaderError> {
        let name = single(headers, &STREAM_NAME, "x-amzn-stream-name")?;
        let arn = single(headers, &STREAM_ARN, "x-amzn-stream-arn")?;
        let stream = match (name, arn) {
            (Some(_), Some(_)) => return Err(HeaderError::BothStreamNameAndArn),
            (None, None) => return Err(HeaderError::MissingStream),
            (Some(name), None) => {
                check_name(name)?;
                StreamId::Name(name.to_owned())
            }
            (None, Some(arn)) => {
                check_len(arn, MAX_STREAM_ARN_LEN, HeaderError::BadStreamArn)?;
                StreamId::Arn(arn.to_owned())
            }
        };
        let timecode_type = single(
            headers,
            &FRAGMENT_TIMECODE_TYPE,
            "x-amzn-fragment-timecode-type",
        )?
        .ok_or(HeaderError::MissingTimecodeType)?;
        let timecode_type = TimecodeType::parse(timecode_type)
            .ok_or_else(|| HeaderError::BadTimecodeType(timecode_type.to_owned()))?;
        let start = single(
            headers,
            &PRODUCER_START_TIMESTAMP,
            "x-amzn-producer-start-timestamp",
        )?
        .ok_or(HeaderError::MissingProducerStartTimestamp)?;
        let producer_start_timestamp = ProducerStartTimestamp::parse(start)?;
        let ack_required = match single(
            headers,
            &FRAGMENT_ACK_REQUIRED,
            "x-amzn-fragment-acknowledgment-required",
        )? {
            None => true,
            Some(v) => match v.trim() {
                "1" => true,
                "0" => false,
                other if other.eq_ignore_ascii_case("true") => true,
                other if other.eq_ignore_ascii_case("false") => false,
                _ => return Err(HeaderError::BadAckRequired(v.to_owned())),
            },
        };
        let user_agent = headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Self {
            stream,
            timecode_type,
            producer_start_timestamp,
            ack_required,
            user_agent,
        })
    }
}

/// `http` accepts bytes above 0x7f in header values, but the peer reads them as invalid:
/// refuse them before sending.
fn visible_ascii(value: &str, label: &'static str) -> Result<HeaderValue, HeaderError> {
    if !value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
    {
        return Err(HeaderError::NotAscii(label));
    }
    HeaderValue::from_str(value).map_err(|_| HeaderError::NotAscii(label))
}

/// The service's stream-name rule: 1–256 of `[a-zA-Z0-9_.-]`.
fn check_name(name: &str) -> Result<(), HeaderError> {
    check_len(name, MAX_STREAM_NAME_LEN, HeaderError::BadStreamName)?;
    if name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        Ok(())
    } else {
        Err(HeaderError::BadStreamName)
    }
}

fn check_len(value: &str, max: usize, err: HeaderError) -> Result<(), HeaderError> {
    if value.is_empty() || value.chars().count() > max {
        Err(err)
    } else {
        Ok(())
    }
}

fn single<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
    label: &'static str,
) -> Result<Option<&'h str>, HeaderError> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(HeaderError::Repeated(label));
    }
    first
        .to_str()
        .map(|s| Some(s.trim()))
        .map_err(|_| HeaderError::NotAscii(label))
}
