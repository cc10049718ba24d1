// SPDX-License-Identifier: MPL-2.0
//! The MKV documents GetMedia and GetMediaForFragmentList send, one per fragment, laid out
//! as the service does: producer header (EBML, Segment, Info, Tracks), a Tags element with
//! FRAGMENT_NUMBER / SERVER_TIMESTAMP / PRODUCER_TIMESTAMP, the Cluster, the producer's
//! fragment metadata (one Tags element each), then a Tags element with MILLIS_BEHIND_NOW and
//! CONTINUATION_TOKEN.
//!
//! The Cluster is re-emitted as stored: unknown size, ended by the Tags element after it, as
//! producers send it. That lets a live fragment be sent before its last frame exists.

use bytes::{Bytes, BytesMut};
use kvs_core::getmedia::{
    TAG_CONTINUATION_TOKEN, TAG_FRAGMENT_NUMBER, TAG_MILLIS_BEHIND_NOW, TAG_PRODUCER_TIMESTAMP,
    TAG_SERVER_TIMESTAMP, format_timestamp,
};
use kvs_core::mkv::{SimpleTag, Tag, write_tags};

use crate::media::{FragmentId, Header};

fn ms_u64(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0)
}

/// Everything before the Cluster.
pub fn leading(header: &Header, id: FragmentId, server_ts_ms: i64, producer_ts_ms: i64) -> Bytes {
    let mut out = BytesMut::with_capacity(header.bytes.len() + 256);
    out.extend_from_slice(&header.bytes);
    let tag = Tag {
        simple_tags: vec![
            SimpleTag::new(TAG_FRAGMENT_NUMBER, id.to_number()),
            SimpleTag::new(TAG_SERVER_TIMESTAMP, format_timestamp(ms_u64(server_ts_ms))),
            SimpleTag::new(
                TAG_PRODUCER_TIMESTAMP,
                format_timestamp(ms_u64(producer_ts_ms)),
            ),
        ],
    };
    // Writing strings we built ourselves cannot exceed the writer's size limits.
    let _ = write_tags(&[tag], &mut out);
    out.freeze()
}

/// Everything after the Cluster.
pub fn trailing(producer_tags: &[Tag], id: FragmentId, millis_behind_now: i64) -> Bytes {
    let mut out = BytesMut::with_capacity(256);
    // One Tags element per Tag, as the producer sent them: an event's SimpleTags stay
    // together in their Tag.
    for tag in producer_tags {
        let _ = write_tags(std::slice::from_ref(tag), &mut out);
    }
    let tag = Tag {
        simple_tags: vec![
            SimpleTag::new(TAG_MILLIS_BEHIND_NOW, millis_behind_now.max(0).to_string()),
            SimpleTag::new(TAG_CONTINUATION_TOKEN, id.to_number()),
        ],
    };
    let _ = write_tags(&[tag], &mut out);
    out.freeze()
}
