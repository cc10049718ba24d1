// SPDX-License-Identifier: MPL-2.0
//! What the element tells the application: the `stats` structure, a `kvs-fragment` message
//! per fragment, and element errors that say what to do.

use gst::prelude::*;
use gst::subclass::prelude::*;

use kvs_core::consumer::FragmentInfo;

use super::{CAT, KvsSrc};
use crate::client::SourceError;
use crate::client::error::ErrorClass;

/// Name of the element message posted per fragment.
pub const FRAGMENT_MESSAGE: &str = "kvs-fragment";

impl KvsSrc {
    pub(super) fn stats(&self) -> gst::Structure {
        let st = self.status();
        let m = st.merger;
        gst::Structure::builder("application/x-kvssrc-stats")
            .field("fragments", m.fragments)
            .field("frames", m.frames)
            .field("frames-deduplicated", m.frames_deduplicated)
            .field("duplicates-skipped", m.duplicates_skipped)
            .field("headers-merged", m.headers_merged)
            .field("streams", m.streams)
            .field("bytes", m.bytes_out)
            .field("service-errors", m.service_errors)
            .field("reconnects", st.reconnects)
            .field("requests", st.requests)
            .field("fragments-listed", st.fragments_listed)
            .field(
                "millis-behind-now",
                st.millis_behind_now
                    .map_or(-1i64, |v| i64::try_from(v).unwrap_or(i64::MAX)),
            )
            .field(
                "last-fragment-number",
                st.last_fragment_number.unwrap_or_default(),
            )
            .build()
    }

    pub(super) fn post_fragment(&self, info: &FragmentInfo) {
        let mut b = gst::Structure::builder(FRAGMENT_MESSAGE);
        if let Some(n) = &info.fragment_number {
            b = b.field("fragment-number", n);
        }
        if let Some(ms) = info.producer_timestamp_ms {
            b = b.field("producer-timestamp", ms);
        }
        if let Some(ms) = info.server_timestamp_ms {
            b = b.field("server-timestamp", ms);
        }
        if let Some(ms) = info.millis_behind_now {
            b = b.field("millis-behind-now", ms);
        }
        if let Some(t) = &info.continuation_token {
            b = b.field("continuation-token", t);
        }
        if let Some(ns) = info.start_ns {
            b = b.field("pts", gst::ClockTime::from_nseconds(ns));
        }
        let tags = gst::Array::new(info.tags.iter().map(|t| {
            gst::Structure::builder("tag")
                .field("name", &t.name)
                .field("value", &t.value)
                .build()
                .to_send_value()
        }));
        let s = b.field("frames", info.frames).field("tags", tags).build();
        gst::debug!(
            CAT,
            imp = self,
            "fragment {:?}: {} frames",
            info.fragment_number,
            info.frames
        );
        let msg = gst::message::Element::builder(s).src(&*self.obj()).build();
        if self.obj().post_message(msg).is_err() {
            gst::debug!(CAT, imp = self, "no bus to post the fragment message on");
        }
    }

    pub(super) fn post_source_error(&self, err: &SourceError) {
        let text = err.to_string();
        gst::error!(CAT, imp = self, "{text}");
        let details = gst::Structure::builder("kvssrc-error")
            .field("class", format!("{:?}", err.class()))
            .build();
        match err.class() {
            ErrorClass::Settings => gst::element_imp_error!(
                self,
                gst::ResourceError::Settings,
                ("{}", text),
                details: details
            ),
            ErrorClass::NotFound => gst::element_imp_error!(
                self,
                gst::ResourceError::NotFound,
                ("{}", text),
                details: details
            ),
            ErrorClass::NotAuthorized => gst::element_imp_error!(
                self,
                gst::ResourceError::NotAuthorized,
                ("{}", text),
                details: details
            ),
            ErrorClass::Read => gst::element_imp_error!(
                self,
                gst::ResourceError::Read,
                ("{}", text),
                details: details
            ),
            ErrorClass::Format => gst::element_imp_error!(
                self,
                gst::StreamError::Format,
                ("{}", text),
                details: details
            ),
        }
    }
}
