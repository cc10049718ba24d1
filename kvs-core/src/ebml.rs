// SPDX-License-Identifier: MPL-2.0
//! EBML primitives: variable-length integers, element IDs and the small element writers the
//! MKV writer is built from.
//!
//! Reading functions take a byte slice and return `Ok(None)` when the slice is too short to
//! decide, so streaming callers can wait for more input without copying.

use bytes::BufMut;
use thiserror::Error;

/// Longest element ID KVS documents declare (EBMLMaxIDLength).
pub const MAX_ID_LEN: usize = 4;
/// Longest size vint KVS documents declare (EBMLMaxSizeLength).
pub const MAX_SIZE_LEN: usize = 8;
/// Longest element header: ID plus size.
pub const MAX_HEADER_LEN: usize = MAX_ID_LEN + MAX_SIZE_LEN;
/// Largest value a size vint can carry (the all-ones 8-byte pattern means "unknown").
pub const MAX_SIZE_VALUE: u64 = (1 << 56) - 2;

/// Malformed EBML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum EbmlError {
    #[error("invalid vint: leading byte 0x00")]
    InvalidVint,
    #[error("element ID longer than {MAX_ID_LEN} bytes")]
    IdTooLong,
    #[error("value {value} does not fit in a {width}-byte vint")]
    VintOverflow { value: u64, width: usize },
    #[error("integer element of {0} bytes (at most 8 allowed)")]
    IntegerTooLong(usize),
    #[error("float element of {0} bytes (0, 4 or 8 allowed)")]
    InvalidFloatSize(usize),
}

/// A decoded element size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElementSize {
    Known(u64),
    /// All value bits set: the element runs until something that cannot be its child.
    Unknown,
}

impl ElementSize {
    pub fn known(self) -> Option<u64> {
        match self {
            ElementSize::Known(v) => Some(v),
            ElementSize::Unknown => None,
        }
    }
}

/// Length in bytes of a vint whose first byte is `first`; `None` for 0x00 (no marker bit in
/// the first 8 bits, which EBMLMaxSizeLength 8 forbids).
#[inline]
pub fn vint_len(first: u8) -> Option<usize> {
    if first == 0 {
        None
    } else {
        Some(first.leading_zeros() as usize + 1)
    }
}

/// Reads a vint with its length marker removed: `(value, length)`.
#[inline]
pub fn read_vint(buf: &[u8]) -> Result<Option<(u64, usize)>, EbmlError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let len = vint_len(first).ok_or(EbmlError::InvalidVint)?;
    let Some(rest) = buf.get(1..len) else {
        return Ok(None);
    };
    // The marker bit sits at position (8 - len) of the first byte; for len 8 nothing is left.
    let mut value = u64::from(first) & (0xFFu64 >> len);
    for &b in rest {
        value = (value << 8) | u64::from(b);
    }
    Ok(Some((value, len)))
}

/// Reads an element ID, keeping its marker bits as Matroska IDs are written (`0x1A45DFA3`).
#[inline]
pub fn read_id(buf: &[u8]) -> Result<Option<(u32, usize)>, EbmlError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let len = vint_len(first).ok_or(EbmlError::InvalidVint)?;
    if len > MAX_ID_LEN {
        return Err(EbmlError::IdTooLong);
    }
    let Some(bytes) = buf.get(..len) else {
        return Ok(None);
    };
    let id = bytes.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
    Ok(Some((id, len)))
}

/// Reads an element size vint.
#[inline]
pub fn read_size(buf: &[u8]) -> Result<Option<(ElementSize, usize)>, EbmlError> {
    let Some((value, len)) = read_vint(buf)? else {
        return Ok(None);
    };
    let all_ones = (1u64 << (7 * len)) - 1;
    let size = if value == all_ones {
        ElementSize::Unknown
    } else {
        ElementSize::Known(value)
    };
    Ok(Some((size, len)))
}

/// Smallest vint width that can carry `value` as a known size.
pub fn min_vint_width(value: u64) -> usize {
    let mut width = 1;
    // All-ones is reserved for "unknown", hence the `- 1`.
    while width < MAX_SIZE_LEN && value >= (1u64 << (7 * width)) - 1 {
        width += 1;
    }
    width
}

/// Encodes `value` as a vint of exactly `width` bytes (1..=8).
pub fn write_vint(value: u64, width: usize, out: &mut impl BufMut) -> Result<(), EbmlError> {
    if !(1..=MAX_SIZE_LEN).contains(&width) || value >= (1u64 << (7 * width)) - 1 {
        return Err(EbmlError::VintOverflow { value, width });
    }
    let marked = value | (1u64 << (7 * width));
    out.put_slice(&marked.to_be_bytes()[8 - width..]);
    Ok(())
}

/// Encodes `value` as a size vint at least `min_width` bytes wide.
pub fn write_size(value: u64, min_width: usize, out: &mut impl BufMut) -> Result<(), EbmlError> {
    write_vint(value, min_vint_width(value).max(min_width), out)
}

/// Writes an element ID (marker bits included, as the constants in `mkv::ids` are).
pub fn write_id(id: u32, out: &mut impl BufMut) {
    let bytes = id.to_be_bytes();
    let skip = (id.leading_zeros() / 8).min(3) as usize;
    out.put_slice(&bytes[skip..]);
}

/// Number of bytes a big-endian unsigned integer needs (at least 1).
pub fn uint_width(value: u64) -> usize {
    (8 - value.leading_zeros() as usize / 8).max(1)
}

/// Writes an unsigned integer element in `max(min_width, needed)` bytes.
pub fn write_uint_element(id: u32, value: u64, min_width: usize, out: &mut impl BufMut) {
    let width = uint_width(value).max(min_width).min(8);
    write_id(id, out);
    // Width ≤ 8 always fits a 1-byte size.
    out.put_u8(0x80 | width as u8);
    out.put_slice(&value.to_be_bytes()[8 - width..]);
}

/// Writes a 64-bit float element.
pub fn write_f64_element(id: u32, value: f64, out: &mut impl BufMut) {
    write_id(id, out);
    out.put_u8(0x88);
    out.put_f64(value);
}

/// Writes a binary or string element with a minimal-width size.
pub fn write_bytes_element(id: u32, data: &[u8], out: &mut impl BufMut) -> Result<(), EbmlError> {
    write_bytes_element_sized(id, data, 1, out)
}

/// Writes a binary or string element with a size vint at least `min_size_width` bytes wide.
pub fn write_bytes_element_sized(
    id: u32,
    data: &[u8],
    min_size_width: usize,
    out: &mut impl BufMut,
) -> Result<(), EbmlError> {
    write_id(id, out);
    write_size(data.len() as u64, min_size_width, out)?;
    out.put_slice(data);
    Ok(())
}

/// Decodes an unsigned integer element body (0 to 8 bytes, big-endian).
pub fn read_uint(body: &[u8]) -> Result<u64, EbmlError> {
    if body.len() > 8 {
        return Err(EbmlError::IntegerTooLong(body.len()));
    }
    Ok(body.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

/// Decodes a float element body (empty = 0.0).
pub fn read_float(body: &[u8]) -> Result<f64, EbmlError> {
    match body {
        [] => Ok(0.0),
        [a, b, c, d] => Ok(f64::from(f32::from_be_bytes([*a, *b, *c, *d]))),
        [a, b, c, d, e, f, g, h] => Ok(f64::from_be_bytes([*a, *b, *c, *d, *e, *f, *g, *h])),
        other => Err(EbmlError::InvalidFloatSize(other.len())),
    }
}

/// Decodes a string element body; Matroska allows trailing NUL padding, and text from a
/// peer that is not UTF-8 is kept readable rather than rejected.
pub fn read_string(body: &[u8]) -> String {
    let end = body.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    String::from_utf8_lossy(body.get(..end).unwrap_or_default()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vint_round_trip_all_widths() {
        for width in 1..=8 {
            let max = (1u64 << (7 * width)) - 2;
            for value in [0, 1, max / 2, max] {
                let mut out = Vec::new();
                write_vint(value, width, &mut out).unwrap();
                assert_eq!(out.len(), width);
                assert_eq!(read_vint(&out).unwrap(), Some((value, width)));
                assert_eq!(
                    read_size(&out).unwrap(),
                    Some((ElementSize::Known(value), width))
                );
            }
            let mut out = Vec::new();
            assert!(write_vint(max + 1, width, &mut out).is_err());
        }
    }

    #[test]
    fn unknown_sizes_and_errors() {
        assert_eq!(read_size(&[0xFF]).unwrap(), Some((ElementSize::Unknown, 1)));
        assert_eq!(
            read_size(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]).unwrap(),
            Some((ElementSize::Unknown, 8))
        );
        assert_eq!(read_vint(&[0x00]), Err(EbmlError::InvalidVint));
        assert_eq!(read_vint(&[0x40]).unwrap(), None);
        assert_eq!(read_id(&[0x08, 0, 0, 0, 0]), Err(EbmlError::IdTooLong));
        assert_eq!(
            read_id(&[0x1A, 0x45, 0xDF, 0xA3]).unwrap(),
            Some((0x1A45_DFA3, 4))
        );
    }

    #[test]
    fn ids_and_uints_write_as_matroska_does() {
        let mut out = Vec::new();
        write_id(0xA3, &mut out);
        write_id(0x4286, &mut out);
        write_id(0x2AD7B1, &mut out);
        assert_eq!(out, [0xA3, 0x42, 0x86, 0x2A, 0xD7, 0xB1]);
        let mut out = Vec::new();
        write_uint_element(0xA7, 0, 1, &mut out);
        write_uint_element(0xB0, 640, 2, &mut out);
        assert_eq!(out, [0xA7, 0x81, 0x00, 0xB0, 0x82, 0x02, 0x80]);
        assert_eq!(min_vint_width(126), 1);
        assert_eq!(min_vint_width(127), 2);
        assert_eq!(read_string(b"abc\0\0"), "abc");
        assert_eq!(read_float(&48000f64.to_be_bytes()).unwrap(), 48000.0);
    }
}
