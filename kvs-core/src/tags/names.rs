// SPDX-License-Identifier: MPL-2.0
//! Tag names reserved by KVS.

/// Prefix reserved for names KVS and its SDK write; user tags may not start with it.
pub const RESERVED_PREFIX: &str = "AWS";

/// Ends a fragment explicitly (empty value); also written at the end of a PutMedia body.
pub const END_OF_FRAGMENT: &str = "AWS_KINESISVIDEO_END_OF_FRAGMENT";
/// Asks KVS to send a notification for the fragment (empty value).
pub const NOTIFICATION: &str = "AWS_KINESISVIDEO_NOTIFICATION";
/// Asks KVS to generate images for the fragment (empty value).
pub const IMAGE_GENERATION: &str = "AWS_KINESISVIDEO_IMAGE_GENERATION";
/// Optional S3 key prefix for generated images.
pub const IMAGE_PREFIX: &str = "AWS_KINESISVIDEO_IMAGE_PREFIX";

/// Tags the service adds to GetMedia output.
pub const CONTINUATION_TOKEN: &str = "AWS_KINESISVIDEO_CONTINUATION_TOKEN";
pub const MILLIS_BEHIND_NOW: &str = "AWS_KINESISVIDEO_MILLIS_BEHIND_NOW";
pub const FRAGMENT_NUMBER: &str = "AWS_KINESISVIDEO_FRAGMENT_NUMBER";
pub const SERVER_TIMESTAMP: &str = "AWS_KINESISVIDEO_SERVER_TIMESTAMP";
pub const PRODUCER_TIMESTAMP: &str = "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP";
pub const ERROR_CODE: &str = "AWS_KINESISVIDEO_ERROR_CODE";
pub const ERROR_ID: &str = "AWS_KINESISVIDEO_ERROR_ID";
