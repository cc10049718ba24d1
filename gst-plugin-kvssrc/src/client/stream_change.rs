// SPDX-License-Identifier: MPL-2.0
//! How a header that starts a new output stream relates to the one before it, which decides
//! what downstream has to do about it.

use kvs_core::mkv::{StreamHeader, TrackInfo};

/// Why the output starts a new Matroska stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamChange {
    /// The same tracks (numbers, types, codecs) with the same timecode scale, only codec
    /// parameters (codec private data, dimensions, sample rate) differ. A demuxer that
    /// re-reads Tracks in place (matroskademux does) continues with new caps on the same pads.
    CodecData,
    /// Tracks were added or removed, changed number, type or codec, or the timecode scale
    /// changed: downstream needs a new stream (new STREAM_START and a demuxer that reads the
    /// new header from scratch).
    Tracks,
}

impl StreamChange {
    pub fn between(old: &StreamHeader, new: &StreamHeader) -> StreamChange {
        let same_shape = old.info.timecode_scale == new.info.timecode_scale
            && old.tracks.len() == new.tracks.len()
            && old
                .tracks
                .iter()
                .zip(&new.tracks)
                .all(|(a, b)| same_identity(a, b));
        if same_shape {
            StreamChange::CodecData
        } else {
            StreamChange::Tracks
        }
    }
}

fn same_identity(a: &TrackInfo, b: &TrackInfo) -> bool {
    a.number == b.number && a.track_type == b.track_type && a.codec_id == b.codec_id
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use kvs_core::mkv::{SegmentInfo, TrackType};

    fn track(number: u64, kind: TrackType, codec: &str, private: &'static [u8]) -> TrackInfo {
        TrackInfo {
            number,
            uid: number,
            track_type: Some(kind),
            name: None,
            codec_id: codec.into(),
            codec_private: Some(Bytes::from_static(private)),
            video: None,
            audio: None,
        }
    }

    fn header(tracks: Vec<TrackInfo>) -> StreamHeader {
        StreamHeader {
            info: SegmentInfo::default(),
            tracks,
        }
    }

    #[test]
    fn new_codec_data_keeps_the_stream_shape() {
        let old = header(vec![track(1, TrackType::Video, "V_MPEG4/ISO/AVC", b"a")]);
        let new = header(vec![track(1, TrackType::Video, "V_MPEG4/ISO/AVC", b"b")]);
        assert_eq!(StreamChange::between(&old, &new), StreamChange::CodecData);
    }

    #[test]
    fn added_track_other_codec_or_scale_is_a_track_change() {
        let video = track(1, TrackType::Video, "V_MPEG4/ISO/AVC", b"a");
        let audio = track(2, TrackType::Audio, "A_AAC", b"c");
        let old = header(vec![video.clone()]);
        let both = header(vec![video.clone(), audio]);
        assert_eq!(StreamChange::between(&old, &both), StreamChange::Tracks);
        assert_eq!(StreamChange::between(&both, &old), StreamChange::Tracks);
        let hevc = header(vec![track(1, TrackType::Video, "V_MPEGH/ISO/HEVC", b"a")]);
        assert_eq!(StreamChange::between(&old, &hevc), StreamChange::Tracks);
        let mut scaled = old.clone();
        scaled.info.timecode_scale = 100_000;
        assert_eq!(StreamChange::between(&old, &scaled), StreamChange::Tracks);
    }
}
