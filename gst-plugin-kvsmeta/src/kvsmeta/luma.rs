// SPDX-License-Identifier: MPL-2.0
//! Where the motion detector finds luma in each raw video format it accepts.

use gst_video::VideoFormat;
use gst_video::prelude::*;
use kvs_core::motion::{FrameView, MotionError, PixelLayout};

/// The layout of the first plane of `format`, or `None` for formats the detector
/// does not read (10-bit, palettised…): those need a `videoconvert` first.
pub fn layout(format: VideoFormat) -> Option<PixelLayout> {
    use VideoFormat as F;
    let rgb = |r, g, b, pixel_stride| PixelLayout::Rgb {
        r,
        g,
        b,
        pixel_stride,
    };
    let packed = |offset, pixel_stride| PixelLayout::Interleaved {
        offset,
        pixel_stride,
    };
    Some(match format {
        F::I420
        | F::Yv12
        | F::Nv12
        | F::Nv21
        | F::Nv16
        | F::Nv61
        | F::Nv24
        | F::Y41b
        | F::Y42b
        | F::Y444
        | F::A420
        | F::Gray8 => PixelLayout::Luma8,
        F::Yuy2 | F::Yvyu => packed(0, 2),
        F::Uyvy | F::Vyuy => packed(1, 2),
        F::Ayuv => packed(1, 4),
        F::Rgb => rgb(0, 1, 2, 3),
        F::Bgr => rgb(2, 1, 0, 3),
        F::Rgbx | F::Rgba => rgb(0, 1, 2, 4),
        F::Bgrx | F::Bgra => rgb(2, 1, 0, 4),
        F::Xrgb | F::Argb => rgb(1, 2, 3, 4),
        F::Xbgr | F::Abgr => rgb(3, 2, 1, 4),
        _ => return None,
    })
}

/// Raw video in system memory in every format [`layout`] reads: with motion on,
/// negotiation must not pick a format (e.g. Y444_10LE before x264enc) that
/// would only fail once the caps are set.
pub fn caps() -> gst::Caps {
    gst_video::VideoCapsBuilder::new()
        .format_list(VideoFormat::iter_raw().filter(|f| layout(*f).is_some()))
        .build()
}

/// `caps` without the raw system-memory formats the detector cannot read, in
/// the same order of preference. Everything else is left alone (ANY, encoded
/// video, other memory), and so is `caps` when no readable format remains: set_caps
/// then explains the fix instead of a bare not-negotiated error or link failure.
pub fn restrict_raw(caps: gst::Caps) -> gst::Caps {
    if caps.is_any() {
        return caps;
    }
    let readable = self::caps();
    let mut out = gst::Caps::new_empty();
    for (s, f) in caps.iter_with_features() {
        let one = gst::Caps::builder_full()
            .structure_with_features(s.to_owned(), f.to_owned())
            .build();
        let system_raw = s.name() == "video/x-raw"
            && (f.is_empty() || f.contains(gst::CAPS_FEATURE_MEMORY_SYSTEM_MEMORY));
        let kept = if system_raw {
            one.intersect_with_mode(&readable, gst::CapsIntersectMode::First)
        } else {
            one
        };
        out.merge(kept);
    }
    if out.is_empty() { caps } else { out }
}

/// The names of the accepted formats, for error messages.
pub fn supported_formats() -> &'static str {
    "I420, YV12, NV12, NV21, NV16, NV61, NV24, Y41B, Y42B, Y444, A420, GRAY8, YUY2, YVYU, \
     UYVY, VYUY, AYUV, RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, ARGB, ABGR"
}

/// A view of the first plane of a mapped frame.
pub fn view<'a>(
    frame: &'a gst_video::VideoFrameRef<&'a gst::BufferRef>,
    layout: PixelLayout,
) -> Result<FrameView<'a>, MotionError> {
    let data = frame.plane_data(0).unwrap_or(&[]);
    let stride = frame
        .plane_stride()
        .first()
        .and_then(|&s| usize::try_from(s).ok())
        .unwrap_or(0);
    FrameView::new(
        data,
        frame.width() as usize,
        frame.height() as usize,
        stride,
        layout,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_format_has_a_layout() {
        gst::init().unwrap();
        for name in supported_formats().split(", ") {
            let format = VideoFormat::from_string(name);
            assert_ne!(format, VideoFormat::Unknown, "{name}");
            assert!(layout(format).is_some(), "{name}");
        }
        assert!(layout(VideoFormat::I42010le).is_none());
    }

    #[test]
    fn caps_list_exactly_the_readable_formats() {
        gst::init().unwrap();
        let caps = caps();
        let listed: Vec<VideoFormat> = VideoFormat::iter_raw()
            .filter(|f| {
                let one = gst_video::VideoCapsBuilder::new().format(*f).build();
                caps.can_intersect(&one)
            })
            .collect();
        assert!(listed.contains(&VideoFormat::I420));
        assert!(listed.contains(&VideoFormat::Bgrx));
        assert!(!listed.contains(&VideoFormat::Y44410le));
        assert_eq!(listed.len(), supported_formats().split(", ").count());
        assert!(listed.iter().all(|f| layout(*f).is_some()));
    }

    #[test]
    fn restricting_drops_only_unreadable_raw_formats() {
        gst::init().unwrap();
        let raw = |formats: &[VideoFormat]| {
            gst_video::VideoCapsBuilder::new()
                .format_list(formats.iter().copied())
                .build()
        };
        let mixed = raw(&[VideoFormat::Y44410le, VideoFormat::Nv12, VideoFormat::I420]);
        assert_eq!(
            restrict_raw(mixed),
            raw(&[VideoFormat::Nv12, VideoFormat::I420])
        );
        let h264 = gst::Caps::builder("video/x-h264").build();
        assert_eq!(restrict_raw(h264.clone()), h264);
        assert!(restrict_raw(gst::Caps::new_any()).is_any());
        let ten_bit = raw(&[VideoFormat::I42010le]);
        assert_eq!(restrict_raw(ten_bit.clone()), ten_bit);
    }
}
