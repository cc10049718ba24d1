// SPDX-License-Identifier: MPL-2.0
//! Frame difference against a running background, and the start/end state
//! machine on top of it.

use std::time::Duration;

use super::frame::{FrameView, GridShape, reduce};

/// Default luma difference (0–255) above which a cell counts as changed.
pub const DEFAULT_THRESHOLD: u8 = 25;
/// Default share of changed cells, in percent, that makes a frame a motion frame.
pub const DEFAULT_MIN_AREA_PERCENT: f64 = 1.0;
/// Default quiet time after the last motion frame before motion ends.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(2);

/// The background follows the picture by 1/2^BACKGROUND_SHIFT of the difference
/// per frame: about a second at 30 fps for a stopped object to become background.
const BACKGROUND_SHIFT: u32 = 4;
/// Fractional bits of the fixed-point background.
const FRACTION_BITS: u32 = 8;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MotionConfig {
    /// Luma difference (0–255) between a cell and the background above which the
    /// cell counts as changed.
    pub threshold: u8,
    /// Share of changed cells, in percent (0–100), from which a frame counts as
    /// a motion frame.
    pub min_area_percent: f64,
    /// How long no motion frame must be seen before motion ends. Also keeps a
    /// flickering object from starting and ending motion at every frame.
    pub cooldown: Duration,
}

impl Default for MotionConfig {
    fn default() -> Self {
        MotionConfig {
            threshold: DEFAULT_THRESHOLD,
            min_area_percent: DEFAULT_MIN_AREA_PERCENT,
            cooldown: DEFAULT_COOLDOWN,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MotionEvent {
    /// Motion began on this frame; `area_percent` of the picture changed.
    Start { area_percent: f64 },
    /// Motion has ended (the cooldown elapsed). `duration` runs from the start
    /// to the last motion frame, so the cooldown is not counted.
    End { duration: Duration },
}

impl MotionEvent {
    /// The fragment tag value: `start;area=12.5` (percent) or
    /// `end;duration=3.200s`.
    pub fn tag_value(&self) -> String {
        match self {
            MotionEvent::Start { area_percent } => format!("start;area={area_percent:.1}"),
            MotionEvent::End { duration } => {
                format!("end;duration={:.3}s", duration.as_secs_f64())
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Quiet,
    Moving {
        started: Duration,
        last_motion: Duration,
    },
}

#[derive(Debug, Clone)]
pub struct MotionDetector {
    config: MotionConfig,
    shape: Option<GridShape>,
    /// Mean luma per cell, with FRACTION_BITS fractional bits.
    background: Vec<u16>,
    grid: Vec<u8>,
    sums: Vec<u32>,
    phase: Phase,
    last_area_percent: f64,
}

impl MotionDetector {
    pub fn new(config: MotionConfig) -> Self {
        MotionDetector {
            config,
            shape: None,
            background: Vec::new(),
            grid: Vec::new(),
            sums: Vec::new(),
            phase: Phase::Quiet,
            last_area_percent: 0.0,
        }
    }

    pub fn config(&self) -> &MotionConfig {
        &self.config
    }

    /// Takes effect from the next frame; the background is kept.
    pub fn set_config(&mut self, config: MotionConfig) {
        self.config = config;
    }

    /// Forgets the background and any motion in progress (after a seek or a
    /// flush, where the next frame need not follow the last one). The next frame
    /// becomes the background.
    pub fn reset(&mut self) {
        self.shape = None;
        self.background.clear();
        self.phase = Phase::Quiet;
        self.last_area_percent = 0.0;
    }

    pub fn is_moving(&self) -> bool {
        matches!(self.phase, Phase::Moving { .. })
    }

    /// The changed share of the last frame, in percent.
    pub fn last_area_percent(&self) -> f64 {
        self.last_area_percent
    }

    /// Feeds one frame taken at `at` (any monotonic clock, e.g. running time).
    /// A change of frame size restarts from a fresh background.
    pub fn process(&mut self, frame: &FrameView<'_>, at: Duration) -> Option<MotionEvent> {
        let shape = GridShape::for_frame(frame.width(), frame.height());
        reduce(frame, shape, &mut self.sums, &mut self.grid);
        if self.shape != Some(shape) || self.background.len() != self.grid.len() {
            self.reset();
            self.shape = Some(shape);
            self.background
                .extend(self.grid.iter().map(|&v| u16::from(v) << FRACTION_BITS));
            return None;
        }
        let area = self.compare_and_learn();
        self.last_area_percent = area;
        self.advance(area >= self.config.min_area_percent && area > 0.0, area, at)
    }

    /// Counts changed cells and moves the background towards the frame.
    fn compare_and_learn(&mut self) -> f64 {
        let threshold = i32::from(self.config.threshold);
        let mut changed = 0usize;
        for (bg, &cur) in self.background.iter_mut().zip(&self.grid) {
            let cur = i32::from(cur) << FRACTION_BITS;
            let old = i32::from(*bg);
            let diff = cur - old;
            if (diff.abs() >> FRACTION_BITS) > threshold {
                changed += 1;
            }
            // Stays within 0..=255<<8 because it moves a fraction of the way
            // between two values in that range.
            *bg = (old + (diff >> BACKGROUND_SHIFT)) as u16;
        }
        if self.grid.is_empty() {
            return 0.0;
        }
        changed as f64 * 100.0 / self.grid.len() as f64
    }

    fn advance(&mut self, motion: bool, area: f64, at: Duration) -> Option<MotionEvent> {
        match (self.phase, motion) {
            (Phase::Quiet, true) => {
                self.phase = Phase::Moving {
                    started: at,
                    last_motion: at,
                };
                Some(MotionEvent::Start { area_percent: area })
            }
            (Phase::Quiet, false) => None,
            (Phase::Moving { started, .. }, true) => {
                self.phase = Phase::Moving {
                    started,
                    last_motion: at,
                };
                None
            }
            (
                Phase::Moving {
                    started,
                    last_motion,
                },
                false,
            ) => {
                if at.saturating_sub(last_motion) < self.config.cooldown {
                    return None;
                }
                self.phase = Phase::Quiet;
                Some(MotionEvent::End {
                    duration: last_motion.saturating_sub(started),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::motion::PixelLayout;

    const W: usize = 320;
    const H: usize = 240;
    const FRAME: Duration = Duration::from_millis(33);

    /// A grey frame with a white square of `size` pixels at (`x`, `y`).
    fn square_frame(x: usize, y: usize, size: usize) -> Vec<u8> {
        let mut f = vec![40u8; W * H];
        for row in y..(y + size).min(H) {
            for col in x..(x + size).min(W) {
                f[row * W + col] = 230;
            }
        }
        f
    }

    fn feed(det: &mut MotionDetector, frame: &[u8], n: u32) -> Option<MotionEvent> {
        let view = FrameView::new(frame, W, H, W, PixelLayout::Luma8).unwrap();
        det.process(&view, FRAME * n)
    }

    fn config() -> MotionConfig {
        MotionConfig {
            threshold: 25,
            min_area_percent: 1.0,
            cooldown: Duration::from_millis(500),
        }
    }

    #[test]
    fn static_picture_never_moves() {
        let mut det = MotionDetector::new(config());
        let frame = square_frame(100, 100, 40);
        for n in 0..200 {
            assert_eq!(feed(&mut det, &frame, n), None, "frame {n}");
        }
        assert_eq!(det.last_area_percent(), 0.0);
    }

    #[test]
    fn noise_below_threshold_is_ignored() {
        let mut det = MotionDetector::new(config());
        let base = square_frame(100, 100, 40);
        for n in 0..100u32 {
            // Deterministic +-12 jitter on every pixel, below the threshold.
            let noisy: Vec<u8> = base
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    v.saturating_add(((i as u32 * 7 + n * 13) % 25) as u8)
                        .saturating_sub(12)
                })
                .collect();
            assert_eq!(feed(&mut det, &noisy, n), None, "frame {n}");
        }
    }

    #[test]
    fn moving_square_starts_then_ends_after_cooldown() {
        let mut det = MotionDetector::new(config());
        let mut events = Vec::new();
        // Still, then moving 4 px per frame for 30 frames, then still again.
        let mut n = 0;
        for _ in 0..10 {
            events.extend(feed(&mut det, &square_frame(20, 100, 40), n).map(|e| (n, e)));
            n += 1;
        }
        for step in 0..30 {
            let x = 20 + step * 4;
            events.extend(feed(&mut det, &square_frame(x, 100, 40), n).map(|e| (n, e)));
            n += 1;
        }
        let stopped_at = n - 1;
        for _ in 0..150 {
            events.extend(feed(&mut det, &square_frame(136, 100, 40), n).map(|e| (n, e)));
            n += 1;
        }
        assert_eq!(events.len(), 2, "{events:?}");
        let (start_n, start) = events[0];
        // Frame 10 is the first of the moving run but still at the old place;
        // a 4 px step changes under 1 % of the cells until the trail builds up.
        assert!(
            (11..=15).contains(&start_n),
            "motion started at frame {start_n}"
        );
        let MotionEvent::Start { area_percent } = start else {
            panic!("first event is {start:?}");
        };
        // The square covers 1600 of 76800 pixels; the old and new positions differ.
        assert!(area_percent > 1.0 && area_percent < 10.0, "{area_percent}");
        let (end_n, end) = events[1];
        let MotionEvent::End { duration } = end else {
            panic!("second event is {end:?}");
        };
        assert!(end_n > stopped_at, "ends after the square stopped");
        // The last motion frame comes when the stopped square has blended into
        // the background, plus the cooldown.
        let quiet = FRAME * (end_n - stopped_at);
        assert!(quiet >= Duration::from_millis(500), "{quiet:?}");
        assert!(quiet < Duration::from_secs(3), "{quiet:?}");
        assert!(duration >= FRAME * (stopped_at - start_n), "{duration:?}");
        assert!(!det.is_moving());
    }

    #[test]
    fn small_change_below_min_area_is_not_motion() {
        let mut det = MotionDetector::new(MotionConfig {
            min_area_percent: 5.0,
            ..config()
        });
        for n in 0..60u32 {
            // A 16 px square (0.3 % of the frame) jumping around.
            let frame = square_frame((n as usize * 37) % 300, 50, 16);
            assert_eq!(feed(&mut det, &frame, n), None, "frame {n}");
        }
    }

    #[test]
    fn cooldown_bridges_short_pauses() {
        let mut det = MotionDetector::new(MotionConfig {
            cooldown: Duration::from_secs(10),
            ..config()
        });
        let mut starts = 0;
        let mut ends = 0;
        let mut n = 0;
        for burst in 0..3 {
            for step in 0..10 {
                let frame = square_frame(step * 20, 20 + burst * 60, 40);
                match feed(&mut det, &frame, n) {
                    Some(MotionEvent::Start { .. }) => starts += 1,
                    Some(MotionEvent::End { .. }) => ends += 1,
                    None => {}
                }
                n += 1;
            }
            // A short full stop between bursts.
            for _ in 0..5 {
                let frame = square_frame(180, 20 + burst * 60, 40);
                if feed(&mut det, &frame, n).is_some() {
                    ends += 1;
                }
                n += 1;
            }
        }
        assert_eq!((starts, ends), (1, 0));
        assert!(det.is_moving());
    }

    #[test]
    fn size_change_and_reset_start_a_fresh_background() {
        let mut det = MotionDetector::new(config());
        feed(&mut det, &square_frame(0, 0, 40), 0);
        // A totally different picture of another size is not motion: it becomes
        // the new background.
        let other = vec![200u8; 160 * 120];
        let view = FrameView::new(&other, 160, 120, 160, PixelLayout::Luma8).unwrap();
        assert_eq!(det.process(&view, FRAME), None);
        assert_eq!(det.process(&view, FRAME * 2), None);
        det.reset();
        assert_eq!(feed(&mut det, &square_frame(100, 100, 40), 3), None);
        assert_eq!(feed(&mut det, &square_frame(100, 100, 40), 4), None);
    }

    #[test]
    fn lights_on_is_motion_over_the_whole_picture() {
        let mut det = MotionDetector::new(config());
        assert_eq!(feed(&mut det, &vec![20u8; W * H], 0), None);
        match feed(&mut det, &vec![200u8; W * H], 1) {
            Some(MotionEvent::Start { area_percent }) => assert_eq!(area_percent, 100.0),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tag_values() {
        assert_eq!(
            MotionEvent::Start {
                area_percent: 12.46
            }
            .tag_value(),
            "start;area=12.5"
        );
        assert_eq!(
            MotionEvent::End {
                duration: Duration::from_millis(3200)
            }
            .tag_value(),
            "end;duration=3.200s"
        );
    }
}
