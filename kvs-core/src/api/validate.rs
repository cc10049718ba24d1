// SPDX-License-Identifier: MPL-2.0
//! Field constraints of the control-plane model (lengths, patterns, ranges). The SDKs check
//! only required members and minimums, so the server must enforce the rest; clients can use
//! the same checks to fail early.

use super::error::ApiError;

/// Characters allowed in stream, channel and device names: `[a-zA-Z0-9_.-]`.
pub fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-'
}

/// Largest retention the service accepts (10 years).
pub const MAX_DATA_RETENTION_HOURS: i64 = 87_600;

fn length(field: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(ApiError::invalid_argument(format!(
            "{field} must be between {min} and {max} characters long (got {n})"
        )));
    }
    Ok(())
}

fn name_like(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    length(field, value, 1, max)?;
    if !value.chars().all(is_name_char) {
        return Err(ApiError::invalid_argument(format!(
            "{field} may contain only letters, digits, '_', '.' and '-'"
        )));
    }
    Ok(())
}

/// StreamName: 1–256 of `[a-zA-Z0-9_.-]`.
pub fn stream_name(value: &str) -> Result<(), ApiError> {
    name_like("StreamName", value, 256)
}

/// DeviceName: 1–128 of `[a-zA-Z0-9_.-]`.
pub fn device_name(value: &str) -> Result<(), ApiError> {
    name_like("DeviceName", value, 128)
}

/// MediaType: 1–128, `type/subtype` items separated by commas, each part of `[\w\-\.\+]`.
pub fn media_type(value: &str) -> Result<(), ApiError> {
    length("MediaType", value, 1, 128)?;
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '+'))
    };
    let ok = value.split(',').all(|item| match item.split_once('/') {
        Some((t, s)) => part_ok(t) && part_ok(s),
        None => false,
    });
    if !ok {
        return Err(ApiError::invalid_argument(
            "MediaType must look like type/subtype[,type/subtype…], e.g. video/h264",
        ));
    }
    Ok(())
}

/// KmsKeyId: 1–2048 characters.
pub fn kms_key_id(value: &str) -> Result<(), ApiError> {
    length("KmsKeyId", value, 1, 2048)
}

/// Version / CurrentVersion: 1–64 of `[a-zA-Z0-9]`.
pub fn version(value: &str) -> Result<(), ApiError> {
    length("CurrentVersion", value, 1, 64)?;
    if !value.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(ApiError::invalid_argument(
            "CurrentVersion may contain only letters and digits",
        ));
    }
    Ok(())
}

/// DataRetentionInHours: 0 (no persistence) up to 87 600.
pub fn data_retention_hours(value: i64) -> Result<(), ApiError> {
    if !(0..=MAX_DATA_RETENTION_HOURS).contains(&value) {
        return Err(ApiError::invalid_argument(format!(
            "DataRetentionInHours must be between 0 and {MAX_DATA_RETENTION_HOURS}"
        )));
    }
    Ok(())
}

fn is_tag_char(c: char) -> bool {
    // `[\p{L}\p{Z}\p{N}_.:/=+\-@]`: letters, separators (spaces), numbers and a few symbols.
    c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@".contains(c)
}

/// Tag key: 1–128 allowed characters.
pub fn tag_key(value: &str) -> Result<(), ApiError> {
    length("Tag key", value, 1, super::tags::MAX_TAG_KEY_LEN)?;
    if !value.chars().all(is_tag_char) {
        return Err(ApiError::invalid_argument(format!(
            "Tag key '{value}' contains characters outside [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]"
        )));
    }
    Ok(())
}

/// Tag value: 0–256 allowed characters.
pub fn tag_value(value: &str) -> Result<(), ApiError> {
    length("Tag value", value, 0, super::tags::MAX_TAG_VALUE_LEN)?;
    if !value.chars().all(is_tag_char) {
        return Err(ApiError::invalid_argument(
            "Tag value contains characters outside [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]",
        ));
    }
    Ok(())
}

/// NextToken of the control plane: 0–1024 of `[a-zA-Z0-9+/=]`.
pub fn next_token(value: &str) -> Result<(), ApiError> {
    length("NextToken", value, 0, 1024)?;
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
    {
        return Err(ApiError::invalid_argument("NextToken is malformed"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(stream_name("a-b_c.1").is_ok());
        assert!(stream_name("").is_err());
        assert!(stream_name("a b").is_err());
        assert!(stream_name(&"x".repeat(256)).is_ok());
        assert!(stream_name(&"x".repeat(257)).is_err());
        assert!(device_name(&"x".repeat(129)).is_err());
    }

    #[test]
    fn media_types() {
        assert!(media_type("video/h264").is_ok());
        assert!(media_type("video/h264,audio/aac").is_ok());
        assert!(media_type("video").is_err());
        assert!(media_type("video/").is_err());
        assert!(media_type("video/h264;x").is_err());
    }

    #[test]
    fn tags_and_versions() {
        assert!(tag_key("team:owner/a=b+c@d").is_ok());
        assert!(tag_key("").is_err());
        assert!(tag_key("a\u{0}").is_err());
        assert!(tag_value("").is_ok());
        assert!(tag_value(&"v".repeat(257)).is_err());
        assert!(version("abc123").is_ok());
        assert!(version("abc-123").is_err());
        assert!(data_retention_hours(-1).is_err());
        assert!(data_retention_hours(87_601).is_err());
        assert!(next_token("YWJj+/=").is_ok());
        assert!(next_token("a b").is_err());
    }
}
