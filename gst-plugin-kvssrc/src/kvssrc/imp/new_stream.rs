// SPDX-License-Identifier: MPL-2.0
//! Starting a new stream downstream when the set of tracks changes.
//!
//! matroskademux (1.22, and its current source alike) reads Tracks once. A Tracks element seen again, after a new
//! EBML header in push mode, only updates tracks it already has: same count, numbers, types
//! and codec IDs, new codec private data → new caps on the same pads (kvssrc relies on that
//! for codec parameter changes). Anything else — a track added or removed, another codec — is
//! a flow error, and neither STREAM_START, FLUSH_STOP nor a DISCONT buffer resets its track
//! table: only its PAUSED→READY transition does. So for a track change kvssrc:
//!
//! 1. remembers what the demuxer's pads feed, then resets the matroskademux it feeds
//!    (directly, or inside decodebin/parsebin/uridecodebin) to READY and back to its parent's
//!    state; the demuxer removes its pads;
//! 2. sends a new STREAM_START (new group id), the caps and a segment, and the next buffer
//!    starts with the new EBML header: the demuxer reads the new tracks and adds a pad for
//!    each, then no-more-pads;
//! 3. on the next `create`, once the demuxer has added the new pads and before any frame
//!    of them: offsets those pads by the running time the old ones had reached (the reset
//!    demuxer counts running time from 0 again, so a pipeline syncing to the clock would see
//!    every new frame as late), and sends EOS into what the old pads fed, so the old branches
//!    finish. decodebin (and so playbin/uridecodebin) treats the new pads as the next group
//!    of a chained stream and switches to it once the old group has drained — the order
//!    oggdemux uses for chained Ogg: new pads, then EOS on the old ones. A plain pipeline
//!    whose sinks on removed pads are kept still ends with EOS.
//!
//! A flushing seek starts running time at 0 again, so it takes the offsets off.

use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;

use super::{CAT, KvsSrc, lock};

/// How far downstream (through ghost pads and single-output elements such as typefind or a
/// queue) a demuxer is looked for.
const MAX_HOPS: usize = 8;
const DEMUXER: &str = "matroskademux";

impl KvsSrc {
    /// Called on the streaming thread before the buffer holding the new header is returned.
    pub(super) fn start_new_stream(&self) {
        let obj = self.obj();
        let Some(src) = obj.static_pad("src") else {
            return;
        };
        match find_demuxer(&src) {
            Some(demuxer) => {
                let old = demuxer.src_pads();
                let switch = Switch {
                    running_time: old.iter().filter_map(reached_running_time).max(),
                    fed: old.iter().filter_map(|p| p.peer()).collect(),
                    demuxer: demuxer.clone(),
                };
                *lock(&self.switch) = Some(switch);
                gst::info!(
                    CAT,
                    imp = self,
                    "tracks changed: resetting {} so it reads the new tracks",
                    demuxer.path_string()
                );
                // From the streaming thread, outside any push: the demuxer's sink pad is idle,
                // so deactivating it does not wait on this thread.
                if demuxer.set_state(gst::State::Ready).is_err() {
                    gst::warning!(CAT, imp = self, "{} refused READY", demuxer.name());
                }
                if demuxer.sync_state_with_parent().is_err() {
                    gst::warning!(
                        CAT,
                        imp = self,
                        "{} did not return to its parent's state",
                        demuxer.name()
                    );
                }
            }
            None => gst::warning!(
                CAT,
                imp = self,
                "tracks changed but no {DEMUXER} downstream to reset: a demuxer that reads \
                 Tracks only once will fail on the new header"
            ),
        }
        let group = gst::GroupId::next();
        let stream_id = src.create_stream_id(&*obj, Some(&format!("tracks-{group:?}")));
        let events = [
            Some(
                gst::event::StreamStart::builder(&stream_id)
                    .group_id(group)
                    .build(),
            ),
            src.current_caps().map(|c| gst::event::Caps::new(&c)),
            Some(gst::event::Segment::new(&obj.segment())),
        ];
        for event in events.into_iter().flatten() {
            if !src.push_event(event) {
                gst::debug!(CAT, imp = self, "downstream refused a new-stream event");
            }
        }
    }
}

impl KvsSrc {
    /// Settles the pads of a demuxer reset for new tracks (see the module documentation).
    pub(super) fn finish_switch(&self) {
        let Some(switch) = lock(&self.switch).take() else {
            return;
        };
        if let Some(rt) = switch.running_time {
            let offset = i64::try_from(rt.nseconds()).unwrap_or(i64::MAX);
            for pad in switch.demuxer.src_pads() {
                gst::debug!(
                    CAT,
                    imp = self,
                    "{} continues at running time {rt}",
                    pad.name()
                );
                pad.set_offset(offset);
            }
        }
        for pad in switch.fed {
            // A pad the application already removed with its element refuses it: fine.
            if !pad.send_event(gst::event::Eos::new()) {
                gst::debug!(CAT, imp = self, "{} took no EOS", pad.name());
            }
        }
    }

    /// A flushing seek restarts running time: pads offset by a switch start from 0 too.
    pub(super) fn clear_switch_offsets(&self) {
        *lock(&self.switch) = None;
        let Some(demuxer) = self.obj().static_pad("src").and_then(|p| find_demuxer(&p)) else {
            return;
        };
        for pad in demuxer.src_pads() {
            pad.set_offset(0);
        }
    }
}

/// What a reset demuxer's new pads need once they exist.
pub(super) struct Switch {
    demuxer: gst::Element,
    /// Where the old pads' running time had got to.
    running_time: Option<gst::ClockTime>,
    /// What the old pads fed.
    fed: Vec<gst::Pad>,
}

/// The running time a demuxer source pad has reached: its position (stream time) mapped
/// through its segment, plus any offset it already carries.
fn reached_running_time(pad: &gst::Pad) -> Option<gst::ClockTime> {
    let stream_time = pad.query_position::<gst::ClockTime>()?;
    let event = pad.sticky_event::<gst::event::Segment>(0)?;
    let segment = event.segment().downcast_ref::<gst::ClockTime>()?.clone();
    let position = segment.position_from_stream_time(stream_time)?;
    let running = segment.to_running_time(position)?;
    let offset = u64::try_from(pad.offset()).unwrap_or(0);
    Some(running + gst::ClockTime::from_nseconds(offset))
}

/// The matroskademux our output reaches, following ghost pads into bins and passing through
/// elements with a single source pad (typefind, queues).
fn find_demuxer(src: &gst::Pad) -> Option<gst::Element> {
    let mut pad = src.peer()?;
    for _ in 0..MAX_HOPS {
        if let Some(ghost) = pad.downcast_ref::<gst::GhostPad>() {
            pad = ghost.target()?;
            continue;
        }
        let element = pad.parent_element()?;
        if element
            .factory()
            .is_some_and(|f| f.name().as_str() == DEMUXER)
        {
            return Some(element);
        }
        let mut srcs = element.src_pads().into_iter();
        let (Some(only), None) = (srcs.next(), srcs.next()) else {
            return None;
        };
        pad = only.peer()?;
    }
    None
}
