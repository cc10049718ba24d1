// SPDX-License-Identifier: MPL-2.0
//! Buffer timestamps → stream timestamps (nanoseconds, absolute epoch or relative).
//!
//! AWS's kvssink anchors the first frame at the wall clock and then follows the pipeline's
//! clock; `use-original-pts` takes epoch timestamps as they come, offline mode adds
//! `file-start-time`, and `frame-timecodes=false` stamps frames with the wall clock. Unlike
//! AWS we rebase DTS exactly like PTS (AWS leaves DTS alone, which breaks B-frame ordering).

use thiserror::Error;

/// Where a frame's time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampSource {
    /// Pipeline running time, anchored at the wall clock of the first frame.
    Pipeline,
    /// Buffer timestamps are already epoch nanoseconds (`use-original-pts`).
    Original,
    /// Offline upload: running time plus the file's start time (`file-start-time`).
    FileStart { epoch_ns: u64 },
    /// The wall clock when the frame is packaged (`frame-timecodes=false`).
    WallClock,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampConfig {
    pub source: TimestampSource,
    /// `absolute-fragment-times`: epoch-based timecodes; otherwise relative to the first frame.
    pub absolute: bool,
}

/// A frame's mapped times in nanoseconds on the stream's time line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameTimes {
    pub pts_ns: u64,
    pub dts_ns: u64,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TimestampError {
    #[error("the buffer has neither a presentation nor a decode timestamp")]
    Missing,
    #[error("timestamp {0} ns does not fit the stream time line")]
    Overflow(i128),
}

#[derive(Debug, Clone, Copy)]
struct Anchor {
    input_ns: i128,
    output_ns: i128,
}

/// Maps every frame of one stream (all tracks share one anchor, so they stay in step).
#[derive(Debug, Clone)]
pub struct TimestampMapper {
    config: TimestampConfig,
    anchor: Option<Anchor>,
    /// The previous frame's input times, for a frame that carries none.
    last_input: Option<(i128, i128)>,
}

impl TimestampMapper {
    pub fn new(config: TimestampConfig) -> Self {
        TimestampMapper {
            config,
            anchor: None,
            last_input: None,
        }
    }

    pub fn config(&self) -> TimestampConfig {
        self.config
    }

    /// Forget the anchor: the next frame starts a new time line (a restarted stream).
    pub fn reset(&mut self) {
        self.anchor = None;
        self.last_input = None;
    }

    /// `now_epoch_ns` reads the wall clock; it is called at most once, and only when needed.
    /// `pts_ns`/`dts_ns` are the buffer's times (running time, which may be negative for the
    /// DTS of B-frame streams, or raw epoch times for
    /// [`TimestampSource::Original`]).
    /// A missing DTS is taken from the PTS and vice versa; a frame with neither gets the
    /// previous frame's times.
    pub fn map(
        &mut self,
        pts_ns: Option<i64>,
        dts_ns: Option<i64>,
        now_epoch_ns: impl FnOnce() -> u64,
    ) -> Result<FrameTimes, TimestampError> {
        // The clock is read only when needed (wall-clock frames, the anchor), at most once.
        let mut clock = Some(now_epoch_ns);
        let mut cached = None;
        let mut now =
            move || -> u64 { *cached.get_or_insert_with(|| clock.take().map_or(0, |f| f())) };
        let (pts, dts) = match self.config.source {
            TimestampSource::WallClock => {
                let now = i128::from(now());
                (now, now)
            }
            _ => match (pts_ns, dts_ns) {
                (Some(p), Some(d)) => (i128::from(p), i128::from(d)),
                (Some(p), None) => (i128::from(p), i128::from(p)),
                (None, Some(d)) => (i128::from(d), i128::from(d)),
                // Some parsers leave header-carrying buffers unstamped: such a frame
                // belongs with the one before it.
                (None, None) => self.last_input.ok_or(TimestampError::Missing)?,
            },
        };
        self.last_input = Some((pts, dts));
        let anchor = *self.anchor.get_or_insert_with(|| {
            // The earliest of the two is the base so that neither time goes below it.
            let first = pts.min(dts);
            let (input_ns, output_ns) = match (self.config.absolute, self.config.source) {
                (false, _) => (first, 0),
                (true, TimestampSource::Pipeline) => (first, i128::from(now())),
                (true, TimestampSource::FileStart { epoch_ns }) => (0, i128::from(epoch_ns)),
                (true, TimestampSource::Original | TimestampSource::WallClock) => (0, 0),
            };
            Anchor {
                input_ns,
                output_ns,
            }
        });
        Ok(FrameTimes {
            pts_ns: Self::apply(anchor, pts)?,
            dts_ns: Self::apply(anchor, dts)?,
        })
    }

    fn apply(anchor: Anchor, value: i128) -> Result<u64, TimestampError> {
        let out = value - anchor.input_ns + anchor.output_ns;
        // A frame earlier than the anchor (e.g. audio that started before the first video
        // key frame) is pinned to the start rather than wrapped.
        u64::try_from(out.max(0)).map_err(|_| TimestampError::Overflow(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000_000_000_000;

    fn mapper(source: TimestampSource, absolute: bool) -> TimestampMapper {
        TimestampMapper::new(TimestampConfig { source, absolute })
    }

    #[test]
    fn pipeline_absolute_anchors_first_frame_at_wall_clock() {
        let mut m = mapper(TimestampSource::Pipeline, true);
        let first = m.map(Some(5_000), Some(5_000), || NOW).unwrap();
        assert_eq!(first.pts_ns, NOW);
        // Later frames follow running time, not the wall clock passed in.
        let later = m
            .map(Some(1_005_000), Some(1_005_000), || NOW + 77)
            .unwrap();
        assert_eq!(later.pts_ns, NOW + 1_000_000);
        // Once anchored, frames do not read the clock at all (it costs a syscall per frame).
        let third = m
            .map(Some(2_005_000), None, || panic!("clock read"))
            .unwrap();
        assert_eq!(third.pts_ns, NOW + 2_000_000);
    }

    #[test]
    fn pipeline_relative_starts_at_zero() {
        let mut m = mapper(TimestampSource::Pipeline, false);
        assert_eq!(m.map(Some(40), Some(40), || NOW).unwrap().pts_ns, 0);
        assert_eq!(m.map(Some(90), None, || NOW).unwrap().dts_ns, 50);
    }

    #[test]
    fn b_frames_keep_pts_dts_offset_and_never_go_negative() {
        let mut m = mapper(TimestampSource::Pipeline, false);
        // Key frame: DTS before PTS, as encoders with B-frames emit.
        let k = m.map(Some(66), Some(0), || NOW).unwrap();
        assert_eq!((k.pts_ns, k.dts_ns), (66, 0));
        let b = m.map(Some(33), Some(33), || NOW).unwrap();
        assert_eq!((b.pts_ns, b.dts_ns), (33, 33));
    }

    #[test]
    fn original_pts_passes_through_in_absolute_mode() {
        let mut m = mapper(TimestampSource::Original, true);
        assert_eq!(
            m.map(Some(NOW as i64 + 9), Some(NOW as i64), || 1)
                .unwrap()
                .pts_ns,
            NOW + 9
        );
    }

    #[test]
    fn file_start_time_offsets_running_time() {
        let start = 1_600_000_000_000_000_000;
        let mut m = mapper(TimestampSource::FileStart { epoch_ns: start }, true);
        assert_eq!(m.map(Some(0), Some(0), || NOW).unwrap().pts_ns, start);
        assert_eq!(
            m.map(Some(2_000), Some(2_000), || NOW).unwrap().pts_ns,
            start + 2_000
        );
    }

    #[test]
    fn wall_clock_ignores_buffer_times() {
        let mut m = mapper(TimestampSource::WallClock, true);
        let t = m.map(None, None, || NOW).unwrap();
        assert_eq!((t.pts_ns, t.dts_ns), (NOW, NOW));
        let mut rel = mapper(TimestampSource::WallClock, false);
        rel.map(None, None, || NOW).unwrap();
        assert_eq!(rel.map(Some(1), Some(1), || NOW + 10).unwrap().pts_ns, 10);
    }

    #[test]
    fn missing_timestamps_fill_in_from_the_other_or_the_previous_frame() {
        let mut m = mapper(TimestampSource::Pipeline, false);
        assert_eq!(m.map(None, None, || NOW), Err(TimestampError::Missing));
        m.map(Some(10), None, || NOW).unwrap();
        let t = m.map(None, Some(30), || NOW).unwrap();
        assert_eq!((t.pts_ns, t.dts_ns), (20, 20));
        let t = m.map(None, None, || NOW).unwrap();
        assert_eq!((t.pts_ns, t.dts_ns), (20, 20));
    }

    #[test]
    fn frames_before_the_anchor_are_pinned_to_it() {
        let mut m = mapper(TimestampSource::Pipeline, false);
        m.map(Some(1_000), Some(1_000), || NOW).unwrap();
        assert_eq!(m.map(Some(10), Some(10), || NOW).unwrap().pts_ns, 0);
    }

    #[test]
    fn reset_takes_a_new_anchor() {
        let mut m = mapper(TimestampSource::Pipeline, true);
        m.map(Some(0), Some(0), || NOW).unwrap();
        m.reset();
        assert_eq!(
            m.map(Some(500), Some(500), || NOW + 3).unwrap().pts_ns,
            NOW + 3
        );
    }
}
