// SPDX-License-Identifier: MPL-2.0
//! Recognising a re-sent fragment. After a reconnect a producer sends again every fragment it
//! saw no RECEIVED/PERSISTED for; when only the ACK was lost, the first copy is stored
//! already. A fragment repeats a stored one when its producer timestamp, track set, frames
//! (track, timecode, flags, size and payload of each SimpleBlock, in order) and metadata are
//! equal; ingest then answers with the first copy's number and stores nothing.
//!
//! Candidates (complete fragments with the same producer timestamp) are gathered when the
//! Cluster starts, from the live ring and from the index, and compared byte by byte as the
//! frames arrive. A mismatch drops a candidate at once, so a fragment that differs early is
//! released to live readers early. Stored candidates are read back from their chunk file:
//! this happens only for fragments that re-use a timestamp, so the common path stores no
//! digest and hashes nothing.

use std::sync::Arc;

use bytes::Bytes;
use kvs_core::mkv::writer::CLUSTER_START_LEN;
use kvs_core::mkv::{MkvEvent, MkvReader, Tag, TrackInfo};

use crate::media::{
    Durability, FragmentId, Header, LiveFragment, MediaError, MediaStore, StoredFragment,
    StreamMedia,
};

/// Earlier fragments compared with one re-sent fragment, newest first. A producer re-sends
/// recent fragments, so older copies at the same timestamp are not worth reading.
const MAX_CANDIDATES: usize = 4;

/// Where the first copy of a repeated fragment is.
pub enum Original {
    /// Its row is committed: it is durable.
    Stored,
    /// In the live ring; the store's answer for it may still be pending.
    Live(Arc<LiveFragment>),
}

/// The verdict for a fragment that repeats an earlier one.
pub struct Repeat {
    pub id: FragmentId,
    pub original: Original,
}

/// The fragment being received, as far as candidates are chosen.
pub struct Incoming<'a> {
    pub producer_ts_ms: i64,
    pub header: &'a Arc<Header>,
    pub tracks: &'a [TrackInfo],
    pub retention_zero: bool,
}

struct Candidate {
    id: FragmentId,
    content: PartsCursor,
    tags: Vec<Tag>,
    original: Original,
}

/// The candidates still equal to everything received so far.
pub struct DupCheck {
    candidates: Vec<Candidate>,
}

impl DupCheck {
    /// The earlier fragments this one could repeat, or `None` when there are none (then the
    /// fragment takes the ordinary path).
    pub async fn find(
        store: &Arc<MediaStore>,
        stream: &Arc<StreamMedia>,
        incoming: Incoming<'_>,
    ) -> Result<Option<Self>, MediaError> {
        let ts = incoming.producer_ts_ms;
        let mut candidates = Vec::new();
        for f in stream.live().complete_at_producer_ts(ts) {
            if !usable(f.durability(), incoming.retention_zero)
                || !same_tracks(&f.header, incoming.header, incoming.tracks)
            {
                continue;
            }
            let read = f.read_from(1);
            candidates.push(Candidate {
                id: f.id,
                content: PartsCursor::new(read.parts),
                tags: read.tags,
                original: Original::Live(f),
            });
        }
        // Retention 0 stores nothing; the ring is all there is.
        if !incoming.retention_zero {
            let known: Vec<FragmentId> = candidates.iter().map(|c| c.id).collect();
            let (st, s2) = (store.clone(), stream.clone());
            let (header, tracks) = (incoming.header.clone(), incoming.tracks.to_vec());
            let stored = tokio::task::spawn_blocking(move || {
                read_stored(&st, &s2, ts, &known, &header, &tracks)
            })
            .await
            .map_err(|e| MediaError::Io(std::io::Error::other(e.to_string())))??;
            for f in stored {
                if f.cluster.len() < CLUSTER_START_LEN {
                    continue;
                }
                candidates.push(Candidate {
                    id: f.meta.id,
                    content: PartsCursor::new(vec![f.cluster.slice(CLUSTER_START_LEN..)]),
                    tags: f.meta.tags,
                    original: Original::Stored,
                });
            }
        }
        candidates.sort_by_key(|c| std::cmp::Reverse(c.id));
        candidates.truncate(MAX_CANDIDATES);
        Ok((!candidates.is_empty()).then_some(Self { candidates }))
    }

    /// Compares the next bytes of the fragment's blocks (everything after its Cluster start,
    /// as stored) with every candidate, dropping those that differ.
    pub fn feed(&mut self, data: &[u8]) {
        self.candidates.retain_mut(|c| c.content.eat(data));
    }

    /// True once no candidate is left: the fragment is new.
    pub fn is_empty(&self) -> bool {
        self.candidates.is_empty()
    }

    /// The verdict once the fragment is complete: the oldest candidate equal in every byte
    /// and tag whose copy is (or may still become) stored.
    pub fn finish(self, tags: &[Tag], retention_zero: bool) -> Option<Repeat> {
        self.candidates
            .into_iter()
            .filter(|c| c.content.at_end() && c.tags == tags)
            .filter(|c| match &c.original {
                Original::Stored => true,
                Original::Live(f) => usable(f.durability(), retention_zero),
            })
            .min_by_key(|c| c.id)
            .map(|c| Repeat {
                id: c.id,
                original: c.original,
            })
    }
}

/// Whether a live fragment in this state may stand for a new copy: on a stream that stores,
/// only one that is stored or on its way there.
fn usable(d: Durability, retention_zero: bool) -> bool {
    match d {
        Durability::Pending | Durability::Persisted => true,
        Durability::NotStored => retention_zero,
        Durability::Failed => false,
    }
}

/// Stored candidates (blocking: index query and file reads), skipping ids already found in
/// the ring and rows whose header declares other tracks.
fn read_stored(
    store: &MediaStore,
    stream: &StreamMedia,
    ts: i64,
    known: &[FragmentId],
    header: &Arc<Header>,
    tracks: &[TrackInfo],
) -> Result<Vec<StoredFragment>, MediaError> {
    let rows = store.fragments_at_producer_ts(stream, ts, MAX_CANDIDATES)?;
    let mut out = Vec::new();
    for meta in rows {
        if known.contains(&meta.id) {
            continue;
        }
        let theirs = store.header(meta.header_id)?;
        if !same_tracks(&theirs, header, tracks) {
            continue;
        }
        match store.read_fragment(&meta) {
            Ok(f) => out.push(f),
            // Expired or deleted since the query: nothing to repeat.
            Err(e) => {
                tracing::warn!(fragment = %meta.id, error = %e, "duplicate candidate unreadable")
            }
        }
    }
    Ok(out)
}

/// Same timecode scale and the same Tracks. The header bytes also hold Info (segment UID,
/// titles), which a producer may change between connections without changing the media.
fn same_tracks(theirs: &Header, ours: &Arc<Header>, our_tracks: &[TrackInfo]) -> bool {
    if theirs.id == ours.id {
        return true;
    }
    theirs.timecode_scale_ns == ours.timecode_scale_ns
        && tracks_of(&theirs.bytes).is_some_and(|t| t == our_tracks)
}

/// The Tracks declared in a stored stream header.
fn tracks_of(header: &Bytes) -> Option<Vec<TrackInfo>> {
    let mut reader = MkvReader::new();
    reader.push(header.clone());
    loop {
        match reader.next_event() {
            Ok(Some(ev)) => {
                if let MkvEvent::Tracks(t) = ev.event {
                    return Some(t);
                }
            }
            Ok(None) | Err(_) => return None,
        }
    }
}

/// A read position in a fragment's content held as several `Bytes` pieces.
struct PartsCursor {
    parts: Vec<Bytes>,
    index: usize,
    offset: usize,
}

impl PartsCursor {
    fn new(parts: Vec<Bytes>) -> Self {
        Self {
            parts,
            index: 0,
            offset: 0,
        }
    }

    /// Consumes `data` if the content continues with exactly these bytes.
    fn eat(&mut self, mut data: &[u8]) -> bool {
        while !data.is_empty() {
            let Some(part) = self.parts.get(self.index) else {
                return false;
            };
            let rest = part.get(self.offset..).unwrap_or_default();
            if rest.is_empty() {
                self.index += 1;
                self.offset = 0;
                continue;
            }
            let n = rest.len().min(data.len());
            let (Some(want), Some(got)) = (rest.get(..n), data.get(..n)) else {
                return false;
            };
            if want != got {
                return false;
            }
            self.offset += n;
            data = data.get(n..).unwrap_or_default();
        }
        true
    }

    fn at_end(&self) -> bool {
        self.parts
            .iter()
            .skip(self.index)
            .enumerate()
            .all(|(i, p)| p.len() == if i == 0 { self.offset } else { 0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(parts: &[&'static [u8]]) -> PartsCursor {
        PartsCursor::new(parts.iter().map(|p| Bytes::from_static(p)).collect())
    }

    #[test]
    fn cursor_matches_across_piece_boundaries() {
        let mut c = cursor(&[b"ab", b"", b"cde"]);
        assert!(c.eat(b"a"));
        assert!(!c.at_end());
        assert!(c.eat(b"bcd"));
        assert!(!c.at_end());
        assert!(c.eat(b"e"));
        assert!(c.at_end());
        assert!(!c.eat(b"f"), "content longer than the candidate");
    }

    #[test]
    fn cursor_rejects_a_differing_byte_and_a_short_fragment() {
        let mut c = cursor(&[b"abc"]);
        assert!(!c.eat(b"abd"));
        let mut c = cursor(&[b"abc", b"d"]);
        assert!(c.eat(b"abc"));
        assert!(!c.at_end(), "candidate has a byte more");
    }

    #[test]
    fn stored_header_tracks_parse_back() {
        let header = kvs_core::mkv::StreamHeader {
            info: kvs_core::mkv::SegmentInfo::default(),
            tracks: vec![TrackInfo {
                number: 1,
                uid: 1,
                codec_id: "V_MPEG4/ISO/AVC".into(),
                ..TrackInfo::default()
            }],
        };
        let mut out = bytes::BytesMut::new();
        kvs_core::mkv::write_stream_header(&header, &mut out).expect("header");
        assert_eq!(tracks_of(&out.freeze()), Some(header.tracks));
        assert_eq!(tracks_of(&Bytes::from_static(b"not mkv")), None);
    }
}

#[cfg(test)]
mod ingest_tests;
