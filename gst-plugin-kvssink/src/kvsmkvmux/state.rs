// SPDX-License-Identifier: MPL-2.0
//! The fragmenter's state while streaming: its tracks, the timestamp mapper, the fragment
//! planner and metadata queue, and how a stream header is built from them.

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use gst::prelude::*;
use gst_base::prelude::*;
use kvs_core::codec::CodecConfig;
use kvs_core::codec::inband::VideoCodec;
use kvs_core::mkv::{SegmentInfo, SimpleBlockHeader, StreamHeader};
use kvs_core::producer::{
    FragmentConfig, FragmentPlanner, QuietTracker, TimestampConfig, TimestampMapper,
    TimestampSource,
};
use kvs_core::tags::FragmentMetadataQueue;

use super::small_buffers::SmallBuffers;
use super::track::TrackInput;
use crate::fragmenter_settings::{AUDIO_TRACK_NAME, FragmenterSettings, StreamingType};

pub(super) struct Track {
    pub(super) pad: gst_base::AggregatorPad,
    /// The pad's current segment, kept here so the per-frame path does not copy it.
    pub(super) segment: gst::FormattedSegment<gst::ClockTime>,
    pub(super) is_video: bool,
    pub(super) input: Option<TrackInput>,
    pub(super) config: Option<CodecConfig>,
    /// Clamped decode times were already reported for the current segment: an
    /// encoder crossing a segment change clamps several frames in a row, and one
    /// warning says all there is to say.
    pub(super) dts_clamp_reported: bool,
    /// Frames taken off the pad during the start-up wait, with their interleaving DTS;
    /// they are consumed before the pad's own queue.
    pub(super) held: VecDeque<(gst::Buffer, i64)>,
}

pub(super) struct Started {
    pub(super) settings: FragmenterSettings,
    pub(super) tracks: Vec<Track>,
    pub(super) mapper: TimestampMapper,
    pub(super) planner: FragmentPlanner,
    pub(super) metadata: FragmentMetadataQueue,
    pub(super) quiet: QuietTracker,
    /// The track set or a codec configuration changed since the last header (or none
    /// was written yet): the next fragment starts with a new header.
    pub(super) header_stale: bool,
    pub(super) fragment_open: bool,
    pub(super) segment_uid: [u8; 16],
    pub(super) caps_sent: bool,
    /// Parameter-set-less key frames already complained about.
    pub(super) dropped_frames: u64,
    /// Every track delivered its first frame (or ended), or the start-up wait ran out.
    pub(super) start_settled: bool,
    /// DTS of the first frame held back during the start-up wait.
    pub(super) held_since_ns: Option<i64>,
    pub(super) block_headers: SmallBuffers,
}

/// The bus warning for decode times that went backwards on `pad`.
pub(super) fn dts_clamp_warning(pad: &str, by_ns: u64) -> String {
    format!(
        "{pad}: decode timestamps went backwards (by {:.3} ms) and were clamped to keep them \
         increasing; later frames of this segment may be clamped too without another warning. \
         Typical cause: an encoder with B-frames across a segment change (concat, a looping \
         source); use x264enc bframes=0 (or a low-latency preset) or encode each input \
         separately before concat",
        by_ns as f64 / 1e6
    )
}

/// Things to tell the application once the state lock is released.
pub(super) enum Notice {
    Warning(String),
    Info(String),
}

pub(super) fn now_epoch_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

pub(super) fn random_uid() -> [u8; 16] {
    let mut uid = [0u8; 16];
    rand::fill(&mut uid);
    uid
}

pub(super) fn signed_ns(v: gst::Signed<gst::ClockTime>) -> i64 {
    match v {
        gst::Signed::Positive(t) => i64::try_from(t.nseconds()).unwrap_or(i64::MAX),
        gst::Signed::Negative(t) => -i64::try_from(t.nseconds()).unwrap_or(i64::MAX),
    }
}

impl Started {
    pub(super) fn new(settings: FragmenterSettings) -> Self {
        let source = if !settings.frame_timecodes {
            TimestampSource::WallClock
        } else if settings.use_original_pts {
            TimestampSource::Original
        } else if settings.streaming_type == StreamingType::Offline {
            let epoch_ns = if settings.file_start_time_s == 0 {
                now_epoch_ns()
            } else {
                settings.file_start_time_s.saturating_mul(1_000_000_000)
            };
            TimestampSource::FileStart { epoch_ns }
        } else {
            TimestampSource::Pipeline
        };
        let mapper = TimestampMapper::new(TimestampConfig {
            source,
            absolute: settings.absolute_fragment_times,
        });
        let planner = FragmentPlanner::new(Self::fragment_config(&settings, true));
        Started {
            settings,
            tracks: Vec::new(),
            mapper,
            planner,
            metadata: FragmentMetadataQueue::new(),
            quiet: QuietTracker::default(),
            header_stale: true,
            fragment_open: false,
            segment_uid: random_uid(),
            caps_sent: false,
            dropped_frames: 0,
            start_settled: false,
            held_since_ns: None,
            block_headers: SmallBuffers::new(SimpleBlockHeader::LEN),
        }
    }

    pub(super) fn fragment_config(
        settings: &FragmenterSettings,
        has_video: bool,
    ) -> FragmentConfig {
        FragmentConfig {
            key_frame_fragmentation: settings.key_frame_fragmentation,
            fragment_duration_ns: u64::from(settings.fragment_duration_ms) * 1_000_000,
            timecode_scale_ns: settings.timecode_scale_ns(),
            has_video,
        }
    }

    /// Picks up pads requested since the last call; video first so it gets track 1.
    pub(super) fn sync_tracks(&mut self, pads: &[gst::Pad]) {
        let mut changed = false;
        for pad in pads {
            let Some(pad) = pad.downcast_ref::<gst_base::AggregatorPad>() else {
                continue;
            };
            if self.tracks.iter().any(|t| &t.pad == pad) {
                continue;
            }
            let is_video = pad.name().starts_with("video_");
            let segment = pad
                .segment()
                .downcast::<gst::ClockTime>()
                .unwrap_or_else(|_| gst::FormattedSegment::new());
            self.tracks.push(Track {
                pad: pad.clone(),
                segment,
                is_video,
                input: None,
                config: None,
                dts_clamp_reported: false,
                held: VecDeque::new(),
            });
            changed = true;
        }
        if changed {
            self.tracks.sort_by_key(|t| !t.is_video);
            let has_video = self.tracks.iter().any(|t| t.is_video);
            self.planner = FragmentPlanner::new(Self::fragment_config(&self.settings, has_video));
            self.header_stale = true;
        }
    }

    pub(super) fn track_index(&self, pad: &gst_base::AggregatorPad) -> Option<usize> {
        self.tracks.iter().position(|t| &t.pad == pad)
    }

    pub(super) fn set_config(&mut self, idx: usize, config: CodecConfig) -> Option<Notice> {
        let track = self.tracks.get_mut(idx)?;
        if track
            .config
            .as_ref()
            .is_some_and(|c| c.codec_private == config.codec_private)
        {
            return None;
        }
        let notice = track.config.as_ref().map(|_| {
            Notice::Info(format!(
                "codec private data of {} changed; starting a new stream header at the next \
                 key frame",
                track.pad.name()
            ))
        });
        track.config = Some(config);
        self.header_stale = true;
        // The next fragment must start with a key frame and the new header.
        self.planner.reset();
        notice
    }

    /// Track number as blocks refer to it: video 1 and audio 2 when both exist, else 1.
    pub(super) fn track_number(&self, idx: usize) -> u64 {
        idx as u64 + 1
    }

    pub(super) fn stream_header(&self) -> StreamHeader {
        let tracks = self
            .tracks
            .iter()
            .enumerate()
            .filter_map(|(idx, t)| {
                let cfg = t.config.as_ref()?;
                let number = self.track_number(idx);
                let name = if t.is_video {
                    self.settings.track_name.as_str()
                } else {
                    AUDIO_TRACK_NAME
                };
                let mut info = cfg.track_info(number, number, Some(name));
                if t.is_video
                    && matches!(
                        t.input,
                        Some(TrackInput::Video {
                            codec: VideoCodec::H264,
                            ..
                        })
                    )
                {
                    info.codec_id.clone_from(&self.settings.codec_id);
                }
                Some(info)
            })
            .collect();
        StreamHeader {
            info: SegmentInfo {
                segment_uid: Some(self.segment_uid),
                timecode_scale: self.settings.timecode_scale_ns(),
                ..SegmentInfo::default()
            },
            tracks,
        }
    }
}
