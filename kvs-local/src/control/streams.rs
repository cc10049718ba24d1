// SPDX-License-Identifier: MPL-2.0
//! Stream operations: CreateStream, DescribeStream, ListStreams, DeleteStream, UpdateStream,
//! UpdateDataRetention, GetDataEndpoint.

use std::collections::BTreeMap;

use http::Response;
use kvs_core::api::{
    ApiError, ComparisonOperator, CreateStreamInput, CreateStreamOutput, DeleteStreamInput,
    DescribeStreamInput, DescribeStreamOutput, ErrorKind, GetDataEndpointInput,
    GetDataEndpointOutput, ListStreamsInput, ListStreamsOutput, StorageTier, StreamArn, StreamInfo,
    StreamStatus, UpdateDataRetentionInput, UpdateDataRetentionOperation, UpdateStreamInput,
    media::epoch_seconds_from_millis, tags::MAX_TAGS_PER_RESOURCE, validate,
};

use super::registry::StreamSelector;
use super::{RequestContext, ok_empty};
use crate::db::{NewStream, StreamRecord, StreamUpdate};
use crate::ids;
use crate::server::{BoxBody, json_response, parse_json};
use crate::state::AppState;

/// ListStreams' page size when the caller gives none, and its maximum.
const LIST_STREAMS_MAX: i64 = 10_000;

pub(super) fn stream_info(rec: &StreamRecord) -> StreamInfo {
    StreamInfo {
        device_name: rec.device_name.clone(),
        stream_name: Some(rec.name.clone()),
        stream_arn: Some(rec.arn.clone()),
        media_type: rec.media_type.clone(),
        kms_key_id: rec.kms_key_id.clone(),
        version: Some(rec.version.clone()),
        status: Some(rec.status),
        creation_time: Some(epoch_seconds_from_millis(rec.creation_time_ms)),
        data_retention_in_hours: Some(i64::from(rec.data_retention_hours)),
    }
}

/// Checks a tag map as CreateStream and TagStream receive it.
pub(super) fn validate_tags(tags: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if tags.len() > MAX_TAGS_PER_RESOURCE {
        return Err(ApiError::new(
            ErrorKind::TagsPerResourceExceededLimit,
            format!("A stream can have at most {MAX_TAGS_PER_RESOURCE} tags"),
        ));
    }
    for (k, v) in tags {
        validate::tag_key(k)?;
        validate::tag_value(v)?;
    }
    Ok(())
}

fn retention_hours(hours: i64) -> Result<u32, ApiError> {
    validate::data_retention_hours(hours)?;
    u32::try_from(hours)
        .map_err(|_| ApiError::invalid_argument("DataRetentionInHours is out of range"))
}

pub(super) fn create(
    state: &AppState,
    ctx: &RequestContext,
    body: &[u8],
) -> Result<Response<BoxBody>, ApiError> {
    let input: CreateStreamInput = parse_json(body)?;
    validate::stream_name(&input.stream_name)?;
    if let Some(d) = &input.device_name {
        validate::device_name(d)?;
    }
    if let Some(m) = &input.media_type {
        validate::media_type(m)?;
    }
    if let Some(k) = &input.kms_key_id {
        validate::kms_key_id(k)?;
    }
    let retention = retention_hours(input.data_retention_in_hours.unwrap_or(0))?;
    let tags = input.tags.unwrap_or_default();
    validate_tags(&tags)?;
    let tier = match input
        .stream_storage_configuration
        .map(|c| c.default_storage_tier)
    {
        Some(StorageTier::Warm) => "WARM",
        _ => "HOT",
    };
    let creation_time_ms = ids::now_ms();
    let arn = StreamArn::new(
        &ctx.region,
        &state.account_id,
        &input.stream_name,
        creation_time_ms,
    )
    .to_string();
    // Without a key of their own, streams are encrypted with the AWS-managed key; report
    // it the way the service does.
    let default_key = format!(
        "arn:aws:kms:{}:{}:alias/aws/kinesisvideo",
        ctx.region, state.account_id
    );
    let version = ids::new_version();
    let rec = state.streams.create(
        &NewStream {
            name: &input.stream_name,
            arn: &arn,
            status: StreamStatus::Creating,
            version: &version,
            device_name: input.device_name.as_deref(),
            media_type: input.media_type.as_deref(),
            kms_key_id: Some(input.kms_key_id.as_deref().unwrap_or(&default_key)),
            retention_hours: retention,
            creation_time_ms,
            storage_tier: tier,
        },
        &tags,
    )?;
    tracing::info!(stream = %rec.name, arn = %rec.arn, retention_hours = retention, "stream created");
    Ok(json_response(&CreateStreamOutput {
        stream_arn: Some(rec.arn),
    }))
}

pub(super) fn describe(state: &AppState, body: &[u8]) -> Result<Response<BoxBody>, ApiError> {
    let input: DescribeStreamInput = parse_json(body)?;
    let rec = state.streams.describe(StreamSelector::new(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
    ))?;
    Ok(json_response(&DescribeStreamOutput {
        stream_info: Some(stream_info(&rec)),
    }))
}

fn decode_token(token: &str) -> Result<String, ApiError> {
    let bad = || ApiError::invalid_argument("NextToken is not one this server issued");
    let bytes = hex::decode(token).map_err(|_| bad())?;
    String::from_utf8(bytes).map_err(|_| bad())
}

pub(super) fn list(state: &AppState, body: &[u8]) -> Result<Response<BoxBody>, ApiError> {
    let input: ListStreamsInput = parse_json(body)?;
    let max = input.max_results.unwrap_or(LIST_STREAMS_MAX);
    if !(1..=LIST_STREAMS_MAX).contains(&max) {
        return Err(ApiError::invalid_argument(format!(
            "MaxResults must be between 1 and {LIST_STREAMS_MAX}"
        )));
    }
    // A token is the hex of the last name returned: opaque, within the model's alphabet, and
    // still valid if streams are added or removed between pages.
    let after = match input.next_token.as_deref() {
        Some(t) if !t.is_empty() => {
            validate::next_token(t)?;
            Some(decode_token(t)?)
        }
        _ => None,
    };
    let prefix = match &input.stream_name_condition {
        Some(cond) => {
            match cond.comparison_operator {
                Some(ComparisonOperator::BeginsWith) | None => {}
            }
            let value = cond.comparison_value.as_deref().unwrap_or("");
            if !value.is_empty() {
                validate::stream_name(value)?;
            }
            value.to_owned()
        }
        None => String::new(),
    };
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    let mut recs = state
        .streams
        .list(&prefix, after.as_deref(), limit.saturating_add(1))?;
    let next_token = if recs.len() > limit {
        recs.truncate(limit);
        recs.last().map(|r| hex::encode(r.name.as_bytes()))
    } else {
        None
    };
    Ok(json_response(&ListStreamsOutput {
        stream_info_list: recs.iter().map(stream_info).collect(),
        next_token,
    }))
}

pub(super) fn delete(state: &AppState, body: &[u8]) -> Result<Response<BoxBody>, ApiError> {
    let input: DeleteStreamInput = parse_json(body)?;
    if let Some(v) = &input.current_version {
        validate::version(v)?;
    }
    let rec = state
        .streams
        .begin_delete(&input.stream_arn, input.current_version.as_deref())?;
    // The row stays DELETING until the media is gone, so a crash in between is finished
    // at the next start.
    state.media.delete_stream(&rec.arn);
    state.streams.finish_delete(rec.id)?;
    tracing::info!(stream = %rec.name, arn = %rec.arn, "stream deleted");
    Ok(ok_empty())
}

pub(super) fn update(state: &AppState, body: &[u8]) -> Result<Response<BoxBody>, ApiError> {
    let input: UpdateStreamInput = parse_json(body)?;
    validate::version(&input.current_version)?;
    if let Some(d) = &input.device_name {
        validate::device_name(d)?;
    }
    if let Some(m) = &input.media_type {
        validate::media_type(m)?;
    }
    let rec = state.streams.update_versioned(
        StreamSelector::new(input.stream_name.as_deref(), input.stream_arn.as_deref()),
        Some(&input.current_version),
        |_| {
            Ok(StreamUpdate {
                device_name: input.device_name.clone(),
                media_type: input.media_type.clone(),
                ..Default::default()
            })
        },
    )?;
    tracing::info!(stream = %rec.name, version = %rec.version, "stream updated");
    Ok(ok_empty())
}

pub(super) fn update_data_retention(
    state: &AppState,
    body: &[u8],
) -> Result<Response<BoxBody>, ApiError> {
    let input: UpdateDataRetentionInput = parse_json(body)?;
    validate::version(&input.current_version)?;
    let change = input.data_retention_change_in_hours;
    if change < 1 {
        return Err(ApiError::invalid_argument(
            "DataRetentionChangeInHours must be at least 1",
        ));
    }
    let rec = state.streams.update_versioned(
        StreamSelector::new(input.stream_name.as_deref(), input.stream_arn.as_deref()),
        Some(&input.current_version),
        |rec| {
            let old = i64::from(rec.data_retention_hours);
            let new = match input.operation {
                UpdateDataRetentionOperation::IncreaseDataRetention => old.saturating_add(change),
                UpdateDataRetentionOperation::DecreaseDataRetention => old - change,
            };
            if new < 0 {
                return Err(ApiError::invalid_argument(format!(
                    "cannot decrease the retention of {old} hours by {change} hours"
                )));
            }
            Ok(StreamUpdate {
                retention_hours: Some(retention_hours(new)?),
                ..Default::default()
            })
        },
    )?;
    state
        .media
        .set_retention(&rec.arn, rec.data_retention_hours);
    tracing::info!(stream = %rec.name, retention_hours = rec.data_retention_hours, "retention changed");
    Ok(ok_empty())
}

pub(super) fn get_data_endpoint(
    state: &AppState,
    ctx: &RequestContext,
    body: &[u8],
) -> Result<Response<BoxBody>, ApiError> {
    let input: GetDataEndpointInput = parse_json(body)?;
    state
        .streams
        .stream_by_name_or_arn(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    // Every API is served on this one listener, so the endpoint is our own base URL.
    let endpoint = match (&state.advertised_url, &ctx.host) {
        (Some(url), _) => url.trim_end_matches('/').to_owned(),
        (None, Some(host))
            if !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)) =>
        {
            format!("http://{host}")
        }
        _ => state.base_url.clone(),
    };
    Ok(json_response(&GetDataEndpointOutput {
        data_endpoint: Some(endpoint),
    }))
}
