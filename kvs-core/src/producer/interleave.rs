// SPDX-License-Identifier: MPL-2.0
//! Audio/video interleaving in decode-timestamp order with a bounded wait.
//!
//! AWS's producer releases a frame only when every track has one queued, so one silent
//! track stalls the stream. Here the caller waits for all tracks until its deadline (the
//! aggregator's latency), then goes on with whatever is there and names the quiet track.

/// The head of one track's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrackHead {
    /// DTS (ns, running time) of the next queued frame; `None` when the queue is empty.
    pub next_dts_ns: Option<i64>,
    /// The track ended and its queue is drained.
    pub eos: bool,
}

/// The next step for the interleaver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// Take the head of this track.
    Track(usize),
    /// A live track has nothing queued and the deadline has not passed: wait.
    NeedData,
    /// Every track ended.
    AllEos,
}

/// Chooses the next frame: the smallest DTS among queued heads; ties go to the lower
/// index (callers list video first so a key frame precedes audio of the same time).
/// Before the deadline (`timed_out == false`), an empty live track means wait.
pub fn pick_next(heads: &[TrackHead], timed_out: bool) -> Pick {
    let mut best: Option<(usize, i64)> = None;
    let mut waiting = false;
    for (idx, head) in heads.iter().enumerate() {
        match head.next_dts_ns {
            Some(dts) if best.is_none_or(|(_, b)| dts < b) => best = Some((idx, dts)),
            Some(_) => {}
            None if !head.eos => waiting = true,
            None => {}
        }
    }
    match best {
        None if waiting => Pick::NeedData,
        None => Pick::AllEos,
        Some(_) if waiting && !timed_out => Pick::NeedData,
        Some((idx, _)) => Pick::Track(idx),
    }
}

/// Remembers which tracks went quiet so that each quiet spell is reported once.
#[derive(Debug, Clone, Default)]
pub struct QuietTracker {
    quiet_since_ns: Vec<Option<u64>>,
}

impl QuietTracker {
    /// Call when the deadline passed. Returns the tracks that just went quiet (not EOS,
    /// nothing queued) so the caller can warn about them; `now_ns` is the output time
    /// reached, recorded to report how long the spell lasted.
    pub fn on_timeout(&mut self, heads: &[TrackHead], now_ns: u64) -> Vec<usize> {
        if self.quiet_since_ns.len() < heads.len() {
            self.quiet_since_ns.resize(heads.len(), None);
        }
        let mut newly_quiet = Vec::new();
        for (idx, head) in heads.iter().enumerate() {
            let quiet = head.next_dts_ns.is_none() && !head.eos;
            if let Some(slot) = self.quiet_since_ns.get_mut(idx)
                && quiet
                && slot.is_none()
            {
                *slot = Some(now_ns);
                newly_quiet.push(idx);
            }
        }
        newly_quiet
    }

    /// Call when a track delivers a frame again. Returns when its quiet spell began, if
    /// it was quiet.
    pub fn on_data(&mut self, track: usize) -> Option<u64> {
        self.quiet_since_ns.get_mut(track).and_then(Option::take)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(dts: Option<i64>, eos: bool) -> TrackHead {
        TrackHead {
            next_dts_ns: dts,
            eos,
        }
    }

    #[test]
    fn picks_smallest_dts_and_prefers_lower_index_on_ties() {
        assert_eq!(
            pick_next(&[head(Some(20), false), head(Some(10), false)], false),
            Pick::Track(1)
        );
        assert_eq!(
            pick_next(&[head(Some(10), false), head(Some(10), false)], false),
            Pick::Track(0)
        );
    }

    #[test]
    fn waits_for_an_empty_live_track_until_timeout() {
        let heads = [head(Some(10), false), head(None, false)];
        assert_eq!(pick_next(&heads, false), Pick::NeedData);
        assert_eq!(pick_next(&heads, true), Pick::Track(0));
    }

    #[test]
    fn ended_tracks_do_not_block() {
        assert_eq!(
            pick_next(&[head(Some(10), false), head(None, true)], false),
            Pick::Track(0)
        );
        assert_eq!(
            pick_next(&[head(None, true), head(None, true)], false),
            Pick::AllEos
        );
        assert_eq!(
            pick_next(&[head(None, false), head(None, true)], true),
            Pick::NeedData
        );
    }

    #[test]
    fn quiet_tracks_are_reported_once_per_spell() {
        let mut q = QuietTracker::default();
        let heads = [head(Some(10), false), head(None, false)];
        assert_eq!(q.on_timeout(&heads, 100), vec![1]);
        assert!(q.on_timeout(&heads, 200).is_empty());
        assert_eq!(q.on_data(1), Some(100));
        assert_eq!(q.on_data(1), None);
        assert_eq!(q.on_timeout(&heads, 300), vec![1]);
    }
}
