// SPDX-License-Identifier: MPL-2.0
//! Stream control-plane shapes: create, describe, list, update, delete, retention, endpoints.
//!
//! Field names are the model's member names. Required members are plain fields so that a
//! missing one fails deserialisation (the server answers InvalidArgumentException).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Life cycle of a stream: `CREATING` → `ACTIVE` ⇄ `UPDATING` → `DELETING` → gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StreamStatus {
    Creating,
    Active,
    Updating,
    Deleting,
}

impl StreamStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamStatus::Creating => "CREATING",
            StreamStatus::Active => "ACTIVE",
            StreamStatus::Updating => "UPDATING",
            StreamStatus::Deleting => "DELETING",
        }
    }

    pub fn parse(s: &str) -> Option<StreamStatus> {
        match s {
            "CREATING" => Some(StreamStatus::Creating),
            "ACTIVE" => Some(StreamStatus::Active),
            "UPDATING" => Some(StreamStatus::Updating),
            "DELETING" => Some(StreamStatus::Deleting),
            _ => None,
        }
    }
}

/// What DescribeStream and ListStreams report per stream. `CreationTime` is epoch seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct StreamInfo {
    #[serde(rename = "DeviceName", skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    #[serde(rename = "StreamName", skip_serializing_if = "Option::is_none")]
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN", skip_serializing_if = "Option::is_none")]
    pub stream_arn: Option<String>,
    #[serde(rename = "MediaType", skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(rename = "KmsKeyId", skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(rename = "Version", skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(rename = "Status", skip_serializing_if = "Option::is_none")]
    pub status: Option<StreamStatus>,
    #[serde(rename = "CreationTime", skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<f64>,
    #[serde(
        rename = "DataRetentionInHours",
        skip_serializing_if = "Option::is_none"
    )]
    pub data_retention_in_hours: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StorageTier {
    Hot,
    Warm,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamStorageConfiguration {
    #[serde(rename = "DefaultStorageTier")]
    pub default_storage_tier: StorageTier,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct CreateStreamInput {
    #[serde(rename = "StreamName")]
    pub stream_name: String,
    #[serde(rename = "DeviceName", skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    #[serde(rename = "MediaType", skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(rename = "KmsKeyId", skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(
        rename = "DataRetentionInHours",
        skip_serializing_if = "Option::is_none"
    )]
    pub data_retention_in_hours: Option<i64>,
    #[serde(rename = "Tags", skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(
        rename = "StreamStorageConfiguration",
        skip_serializing_if = "Option::is_none"
    )]
    pub stream_storage_configuration: Option<StreamStorageConfiguration>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CreateStreamOutput {
    #[serde(rename = "StreamARN", skip_serializing_if = "Option::is_none")]
    pub stream_arn: Option<String>,
}

/// Input of every operation that names one stream by name or ARN and nothing else
/// (DescribeStream, Describe*Configuration, ListTagsForStream without a token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StreamRef {
    #[serde(rename = "StreamName", skip_serializing_if = "Option::is_none")]
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN", skip_serializing_if = "Option::is_none")]
    pub stream_arn: Option<String>,
}

pub type DescribeStreamInput = StreamRef;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct DescribeStreamOutput {
    #[serde(rename = "StreamInfo", skip_serializing_if = "Option::is_none")]
    pub stream_info: Option<StreamInfo>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ComparisonOperator {
    BeginsWith,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamNameCondition {
    #[serde(rename = "ComparisonOperator", skip_serializing_if = "Option::is_none")]
    pub comparison_operator: Option<ComparisonOperator>,
    #[serde(rename = "ComparisonValue", skip_serializing_if = "Option::is_none")]
    pub comparison_value: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ListStreamsInput {
    #[serde(rename = "MaxResults", skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    #[serde(rename = "NextToken", skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    #[serde(
        rename = "StreamNameCondition",
        skip_serializing_if = "Option::is_none"
    )]
    pub stream_name_condition: Option<StreamNameCondition>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct ListStreamsOutput {
    #[serde(rename = "StreamInfoList")]
    pub stream_info_list: Vec<StreamInfo>,
    #[serde(rename = "NextToken", skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DeleteStreamInput {
    #[serde(rename = "StreamARN")]
    pub stream_arn: String,
    #[serde(rename = "CurrentVersion", skip_serializing_if = "Option::is_none")]
    pub current_version: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct UpdateStreamInput {
    #[serde(rename = "StreamName", skip_serializing_if = "Option::is_none")]
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN", skip_serializing_if = "Option::is_none")]
    pub stream_arn: Option<String>,
    #[serde(rename = "CurrentVersion")]
    pub current_version: String,
    #[serde(rename = "DeviceName", skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    #[serde(rename = "MediaType", skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UpdateDataRetentionOperation {
    IncreaseDataRetention,
    DecreaseDataRetention,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateDataRetentionInput {
    #[serde(rename = "StreamName", skip_serializing_if = "Option::is_none")]
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN", skip_serializing_if = "Option::is_none")]
    pub stream_arn: Option<String>,
    #[serde(rename = "CurrentVersion")]
    pub current_version: String,
    #[serde(rename = "Operation")]
    pub operation: UpdateDataRetentionOperation,
    #[serde(rename = "DataRetentionChangeInHours")]
    pub data_retention_change_in_hours: i64,
}

/// The data-plane API a caller wants an endpoint for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ApiName {
    PutMedia,
    GetMedia,
    ListFragments,
    GetMediaForFragmentList,
    GetHlsStreamingSessionUrl,
    GetDashStreamingSessionUrl,
    GetClip,
    GetImages,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetDataEndpointInput {
    #[serde(rename = "StreamName", skip_serializing_if = "Option::is_none")]
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN", skip_serializing_if = "Option::is_none")]
    pub stream_arn: Option<String>,
    #[serde(rename = "APIName")]
    pub api_name: ApiName,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct GetDataEndpointOutput {
    #[serde(rename = "DataEndpoint", skip_serializing_if = "Option::is_none")]
    pub data_endpoint: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_stream_input_reads_the_boto3_body() {
        let body = r#"{"StreamName": "s1", "DataRetentionInHours": 24, "MediaType": "video/h264", "Tags": {"k": "v"}}"#;
        let input: CreateStreamInput = serde_json::from_str(body).unwrap();
        assert_eq!(input.stream_name, "s1");
        assert_eq!(input.data_retention_in_hours, Some(24));
        assert_eq!(input.media_type.as_deref(), Some("video/h264"));
        assert_eq!(input.tags.unwrap().get("k").map(String::as_str), Some("v"));
    }

    #[test]
    fn stream_info_uses_model_names_and_numbers_for_time() {
        let info = StreamInfo {
            stream_name: Some("s".into()),
            stream_arn: Some("arn".into()),
            status: Some(StreamStatus::Active),
            creation_time: Some(1_704_164_645.678),
            data_retention_in_hours: Some(0),
            ..Default::default()
        };
        let v = serde_json::to_value(&info).unwrap();
        assert_eq!(v["StreamARN"], "arn");
        assert_eq!(v["Status"], "ACTIVE");
        assert!(v["CreationTime"].is_f64());
        assert!(v.get("DeviceName").is_none());
    }

    #[test]
    fn api_names_match_the_model() {
        let v: GetDataEndpointInput =
            serde_json::from_str(r#"{"StreamName":"s","APIName":"GET_HLS_STREAMING_SESSION_URL"}"#)
                .unwrap();
        assert_eq!(v.api_name, ApiName::GetHlsStreamingSessionUrl);
        assert!(serde_json::from_str::<GetDataEndpointInput>(r#"{"APIName":"NOPE"}"#).is_err());
        let op: UpdateDataRetentionOperation =
            serde_json::from_str(r#""DECREASE_DATA_RETENTION""#).unwrap();
        assert_eq!(op, UpdateDataRetentionOperation::DecreaseDataRetention);
    }
}
