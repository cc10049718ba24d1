// SPDX-License-Identifier: MPL-2.0
//! Tagging: the stream operations (tags as a map, stream by name or ARN) and the resource
//! operations (tags as a list, resource by ARN). Both write the same tag set.

use std::collections::BTreeMap;

use http::Response;
use kvs_core::api::{
    ApiError, ErrorKind, ListTagsForResourceInput, ListTagsForStreamInput, ListTagsOutput,
    TagResourceInput, TagStreamInput, UntagResourceInput, UntagStreamInput,
    tags::MAX_TAGS_PER_RESOURCE, validate,
};

use super::ok_empty;
use super::registry::StreamSelector;
use super::streams::validate_tags;
use crate::server::{BoxBody, json_response, parse_json};
use crate::state::AppState;

fn stream_selector<'a>(name: Option<&'a str>, arn: Option<&'a str>) -> StreamSelector<'a> {
    StreamSelector {
        name,
        arn,
        bad_arn: ErrorKind::InvalidResourceFormat,
    }
}

fn resource_selector(arn: &str) -> StreamSelector<'_> {
    StreamSelector::new(None, Some(arn))
}

fn validate_key_list(keys: &[String]) -> Result<(), ApiError> {
    if keys.is_empty() || keys.len() > MAX_TAGS_PER_RESOURCE {
        return Err(ApiError::invalid_argument(format!(
            "TagKeyList must hold between 1 and {MAX_TAGS_PER_RESOURCE} keys"
        )));
    }
    keys.iter().try_for_each(|k| validate::tag_key(k))
}

fn validate_new_tags(tags: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if tags.is_empty() {
        return Err(ApiError::invalid_argument(
            "Tags must hold at least one tag",
        ));
    }
    validate_tags(tags)
}

fn list_output(tags: BTreeMap<String, String>) -> Response<BoxBody> {
    // At most 50 tags: one page always suffices.
    json_response(&ListTagsOutput {
        next_token: None,
        tags,
    })
}

fn check_token(token: Option<&str>) -> Result<(), ApiError> {
    match token {
        Some(t) if !t.is_empty() => Err(ApiError::invalid_argument(
            "NextToken is not one this server issued",
        )),
        _ => Ok(()),
    }
}

pub(super) fn tag_stream(state: &AppState, body: &[u8]) -> Result<Response<BoxBody>, ApiError> {
    let input: TagStreamInput = parse_json(body)?;
    validate_new_tags(&input.tags)?;
    state.streams.tag(
        stream_selector(input.stream_name.as_deref(), input.stream_arn.as_deref()),
        &input.tags,
        MAX_TAGS_PER_RESOURCE,
    )?;
    Ok(ok_empty())
}

pub(super) fn untag_stream(state: &AppState, body: &[u8]) -> Result<Response<BoxBody>, ApiError> {
    let input: UntagStreamInput = parse_json(body)?;
    validate_key_list(&input.tag_key_list)?;
    state.streams.untag(
        stream_selector(input.stream_name.as_deref(), input.stream_arn.as_deref()),
        &input.tag_key_list,
    )?;
    Ok(ok_empty())
}

pub(super) fn list_tags_for_stream(
    state: &AppState,
    body: &[u8],
) -> Result<Response<BoxBody>, ApiError> {
    let input: ListTagsForStreamInput = parse_json(body)?;
    check_token(input.next_token.as_deref())?;
    let rec = state.streams.lookup(stream_selector(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
    ))?;
    Ok(list_output(state.streams.tags(&rec)?))
}

pub(super) fn tag_resource(state: &AppState, body: &[u8]) -> Result<Response<BoxBody>, ApiError> {
    let input: TagResourceInput = parse_json(body)?;
    let mut tags = BTreeMap::new();
    for tag in input.tags {
        tags.insert(tag.key, tag.value);
    }
    validate_new_tags(&tags)?;
    state.streams.tag(
        resource_selector(&input.resource_arn),
        &tags,
        MAX_TAGS_PER_RESOURCE,
    )?;
    Ok(ok_empty())
}

pub(super) fn untag_resource(state: &AppState, body: &[u8]) -> Result<Response<BoxBody>, ApiError> {
    let input: UntagResourceInput = parse_json(body)?;
    validate_key_list(&input.tag_key_list)?;
    state
        .streams
        .untag(resource_selector(&input.resource_arn), &input.tag_key_list)?;
    Ok(ok_empty())
}

pub(super) fn list_tags_for_resource(
    state: &AppState,
    body: &[u8],
) -> Result<Response<BoxBody>, ApiError> {
    let input: ListTagsForResourceInput = parse_json(body)?;
    check_token(input.next_token.as_deref())?;
    let rec = state
        .streams
        .lookup(resource_selector(&input.resource_arn))?;
    Ok(list_output(state.streams.tags(&rec)?))
}
