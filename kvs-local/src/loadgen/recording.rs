// SPDX-License-Identifier: MPL-2.0
//! The recorded PutMedia body, parsed once and turned into ready-to-send pieces: the stream
//! header, and per fragment the complete SimpleBlocks (header + payload in one `Bytes`), so
//! sending a frame is one reference-count increment, never an allocation or a copy.

use std::path::Path;

use bytes::{Bytes, BytesMut};
use kvs_core::mkv::writer::block_flags;
use kvs_core::mkv::{
    MkvEvent, MkvReader, SegmentInfo, SimpleBlockHeader, StreamHeader, Tag, TrackInfo,
    write_cluster_start, write_stream_header, write_tags,
};
use kvs_core::tags::names::END_OF_FRAGMENT;

use super::LoadError;

/// One frame: when it is due relative to its cluster, and its whole SimpleBlock.
pub struct Frame {
    pub offset_ms: u64,
    pub block: Bytes,
}

pub struct Fragment {
    pub frames: Vec<Frame>,
    /// Distance to the next fragment's cluster timecode.
    pub duration_ms: u64,
}

pub struct Recording {
    /// EBML header, Segment start, Info, Tracks.
    pub header: Bytes,
    pub fragments: Vec<Fragment>,
    /// A Tags element holding END_OF_FRAGMENT: sent right after a fragment's last frame so
    /// the fragment is complete on the wire at that instant, instead of when the next
    /// Cluster starts one frame interval later.
    pub end_of_fragment: Bytes,
    /// Bytes one pass over all fragments puts on the wire.
    pub loop_bytes: u64,
    pub loop_ms: u64,
}

struct RawCluster {
    timecode: u64,
    blocks: Vec<(i16, u8, u64, Bytes)>,
}

impl Recording {
    pub fn load(path: &Path) -> Result<Recording, LoadError> {
        let data = std::fs::read(path)
            .map_err(|e| LoadError::Recording(format!("{}: {e}", path.display())))?;
        let mut reader = MkvReader::new();
        reader.push(Bytes::from(data));
        reader
            .finish()
            .map_err(|e| LoadError::Recording(format!("{}: {e}", path.display())))?;
        let mut info: Option<SegmentInfo> = None;
        let mut tracks: Option<Vec<TrackInfo>> = None;
        let mut clusters: Vec<RawCluster> = Vec::new();
        while let Some(ev) = reader
            .next_event()
            .map_err(|e| LoadError::Recording(format!("{}: {e}", path.display())))?
        {
            match ev.event {
                MkvEvent::Info(i) if info.is_none() => info = Some(i),
                MkvEvent::Tracks(t) if tracks.is_none() => tracks = Some(t),
                MkvEvent::ClusterStart { timecode, .. } => clusters.push(RawCluster {
                    timecode,
                    blocks: Vec::new(),
                }),
                MkvEvent::Block(b) => {
                    if let Some(c) = clusters.last_mut() {
                        let mut flags = 0;
                        if b.keyframe {
                            flags |= block_flags::KEYFRAME;
                        }
                        if b.discardable {
                            flags |= block_flags::DISCARDABLE;
                        }
                        c.blocks
                            .push((b.relative_timecode, flags, b.track_number, b.payload));
                    }
                }
                _ => {}
            }
        }
        let (Some(info), Some(tracks)) = (info, tracks) else {
            return Err(LoadError::Recording(
                "no Info/Tracks in the recording".into(),
            ));
        };
        if clusters.len() < 2 {
            return Err(LoadError::Recording("fewer than two clusters".into()));
        }
        let mut out = BytesMut::new();
        write_stream_header(&StreamHeader { info, tracks }, &mut out)
            .map_err(|e| LoadError::Recording(e.to_string()))?;
        let header = out.split().freeze();
        write_tags(&[Tag::single(END_OF_FRAGMENT, "")], &mut out)
            .map_err(|e| LoadError::Recording(e.to_string()))?;
        let end_of_fragment = out.split().freeze();

        let mut fragments = Vec::with_capacity(clusters.len());
        let mut loop_bytes = 0u64;
        let mut prev_duration = 1000;
        for (i, c) in clusters.iter().enumerate() {
            let duration_ms = match clusters.get(i + 1) {
                Some(next) => next.timecode.saturating_sub(c.timecode).max(1),
                None => prev_duration,
            };
            prev_duration = duration_ms;
            let mut frames = Vec::with_capacity(c.blocks.len());
            for (rel, flags, track, payload) in &c.blocks {
                let h = SimpleBlockHeader::with_flags(*track, *rel, *flags, payload.len())
                    .map_err(|e| LoadError::Recording(e.to_string()))?;
                out.extend_from_slice(h.as_bytes());
                out.extend_from_slice(payload);
                let block = out.split().freeze();
                loop_bytes += block.len() as u64;
                frames.push(Frame {
                    offset_ms: u64::try_from(*rel).unwrap_or(0),
                    block,
                });
            }
            if frames.is_empty() {
                continue;
            }
            loop_bytes += (kvs_core::mkv::writer::CLUSTER_START_LEN + end_of_fragment.len()) as u64;
            fragments.push(Fragment {
                frames,
                duration_ms,
            });
        }
        let loop_ms = fragments.iter().map(|f| f.duration_ms).sum();
        Ok(Recording {
            header,
            fragments,
            end_of_fragment,
            loop_bytes,
            loop_ms,
        })
    }

    /// Largest frame count of a fragment (sizes the per-fragment send-time slots).
    pub fn max_frames(&self) -> usize {
        self.fragments
            .iter()
            .map(|f| f.frames.len())
            .max()
            .unwrap_or(0)
    }
}

/// The 18-byte start of an unknown-size Cluster at `timecode`.
pub fn cluster_start(timecode: u64) -> Bytes {
    let mut out = BytesMut::with_capacity(kvs_core::mkv::writer::CLUSTER_START_LEN);
    write_cluster_start(timecode, &mut out);
    out.freeze()
}
