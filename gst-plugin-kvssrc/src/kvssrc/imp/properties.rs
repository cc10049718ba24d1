// SPDX-License-Identifier: MPL-2.0
//! The element's GObject properties: their specs, and reading and writing them.

use std::sync::LazyLock;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;

use super::settings::{
    DEFAULT_IS_LIVE, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_RETRY_ATTEMPTS, MIN_REQUEST_TIMEOUT_MS,
};
use super::{CAT, KvsSrc, lock};
use crate::kvssrc::{StartSelector, TimestampType};

pub(super) fn specs() -> &'static [glib::ParamSpec] {
    static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
        vec![
                glib::ParamSpecString::builder("stream-name")
                    .nick("Stream name")
                    .blurb("Name of the stream to play")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("stream-arn")
                    .nick("Stream ARN")
                    .blurb("ARN of the stream to play (used instead of stream-name when set)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("aws-region")
                    .nick("AWS region")
                    .blurb("Region of the stream; unset = AWS_REGION or the AWS profile")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("access-key")
                    .nick("Access key")
                    .blurb("AWS access key id (with secret-key; unset = the default AWS chain)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("secret-key")
                    .nick("Secret key")
                    .blurb("AWS secret access key")
                    .write_only()
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("session-token")
                    .nick("Session token")
                    .blurb("AWS session token for temporary credentials")
                    .write_only()
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("endpoint-uri")
                    .nick("Endpoint URI")
                    .blurb(
                        "Control-plane endpoint (e.g. kvs-local's http://127.0.0.1:PORT); unset = \
                         CONTROL_PLANE_URI, AWS_ENDPOINT_URL_KINESIS_VIDEO, AWS_ENDPOINT_URL, then AWS",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("start-selector", StartSelector::default())
                    .nick("Start selector")
                    .blurb("Where playback starts")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("start-fragment-number")
                    .nick("Start fragment number")
                    .blurb("With start-selector=fragment-number: play from the fragment after this one")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("start-continuation-token")
                    .nick("Start continuation token")
                    .blurb(
                        "With start-selector=continuation-token: a continuation-token value \
                         saved from an earlier session",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt64::builder("start-timestamp")
                    .nick("Start timestamp")
                    .blurb(
                        "Epoch milliseconds: start for start-selector producer-timestamp / \
                         server-timestamp, and of the archived range (0 = unset)",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt64::builder("end-timestamp")
                    .nick("End timestamp")
                    .blurb(
                        "Epoch milliseconds: when set, plays the archived fragments between \
                         start-timestamp and this, then ends (0 = live, no end)",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("timestamp-type", TimestampType::default())
                    .nick("Timestamp type")
                    .blurb("Fragment timestamps the output times and the archived range follow")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("is-live")
                    .nick("Is live")
                    .blurb("Act as a live source (produce only in PLAYING)")
                    .default_value(DEFAULT_IS_LIVE)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("retry-attempts")
                    .nick("Retry attempts")
                    .blurb(
                        "Failed attempts in a row (connect errors, 5xx, throttling) before \
                         giving up with an error; 0 = retry forever",
                    )
                    .default_value(DEFAULT_RETRY_ATTEMPTS)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt64::builder("request-timeout")
                    .nick("Request timeout")
                    .blurb("Milliseconds a request may take to start answering")
                    .minimum(MIN_REQUEST_TIMEOUT_MS)
                    .default_value(DEFAULT_REQUEST_TIMEOUT_MS)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("continuation-token")
                    .nick("Continuation token")
                    .blurb(
                        "Token of the last fragment played: give it back as \
                         start-continuation-token to continue there later",
                    )
                    .read_only()
                    .build(),
                glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                    .nick("Statistics")
                    .blurb("Fragments, frames, merged headers, reconnects and the like")
                    .read_only()
                    .build(),
            ]
    });
    PROPERTIES.as_ref()
}

impl KvsSrc {
    pub(super) fn set_prop(&self, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = lock(&self.settings);
        let string = || {
            value
                .get::<Option<String>>()
                .expect("type checked upstream")
                .filter(|v| !v.is_empty())
        };
        match pspec.name() {
            "stream-name" => s.stream_name = string(),
            "stream-arn" => s.stream_arn = string(),
            "aws-region" => s.region = string(),
            "access-key" => s.credentials.access_key = string(),
            "secret-key" => s.credentials.secret_key = string(),
            "session-token" => s.credentials.session_token = string(),
            "endpoint-uri" => s.endpoint_uri = string(),
            "start-selector" => s.start_selector = value.get().expect("type checked upstream"),
            "start-fragment-number" => s.start_fragment_number = string(),
            "start-continuation-token" => s.start_continuation_token = string(),
            "start-timestamp" => s.start_timestamp_ms = value.get().expect("type checked upstream"),
            "end-timestamp" => s.end_timestamp_ms = value.get().expect("type checked upstream"),
            "timestamp-type" => s.timestamp_type = value.get().expect("type checked upstream"),
            "is-live" => {
                s.is_live = value.get().expect("type checked upstream");
                let live = s.is_live;
                drop(s);
                self.obj().set_live(live);
                return;
            }
            "retry-attempts" => s.retry_attempts = value.get().expect("type checked upstream"),
            "request-timeout" => {
                s.request_timeout_ms = value.get().expect("type checked upstream");
            }
            _ => unimplemented!(),
        }
        // Secrets stay out of the log: only the property name is logged for them.
        if matches!(pspec.name(), "secret-key" | "session-token") {
            gst::debug!(CAT, imp = self, "{} set", pspec.name());
        } else {
            gst::debug!(CAT, imp = self, "{} set to {:?}", pspec.name(), value);
        }
    }

    pub(super) fn get_prop(&self, pspec: &glib::ParamSpec) -> glib::Value {
        if pspec.name() == "stats" {
            return self.stats().to_value();
        }
        if pspec.name() == "continuation-token" {
            return lock(&self.played_token).to_value();
        }
        let s = lock(&self.settings);
        match pspec.name() {
            "stream-name" => s.stream_name.to_value(),
            "stream-arn" => s.stream_arn.to_value(),
            "aws-region" => s.region.to_value(),
            "access-key" => s.credentials.access_key.to_value(),
            "endpoint-uri" => s.endpoint_uri.to_value(),
            "start-selector" => s.start_selector.to_value(),
            "start-fragment-number" => s.start_fragment_number.to_value(),
            "start-continuation-token" => s.start_continuation_token.to_value(),
            "start-timestamp" => s.start_timestamp_ms.to_value(),
            "end-timestamp" => s.end_timestamp_ms.to_value(),
            "timestamp-type" => s.timestamp_type.to_value(),
            "is-live" => s.is_live.to_value(),
            "retry-attempts" => s.retry_attempts.to_value(),
            "request-timeout" => s.request_timeout_ms.to_value(),
            // Write-only secrets never come back out.
            _ => None::<String>.to_value(),
        }
    }
}
