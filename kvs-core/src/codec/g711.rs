// SPDX-License-Identifier: MPL-2.0
//! G.711 A-law/µ-law as `A_MS/ACM`: an 18-byte little-endian WAVEFORMATEX.
//!
//! AWS's producer writes nAvgBytesPerSec as rate × channels / 8 and wBitsPerSample
//! as 0; G.711 carries one byte per sample, so both are written correctly here.

use bytes::Bytes;

use super::CodecError;

pub const WAVE_FORMAT_ALAW: u16 = 0x0006;
pub const WAVE_FORMAT_MULAW: u16 = 0x0007;
pub const WAVEFORMATEX_LEN: usize = 18;

/// Rates and channel counts AWS's producer accepts for G.711.
pub const MIN_RATE: u32 = 8000;
pub const MAX_RATE: u32 = 192_000;
pub const MAX_CHANNELS: u16 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum G711Law {
    ALaw,
    MuLaw,
}

impl G711Law {
    pub fn format_tag(self) -> u16 {
        match self {
            G711Law::ALaw => WAVE_FORMAT_ALAW,
            G711Law::MuLaw => WAVE_FORMAT_MULAW,
        }
    }

    pub fn from_format_tag(tag: u16) -> Option<Self> {
        match tag {
            WAVE_FORMAT_ALAW => Some(G711Law::ALaw),
            WAVE_FORMAT_MULAW => Some(G711Law::MuLaw),
            _ => None,
        }
    }
}

/// WAVEFORMATEX fields (any format tag when parsing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaveFormatEx {
    pub format_tag: u16,
    pub channels: u16,
    pub samples_per_sec: u32,
    pub avg_bytes_per_sec: u32,
    pub block_align: u16,
    pub bits_per_sample: u16,
    /// Size of the extra bytes after the 18-byte structure.
    pub cb_size: u16,
}

impl WaveFormatEx {
    /// The correct G.711 header: one byte per sample per channel.
    pub fn g711(law: G711Law, rate: u32, channels: u16) -> Result<Self, CodecError> {
        if !(MIN_RATE..=MAX_RATE).contains(&rate) {
            return Err(CodecError::InvalidValue {
                field: "G.711 sample rate",
                value: u64::from(rate),
            });
        }
        if !(1..=MAX_CHANNELS).contains(&channels) {
            return Err(CodecError::InvalidValue {
                field: "G.711 channels",
                value: u64::from(channels),
            });
        }
        Ok(WaveFormatEx {
            format_tag: law.format_tag(),
            channels,
            samples_per_sec: rate,
            avg_bytes_per_sec: rate * u32::from(channels),
            block_align: channels,
            bits_per_sample: 8,
            cb_size: 0,
        })
    }

    pub fn law(&self) -> Option<G711Law> {
        G711Law::from_format_tag(self.format_tag)
    }

    pub fn parse(data: &[u8]) -> Result<Self, CodecError> {
        let b: &[u8; WAVEFORMATEX_LEN] = data
            .get(..WAVEFORMATEX_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(CodecError::Truncated {
                what: "WAVEFORMATEX",
                needed: WAVEFORMATEX_LEN,
                available: data.len(),
            })?;
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let wf = WaveFormatEx {
            format_tag: u16_at(0),
            channels: u16_at(2),
            samples_per_sec: u32_at(4),
            avg_bytes_per_sec: u32_at(8),
            block_align: u16_at(12),
            bits_per_sample: u16_at(14),
            cb_size: u16_at(16),
        };
        if data.len() < WAVEFORMATEX_LEN + usize::from(wf.cb_size) {
            return Err(CodecError::Truncated {
                what: "WAVEFORMATEX extra bytes",
                needed: WAVEFORMATEX_LEN + usize::from(wf.cb_size),
                available: data.len(),
            });
        }
        Ok(wf)
    }

    /// The 18-byte structure (extra bytes, if cb_size says so, are the caller's).
    pub fn to_array(&self) -> [u8; WAVEFORMATEX_LEN] {
        let mut out = [0u8; WAVEFORMATEX_LEN];
        out[0..2].copy_from_slice(&self.format_tag.to_le_bytes());
        out[2..4].copy_from_slice(&self.channels.to_le_bytes());
        out[4..8].copy_from_slice(&self.samples_per_sec.to_le_bytes());
        out[8..12].copy_from_slice(&self.avg_bytes_per_sec.to_le_bytes());
        out[12..14].copy_from_slice(&self.block_align.to_le_bytes());
        out[14..16].copy_from_slice(&self.bits_per_sample.to_le_bytes());
        out[16..18].copy_from_slice(&self.cb_size.to_le_bytes());
        out
    }

    pub fn to_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(&self.to_array())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mulaw_stereo_fields() {
        let wf = WaveFormatEx::g711(G711Law::MuLaw, 16000, 2).unwrap();
        let bytes = wf.to_array();
        assert_eq!(
            bytes,
            [
                7, 0, 2, 0, 0x80, 0x3e, 0, 0, 0, 0x7d, 0, 0, 2, 0, 8, 0, 0, 0
            ]
        );
        assert_eq!(WaveFormatEx::parse(&bytes).unwrap(), wf);
        assert_eq!(wf.law(), Some(G711Law::MuLaw));
    }

    #[test]
    fn invalid_inputs() {
        assert!(WaveFormatEx::g711(G711Law::ALaw, 7999, 1).is_err());
        assert!(WaveFormatEx::g711(G711Law::ALaw, 8000, 3).is_err());
        assert!(WaveFormatEx::parse(&[6, 0, 1]).is_err());
        let mut with_extra = WaveFormatEx::g711(G711Law::ALaw, 8000, 1).unwrap();
        with_extra.cb_size = 2;
        assert!(WaveFormatEx::parse(&with_extra.to_array()).is_err());
    }
}
