// SPDX-License-Identifier: MPL-2.0
//! Image-generation and notification configuration. Stored and reported faithfully; this
//! server delivers neither images nor notifications.

use http::Response;
use kvs_core::api::{
    ApiError, DescribeImageGenerationConfigurationOutput, DescribeNotificationConfigurationOutput,
    ImageGenerationConfiguration, NotificationConfiguration, StreamArn, StreamRef,
    UpdateImageGenerationConfigurationInput, UpdateNotificationConfigurationInput,
};

use super::ok_empty;
use super::registry::StreamSelector;
use crate::db::ConfigColumn;
use crate::server::{BoxBody, json_response, parse_json};
use crate::state::AppState;

fn stored<T: serde::de::DeserializeOwned>(json: Option<String>) -> Result<Option<T>, ApiError> {
    json.map(|j| {
        serde_json::from_str(&j)
            .map_err(|e| ApiError::internal(format!("stored configuration is unreadable: {e}")))
    })
    .transpose()
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String, ApiError> {
    serde_json::to_string(value)
        .map_err(|e| ApiError::internal(format!("cannot store configuration: {e}")))
}

fn uri(field: &str, value: &str) -> Result<(), ApiError> {
    let n = value.chars().count();
    // The model's pattern is `scheme:(//)?host/path`-like; a scheme is the least we insist on.
    let has_scheme = value
        .split_once(':')
        .is_some_and(|(s, rest)| !s.is_empty() && !rest.is_empty());
    if !(1..=255).contains(&n) || !has_scheme {
        return Err(ApiError::invalid_argument(format!(
            "{field} must be a URI of 1 to 255 characters"
        )));
    }
    Ok(())
}

fn range(field: &str, value: i64, min: i64, max: i64) -> Result<(), ApiError> {
    if !(min..=max).contains(&value) {
        return Err(ApiError::invalid_argument(format!(
            "{field} must be between {min} and {max}"
        )));
    }
    Ok(())
}

fn validate_image(cfg: &ImageGenerationConfiguration, stream_arn: &str) -> Result<(), ApiError> {
    uri("DestinationConfig.Uri", &cfg.destination_config.uri)?;
    let region = &cfg.destination_config.destination_region;
    range(
        "DestinationConfig.DestinationRegion length",
        region.chars().count() as i64,
        9,
        14,
    )?;
    if let Some(arn) = StreamArn::parse(stream_arn)
        && arn.region != *region
    {
        return Err(ApiError::invalid_argument(format!(
            "DestinationRegion {region} must be the stream's region {}",
            arn.region
        )));
    }
    range("SamplingInterval", cfg.sampling_interval, 200, 20_000)?;
    if let Some(w) = cfg.width_pixels {
        range("WidthPixels", w, 1, 3840)?;
    }
    if let Some(h) = cfg.height_pixels {
        range("HeightPixels", h, 1, 2160)?;
    }
    if let Some(fc) = &cfg.format_config {
        for (k, v) in fc {
            if k != "JPEGQuality" {
                return Err(ApiError::invalid_argument(format!(
                    "FormatConfig key {k} is not supported (only JPEGQuality)"
                )));
            }
            match v.parse::<i64>() {
                Ok(q) if (1..=100).contains(&q) => {}
                _ => {
                    return Err(ApiError::invalid_argument(
                        "JPEGQuality must be a number from 1 to 100",
                    ));
                }
            }
        }
    }
    Ok(())
}

pub(super) fn describe_image(state: &AppState, body: &[u8]) -> Result<Response<BoxBody>, ApiError> {
    let input: StreamRef = parse_json(body)?;
    let rec = state.streams.lookup(StreamSelector::new(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
    ))?;
    let cfg = stored(state.streams.config(&rec, ConfigColumn::ImageGeneration)?)?;
    Ok(json_response(&DescribeImageGenerationConfigurationOutput {
        image_generation_configuration: cfg,
    }))
}

pub(super) fn update_image(state: &AppState, body: &[u8]) -> Result<Response<BoxBody>, ApiError> {
    let input: UpdateImageGenerationConfigurationInput = parse_json(body)?;
    state.streams.set_config(
        StreamSelector::new(input.stream_name.as_deref(), input.stream_arn.as_deref()),
        ConfigColumn::ImageGeneration,
        |rec| match &input.image_generation_configuration {
            Some(cfg) => {
                validate_image(cfg, &rec.arn)?;
                encode(cfg).map(Some)
            }
            None => Ok(None),
        },
    )?;
    Ok(ok_empty())
}

pub(super) fn describe_notification(
    state: &AppState,
    body: &[u8],
) -> Result<Response<BoxBody>, ApiError> {
    let input: StreamRef = parse_json(body)?;
    let rec = state.streams.lookup(StreamSelector::new(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
    ))?;
    let cfg: Option<NotificationConfiguration> =
        stored(state.streams.config(&rec, ConfigColumn::Notification)?)?;
    Ok(json_response(&DescribeNotificationConfigurationOutput {
        notification_configuration: cfg,
    }))
}

pub(super) fn update_notification(
    state: &AppState,
    body: &[u8],
) -> Result<Response<BoxBody>, ApiError> {
    let input: UpdateNotificationConfigurationInput = parse_json(body)?;
    state.streams.set_config(
        StreamSelector::new(input.stream_name.as_deref(), input.stream_arn.as_deref()),
        ConfigColumn::Notification,
        |_| match &input.notification_configuration {
            Some(cfg) => {
                uri("DestinationConfig.Uri", &cfg.destination_config.uri)?;
                encode(cfg).map(Some)
            }
            None => Ok(None),
        },
    )?;
    Ok(ok_empty())
}
