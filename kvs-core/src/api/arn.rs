// SPDX-License-Identifier: MPL-2.0
//! Stream ARNs: `arn:<partition>:kinesisvideo:<region>:<account>:stream/<name>/<creation ms>`.

use std::fmt;

use super::validate::is_name_char;

/// A parsed stream ARN.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StreamArn {
    pub partition: String,
    pub region: String,
    pub account: String,
    pub stream_name: String,
    /// Epoch milliseconds of the stream's creation; tells apart streams re-created with the
    /// same name.
    pub creation_ms: i64,
}

impl StreamArn {
    pub fn new(region: &str, account: &str, stream_name: &str, creation_ms: i64) -> StreamArn {
        StreamArn {
            partition: "aws".to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            stream_name: stream_name.to_owned(),
            creation_ms,
        }
    }

    /// Parses an ARN with the model's pattern
    /// `arn:[a-z\d-]+:kinesisvideo:[a-z0-9-]+:[0-9]+:[a-z]+/[a-zA-Z0-9_.-]+/[0-9]+`, requiring the
    /// resource type `stream`. `None` when it does not match.
    pub fn parse(s: &str) -> Option<StreamArn> {
        if s.is_empty() || s.len() > 1024 {
            return None;
        }
        let mut parts = s.splitn(6, ':');
        let (arn, partition, service, region, account, resource) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        let lower_digit_dash = |v: &str| {
            !v.is_empty()
                && v.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if arn != "arn"
            || service != "kinesisvideo"
            || !lower_digit_dash(partition)
            || !lower_digit_dash(region)
            || account.is_empty()
            || !account.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let mut res = resource.splitn(3, '/');
        let (kind, name, time) = (res.next()?, res.next()?, res.next()?);
        if kind != "stream"
            || name.is_empty()
            || !name.chars().all(is_name_char)
            || time.is_empty()
            || !time.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        Some(StreamArn {
            partition: partition.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            stream_name: name.to_owned(),
            creation_ms: time.parse().ok()?,
        })
    }
}

impl fmt::Display for StreamArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:kinesisvideo:{}:{}:stream/{}/{}",
            self.partition, self.region, self.account, self.stream_name, self.creation_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let arn = StreamArn::new(
            "us-east-1",
            "000000000000",
            "my-stream.1",
            1_598_784_211_076,
        );
        let s = arn.to_string();
        assert_eq!(
            s,
            "arn:aws:kinesisvideo:us-east-1:000000000000:stream/my-stream.1/1598784211076"
        );
        assert_eq!(StreamArn::parse(&s), Some(arn));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "arn:aws:kinesis:us-east-1:1:stream/s/1",
            "arn:aws:kinesisvideo:us-east-1:12a:stream/s/1",
            "arn:aws:kinesisvideo:us-east-1:1:channel/s/1",
            "arn:aws:kinesisvideo:us-east-1:1:stream/s/",
            "arn:aws:kinesisvideo:us-east-1:1:stream/s p/1",
            "arn:aws:kinesisvideo:us-east-1:1:stream/s/1/2",
        ] {
            assert_eq!(StreamArn::parse(bad), None, "{bad}");
        }
    }
}
