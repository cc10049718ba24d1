// SPDX-License-Identifier: MPL-2.0
//! NAL unit framing shared by H.264 and H.265: Annex-B start codes, length-prefixed
//! (AVCC/HVCC) units, and emulation-prevention removal.

use std::borrow::Cow;

use bytes::BufMut;

use super::CodecError;

/// How NAL units are delimited inside a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NalFraming {
    /// `00 00 01` or `00 00 00 01` before each unit (GStreamer `byte-stream`).
    AnnexB,
    /// A big-endian length of `length_size` bytes (1..=4) before each unit
    /// (GStreamer `avc`/`hvc1`/`hev1`, Matroska blocks).
    LengthPrefixed { length_size: u8 },
}

/// True if `data` starts with a start code, allowing extra leading zero bytes.
pub fn starts_with_start_code(data: &[u8]) -> bool {
    let zeros = data.iter().take_while(|&&b| b == 0).count();
    zeros >= 2 && data.get(zeros) == Some(&1)
}

/// Index of the first `00 00 01` at or after `from`.
fn find_start_code(data: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 2 < data.len() {
        // A start code can only begin at i, i+1 or i+2 if data[i+2] is 0 or 1, so
        // other values let the scan jump three bytes.
        match data[i + 2] {
            1 if data[i] == 0 && data[i + 1] == 0 => return Some(i),
            0 => i += 1,
            _ => i += 3,
        }
    }
    None
}

fn trim_trailing_zeros(nal: &[u8]) -> &[u8] {
    let end = nal.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    &nal[..end]
}

/// Iterates the NAL units (without start codes) of an Annex-B buffer. Bytes before the
/// first start code are ignored; zero bytes trailing a unit (the first byte of a
/// 4-byte start code, `trailing_zero_8bits`) are stripped; empty units are skipped.
#[derive(Debug, Clone)]
pub struct AnnexBNals<'a> {
    data: &'a [u8],
    /// Start of the next unit's payload, or None when done.
    next: Option<usize>,
}

impl<'a> AnnexBNals<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        AnnexBNals {
            data,
            next: find_start_code(data, 0).map(|s| s + 3),
        }
    }
}

impl<'a> Iterator for AnnexBNals<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            let start = self.next?;
            let (end, next) = match find_start_code(self.data, start) {
                Some(sc) => (sc, Some(sc + 3)),
                None => (self.data.len(), None),
            };
            self.next = next;
            let nal = trim_trailing_zeros(self.data.get(start..end)?);
            if !nal.is_empty() {
                return Some(nal);
            }
        }
    }
}

/// Converts an Annex-B access unit to 4-byte length-prefixed units appended to `out`
/// (a `Vec<u8>` or `BytesMut`), in one pass with no allocation per unit. Returns the
/// number of units written. Emulation-prevention bytes are kept: they belong to the
/// unit in both framings.
pub fn annexb_to_avcc<B: BufMut>(input: &[u8], out: &mut B) -> Result<usize, CodecError> {
    if !starts_with_start_code(input) {
        return Err(CodecError::NotAnnexB);
    }
    let mut count = 0;
    for nal in AnnexBNals::new(input) {
        let len = u32::try_from(nal.len()).map_err(|_| CodecError::TooLarge {
            what: "NAL unit",
            len: nal.len(),
            max: u32::MAX as usize,
        })?;
        out.put_u32(len);
        out.put_slice(nal);
        count += 1;
    }
    if count == 0 {
        return Err(CodecError::NoNalUnits);
    }
    Ok(count)
}

/// Upper bound of the output size of [`annexb_to_avcc`], for reserving capacity: a
/// 3-byte start code grows by one byte, so at most a third more.
pub fn annexb_to_avcc_capacity(input_len: usize) -> usize {
    input_len + input_len / 3 + 4
}

/// Iterates length-prefixed NAL units. A length running past the end is an error
/// (and ends the iteration); zero-length units are skipped.
#[derive(Debug, Clone)]
pub struct LengthPrefixedNals<'a> {
    data: &'a [u8],
    pos: usize,
    length_size: usize,
}

impl<'a> LengthPrefixedNals<'a> {
    pub fn new(data: &'a [u8], length_size: u8) -> Result<Self, CodecError> {
        if !(1..=4).contains(&length_size) {
            return Err(CodecError::InvalidValue {
                field: "NAL length size",
                value: u64::from(length_size),
            });
        }
        Ok(LengthPrefixedNals {
            data,
            pos: 0,
            length_size: usize::from(length_size),
        })
    }
}

impl<'a> Iterator for LengthPrefixedNals<'a> {
    type Item = Result<&'a [u8], CodecError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.pos >= self.data.len() {
                return None;
            }
            let rest = self.data.get(self.pos..).unwrap_or_default();
            let Some(prefix) = rest.get(..self.length_size) else {
                self.pos = self.data.len();
                return Some(Err(CodecError::Truncated {
                    what: "NAL length prefix",
                    needed: self.length_size,
                    available: rest.len(),
                }));
            };
            let len = prefix
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            let Some(nal) = rest.get(self.length_size..self.length_size.saturating_add(len)) else {
                self.pos = self.data.len();
                return Some(Err(CodecError::Truncated {
                    what: "length-prefixed NAL unit",
                    needed: len,
                    available: rest.len() - self.length_size,
                }));
            };
            self.pos += self.length_size + len;
            if !nal.is_empty() {
                return Some(Ok(nal));
            }
        }
    }
}

/// NAL units of a buffer in either framing.
#[derive(Debug, Clone)]
pub enum Nals<'a> {
    AnnexB(AnnexBNals<'a>),
    LengthPrefixed(LengthPrefixedNals<'a>),
}

impl<'a> Nals<'a> {
    pub fn new(data: &'a [u8], framing: NalFraming) -> Result<Self, CodecError> {
        Ok(match framing {
            NalFraming::AnnexB => Nals::AnnexB(AnnexBNals::new(data)),
            NalFraming::LengthPrefixed { length_size } => {
                Nals::LengthPrefixed(LengthPrefixedNals::new(data, length_size)?)
            }
        })
    }
}

impl<'a> Iterator for Nals<'a> {
    type Item = Result<&'a [u8], CodecError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Nals::AnnexB(it) => it.next().map(Ok),
            Nals::LengthPrefixed(it) => it.next(),
        }
    }
}

/// Removes emulation-prevention bytes (the `03` of every `00 00 03`), giving the RBSP.
/// Borrows when there is nothing to remove.
pub fn remove_emulation_prevention(nal: &[u8]) -> Cow<'_, [u8]> {
    let has_epb = nal.windows(3).any(|w| w == [0, 0, 3]);
    if !has_epb {
        return Cow::Borrowed(nal);
    }
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_mixed_start_codes() {
        let data = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4, 5, 0,
        ];
        let nals: Vec<&[u8]> = AnnexBNals::new(&data).collect();
        assert_eq!(nals, vec![&[0x67, 1, 2][..], &[0x68, 3], &[0x65, 4, 5]]);
    }

    #[test]
    fn converts_to_length_prefixed() {
        let data = [0, 0, 1, 0x67, 9, 0, 0, 0, 1, 0x68];
        let mut out = Vec::new();
        assert_eq!(annexb_to_avcc(&data, &mut out).unwrap(), 2);
        assert_eq!(out, [0, 0, 0, 2, 0x67, 9, 0, 0, 0, 1, 0x68]);
        assert!(out.len() <= annexb_to_avcc_capacity(data.len()));
        assert_eq!(
            annexb_to_avcc(&[0x67, 0, 0, 1], &mut out),
            Err(CodecError::NotAnnexB)
        );
        assert_eq!(
            annexb_to_avcc(&[0, 0, 1, 0, 0, 1], &mut out),
            Err(CodecError::NoNalUnits)
        );
    }

    #[test]
    fn length_prefixed_truncation_is_an_error() {
        let data = [0, 2, 0x41, 0x42, 0, 5, 1];
        let mut it = LengthPrefixedNals::new(&data, 2).unwrap();
        assert_eq!(it.next().unwrap().unwrap(), &[0x41, 0x42]);
        assert!(matches!(it.next(), Some(Err(CodecError::Truncated { .. }))));
        assert!(it.next().is_none());
        assert!(LengthPrefixedNals::new(&data, 5).is_err());
    }

    #[test]
    fn removes_emulation_prevention() {
        let nal = [0x67, 0, 0, 3, 1, 0, 0, 3, 0, 0, 3];
        assert_eq!(
            &*remove_emulation_prevention(&nal),
            &[0x67, 0, 0, 1, 0, 0, 0, 0][..]
        );
        assert!(matches!(
            remove_emulation_prevention(&[1, 2, 3]),
            Cow::Borrowed(_)
        ));
    }
}
