// SPDX-License-Identifier: MPL-2.0
//! When each frame and fragment of one stream left the producer, for the ACK reader and the
//! GetMedia reader to measure against. A small ring of recent fragments keyed by cluster
//! timecode: readers look a frame up by (cluster timecode, block index in the cluster).

use std::sync::Mutex;
use std::time::Instant;

/// Fragments remembered; a reader more than this many seconds behind loses its samples
/// (counted as unmatched), which is itself a finding.
const SLOTS: usize = 16;

struct Slot {
    cluster_timecode: u64,
    frame_sent: Vec<Option<Instant>>,
    /// When the fragment's last byte (its END_OF_FRAGMENT tag) was handed to the connection.
    end_sent: Option<Instant>,
}

pub struct SendLog {
    slots: Mutex<Vec<Slot>>,
}

impl SendLog {
    pub fn new(max_frames: usize) -> SendLog {
        let slots = (0..SLOTS)
            .map(|_| Slot {
                cluster_timecode: u64::MAX,
                frame_sent: vec![None; max_frames],
                end_sent: None,
            })
            .collect();
        SendLog {
            slots: Mutex::new(slots),
        }
    }

    fn with_slot<R>(&self, seq: u64, f: impl FnOnce(&mut Slot) -> R) -> Option<R> {
        let mut slots = self.slots.lock().ok()?;
        let i = usize::try_from(seq % SLOTS as u64).ok()?;
        slots.get_mut(i).map(f)
    }

    /// Starts fragment number `seq` (the producer's own count) at `cluster_timecode`.
    pub fn start_fragment(&self, seq: u64, cluster_timecode: u64) {
        self.with_slot(seq, |s| {
            s.cluster_timecode = cluster_timecode;
            s.frame_sent.iter_mut().for_each(|t| *t = None);
            s.end_sent = None;
        });
    }

    pub fn frame_sent(&self, seq: u64, index: usize, at: Instant) {
        self.with_slot(seq, |s| {
            if let Some(t) = s.frame_sent.get_mut(index) {
                *t = Some(at);
            }
        });
    }

    pub fn fragment_ended(&self, seq: u64, at: Instant) {
        self.with_slot(seq, |s| s.end_sent = Some(at));
    }

    fn find<R>(&self, cluster_timecode: u64, f: impl FnOnce(&Slot) -> R) -> Option<R> {
        let slots = self.slots.lock().ok()?;
        slots
            .iter()
            .find(|s| s.cluster_timecode == cluster_timecode)
            .map(f)
    }

    /// When the fragment at `cluster_timecode` was completed on the wire.
    pub fn fragment_end(&self, cluster_timecode: u64) -> Option<Instant> {
        self.find(cluster_timecode, |s| s.end_sent).flatten()
    }

    pub fn frame_time(&self, cluster_timecode: u64, index: usize) -> Option<Instant> {
        self.find(cluster_timecode, |s| {
            s.frame_sent.get(index).copied().flatten()
        })
        .flatten()
    }
}
