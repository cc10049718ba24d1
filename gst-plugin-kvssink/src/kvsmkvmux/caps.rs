// SPDX-License-Identifier: MPL-2.0
//! The caps the fragmenter's request pads accept.

pub(crate) fn video_caps() -> gst::Caps {
    gst::Caps::builder_full()
        .structure(
            gst::Structure::builder("video/x-h264")
                .field("stream-format", gst::List::new(["avc", "byte-stream"]))
                .field("alignment", "au")
                .build(),
        )
        .structure(
            gst::Structure::builder("video/x-h265")
                .field(
                    "stream-format",
                    gst::List::new(["hvc1", "hev1", "byte-stream"]),
                )
                .field("alignment", "au")
                .build(),
        )
        .build()
}

pub(crate) fn audio_caps() -> gst::Caps {
    gst::Caps::builder_full()
        .structure(
            gst::Structure::builder("audio/mpeg")
                .field("mpegversion", gst::List::new([2i32, 4]))
                .field("stream-format", "raw")
                .field("channels", gst::IntRange::new(1i32, i32::MAX))
                .field("rate", gst::IntRange::new(1i32, i32::MAX))
                .build(),
        )
        .structure(
            gst::Structure::builder("audio/x-alaw")
                .field("channels", gst::IntRange::new(1i32, 2))
                .field("rate", gst::IntRange::new(8000i32, 192_000))
                .build(),
        )
        .structure(
            gst::Structure::builder("audio/x-mulaw")
                .field("channels", gst::IntRange::new(1i32, 2))
                .field("rate", gst::IntRange::new(8000i32, 192_000))
                .build(),
        )
        .build()
}
