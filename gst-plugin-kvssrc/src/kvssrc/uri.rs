// SPDX-License-Identifier: MPL-2.0
//! The `kvs://STREAM?key=value&…` URI grammar (see the element documentation).

use thiserror::Error;

pub const SCHEME: &str = "kvs";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum UriError {
    #[error("not a kvs:// URI")]
    Scheme,
    #[error("the URI names no stream: use kvs://STREAM or kvs://?arn=ARN")]
    NoStream,
    #[error("bad percent-encoding in the URI")]
    Encoding,
    #[error(
        "unknown URI query key {0:?} (known: region, start, end, endpoint, timestamp-type, arn)"
    )]
    UnknownKey(String),
    #[error("bad {key} value {value:?}: {expected}")]
    BadValue {
        key: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// Where `start=` points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UriStart {
    Now,
    Earliest,
    Fragment(String),
    Token(String),
    Producer(u64),
    Server(u64),
    /// A bare time: a timestamp of the element's `timestamp-type`.
    Time(u64),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KvsUri {
    pub stream_name: Option<String>,
    pub stream_arn: Option<String>,
    pub region: Option<String>,
    pub start: Option<UriStart>,
    pub end_ms: Option<u64>,
    pub endpoint: Option<String>,
    /// `Some(true)` for server timestamps.
    pub server_timestamps: Option<bool>,
}

fn decode(s: &str) -> Result<String, UriError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(UriError::Encoding)?;
            out.push(hex);
            i += 3;
        } else {
            out.push(if b == b'+' { b' ' } else { b });
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| UriError::Encoding)
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Epoch seconds with up to millisecond decimals, or RFC 3339, to epoch milliseconds.
pub fn parse_time(s: &str) -> Option<u64> {
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') && !s.is_empty() {
        return kvs_core::getmedia::parse_timestamp("start", s).ok();
    }
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

fn time_value(key: &'static str, v: &str) -> Result<u64, UriError> {
    parse_time(v).ok_or_else(|| UriError::BadValue {
        key,
        value: v.to_owned(),
        expected: "epoch seconds (1700000000.5) or RFC 3339 (2026-11-23T10:00:00Z)",
    })
}

impl KvsUri {
    pub fn parse(uri: &str) -> Result<Self, UriError> {
        let (scheme, rest) = uri.split_once("://").ok_or(UriError::Scheme)?;
        if !scheme.eq_ignore_ascii_case(SCHEME) {
            return Err(UriError::Scheme);
        }
        let (stream, query) = rest.split_once('?').unwrap_or((rest, ""));
        let stream = decode(stream.trim_end_matches('/'))?;
        let mut out = KvsUri {
            stream_name: Some(stream).filter(|s| !s.is_empty()),
            ..KvsUri::default()
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = decode(k)?;
            let v = decode(v)?;
            match k.as_str() {
                "region" => out.region = Some(v),
                "endpoint" => out.endpoint = Some(v),
                "arn" => out.stream_arn = Some(v),
                "end" => out.end_ms = Some(time_value("end", &v)?),
                "timestamp-type" => {
                    out.server_timestamps = Some(match v.as_str() {
                        "producer" => false,
                        "server" => true,
                        _ => {
                            return Err(UriError::BadValue {
                                key: "timestamp-type",
                                value: v,
                                expected: "producer or server",
                            });
                        }
                    })
                }
                "start" => {
                    let start = match v.split_once(':') {
                        _ if v == "now" => UriStart::Now,
                        _ if v == "earliest" => UriStart::Earliest,
                        Some(("fragment", n)) => UriStart::Fragment(n.to_owned()),
                        Some(("token", t)) => UriStart::Token(t.to_owned()),
                        Some(("producer", t)) => UriStart::Producer(time_value("start", t)?),
                        Some(("server", t)) => UriStart::Server(time_value("start", t)?),
                        _ => UriStart::Time(time_value("start", &v)?),
                    };
                    out.start = Some(start);
                }
                _ => return Err(UriError::UnknownKey(k)),
            }
        }
        if out.stream_name.is_none() && out.stream_arn.is_none() {
            return Err(UriError::NoStream);
        }
        Ok(out)
    }

    pub fn to_uri_string(&self) -> String {
        let mut s = format!(
            "{SCHEME}://{}",
            self.stream_name.as_deref().map(encode).unwrap_or_default()
        );
        let mut q = Vec::new();
        if let Some(a) = &self.stream_arn {
            q.push(format!("arn={}", encode(a)));
        }
        if let Some(r) = &self.region {
            q.push(format!("region={}", encode(r)));
        }
        if let Some(start) = &self.start {
            let fmt = kvs_core::getmedia::format_timestamp;
            q.push(format!(
                "start={}",
                match start {
                    UriStart::Now => "now".to_owned(),
                    UriStart::Earliest => "earliest".to_owned(),
                    UriStart::Fragment(n) => format!("fragment:{}", encode(n)),
                    UriStart::Token(t) => format!("token:{}", encode(t)),
                    UriStart::Producer(ms) => format!("producer:{}", fmt(*ms)),
                    UriStart::Server(ms) => format!("server:{}", fmt(*ms)),
                    UriStart::Time(ms) => fmt(*ms),
                }
            ));
        }
        if let Some(end) = self.end_ms {
            q.push(format!("end={}", kvs_core::getmedia::format_timestamp(end)));
        }
        if let Some(server) = self.server_timestamps {
            q.push(format!(
                "timestamp-type={}",
                if server { "server" } else { "producer" }
            ));
        }
        if let Some(e) = &self.endpoint {
            q.push(format!("endpoint={}", encode(e)));
        }
        if !q.is_empty() {
            s.push('?');
            s.push_str(&q.join("&"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_key() {
        let u = KvsUri::parse(
            "kvs://cam-1?region=eu-west-1&start=producer:1700000000.25&end=2023-11-14T22:14:00Z\
             &endpoint=http%3A%2F%2F127.0.0.1%3A4567&timestamp-type=server",
        )
        .unwrap();
        assert_eq!(u.stream_name.as_deref(), Some("cam-1"));
        assert_eq!(u.region.as_deref(), Some("eu-west-1"));
        assert_eq!(u.start, Some(UriStart::Producer(1_700_000_000_250)));
        assert_eq!(u.end_ms, Some(1_700_000_040_000));
        assert_eq!(u.endpoint.as_deref(), Some("http://127.0.0.1:4567"));
        assert_eq!(u.server_timestamps, Some(true));
        assert_eq!(KvsUri::parse(&u.to_uri_string()).unwrap(), u);
    }

    #[test]
    fn start_forms() {
        let s = |q: &str| KvsUri::parse(&format!("kvs://s?start={q}")).unwrap().start;
        assert_eq!(s("now"), Some(UriStart::Now));
        assert_eq!(s("earliest"), Some(UriStart::Earliest));
        assert_eq!(s("fragment:913"), Some(UriStart::Fragment("913".into())));
        assert_eq!(s("token:abc"), Some(UriStart::Token("abc".into())));
        assert_eq!(s("12.5"), Some(UriStart::Time(12_500)));
    }

    #[test]
    fn rejects_what_it_cannot_use() {
        assert_eq!(KvsUri::parse("http://x"), Err(UriError::Scheme));
        assert_eq!(KvsUri::parse("kvs://?region=x"), Err(UriError::NoStream));
        assert!(matches!(
            KvsUri::parse("kvs://s?colour=red"),
            Err(UriError::UnknownKey(_))
        ));
        assert!(matches!(
            KvsUri::parse("kvs://s?start=yesterday"),
            Err(UriError::BadValue { key: "start", .. })
        ));
        assert_eq!(KvsUri::parse("kvs://s%zz"), Err(UriError::Encoding));
    }
}
