// SPDX-License-Identifier: MPL-2.0
//! The KVS control plane (`kinesisvideo` API): streams, tags, image and notification
//! configuration. Handlers take the already-read JSON body and return a response; the
//! rules about streams live in `registry`.

mod configs;
pub mod registry;
mod streams;
mod tags;

use http::Response;
use kvs_core::api::ApiError;
use kvs_core::putmedia as paths;

use crate::server::BoxBody;
use crate::state::AppState;

/// What a handler needs to know about the request besides its body.
#[derive(Clone, Debug)]
pub struct RequestContext {
    /// Signing region of the request (else the configured one): goes into new ARNs.
    pub region: String,
    /// Host header, for the default GetDataEndpoint answer.
    pub host: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlOp {
    CreateStream,
    DescribeStream,
    ListStreams,
    DeleteStream,
    UpdateStream,
    UpdateDataRetention,
    GetDataEndpoint,
    TagStream,
    UntagStream,
    ListTagsForStream,
    TagResource,
    UntagResource,
    ListTagsForResource,
    DescribeImageGenerationConfiguration,
    UpdateImageGenerationConfiguration,
    DescribeNotificationConfiguration,
    UpdateNotificationConfiguration,
}

impl ControlOp {
    /// Paths are case-sensitive and exactly as in the service model.
    pub fn from_path(path: &str) -> Option<ControlOp> {
        Some(match path {
            paths::PATH_CREATE_STREAM => ControlOp::CreateStream,
            paths::PATH_DESCRIBE_STREAM => ControlOp::DescribeStream,
            paths::PATH_LIST_STREAMS => ControlOp::ListStreams,
            paths::PATH_DELETE_STREAM => ControlOp::DeleteStream,
            paths::PATH_UPDATE_STREAM => ControlOp::UpdateStream,
            paths::PATH_UPDATE_DATA_RETENTION => ControlOp::UpdateDataRetention,
            paths::PATH_GET_DATA_ENDPOINT => ControlOp::GetDataEndpoint,
            paths::PATH_TAG_STREAM => ControlOp::TagStream,
            paths::PATH_UNTAG_STREAM => ControlOp::UntagStream,
            paths::PATH_LIST_TAGS_FOR_STREAM => ControlOp::ListTagsForStream,
            paths::PATH_TAG_RESOURCE => ControlOp::TagResource,
            paths::PATH_UNTAG_RESOURCE => ControlOp::UntagResource,
            paths::PATH_LIST_TAGS_FOR_RESOURCE => ControlOp::ListTagsForResource,
            "/describeImageGenerationConfiguration" => {
                ControlOp::DescribeImageGenerationConfiguration
            }
            "/updateImageGenerationConfiguration" => ControlOp::UpdateImageGenerationConfiguration,
            "/describeNotificationConfiguration" => ControlOp::DescribeNotificationConfiguration,
            "/updateNotificationConfiguration" => ControlOp::UpdateNotificationConfiguration,
            _ => return None,
        })
    }
}

pub fn handle(
    state: &AppState,
    op: ControlOp,
    ctx: &RequestContext,
    body: &[u8],
) -> Result<Response<BoxBody>, ApiError> {
    match op {
        ControlOp::CreateStream => streams::create(state, ctx, body),
        ControlOp::DescribeStream => streams::describe(state, body),
        ControlOp::ListStreams => streams::list(state, body),
        ControlOp::DeleteStream => streams::delete(state, body),
        ControlOp::UpdateStream => streams::update(state, body),
        ControlOp::UpdateDataRetention => streams::update_data_retention(state, body),
        ControlOp::GetDataEndpoint => streams::get_data_endpoint(state, ctx, body),
        ControlOp::TagStream => tags::tag_stream(state, body),
        ControlOp::UntagStream => tags::untag_stream(state, body),
        ControlOp::ListTagsForStream => tags::list_tags_for_stream(state, body),
        ControlOp::TagResource => tags::tag_resource(state, body),
        ControlOp::UntagResource => tags::untag_resource(state, body),
        ControlOp::ListTagsForResource => tags::list_tags_for_resource(state, body),
        ControlOp::DescribeImageGenerationConfiguration => configs::describe_image(state, body),
        ControlOp::UpdateImageGenerationConfiguration => configs::update_image(state, body),
        ControlOp::DescribeNotificationConfiguration => configs::describe_notification(state, body),
        ControlOp::UpdateNotificationConfiguration => configs::update_notification(state, body),
    }
}

/// 200 with `{}`: the answer of every operation without output members.
fn ok_empty() -> Response<BoxBody> {
    crate::server::json_response(&serde_json::json!({}))
}
