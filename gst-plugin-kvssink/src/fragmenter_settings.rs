// SPDX-License-Identifier: MPL-2.0
//! The properties that shape the MKV stream. `kvsmkvmux` owns them; `kvssink` exposes the
//! same ParamSpecs and forwards them to its internal fragmenter, so names, types, units
//! and defaults (AWS's) are declared once.

use gst::glib;
use gst::prelude::*;

/// AWS's `streaming-type`. Only `offline` changes what we do (timestamps from
/// `file-start-time`); `near-realtime` is accepted and behaves like `realtime`.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstRsKvsSinkStreamingType")]
pub enum StreamingType {
    #[default]
    #[enum_value(
        name = "Realtime: live media, sent as it is produced",
        nick = "realtime"
    )]
    Realtime = 0,
    #[enum_value(name = "Near-realtime: behaves like realtime", nick = "near-realtime")]
    NearRealtime = 1,
    #[enum_value(
        name = "Offline: recorded media, timestamps start at file-start-time",
        nick = "offline"
    )]
    Offline = 2,
}

pub const DEFAULT_STREAMING_TYPE: StreamingType = StreamingType::Realtime;
pub const DEFAULT_FRAGMENT_DURATION_MS: u32 = 2000;
pub const DEFAULT_KEY_FRAME_FRAGMENTATION: bool = true;
pub const DEFAULT_FRAME_TIMECODES: bool = true;
pub const DEFAULT_ABSOLUTE_FRAGMENT_TIMES: bool = true;
pub const DEFAULT_TIMECODE_SCALE_MS: u32 = 1;
pub const DEFAULT_FILE_START_TIME_S: u64 = 0;
pub const DEFAULT_USE_ORIGINAL_PTS: bool = false;
pub const DEFAULT_CODEC_ID: &str = "V_MPEG4/ISO/AVC";
pub const DEFAULT_TRACK_NAME: &str = "kinesis_video";
/// AWS names the audio track this, whatever track-name says.
pub const AUDIO_TRACK_NAME: &str = "audio";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmenterSettings {
    pub streaming_type: StreamingType,
    pub fragment_duration_ms: u32,
    pub key_frame_fragmentation: bool,
    pub frame_timecodes: bool,
    pub absolute_fragment_times: bool,
    pub timecode_scale_ms: u32,
    pub file_start_time_s: u64,
    pub use_original_pts: bool,
    pub codec_id: String,
    pub track_name: String,
}

impl Default for FragmenterSettings {
    fn default() -> Self {
        FragmenterSettings {
            streaming_type: DEFAULT_STREAMING_TYPE,
            fragment_duration_ms: DEFAULT_FRAGMENT_DURATION_MS,
            key_frame_fragmentation: DEFAULT_KEY_FRAME_FRAGMENTATION,
            frame_timecodes: DEFAULT_FRAME_TIMECODES,
            absolute_fragment_times: DEFAULT_ABSOLUTE_FRAGMENT_TIMES,
            timecode_scale_ms: DEFAULT_TIMECODE_SCALE_MS,
            file_start_time_s: DEFAULT_FILE_START_TIME_S,
            use_original_pts: DEFAULT_USE_ORIGINAL_PTS,
            codec_id: DEFAULT_CODEC_ID.to_owned(),
            track_name: DEFAULT_TRACK_NAME.to_owned(),
        }
    }
}

impl FragmenterSettings {
    /// MKV TimecodeScale in ns; AWS treats 0 as the 1 ms default.
    pub fn timecode_scale_ns(&self) -> u64 {
        u64::from(self.timecode_scale_ms.max(1)) * 1_000_000
    }

    pub fn is_fragmenter_property(name: &str) -> bool {
        param_specs().iter().any(|p| p.name() == name)
    }

    /// Applies a property value; the caller has matched the name against
    /// [`param_specs`], so types are checked by GObject already.
    pub fn set(&mut self, name: &str, value: &glib::Value) {
        let res = match name {
            "streaming-type" => value.get().map(|v| self.streaming_type = v),
            "fragment-duration" => value.get().map(|v| self.fragment_duration_ms = v),
            "key-frame-fragmentation" => value.get().map(|v| self.key_frame_fragmentation = v),
            "frame-timecodes" => value.get().map(|v| self.frame_timecodes = v),
            "absolute-fragment-times" => value.get().map(|v| self.absolute_fragment_times = v),
            "timecode-scale" => value.get().map(|v| self.timecode_scale_ms = v),
            "file-start-time" => value.get().map(|v| self.file_start_time_s = v),
            "use-original-pts" => value.get().map(|v| self.use_original_pts = v),
            "codec-id" => value
                .get::<Option<String>>()
                .map(|v| self.codec_id = v.unwrap_or_else(|| DEFAULT_CODEC_ID.to_owned())),
            "track-name" => value
                .get::<Option<String>>()
                .map(|v| self.track_name = v.unwrap_or_else(|| DEFAULT_TRACK_NAME.to_owned())),
            _ => Ok(()),
        };
        // GObject has type-checked the value against our ParamSpec.
        debug_assert!(res.is_ok(), "property {name}: {res:?}");
    }

    pub fn get(&self, name: &str) -> Option<glib::Value> {
        Some(match name {
            "streaming-type" => self.streaming_type.to_value(),
            "fragment-duration" => self.fragment_duration_ms.to_value(),
            "key-frame-fragmentation" => self.key_frame_fragmentation.to_value(),
            "frame-timecodes" => self.frame_timecodes.to_value(),
            "absolute-fragment-times" => self.absolute_fragment_times.to_value(),
            "timecode-scale" => self.timecode_scale_ms.to_value(),
            "file-start-time" => self.file_start_time_s.to_value(),
            "use-original-pts" => self.use_original_pts.to_value(),
            "codec-id" => self.codec_id.to_value(),
            "track-name" => self.track_name.to_value(),
            _ => return None,
        })
    }
}

/// ParamSpecs of the fragmenter properties, shared by `kvsmkvmux` and `kvssink`.
pub fn param_specs() -> Vec<glib::ParamSpec> {
    vec![
        glib::ParamSpecEnum::builder_with_default("streaming-type", DEFAULT_STREAMING_TYPE)
            .nick("Streaming type")
            .blurb(
                "realtime or near-realtime (both: live media) or offline (recorded media whose \
                 timestamps start at file-start-time)",
            )
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("fragment-duration")
            .nick("Fragment duration")
            .blurb(
                "Milliseconds. With key-frame-fragmentation=false, a fragment ends at the first \
                 key frame at least this long after its start (also the fragment length for \
                 audio-only streams)",
            )
            .default_value(DEFAULT_FRAGMENT_DURATION_MS)
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("key-frame-fragmentation")
            .nick("Key-frame fragmentation")
            .blurb("Start a new fragment at every video key frame")
            .default_value(DEFAULT_KEY_FRAME_FRAGMENTATION)
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("frame-timecodes")
            .nick("Frame timecodes")
            .blurb(
                "Use buffer timestamps; false stamps every frame with the wall clock when it is \
                 packaged",
            )
            .default_value(DEFAULT_FRAME_TIMECODES)
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("absolute-fragment-times")
            .nick("Absolute fragment times")
            .blurb(
                "Cluster timecodes are epoch-based (first frame anchored at the wall clock); \
                 false makes them relative to the first frame",
            )
            .default_value(DEFAULT_ABSOLUTE_FRAGMENT_TIMES)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("timecode-scale")
            .nick("Timecode scale")
            .blurb(
                "Milliseconds per MKV timecode unit (0 means 1). A fragment can be at most \
                 32767 units long; longer ones are closed early with a warning",
            )
            .default_value(DEFAULT_TIMECODE_SCALE_MS)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt64::builder("file-start-time")
            .nick("File start time")
            .blurb(
                "Offline mode: epoch seconds of the file's first frame; 0 means the time \
                 streaming starts",
            )
            .default_value(DEFAULT_FILE_START_TIME_S)
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("use-original-pts")
            .nick("Use original PTS")
            .blurb(
                "Buffer timestamps are already epoch times (ns): send them unchanged instead of \
                 anchoring the stream at the wall clock",
            )
            .default_value(DEFAULT_USE_ORIGINAL_PTS)
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("codec-id")
            .nick("Codec ID")
            .blurb("Matroska CodecID of an H.264 video track (H.265 always uses V_MPEGH/ISO/HEVC)")
            .default_value(Some(DEFAULT_CODEC_ID))
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("track-name")
            .nick("Track name")
            .blurb("Name of the video track (the audio track is always named \"audio\")")
            .default_value(Some(DEFAULT_TRACK_NAME))
            .mutable_ready()
            .build(),
    ]
}
