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
}
