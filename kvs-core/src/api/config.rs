// SPDX-License-Identifier: MPL-2.0
//! Image-generation and notification configuration shapes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConfigurationStatus {
    Enabled,
    Disabled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ImageSelectorType {
    ServerTimestamp,
    ProducerTimestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ImageFormat {
    Jpeg,
    Png,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageGenerationDestinationConfig {
    #[serde(rename = "Uri")]
    pub uri: String,
    #[serde(rename = "DestinationRegion")]
    pub destination_region: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageGenerationConfiguration {
    #[serde(rename = "Status")]
    pub status: ConfigurationStatus,
    #[serde(rename = "ImageSelectorType")]
    pub image_selector_type: ImageSelectorType,
    #[serde(rename = "DestinationConfig")]
    pub destination_config: ImageGenerationDestinationConfig,
    /// Milliseconds between images.
    #[serde(rename = "SamplingInterval")]
    pub sampling_interval: i64,
    #[serde(rename = "Format")]
    pub format: ImageFormat,
    /// Only key `JPEGQuality` ("1".."100") is defined.
    #[serde(rename = "FormatConfig", skip_serializing_if = "Option::is_none")]
    pub format_config: Option<BTreeMap<String, String>>,
    #[serde(rename = "WidthPixels", skip_serializing_if = "Option::is_none")]
    pub width_pixels: Option<i64>,
    #[serde(rename = "HeightPixels", skip_serializing_if = "Option::is_none")]
    pub height_pixels: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DescribeImageGenerationConfigurationOutput {
    #[serde(
        rename = "ImageGenerationConfiguration",
        skip_serializing_if = "Option::is_none"
    )]
    pub image_generation_configuration: Option<ImageGenerationConfiguration>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct UpdateImageGenerationConfigurationInput {
    #[serde(rename = "StreamName", skip_serializing_if = "Option::is_none")]
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN", skip_serializing_if = "Option::is_none")]
    pub stream_arn: Option<String>,
    /// Absent removes the configuration.
    #[serde(
        rename = "ImageGenerationConfiguration",
        skip_serializing_if = "Option::is_none"
    )]
    pub image_generation_configuration: Option<ImageGenerationConfiguration>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationDestinationConfig {
    #[serde(rename = "Uri")]
    pub uri: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationConfiguration {
    #[serde(rename = "Status")]
    pub status: ConfigurationStatus,
    #[serde(rename = "DestinationConfig")]
    pub destination_config: NotificationDestinationConfig,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DescribeNotificationConfigurationOutput {
    #[serde(
        rename = "NotificationConfiguration",
        skip_serializing_if = "Option::is_none"
    )]
    pub notification_configuration: Option<NotificationConfiguration>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct UpdateNotificationConfigurationInput {
    #[serde(rename = "StreamName", skip_serializing_if = "Option::is_none")]
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN", skip_serializing_if = "Option::is_none")]
    pub stream_arn: Option<String>,
    /// Absent removes the configuration.
    #[serde(
        rename = "NotificationConfiguration",
        skip_serializing_if = "Option::is_none"
    )]
    pub notification_configuration: Option<NotificationConfiguration>,
}
