// SPDX-License-Identifier: MPL-2.0
//! Archived media: `POST /listFragments` and `POST /getMediaForFragmentList`.

use std::sync::Arc;

use http::{Request, Response};
use kvs_core::api::media::{
    Fragment, FragmentSelector, FragmentSelectorType, GetMediaForFragmentListInput,
    ListFragmentsInput, ListFragmentsOutput, epoch_seconds_from_millis, millis_from_epoch_seconds,
};
use kvs_core::api::{ApiError, ErrorKind};

use super::channel_body::ChannelBody;
use super::get_media::{media_error, parse_number, read_json, video_response};
use super::serve::send_fragment_list;
use crate::media::{FragmentId, FragmentMeta, TimestampKind};
use crate::server::{BoxBody, IntoResponse, RequestBody, json_response};
use crate::state::{AppState, StreamRecord};

/// MaxResults when the request gives none (the service does not document its default).
const DEFAULT_MAX_RESULTS: usize = 100;
const MAX_RESULTS: i64 = 1000;
const MAX_FRAGMENTS_PER_LIST: usize = 1000;

fn no_retention(record: &StreamRecord) -> Result<(), ApiError> {
    if record.data_retention_hours == 0 {
        return Err(ApiError::new(
            ErrorKind::NoDataRetention,
            format!(
                "stream {} has DataRetentionInHours 0: nothing is archived",
                record.name
            ),
        ));
    }
    Ok(())
}

/// Where a ListFragments page left off. Only `[A-Za-z0-9]`, which the model's NextToken
/// pattern allows: kind letter, start ms, `x`, end ms, `x`, last fragment id.
#[derive(Debug, PartialEq, Eq)]
struct PageToken {
    kind: TimestampKind,
    start_ms: i64,
    end_ms: i64,
    last: FragmentId,
}

impl PageToken {
    fn encode(&self) -> String {
        let k = match self.kind {
            TimestampKind::Server => 'S',
            TimestampKind::Producer => 'P',
        };
        format!(
            "{k}{}x{}x{}",
            self.start_ms.max(0),
            self.end_ms.max(0),
            self.last.raw()
        )
    }

    fn decode(token: &str) -> Option<Self> {
        let kind = match token.get(..1)? {
            "S" => TimestampKind::Server,
            "P" => TimestampKind::Producer,
            _ => return None,
        };
        let mut parts = token.get(1..)?.split('x');
        let start_ms = parts.next()?.parse().ok()?;
        let end_ms = parts.next()?.parse().ok()?;
        let last = FragmentId::from_raw(parts.next()?.parse().ok()?);
        if parts.next().is_some() {
            return None;
        }
        Some(Self {
            kind,
            start_ms,
            end_ms,
            last,
        })
    }
}

/// The stream's media state, with the registry's retention applied (the registry is the
/// truth; the media store learns changes through `set_retention`).
fn media_stream(state: &AppState, record: &StreamRecord) -> Option<Arc<crate::media::StreamMedia>> {
    let stream = state.media.stream(&record.arn)?;
    if stream.retention_hours() != record.data_retention_hours {
        state
            .media
            .set_retention(&record.arn, record.data_retention_hours);
    }
    Some(stream)
}

fn selector_range(sel: &FragmentSelector) -> Result<(TimestampKind, i64, i64), ApiError> {
    let kind = match sel.fragment_selector_type {
        FragmentSelectorType::ServerTimestamp => TimestampKind::Server,
        FragmentSelectorType::ProducerTimestamp => TimestampKind::Producer,
    };
    let r = &sel.timestamp_range;
    if !r.start_timestamp.is_finite() || !r.end_timestamp.is_finite() {
        return Err(ApiError::invalid_argument(
            "TimestampRange must hold numbers",
        ));
    }
    let (start, end) = (
        millis_from_epoch_seconds(r.start_timestamp),
        millis_from_epoch_seconds(r.end_timestamp),
    );
    if start > end {
        return Err(ApiError::invalid_argument(
            "TimestampRange StartTimestamp must not be after EndTimestamp",
        ));
    }
    Ok((kind, start, end))
}

fn to_api(m: &FragmentMeta) -> Fragment {
    Fragment {
        fragment_number: m.id.to_number(),
        fragment_size_in_bytes: m.length_bytes,
        producer_timestamp: epoch_seconds_from_millis(m.producer_ts_ms),
        server_timestamp: epoch_seconds_from_millis(m.server_ts_ms),
        fragment_length_in_milliseconds: m.duration_ms,
    }
}

async fn try_list_fragments(
    state: Arc<AppState>,
    req: Request<RequestBody>,
) -> Result<Response<BoxBody>, ApiError> {
    let input: ListFragmentsInput = read_json(req.into_body()).await?;
    let record =
        state.stream_by_name_or_arn(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    no_retention(&record)?;
    let limit = match input.max_results {
        None => DEFAULT_MAX_RESULTS,
        Some(n) if (1..=MAX_RESULTS).contains(&n) => {
            usize::try_from(n).unwrap_or(DEFAULT_MAX_RESULTS)
        }
        Some(n) => {
            return Err(ApiError::invalid_argument(format!(
                "MaxResults {n} is outside 1..={MAX_RESULTS}"
            )));
        }
    };
    let (kind, start_ms, end_ms, after) = match (&input.next_token, &input.fragment_selector) {
        (Some(token), _) => {
            let t = PageToken::decode(token)
                .ok_or_else(|| ApiError::invalid_argument("NextToken is not valid"))?;
            (t.kind, t.start_ms, t.end_ms, Some(t.last))
        }
        (None, Some(sel)) => {
            let (k, s, e) = selector_range(sel)?;
            (k, s, e, None)
        }
        (None, None) => {
            return Err(ApiError::invalid_argument(
                "FragmentSelector is required when NextToken is not given",
            ));
        }
    };
    let Some(stream) = media_stream(&state, &record) else {
        return Ok(json_response(&ListFragmentsOutput::default()));
    };
    let store = state.media.clone();
    // One extra row tells whether another page exists.
    let rows = tokio::task::spawn_blocking(move || {
        store.list_fragments(&stream, kind, start_ms, end_ms, after, limit + 1)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(media_error)?;
    let more = rows.len() > limit;
    let page = rows.get(..limit.min(rows.len())).unwrap_or_default();
    let next_token = if more {
        page.last().map(|m| {
            PageToken {
                kind,
                start_ms,
                end_ms,
                last: m.id,
            }
            .encode()
        })
    } else {
        None
    };
    Ok(json_response(&ListFragmentsOutput {
        fragments: page.iter().map(to_api).collect(),
        next_token,
    }))
}

pub async fn list_fragments(state: Arc<AppState>, req: Request<RequestBody>) -> Response<BoxBody> {
    try_list_fragments(state, req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn try_get_media_for_fragment_list(
    state: Arc<AppState>,
    req: Request<RequestBody>,
) -> Result<Response<BoxBody>, ApiError> {
    let input: GetMediaForFragmentListInput = read_json(req.into_body()).await?;
    let record =
        state.stream_by_name_or_arn(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    no_retention(&record)?;
    if input.fragments.is_empty() || input.fragments.len() > MAX_FRAGMENTS_PER_LIST {
        return Err(ApiError::invalid_argument(format!(
            "Fragments must list 1 to {MAX_FRAGMENTS_PER_LIST} fragment numbers"
        )));
    }
    let stream = media_stream(&state, &record);
    let mut ids = Vec::with_capacity(input.fragments.len());
    for n in &input.fragments {
        ids.push(parse_number("Fragments", n, stream.as_ref().map(|s| s.id))?);
    }
    let Some(stream) = stream else {
        return Err(ApiError::not_found(
            "the requested fragments were not found",
        ));
    };
    let store = state.media.clone();
    let metas = tokio::task::spawn_blocking(move || {
        ids.into_iter()
            .map(|id| store.fragment_meta(&stream, id).map(|m| m.ok_or(id)))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(media_error)?;
    let mut found = Vec::with_capacity(metas.len());
    for m in metas {
        match m {
            Ok(meta) => found.push(meta),
            Err(id) => {
                return Err(ApiError::not_found(format!(
                    "fragment {} was not found",
                    id.to_number()
                )));
            }
        }
    }
    let (tx, body) = ChannelBody::bounded(8);
    tokio::spawn(send_fragment_list(state.media.clone(), found, tx));
    Ok(video_response(body))
}

pub async fn get_media_for_fragment_list(
    state: Arc<AppState>,
    req: Request<RequestBody>,
) -> Response<BoxBody> {
    try_get_media_for_fragment_list(state, req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_token_round_trips_and_matches_the_model_pattern() {
        let t = PageToken {
            kind: TimestampKind::Producer,
            start_ms: 1_700_000_000_000,
            end_ms: 1_700_000_100_000,
            last: FragmentId::new(3, 99),
        };
        let s = t.encode();
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(PageToken::decode(&s), Some(t));
        assert_eq!(PageToken::decode("Q1x2x3"), None);
        assert_eq!(PageToken::decode("S1x2"), None);
        assert_eq!(PageToken::decode(""), None);
    }
}
