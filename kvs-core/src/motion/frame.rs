// SPDX-License-Identifier: MPL-2.0
//! A borrowed view of one raw video frame's luma, and its reduction to a small
//! grid of mean luma values.
//!
//! The detector never looks at every pixel: a 1080p frame is reduced to at most
//! [`MAX_GRID_WIDTH`]×[`MAX_GRID_HEIGHT`] cells, each the mean of a few evenly
//! spaced rows of the cell. That keeps the cost far below a millisecond on small
//! CPUs while still averaging away sensor noise.

use super::MotionError;

/// Cells across the reduced grid, at most.
pub const MAX_GRID_WIDTH: usize = 160;
/// Cells down the reduced grid, at most.
pub const MAX_GRID_HEIGHT: usize = 120;
/// Pixel rows read per cell row; more rows only add cost, not accuracy, once the
/// cells are averaged against a running background.
const SAMPLED_ROWS_PER_CELL: usize = 4;

/// Where the luma of a pixel is found in a row of the frame's first plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelLayout {
    /// One byte per pixel: the Y plane of I420/YV12/NV12/NV21/Y42B/Y444, or GRAY8.
    Luma8,
    /// Luma is one byte in each `pixel_stride`-byte pixel (or pixel pair, for
    /// 4:2:2 packed formats where every second byte is luma): YUY2 `{offset 0,
    /// stride 2}`, UYVY `{1, 2}`, AYUV `{1, 4}`.
    Interleaved { offset: usize, pixel_stride: usize },
    /// Packed RGB with the byte offsets of R, G and B inside a pixel of
    /// `pixel_stride` bytes (3 for RGB/BGR, 4 for xRGB/RGBx/BGRA…). Luma is
    /// computed with BT.601 weights.
    Rgb {
        r: usize,
        g: usize,
        b: usize,
        pixel_stride: usize,
    },
}

impl PixelLayout {
    fn pixel_stride(self) -> usize {
        match self {
            PixelLayout::Luma8 => 1,
            PixelLayout::Interleaved { pixel_stride, .. }
            | PixelLayout::Rgb { pixel_stride, .. } => pixel_stride,
        }
    }

    fn is_valid(self) -> bool {
        match self {
            PixelLayout::Luma8 => true,
            PixelLayout::Interleaved {
                offset,
                pixel_stride,
            } => pixel_stride > 0 && offset < pixel_stride,
            PixelLayout::Rgb {
                r,
                g,
                b,
                pixel_stride,
            } => r < pixel_stride && g < pixel_stride && b < pixel_stride,
        }
    }
}

/// One frame's first plane, checked so that every row the detector reads is in
/// bounds.
#[derive(Debug, Clone, Copy)]
pub struct FrameView<'a> {
    data: &'a [u8],
    width: usize,
    height: usize,
    stride: usize,
    layout: PixelLayout,
}

impl<'a> FrameView<'a> {
    /// `data` starts at the first byte of the plane; `stride` is the distance in
    /// bytes between rows; `width`/`height` are in pixels.
    pub fn new(
        data: &'a [u8],
        width: usize,
        height: usize,
        stride: usize,
        layout: PixelLayout,
    ) -> Result<Self, MotionError> {
        if width == 0 || height == 0 {
            return Err(MotionError::EmptyFrame { width, height });
        }
        if !layout.is_valid() {
            return Err(MotionError::InvalidLayout(layout));
        }
        let row_bytes = width
            .checked_mul(layout.pixel_stride())
            .ok_or(MotionError::FrameTooLarge)?;
        if stride < row_bytes {
            return Err(MotionError::StrideTooSmall { stride, row_bytes });
        }
        let needed = (height - 1)
            .checked_mul(stride)
            .and_then(|n| n.checked_add(row_bytes))
            .ok_or(MotionError::FrameTooLarge)?;
        if data.len() < needed {
            return Err(MotionError::ShortBuffer {
                len: data.len(),
                needed,
            });
        }
        Ok(FrameView {
            data,
            width,
            height,
            stride,
            layout,
        })
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn height(&self) -> usize {
        self.height
    }

    fn row(&self, y: usize) -> &'a [u8] {
        let start = y * self.stride;
        let len = self.width * self.layout.pixel_stride();
        // In bounds by construction (checked in `new`); the fallback keeps a
        // logic error from becoming a panic in a streaming thread.
        self.data.get(start..start + len).unwrap_or(&[])
    }
}

/// The size of the reduced grid for a frame size: square cells of `cell` pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridShape {
    pub cell: usize,
    pub width: usize,
    pub height: usize,
}

impl GridShape {
    pub fn for_frame(width: usize, height: usize) -> Self {
        let cell = width
            .div_ceil(MAX_GRID_WIDTH)
            .max(height.div_ceil(MAX_GRID_HEIGHT))
            .max(1);
        GridShape {
            cell,
            width: (width / cell).max(1),
            height: (height / cell).max(1),
        }
    }

    pub fn cells(&self) -> usize {
        self.width * self.height
    }
}

/// Fills `out` with the mean luma of each cell of `shape`, row-major.
/// `sums` is scratch space, reused between frames to avoid allocating.
pub(super) fn reduce(
    frame: &FrameView<'_>,
    shape: GridShape,
    sums: &mut Vec<u32>,
    out: &mut Vec<u8>,
) {
    out.clear();
    sums.clear();
    sums.resize(shape.width, 0);
    // A cell may be wider than the frame when the frame is smaller than one cell.
    let cell_w = shape.cell.min(frame.width());
    let cell_h = shape.cell.min(frame.height());
    let rows = SAMPLED_ROWS_PER_CELL.min(cell_h);
    for gy in 0..shape.height {
        sums.fill(0);
        for i in 0..rows {
            let y = gy * shape.cell + i * cell_h / rows;
            add_row(frame.row(y), frame.layout, cell_w, sums);
        }
        let count = (rows * cell_w) as u32;
        out.extend(sums.iter().map(|&s| (s / count) as u8));
    }
}

fn add_luma_cells<const W: usize>(row: &[u8], sums: &mut [u32]) {
    let (cells, _) = row.as_chunks::<W>();
    for (acc, px) in sums.iter_mut().zip(cells) {
        *acc += px.iter().map(|&v| u32::from(v)).sum::<u32>();
    }
}

fn add_row(row: &[u8], layout: PixelLayout, cell_w: usize, sums: &mut [u32]) {
    match layout {
        // Common cell widths get a loop with a constant width, which the compiler
        // unrolls and vectorises: several times faster for small cells.
        PixelLayout::Luma8 => match cell_w {
            2 => add_luma_cells::<2>(row, sums),
            3 => add_luma_cells::<3>(row, sums),
            4 => add_luma_cells::<4>(row, sums),
            6 => add_luma_cells::<6>(row, sums),
            8 => add_luma_cells::<8>(row, sums),
            12 => add_luma_cells::<12>(row, sums),
            16 => add_luma_cells::<16>(row, sums),
            _ => {
                for (acc, px) in sums.iter_mut().zip(row.chunks_exact(cell_w)) {
                    *acc += px.iter().map(|&v| u32::from(v)).sum::<u32>();
                }
            }
        },
        PixelLayout::Interleaved {
            offset,
            pixel_stride,
        } => {
            for (acc, px) in sums.iter_mut().zip(row.chunks_exact(cell_w * pixel_stride)) {
                *acc += px
                    .iter()
                    .skip(offset)
                    .step_by(pixel_stride)
                    .map(|&v| u32::from(v))
                    .sum::<u32>();
            }
        }
        PixelLayout::Rgb {
            r,
            g,
            b,
            pixel_stride,
        } => match pixel_stride {
            3 => add_rgb_cells::<3>(row, [r, g, b], cell_w, sums),
            4 => add_rgb_cells::<4>(row, [r, g, b], cell_w, sums),
            _ => {
                for (acc, px) in sums.iter_mut().zip(row.chunks_exact(cell_w * pixel_stride)) {
                    let mut channels = [0u32; 3];
                    for p in px.chunks_exact(pixel_stride) {
                        for (sum, &at) in channels.iter_mut().zip(&[r, g, b]) {
                            *sum += u32::from(p.get(at).copied().unwrap_or(0));
                        }
                    }
                    *acc += luma_of_sums(channels);
                }
            }
        },
    }
}

/// Packed RGB with a constant pixel size. Luma is linear in the channels, so
/// weighting the channel sums once per cell gives the mean luma without a
/// multiply per pixel.
fn add_rgb_cells<const P: usize>(row: &[u8], rgb: [usize; 3], cell_w: usize, sums: &mut [u32]) {
    // Offsets are below P (checked by PixelLayout::is_valid); min() keeps the
    // indexing provably in bounds.
    let [r, g, b] = rgb.map(|i| i.min(P - 1));
    for (acc, px) in sums.iter_mut().zip(row.chunks_exact(cell_w * P)) {
        let (pixels, _) = px.as_chunks::<P>();
        let mut channels = [0u32; 3];
        for p in pixels {
            channels[0] += u32::from(p[r]);
            channels[1] += u32::from(p[g]);
            channels[2] += u32::from(p[b]);
        }
        *acc += luma_of_sums(channels);
    }
}

/// BT.601 luma weights in 8-bit fixed point (sum 256); u64 because a large
/// cell's weighted sum can exceed u32.
fn luma_of_sums([r, g, b]: [u32; 3]) -> u32 {
    let weighted = 77 * u64::from(r) + 150 * u64::from(g) + 29 * u64::from(b);
    (weighted >> 8) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_shape_limits_cells() {
        assert_eq!(
            GridShape::for_frame(1920, 1080),
            GridShape {
                cell: 12,
                width: 160,
                height: 90
            }
        );
        assert_eq!(
            GridShape::for_frame(640, 480),
            GridShape {
                cell: 4,
                width: 160,
                height: 120
            }
        );
        assert_eq!(
            GridShape::for_frame(3, 2),
            GridShape {
                cell: 1,
                width: 3,
                height: 2
            }
        );
    }

    #[test]
    fn view_rejects_short_buffers_and_bad_strides() {
        let data = [0u8; 100];
        assert_eq!(
            FrameView::new(&data, 10, 11, 10, PixelLayout::Luma8).err(),
            Some(MotionError::ShortBuffer {
                len: 100,
                needed: 110
            })
        );
        assert_eq!(
            FrameView::new(&data, 10, 5, 8, PixelLayout::Luma8).err(),
            Some(MotionError::StrideTooSmall {
                stride: 8,
                row_bytes: 10
            })
        );
        assert!(matches!(
            FrameView::new(&data, 0, 5, 8, PixelLayout::Luma8),
            Err(MotionError::EmptyFrame { .. })
        ));
        let bad = PixelLayout::Interleaved {
            offset: 2,
            pixel_stride: 2,
        };
        assert_eq!(
            FrameView::new(&data, 2, 2, 4, bad).err(),
            Some(MotionError::InvalidLayout(bad))
        );
        // The last row needs only its pixels, not a whole stride.
        assert!(FrameView::new(&data, 10, 10, 10, PixelLayout::Luma8).is_ok());
        assert!(FrameView::new(&data[..95], 5, 10, 10, PixelLayout::Luma8).is_ok());
    }

    #[test]
    fn reduce_averages_cells_across_layouts() {
        // 4x2 frame, cell 1: the grid is the luma itself.
        let luma = [10u8, 20, 30, 40, 50, 60, 70, 80];
        let mut sums = Vec::new();
        let mut out = Vec::new();
        let shape = GridShape::for_frame(4, 2);
        let view = FrameView::new(&luma, 4, 2, 4, PixelLayout::Luma8).unwrap();
        reduce(&view, shape, &mut sums, &mut out);
        assert_eq!(out, luma);

        // The same picture as UYVY-like interleaving (luma at odd bytes).
        let packed: Vec<u8> = luma.iter().flat_map(|&y| [128, y]).collect();
        let layout = PixelLayout::Interleaved {
            offset: 1,
            pixel_stride: 2,
        };
        let view = FrameView::new(&packed, 4, 2, 8, layout).unwrap();
        reduce(&view, shape, &mut sums, &mut out);
        assert_eq!(out, luma);

        // Grey RGB pixels keep their level as luma (weights sum to 256).
        let rgbx: Vec<u8> = luma.iter().flat_map(|&y| [y, y, y, 0]).collect();
        let layout = PixelLayout::Rgb {
            r: 0,
            g: 1,
            b: 2,
            pixel_stride: 4,
        };
        let view = FrameView::new(&rgbx, 4, 2, 16, layout).unwrap();
        reduce(&view, shape, &mut sums, &mut out);
        assert_eq!(out, luma);
    }

    #[test]
    fn reduce_means_over_a_cell_and_honours_stride() {
        // 640x480 has 4-pixel cells; a stride with padding must be skipped.
        let (w, h, stride) = (640, 480, 704);
        let mut data = vec![255u8; stride * h];
        for y in 0..h {
            for x in 0..w {
                data[y * stride + x] = if x % 2 == 0 { 100 } else { 200 };
            }
        }
        let view = FrameView::new(&data, w, h, stride, PixelLayout::Luma8).unwrap();
        let shape = GridShape::for_frame(w, h);
        let (mut sums, mut out) = (Vec::new(), Vec::new());
        reduce(&view, shape, &mut sums, &mut out);
        assert_eq!(out.len(), shape.cells());
        assert!(out.iter().all(|&v| v == 150), "{:?}", &out[..8]);
    }
}
