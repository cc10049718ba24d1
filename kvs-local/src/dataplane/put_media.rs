// SPDX-License-Identifier: MPL-2.0
//! `POST /putMedia`: header checks before the 200, then the ACK stream while `ingest` reads
//! the body.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body_util::BodyExt;
use kvs_core::api::ApiError;
use kvs_core::putmedia::{PutMediaHeaders, StreamId};

use super::channel_body::ChannelBody;
use super::ingest::{Ingest, IngestLimits, IngestParams};
use crate::server::{BoxBody, IntoResponse, RequestBody};
use crate::state::AppState;

pub async fn put_media(state: Arc<AppState>, req: Request<RequestBody>) -> Response<BoxBody> {
    let (parts, body) = req.into_parts();
    let headers = match PutMediaHeaders::from_header_map(&parts.headers) {
        Ok(h) => h,
        Err(e) => return ApiError::invalid_argument(e.to_string()).into_response(),
    };
    let (name, arn) = match &headers.stream {
        StreamId::Name(n) => (Some(n.as_str()), None),
        StreamId::Arn(a) => (None, Some(a.as_str())),
    };
    let record = match state.stream_by_name_or_arn(name, arn) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    if !record.is_active() {
        return ApiError::not_found(format!("stream {} is not ACTIVE", record.name))
            .into_response();
    }
    let stream = match state
        .media
        .ensure_stream(&record.arn, record.data_retention_hours)
        .await
    {
        Ok(s) => s,
        Err(e) => return ApiError::internal(format!("media store: {e}")).into_response(),
    };

    let (ack_tx, mut ack_rx) = tokio::sync::mpsc::unbounded_channel::<kvs_core::putmedia::Ack>();
    let (bytes_tx, response_body) = ChannelBody::unbounded();
    let ack_required = headers.ack_required;
    tokio::spawn(async move {
        // Ends when every ACK sender (ingest and its pending PERSISTED tasks) is gone.
        while let Some(ack) = ack_rx.recv().await {
            if ack_required && bytes_tx.send(Bytes::from(ack.to_json_line())).is_err() {
                break;
            }
        }
    });
    let params = IngestParams {
        timecode_type: headers.timecode_type,
        producer_start_ms: headers.producer_start_timestamp.as_millis(),
    };
    let arn = record.arn.clone();
    tokio::spawn(async move {
        let registry = state.streams.clone();
        let is_active = move || {
            registry
                .stream_by_name_or_arn(None, Some(&arn))
                .is_ok_and(|r| r.is_active())
        };
        let store = state.media.clone();
        let outcome = Ingest::new(
            &store,
            &stream,
            params,
            IngestLimits::default(),
            ack_tx,
            &is_active,
        )
        .with_shutdown(state.shutdown.subscribe())
        .run(body.map_err(std::io::Error::other))
        .await;
        tracing::debug!(stream = %stream.arn, ?outcome, "PutMedia session ended");
    });

    let mut resp = Response::new(response_body.boxed());
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
