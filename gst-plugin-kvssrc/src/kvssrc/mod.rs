// SPDX-License-Identifier: MPL-2.0
/**
 * SECTION:element-kvssrc
 *
 * Plays a Kinesis Video Streams stream as one continuous Matroska stream:
 *
 * ```text
 * gst-launch-1.0 kvssrc stream-name=cam1 aws-region=eu-west-1 ! matroskademux ! h264parse ! avdec_h264 ! autovideosink
 * ```
 *
 * Without `end-timestamp` it reads live with GetMedia from `start-selector` on and never
 * ends; when a GetMedia response ends or breaks it reconnects from the last continuation
 * token, so no fragment is played twice or skipped. With `end-timestamp` it lists the
 * archived fragments in [`start-timestamp`, `end-timestamp`] (ListFragments), plays them
 * with GetMediaForFragmentList and then sends EOS.
 *
 * Seeking (archived range only): a flushing TIME seek restarts the range at the fragment
 * holding the target, so playback resumes at the key frame at or before it. The position is
 * stream time, counted from the first frame played (what position queries report), or an
 * absolute output time in epoch nanoseconds. matroskademux drops TIME seeks on a stream without
 * Cues instead of passing them upstream, so kvssrc takes them from the source pads of the
 * element it feeds before they reach it.
 *
 * Every fragment posts an element message `kvs-fragment` (fields `fragment-number`,
 * `producer-timestamp` and `server-timestamp` in epoch ms, `millis-behind-now`,
 * `continuation-token`, `frames`, `pts` (the output time of its first frame) and `tags`, an
 * array of `tag` structures with `name` and `value`: the producer's fragment metadata).
 *
 * Output timestamps: cluster timecodes are rewritten to the fragments' producer (or, with
 * `timestamp-type=server`, server) timestamps, so demuxed buffers carry epoch time.
 *
 * Header changes: the repeated per-fragment headers are merged while tracks stay the same.
 * New codec parameters (a new SPS, another resolution) go out as a fresh header that
 * matroskademux reads in place: same pads, new caps. When the set of tracks changes (a
 * producer adds audio, another codec), matroskademux cannot follow in place, so kvssrc resets
 * the matroskademux it feeds (also inside decodebin/uridecodebin/playbin) and sends a new
 * STREAM_START: the demuxer replaces its pads, and the pads it fed before get EOS once the new
 * ones exist, so decodebin and playbin switch to the new tracks like a chained stream. An
 * application linking matroskademux's pads itself must handle `pad-added` (and should remove
 * what it linked to a removed pad). The new pads carry an offset so running time goes on
 * where the old ones stopped. decodebin3/playbin3 (GStreamer 1.22) do not switch this way:
 * across a track-set change they lose a frame or stop (docs/TROUBLESHOOTING.md). A seek in
 * an archived range lands in whichever track set is there, whatever was read ahead.
 *
 * Re-sent fragments: a fragment with the same producer start time and the same tracks as the
 * one before it is a producer's re-send of a fragment whose ACK it lost (the service stores
 * both); kvssrc plays the first copy only and counts the others in `stats`
 * (`duplicates-skipped`).
 *
 * URI: `kvs://STREAM?region=R&start=S&end=E&endpoint=URL&timestamp-type=producer|server`
 * (all query keys optional; `arn=` may replace STREAM). `start` is `now`, `earliest`,
 * `fragment:NUMBER` (after that fragment), `token:TOKEN`, `producer:TIME`, `server:TIME` or a
 * bare TIME (a timestamp of `timestamp-type`); TIME is epoch seconds (`1700000000.25`) or RFC
 * 3339 (`2026-11-23T10:00:00Z`). `end` is a TIME and selects archived playback.
 *
 * Rank: secondary, so `playbin`/`uridecodebin` pick it for `kvs://` URIs (GStreamer only
 * considers URI handlers of rank marginal or above); no other element handles that scheme.
 */
mod imp;
pub mod uri;

use gst::glib;
use gst::prelude::*;

/// GetMedia's StartSelectorType.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum, Default)]
#[repr(u32)]
#[enum_type(name = "GstKvsSrcStartSelector")]
pub enum StartSelector {
    #[default]
    #[enum_value(name = "Now: the newest fragment on (live)", nick = "now")]
    Now = 0,
    #[enum_value(name = "Earliest: the oldest fragment kept", nick = "earliest")]
    Earliest = 1,
    #[enum_value(
        name = "Fragment number: after start-fragment-number",
        nick = "fragment-number"
    )]
    FragmentNumber = 2,
    #[enum_value(
        name = "Producer timestamp: the fragment holding start-timestamp",
        nick = "producer-timestamp"
    )]
    ProducerTimestamp = 3,
    #[enum_value(
        name = "Server timestamp: the fragment holding start-timestamp",
        nick = "server-timestamp"
    )]
    ServerTimestamp = 4,
    #[enum_value(
        name = "Continuation token: after start-continuation-token",
        nick = "continuation-token"
    )]
    ContinuationToken = 5,
}

/// Which fragment timestamp output times and archive ranges follow.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum, Default)]
#[repr(u32)]
#[enum_type(name = "GstKvsSrcTimestampType")]
pub enum TimestampType {
    #[default]
    #[enum_value(name = "Producer: the producer's clock", nick = "producer")]
    Producer = 0,
    #[enum_value(name = "Server: when the service received it", nick = "server")]
    Server = 1,
}

glib::wrapper! {
    pub struct KvsSrc(ObjectSubclass<imp::KvsSrc>)
        @extends gst_base::PushSrc, gst_base::BaseSrc, gst::Element, gst::Object,
        @implements gst::URIHandler;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    StartSelector::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    TimestampType::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(
        Some(plugin),
        "kvssrc",
        gst::Rank::SECONDARY,
        KvsSrc::static_type(),
    )
}
