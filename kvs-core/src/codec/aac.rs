// SPDX-License-Identifier: MPL-2.0
//! AAC AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1): the CodecPrivate of `A_AAC`.

use bytes::Bytes;

use super::CodecError;
use super::bits::{BitReader, BitWriter};

/// Sampling frequencies by samplingFrequencyIndex 0..=12.
pub const SAMPLING_FREQUENCIES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// Index value meaning "explicit 24-bit frequency follows".
const EXPLICIT_FREQUENCY_INDEX: u8 = 0x0f;

pub const OBJECT_TYPE_AAC_LC: u8 = 2;

/// The leading fields of an AudioSpecificConfig; what follows them
/// (GASpecificConfig, SBR/PS signalling) is not interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioSpecificConfig {
    /// audioObjectType, with the escape for values 32 and above resolved.
    pub object_type: u8,
    /// None when the frequency was written explicitly (index 15).
    pub sampling_frequency_index: Option<u8>,
    pub sampling_frequency: u32,
    /// 0 means "defined by a program config element".
    pub channel_configuration: u8,
}

/// Object types whose AudioSpecificConfig continues with a GASpecificConfig.
fn has_ga_specific_config(object_type: u8) -> bool {
    matches!(object_type, 1..=4 | 6 | 7 | 17 | 19..=23)
}

impl AudioSpecificConfig {
    pub fn parse(data: &[u8]) -> Result<Self, CodecError> {
        if data.len() < 2 {
            return Err(CodecError::Truncated {
                what: "AudioSpecificConfig",
                needed: 2,
                available: data.len(),
            });
        }
        let mut r = BitReader::new(data);
        let mut object_type = r.read_u8(5, "audioObjectType")?;
        if object_type == 31 {
            object_type = 32 + r.read_u8(6, "audioObjectTypeExt")?;
        }
        if object_type == 0 {
            return Err(CodecError::InvalidValue {
                field: "audioObjectType",
                value: 0,
            });
        }
        let index = r.read_u8(4, "samplingFrequencyIndex")?;
        let (sampling_frequency_index, sampling_frequency) = if index == EXPLICIT_FREQUENCY_INDEX {
            (None, r.read_u32(24, "samplingFrequency")?)
        } else {
            let f = SAMPLING_FREQUENCIES
                .get(usize::from(index))
                .copied()
                .ok_or(CodecError::InvalidValue {
                    field: "samplingFrequencyIndex",
                    value: u64::from(index),
                })?;
            (Some(index), f)
        };
        if sampling_frequency == 0 {
            return Err(CodecError::InvalidValue {
                field: "samplingFrequency",
                value: 0,
            });
        }
        let channel_configuration = r.read_u8(4, "channelConfiguration")?;
        Ok(AudioSpecificConfig {
            object_type,
            sampling_frequency_index,
            sampling_frequency,
            channel_configuration,
        })
    }

    /// A config for `channels` at `sampling_frequency`: the index when the rate is in
    /// the table, the explicit 24-bit form otherwise.
    pub fn new(
        object_type: u8,
        sampling_frequency: u32,
        channels: u32,
    ) -> Result<Self, CodecError> {
        if object_type == 0 || object_type == 31 || object_type > 95 {
            return Err(CodecError::InvalidValue {
                field: "audioObjectType",
                value: u64::from(object_type),
            });
        }
        if sampling_frequency == 0 || sampling_frequency > 0x00ff_ffff {
            return Err(CodecError::InvalidValue {
                field: "samplingFrequency",
                value: u64::from(sampling_frequency),
            });
        }
        let channel_configuration = match channels {
            1..=6 => channels as u8,
            8 => 7,
            other => {
                return Err(CodecError::Unsupported {
                    what: "AAC channel count",
                    detail: format!("{other} channels have no channelConfiguration"),
                });
            }
        };
        let sampling_frequency_index = SAMPLING_FREQUENCIES
            .iter()
            .position(|&f| f == sampling_frequency)
            .map(|i| i as u8);
        Ok(AudioSpecificConfig {
            object_type,
            sampling_frequency_index,
            sampling_frequency,
            channel_configuration,
        })
    }

    /// Channel count, None for channelConfiguration 0 or a reserved value.
    pub fn channels(&self) -> Option<u32> {
        match self.channel_configuration {
            c @ 1..=6 => Some(u32::from(c)),
            7 | 12 | 14 => Some(8),
            11 => Some(7),
            13 => Some(24),
            _ => None,
        }
    }

    /// Serialises the config. Only object types with a GASpecificConfig (AAC Main,
    /// LC, SSR, LTP, ...) can be written: others need signalling this type lacks.
    pub fn to_bytes(&self) -> Result<Bytes, CodecError> {
        if !has_ga_specific_config(self.object_type) {
            return Err(CodecError::Unsupported {
                what: "AudioSpecificConfig writing",
                detail: format!("object type {}", self.object_type),
            });
        }
        let mut w = BitWriter::new();
        if self.object_type >= 32 {
            w.write_bits(31, 5);
            w.write_bits(u64::from(self.object_type - 32), 6);
        } else {
            w.write_bits(u64::from(self.object_type), 5);
        }
        match self.sampling_frequency_index {
            Some(i) => w.write_bits(u64::from(i), 4),
            None => {
                w.write_bits(u64::from(EXPLICIT_FREQUENCY_INDEX), 4);
                w.write_bits(u64::from(self.sampling_frequency), 24);
            }
        }
        w.write_bits(u64::from(self.channel_configuration), 4);
        // GASpecificConfig: frameLengthFlag (1024-sample frames), dependsOnCoreCoder,
        // extensionFlag, all zero.
        w.write_bits(0, 3);
        Ok(Bytes::from(w.into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lc_48k_stereo_is_two_bytes() {
        let asc = AudioSpecificConfig::new(OBJECT_TYPE_AAC_LC, 48000, 2).unwrap();
        assert_eq!(&asc.to_bytes().unwrap()[..], &[0x11, 0x90]);
    }

    #[test]
    fn explicit_frequency_and_escaped_object_type_round_trip() {
        let asc = AudioSpecificConfig {
            object_type: 2,
            sampling_frequency_index: None,
            sampling_frequency: 12345,
            channel_configuration: 1,
        };
        let bytes = asc.to_bytes().unwrap();
        assert_eq!(bytes.len(), 5);
        assert_eq!(AudioSpecificConfig::parse(&bytes).unwrap(), asc);
        // Object type 42 (USAC-like escape): 11111 001010, index 3, 2 channels.
        let mut w = BitWriter::new();
        w.write_bits(31, 5);
        w.write_bits(10, 6);
        w.write_bits(3, 4);
        w.write_bits(2, 4);
        let parsed = AudioSpecificConfig::parse(&w.into_bytes()).unwrap();
        assert_eq!(parsed.object_type, 42);
        assert_eq!(parsed.sampling_frequency, 48000);
        assert_eq!(parsed.channels(), Some(2));
    }

    #[test]
    fn hostile_configs_are_errors() {
        assert!(AudioSpecificConfig::parse(&[0x12]).is_err());
        // Index 13 is reserved.
        assert!(matches!(
            AudioSpecificConfig::parse(&[0x16, 0x90]),
            Err(CodecError::InvalidValue {
                field: "samplingFrequencyIndex",
                value: 13
            })
        ));
        // Explicit frequency cut short.
        assert!(AudioSpecificConfig::parse(&[0x17, 0x80]).is_err());
        assert!(AudioSpecificConfig::new(2, 48000, 9).is_err());
    }
}
