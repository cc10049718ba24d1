// SPDX-License-Identifier: MPL-2.0
//! Where fragments (MKV clusters) start, and each block's cluster-relative timecode.
//!
//! Decisions are made in decode order on DTS: a fragment's cluster timecode is the DTS of
//! its first frame, so every block of the fragment (PTS ≥ DTS ≥ cluster start) gets a
//! non-negative offset even with B-frames. Blocks carry PTS. A block offset is a signed
//! 16-bit number of timecode units; when the next frame would not fit, the fragment is
//! closed early (on a non-key frame if need be) and a warning says so, instead of failing
//! the way AWS's producer does.

use std::fmt;

/// How fragments are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentConfig {
    /// `key-frame-fragmentation`: a new fragment at every key frame.
    pub key_frame_fragmentation: bool,
    /// `fragment-duration` in ns: without key-frame fragmentation, the first key frame at
    /// least this long after the fragment's start starts the next one.
    pub fragment_duration_ns: u64,
    /// Nanoseconds per MKV timecode unit.
    pub timecode_scale_ns: u64,
    /// Whether the stream has a video track. Without one, every (audio) frame counts as a
    /// key frame and fragments are cut by duration only, as AWS does.
    pub has_video: bool,
}

/// One frame, in decode order, with times already mapped onto the stream time line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameIn {
    /// Index of the track (0-based, any stable numbering the caller likes).
    pub track: usize,
    pub is_video: bool,
    pub keyframe: bool,
    pub pts_ns: u64,
    pub dts_ns: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Nothing can be written before the first key frame of the stream (or after a reset).
    WaitingForKeyFrame,
    /// The frame lies so far before its fragment's start that its offset does not fit.
    TooLate,
}

/// Something worth telling the user about; the frame was still placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProducerWarning {
    /// The fragment was closed before the next key frame because a block offset would
    /// have exceeded the int16 limit.
    FragmentClosedEarly { duration_ns: u64, keyframe: bool },
    /// A decode timestamp went backwards on a track and was clamped to the previous one.
    DtsClamped { track: usize, by_ns: u64 },
}

impl fmt::Display for ProducerWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ProducerWarning::FragmentClosedEarly { duration_ns, .. } => write!(
                f,
                "fragment reached {:.3} s, the longest a Matroska cluster can hold at this \
                 timecode-scale; closed it before the next key frame (lower the encoder's \
                 key-frame interval, e.g. x264enc key-int-max, to avoid this)",
                duration_ns as f64 / 1e9
            ),
            ProducerWarning::DtsClamped { track, by_ns } => write!(
                f,
                "decode timestamps of track {track} went back by {by_ns} ns; clamped to keep \
                 them monotonic"
            ),
        }
    }
}

/// A new fragment starts with this frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentStart {
    /// Cluster Timecode in timecode units.
    pub cluster_timecode: u64,
}

/// What to do with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    Skip(SkipReason),
    Block {
        /// Set when a cluster must be opened before this block.
        new_fragment: Option<FragmentStart>,
        /// SimpleBlock timecode relative to the cluster, in timecode units.
        relative_timecode: i16,
        warning: Option<ProducerWarning>,
    },
}

#[derive(Debug, Clone, Copy)]
struct Current {
    start_dts_ns: u64,
    cluster_timecode: u64,
}

/// Cuts one stream into fragments. Feed every frame in decode order.
#[derive(Debug, Clone)]
pub struct FragmentPlanner {
    config: FragmentConfig,
    current: Option<Current>,
    last_dts: Vec<Option<u64>>,
}

impl FragmentPlanner {
    pub fn new(config: FragmentConfig) -> Self {
        let scale = config.timecode_scale_ns.max(1);
        FragmentPlanner {
            config: FragmentConfig {
                timecode_scale_ns: scale,
                ..config
            },
            current: None,
            last_dts: Vec::new(),
        }
    }

    pub fn config(&self) -> FragmentConfig {
        self.config
    }

    /// The cluster timecode of the open fragment, if any.
    pub fn current_fragment(&self) -> Option<u64> {
        self.current.map(|c| c.cluster_timecode)
    }

    /// Start over: the next frame must be a key frame and opens a new fragment (used when
    /// a new stream header is written).
    pub fn reset(&mut self) {
        self.current = None;
    }

    fn units(&self, ns: u64) -> u64 {
        ns / self.config.timecode_scale_ns
    }

    fn starts_fragments(&self, frame: &FrameIn) -> bool {
        if self.config.has_video {
            frame.is_video && frame.keyframe
        } else {
            true
        }
    }

    pub fn place(&mut self, frame: FrameIn) -> Placement {
        if self.last_dts.len() <= frame.track {
            self.last_dts.resize(frame.track + 1, None);
        }
        let mut warning = None;
        let mut dts = frame.dts_ns;
        if let Some(Some(last)) = self.last_dts.get(frame.track).copied()
            && dts < last
        {
            warning = Some(ProducerWarning::DtsClamped {
                track: frame.track,
                by_ns: last - dts,
            });
            dts = last;
        }
        // A PTS before its own DTS is malformed input; keep the block inside its fragment.
        let pts = frame.pts_ns.max(dts);
        let starter = self.starts_fragments(&frame);

        let current = match self.current {
            None if !starter => return Placement::Skip(SkipReason::WaitingForKeyFrame),
            None => None,
            Some(c) => Some(c),
        };

        let mut new_fragment = match current {
            None => true,
            Some(cur) => {
                starter
                    && ((self.config.key_frame_fragmentation && self.config.has_video)
                        || dts.saturating_sub(cur.start_dts_ns) >= self.config.fragment_duration_ns)
            }
        };

        if !new_fragment && let Some(cur) = current {
            let offset = self.units(pts) as i128 - cur.cluster_timecode as i128;
            if offset > i128::from(i16::MAX) {
                new_fragment = true;
                warning = Some(ProducerWarning::FragmentClosedEarly {
                    duration_ns: dts.saturating_sub(cur.start_dts_ns),
                    keyframe: frame.keyframe,
                });
            } else if offset < i128::from(i16::MIN) {
                return Placement::Skip(SkipReason::TooLate);
            }
        }

        if let Some(slot) = self.last_dts.get_mut(frame.track) {
            *slot = Some(dts);
        }

        let fragment = if new_fragment {
            let cur = Current {
                start_dts_ns: dts,
                cluster_timecode: self.units(dts),
            };
            self.current = Some(cur);
            Some(FragmentStart {
                cluster_timecode: cur.cluster_timecode,
            })
        } else {
            None
        };
        let cluster = self.current.map_or(0, |c| c.cluster_timecode);
        let offset = self.units(pts) as i128 - cluster as i128;
        // Only a PTS more than 32 s after its own DTS can still overflow here.
        let relative_timecode = offset.clamp(i128::from(i16::MIN), i128::from(i16::MAX)) as i16;
        Placement::Block {
            new_fragment: fragment,
            relative_timecode,
            warning,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn planner(kff: bool, has_video: bool) -> FragmentPlanner {
        FragmentPlanner::new(FragmentConfig {
            key_frame_fragmentation: kff,
            fragment_duration_ns: 2_000 * MS,
            timecode_scale_ns: MS,
            has_video,
        })
    }

    fn video(keyframe: bool, pts_ms: u64, dts_ms: u64) -> FrameIn {
        FrameIn {
            track: 0,
            is_video: true,
            keyframe,
            pts_ns: pts_ms * MS,
            dts_ns: dts_ms * MS,
        }
    }

    fn audio(ms: u64) -> FrameIn {
        FrameIn {
            track: 1,
            is_video: false,
            keyframe: true,
            pts_ns: ms * MS,
            dts_ns: ms * MS,
        }
    }

    fn starts(p: Placement) -> Option<u64> {
        match p {
            Placement::Block { new_fragment, .. } => new_fragment.map(|f| f.cluster_timecode),
            Placement::Skip(r) => panic!("unexpected skip {r:?}"),
        }
    }

    fn offset(p: Placement) -> i16 {
        match p {
            Placement::Block {
                relative_timecode, ..
            } => relative_timecode,
            Placement::Skip(r) => panic!("unexpected skip {r:?}"),
        }
    }

    #[test]
    fn waits_for_first_key_frame() {
        let mut p = planner(true, true);
        assert_eq!(
            p.place(video(false, 0, 0)),
            Placement::Skip(SkipReason::WaitingForKeyFrame)
        );
        assert_eq!(
            p.place(audio(5)),
            Placement::Skip(SkipReason::WaitingForKeyFrame)
        );
        assert_eq!(starts(p.place(video(true, 33, 33))), Some(33));
        assert_eq!(starts(p.place(audio(40))), None);
    }

    #[test]
    fn key_frame_fragmentation_cuts_at_every_key_frame() {
        let mut p = planner(true, true);
        assert_eq!(starts(p.place(video(true, 0, 0))), Some(0));
        assert_eq!(starts(p.place(video(false, 33, 33))), None);
        assert_eq!(starts(p.place(video(true, 66, 66))), Some(66));
    }

    #[test]
    fn duration_fragmentation_waits_for_duration_then_key_frame() {
        let mut p = planner(false, true);
        assert_eq!(starts(p.place(video(true, 0, 0))), Some(0));
        assert_eq!(starts(p.place(video(true, 1_000, 1_000))), None);
        assert_eq!(starts(p.place(video(false, 2_500, 2_500))), None);
        assert_eq!(starts(p.place(video(true, 3_000, 3_000))), Some(3_000));
    }

    #[test]
    fn audio_only_cuts_by_duration() {
        let mut p = planner(true, false);
        assert_eq!(starts(p.place(audio(0))), Some(0));
        assert_eq!(starts(p.place(audio(1_999))), None);
        assert_eq!(starts(p.place(audio(2_000))), Some(2_000));
    }

    #[test]
    fn b_frames_fragment_on_dts_and_blocks_carry_pts() {
        let mut p = planner(true, true);
        // I(pts 66, dts 0) P(pts 165, dts 33) B(pts 99, dts 66) B(pts 132, dts 99)
        let i = p.place(video(true, 66, 0));
        assert_eq!(starts(i), Some(0));
        assert_eq!(offset(i), 66);
        assert_eq!(offset(p.place(video(false, 165, 33))), 165);
        assert_eq!(offset(p.place(video(false, 99, 66))), 99);
    }

    #[test]
    fn long_gop_is_closed_early_with_a_warning() {
        let mut p = planner(true, true);
        p.place(video(true, 0, 0));
        assert_eq!(offset(p.place(video(false, 32_767, 32_767))), 32_767);
        match p.place(video(false, 32_800, 32_800)) {
            Placement::Block {
                new_fragment,
                relative_timecode,
                warning,
            } => {
                assert_eq!(
                    new_fragment,
                    Some(FragmentStart {
                        cluster_timecode: 32_800
                    })
                );
                assert_eq!(relative_timecode, 0);
                assert_eq!(
                    warning,
                    Some(ProducerWarning::FragmentClosedEarly {
                        duration_ns: 32_800 * MS,
                        keyframe: false
                    })
                );
            }
            other => panic!("expected a block, got {other:?}"),
        }
    }

    #[test]
    fn coarser_timecode_scale_allows_longer_fragments() {
        let mut p = FragmentPlanner::new(FragmentConfig {
            key_frame_fragmentation: true,
            fragment_duration_ns: 2_000 * MS,
            timecode_scale_ns: 10 * MS,
            has_video: true,
        });
        p.place(video(true, 0, 0));
        assert_eq!(starts(p.place(video(false, 100_000, 100_000))), None);
    }

    #[test]
    fn backwards_dts_is_clamped_and_reported() {
        let mut p = planner(true, true);
        p.place(video(true, 100, 100));
        match p.place(video(false, 90, 90)) {
            Placement::Block {
                relative_timecode,
                warning,
                ..
            } => {
                assert_eq!(relative_timecode, 0);
                assert_eq!(
                    warning,
                    Some(ProducerWarning::DtsClamped {
                        track: 0,
                        by_ns: 10 * MS
                    })
                );
            }
            other => panic!("expected a block, got {other:?}"),
        }
    }

    #[test]
    fn late_audio_gets_a_negative_offset_or_is_skipped() {
        let mut p = planner(true, true);
        p.place(video(true, 40_000, 40_000));
        assert_eq!(offset(p.place(audio(39_990))), -10);
        let mut p = planner(true, true);
        p.place(video(true, 40_000, 40_000));
        assert_eq!(p.place(audio(1_000)), Placement::Skip(SkipReason::TooLate));
    }

    #[test]
    fn reset_waits_for_a_key_frame_again() {
        let mut p = planner(true, true);
        p.place(video(true, 0, 0));
        p.reset();
        assert_eq!(
            p.place(video(false, 33, 33)),
            Placement::Skip(SkipReason::WaitingForKeyFrame)
        );
        assert_eq!(starts(p.place(video(true, 66, 66))), Some(66));
    }

    #[test]
    fn warning_text_says_what_to_do() {
        let w = ProducerWarning::FragmentClosedEarly {
            duration_ns: 32_800 * MS,
            keyframe: false,
        };
        assert!(w.to_string().contains("key-int-max"));
    }
}
