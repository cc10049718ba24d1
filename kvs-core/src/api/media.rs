// SPDX-License-Identifier: MPL-2.0
//! Request shapes of the media data plane (GetMedia) and archived media (ListFragments,
//! GetMediaForFragmentList), shared by kvs-local and the consuming plugins.

use serde::{Deserialize, Serialize};

/// JSON timestamps are epoch seconds with millisecond precision; internally we count ms.
pub fn epoch_seconds_from_millis(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// Rounds to the nearest millisecond so `1704164645.678` reads back as `1704164645678`.
pub fn millis_from_epoch_seconds(seconds: f64) -> i64 {
    (seconds * 1000.0).round() as i64
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StartSelectorType {
    FragmentNumber,
    ServerTimestamp,
    ProducerTimestamp,
    Now,
    Earliest,
    ContinuationToken,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StartSelector {
    #[serde(rename = "StartSelectorType")]
    pub start_selector_type: StartSelectorType,
    #[serde(
        rename = "AfterFragmentNumber",
        skip_serializing_if = "Option::is_none"
    )]
    pub after_fragment_number: Option<String>,
    #[serde(rename = "StartTimestamp", skip_serializing_if = "Option::is_none")]
    pub start_timestamp: Option<f64>,
    #[serde(rename = "ContinuationToken", skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GetMediaInput {
    #[serde(rename = "StreamName", skip_serializing_if = "Option::is_none")]
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN", skip_serializing_if = "Option::is_none")]
    pub stream_arn: Option<String>,
    #[serde(rename = "StartSelector")]
    pub start_selector: StartSelector,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FragmentSelectorType {
    ProducerTimestamp,
    ServerTimestamp,
}

/// Inclusive on both ends, in epoch seconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimestampRange {
    #[serde(rename = "StartTimestamp")]
    pub start_timestamp: f64,
    #[serde(rename = "EndTimestamp")]
    pub end_timestamp: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FragmentSelector {
    #[serde(rename = "FragmentSelectorType")]
    pub fragment_selector_type: FragmentSelectorType,
    #[serde(rename = "TimestampRange")]
    pub timestamp_range: TimestampRange,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct ListFragmentsInput {
    #[serde(rename = "StreamName", skip_serializing_if = "Option::is_none")]
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN", skip_serializing_if = "Option::is_none")]
    pub stream_arn: Option<String>,
    #[serde(rename = "MaxResults", skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    #[serde(rename = "NextToken", skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    #[serde(rename = "FragmentSelector", skip_serializing_if = "Option::is_none")]
    pub fragment_selector: Option<FragmentSelector>,
}

/// One fragment as ListFragments reports it. Timestamps are epoch seconds; the fragment
/// number is a big decimal string that must never be parsed into a machine integer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fragment {
    #[serde(rename = "FragmentNumber")]
    pub fragment_number: String,
    #[serde(rename = "FragmentSizeInBytes")]
    pub fragment_size_in_bytes: i64,
    #[serde(rename = "ProducerTimestamp")]
    pub producer_timestamp: f64,
    #[serde(rename = "ServerTimestamp")]
    pub server_timestamp: f64,
    #[serde(rename = "FragmentLengthInMilliseconds")]
    pub fragment_length_in_milliseconds: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct ListFragmentsOutput {
    #[serde(rename = "Fragments")]
    pub fragments: Vec<Fragment>,
    #[serde(rename = "NextToken", skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct GetMediaForFragmentListInput {
    #[serde(rename = "StreamName", skip_serializing_if = "Option::is_none")]
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN", skip_serializing_if = "Option::is_none")]
    pub stream_arn: Option<String>,
    #[serde(rename = "Fragments")]
    pub fragments: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_recorded_sdk_bodies() {
        let gm: GetMediaInput = serde_json::from_str(
            r#"{"StreamName": "s1", "StartSelector": {"StartSelectorType": "PRODUCER_TIMESTAMP", "StartTimestamp": 1704164645.678}}"#,
        )
        .unwrap();
        assert_eq!(
            gm.start_selector.start_selector_type,
            StartSelectorType::ProducerTimestamp
        );
        assert_eq!(
            gm.start_selector
                .start_timestamp
                .map(millis_from_epoch_seconds),
            Some(1_704_164_645_678)
        );
        let lf: ListFragmentsInput = serde_json::from_str(
            r#"{"StreamName": "s1", "MaxResults": 5, "FragmentSelector": {"FragmentSelectorType": "SERVER_TIMESTAMP", "TimestampRange": {"StartTimestamp": 1704164645.678, "EndTimestamp": 1704164645}}}"#,
        )
        .unwrap();
        let sel = lf.fragment_selector.unwrap();
        assert_eq!(
            sel.fragment_selector_type,
            FragmentSelectorType::ServerTimestamp
        );
        assert_eq!(
            millis_from_epoch_seconds(sel.timestamp_range.end_timestamp),
            1_704_164_645_000
        );
    }

    #[test]
    fn millis_round_trip() {
        for ms in [0, 1, 999, 1_704_164_645_678, 1_999_999_999_999] {
            assert_eq!(millis_from_epoch_seconds(epoch_seconds_from_millis(ms)), ms);
        }
    }
}
