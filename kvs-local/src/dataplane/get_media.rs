// SPDX-License-Identifier: MPL-2.0
//! `POST /getMedia`: resolve the StartSelector, answer 200 `video/webm`, then stream one MKV
//! document per fragment for as long as the client stays.

use std::sync::Arc;

use http::{HeaderValue, Request, Response};
use http_body_util::BodyExt;
use kvs_core::api::ApiError;
use kvs_core::api::media::{
    GetMediaInput, StartSelector, StartSelectorType, millis_from_epoch_seconds,
};

use super::channel_body::ChannelBody;
use super::serve::{StartAt, resolve_start, stream_fragments};
use crate::media::{FragmentId, TimestampKind};
use crate::server::{BoxBody, IntoResponse, RequestBody, parse_json};
use crate::state::{AppState, StreamRecord};

/// Documents (or frames of a live fragment) buffered for a slow client before the sender
/// waits; the ingest side never waits for it.
const OUTPUT_BUFFER: usize = 64;

/// Reads a JSON request body (the router already buffered it).
pub(super) async fn read_json<T: serde::de::DeserializeOwned>(
    body: RequestBody,
) -> Result<T, ApiError> {
    let bytes = body
        .collect()
        .await
        .map_err(|e| ApiError::invalid_argument(format!("cannot read request body: {e}")))?
        .to_bytes();
    parse_json(&bytes)
}

/// A fragment number of this stream. Not `[0-9]{1,128}`: InvalidArgumentException (the
/// model's pattern); well formed but not one of ours: ResourceNotFoundException.
pub(super) fn parse_number(
    field: &str,
    number: &str,
    stream_id: Option<i64>,
) -> Result<FragmentId, ApiError> {
    if number.is_empty() || number.len() > 128 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid_argument(format!(
            "{field} '{number}' is not a fragment number"
        )));
    }
    FragmentId::parse(number)
        .filter(|id| stream_id.is_some_and(|s| s == id.stream_id()))
        .ok_or_else(|| {
            ApiError::not_found(format!("fragment {number} was not found in this stream"))
        })
}

fn start_at(sel: &StartSelector, stream_id: i64) -> Result<StartAt, ApiError> {
    let timestamp = || {
        sel.start_timestamp
            .filter(|t| t.is_finite())
            .map(millis_from_epoch_seconds)
            .ok_or_else(|| {
                ApiError::invalid_argument("StartTimestamp is required for this StartSelectorType")
            })
    };
    Ok(match sel.start_selector_type {
        StartSelectorType::Earliest => StartAt::Earliest,
        StartSelectorType::Now => StartAt::Now,
        StartSelectorType::FragmentNumber => {
            let n = sel.after_fragment_number.as_deref().ok_or_else(|| {
                ApiError::invalid_argument("AfterFragmentNumber is required for FRAGMENT_NUMBER")
            })?;
            StartAt::After(parse_number("AfterFragmentNumber", n, Some(stream_id))?)
        }
        StartSelectorType::ContinuationToken => {
            let t = sel.continuation_token.as_deref().ok_or_else(|| {
                ApiError::invalid_argument("ContinuationToken is required for CONTINUATION_TOKEN")
            })?;
            StartAt::After(parse_number("ContinuationToken", t, Some(stream_id))?)
        }
        StartSelectorType::ServerTimestamp => {
            StartAt::Timestamp(TimestampKind::Server, timestamp()?)
        }
        StartSelectorType::ProducerTimestamp => {
            StartAt::Timestamp(TimestampKind::Producer, timestamp()?)
        }
    })
}

pub(super) fn media_error(e: crate::media::MediaError) -> ApiError {
    tracing::error!(error = %e, "media store failure");
    ApiError::internal("internal media store error")
}

async fn try_get_media(
    state: Arc<AppState>,
    req: Request<RequestBody>,
) -> Result<Response<BoxBody>, ApiError> {
    let input: GetMediaInput = read_json(req.into_body()).await?;
    let record: StreamRecord =
        state.stream_by_name_or_arn(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    if !record.is_active() {
        return Err(ApiError::not_found(format!(
            "stream {} is not ACTIVE",
            record.name
        )));
    }
    let stream = state
        .media
        .ensure_stream(&record.arn, record.data_retention_hours)
        .await
        .map_err(media_error)?;
    let start = start_at(&input.start_selector, stream.id)?;
    let after = resolve_start(&state.media, &stream, start)
        .await
        .map_err(media_error)?;
    let (tx, body) = ChannelBody::bounded(OUTPUT_BUFFER);
    let store = state.media.clone();
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        let end = stream_fragments(
            store,
            stream,
            after,
            tx,
            async move { shutdown.wait().await },
        )
        .await;
        tracing::debug!(?end, "GetMedia session ended");
    });
    Ok(video_response(body))
}

pub async fn get_media(state: Arc<AppState>, req: Request<RequestBody>) -> Response<BoxBody> {
    try_get_media(state, req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

pub(super) fn video_response(body: ChannelBody) -> Response<BoxBody> {
    let mut resp = Response::new(body.boxed());
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("video/webm"),
    );
    resp
}
