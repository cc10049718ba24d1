// SPDX-License-Identifier: MPL-2.0
//! TIME seeking inside an archived range: taking seeks from the demuxer's pads, turning them
//! into a BYTES seek for BaseSrc, and restarting the range where the target is.

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;

use super::{CAT, KvsSrc, State, lock};
use crate::client::Session;

/// A TIME seek position at or above this (≈ 1973 in epoch nanoseconds) is an absolute output
/// time; below it, it is stream time counted from the first frame played.
const ABSOLUTE_SEEK_NS: u64 = 100_000_000 * 1_000_000_000;

/// The seek interception installed on the element downstream (the demuxer).
pub(super) struct SeekWatch {
    element: glib::WeakRef<gst::Element>,
    pad_added: Option<glib::SignalHandlerId>,
}

impl KvsSrc {
    pub(super) fn is_range(&self) -> bool {
        lock(&self.settings).end_timestamp_ms != 0
    }

    /// matroskademux in push mode refuses TIME seeks on a stream without Cues and does not
    /// pass them upstream, so a seek from the application never reaches a source behind it.
    /// In range mode kvssrc therefore watches the upstream events on the pads of the element
    /// it feeds and takes the flushing TIME seeks there, before the demuxer drops them.
    pub(super) fn watch_downstream_seeks(&self) {
        let mut watch = lock(&self.seek_watch);
        if watch.is_some() {
            return;
        }
        let Some(element) = self
            .obj()
            .static_pad("src")
            .and_then(|p| p.peer())
            .and_then(|p| p.parent_element())
        else {
            return;
        };
        let weak = self.obj().downgrade();
        let install = move |pad: &gst::Pad| {
            if pad.direction() != gst::PadDirection::Src {
                return;
            }
            let weak = weak.clone();
            pad.add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
                let Some(gst::PadProbeData::Event(event)) = &info.data else {
                    return gst::PadProbeReturn::Ok;
                };
                let Some(src) = weak.upgrade() else {
                    return gst::PadProbeReturn::Ok;
                };
                if src.imp().take_seek(event) {
                    gst::PadProbeReturn::Handled
                } else {
                    gst::PadProbeReturn::Ok
                }
            });
        };
        for pad in element.src_pads() {
            install(&pad);
        }
        let pad_added = element.connect_pad_added(move |_, pad| install(pad));
        gst::debug!(
            CAT,
            imp = self,
            "taking TIME seeks from {}'s source pads",
            element.name()
        );
        *watch = Some(SeekWatch {
            element: element.downgrade(),
            pad_added: Some(pad_added),
        });
    }

    pub(super) fn unwatch_downstream_seeks(&self) {
        if let Some(mut w) = lock(&self.seek_watch).take()
            && let (Some(element), Some(id)) = (w.element.upgrade(), w.pad_added.take())
        {
            element.disconnect(id);
        }
    }

    /// Handles a seek seen on the demuxer's pads; false lets it continue to the demuxer.
    pub(super) fn take_seek(&self, event: &gst::Event) -> bool {
        let gst::EventView::Seek(seek) = event.view() else {
            return false;
        };
        if seek.get().3.format() != gst::Format::Time {
            return false;
        }
        if let State::Started { seek_seqnum, .. } = &*lock(&self.state)
            && *seek_seqnum == Some(event.seqnum())
        {
            // The same seek through another of the demuxer's pads: already done.
            return true;
        }
        self.obj()
            .static_pad("src")
            .is_some_and(|p| p.send_event(event.clone()))
    }

    /// A TIME seek: remembers the target and lets BaseSrc run a flushing BYTES seek, whose
    /// `do_seek` restarts the range at the fragment holding the target.
    pub(super) fn time_seek(&self, event: &gst::Event, seek: &gst::event::Seek) -> bool {
        let (rate, flags, start_type, start, _, _) = seek.get();
        if !self.is_range() {
            gst::debug!(CAT, imp = self, "live playback cannot seek");
            return false;
        }
        if rate != 1.0 || !flags.contains(gst::SeekFlags::FLUSH) || start_type != gst::SeekType::Set
        {
            gst::warning!(
                CAT,
                imp = self,
                "only flushing seeks to a position at normal rate are supported"
            );
            return false;
        }
        let gst::GenericFormattedValue::Time(Some(position)) = start else {
            return false;
        };
        let offset = {
            let mut state = lock(&self.state);
            let State::Started {
                stream_start_ns,
                last_status,
                session,
                pending_seek_ms,
                seek_seqnum,
                offset,
                ..
            } = &mut *state
            else {
                return false;
            };
            let origin = stream_start_ns
                .or_else(|| session.as_ref().and_then(|s| s.status().first_pts_ns))
                .or(last_status.first_pts_ns)
                .unwrap_or_else(|| {
                    lock(&self.settings)
                        .start_timestamp_ms
                        .saturating_mul(1_000_000)
                });
            let target_ns = if position.nseconds() >= ABSOLUTE_SEEK_NS {
                position.nseconds()
            } else {
                origin.saturating_add(position.nseconds())
            };
            *pending_seek_ms = Some(target_ns / 1_000_000);
            *seek_seqnum = Some(event.seqnum());
            gst::info!(
                CAT,
                imp = self,
                "seek to {position} (output time {} ms)",
                target_ns / 1_000_000
            );
            *offset
        };
        let bytes = gst::event::Seek::builder(
            1.0,
            flags & (gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE),
            gst::SeekType::Set,
            gst::format::Bytes::from_u64(offset),
            gst::SeekType::None,
            gst::format::Bytes::NONE,
        )
        .seqnum(event.seqnum())
        .build();
        self.parent_event(&bytes)
    }

    pub(super) fn restart_range(&self, segment: &mut gst::Segment) -> bool {
        let settings = lock(&self.settings).clone();
        let mut state = lock(&self.state);
        let State::Started {
            session,
            pending_seek_ms,
            header,
            last_status,
            offset,
            ..
        } = &mut *state
        else {
            return false;
        };
        // BaseSrc's start-up seek and BYTES seeks from elsewhere change nothing.
        let Some(target_ms) = pending_seek_ms.take() else {
            return true;
        };
        self.clear_switch_offsets();
        let mut cfg = match settings.session_config() {
            Ok(cfg) => cfg,
            Err(e) => {
                gst::error!(CAT, imp = self, "cannot seek: {e}");
                return false;
            }
        };
        if let Some(s) = session.as_ref() {
            *last_status = s.status();
        }
        cfg.seek_ms = Some(target_ms);
        cfg.continue_header = header.clone();
        gst::debug!(
            CAT,
            imp = self,
            "range restarts at {target_ms} ms, continuing a stream of {} tracks",
            header.as_ref().map_or(0, |h| h.tracks.len())
        );
        // Dropping the old session aborts its requests.
        *session = Some(Session::start(cfg));
        if let Some(start) = segment
            .downcast_ref::<gst::format::Bytes>()
            .and_then(|s| s.start())
        {
            *offset = *start;
        }
        true
    }
}
