// SPDX-License-Identifier: MPL-2.0
//! H.265: VPS/SPS fields that matter for a track, and the
//! HEVCDecoderConfigurationRecord (hvcC, ISO/IEC 14496-15 §8.3.3.1).

use bytes::{BufMut, Bytes, BytesMut};

use super::CodecError;
use super::bits::BitReader;
use super::h264::{cropped, put_u16_prefixed};
use super::nal::remove_emulation_prevention;

pub const NAL_BLA_W_LP: u8 = 16;
pub const NAL_IDR_W_RADL: u8 = 19;
pub const NAL_IDR_N_LP: u8 = 20;
pub const NAL_CRA: u8 = 21;
pub const NAL_VPS: u8 = 32;
pub const NAL_SPS: u8 = 33;
pub const NAL_PPS: u8 = 34;
pub const NAL_AUD: u8 = 35;
pub const NAL_PREFIX_SEI: u8 = 39;
pub const NAL_SUFFIX_SEI: u8 = 40;

/// `nal_unit_type` of an H.265 NAL unit (None for an empty unit).
pub fn nal_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|b| (b >> 1) & 0x3f)
}

/// Intra random access point picture (BLA, IDR, CRA and the reserved IRAP types).
pub fn is_irap(nal_type: u8) -> bool {
    (16..=23).contains(&nal_type)
}

/// General profile, tier and level (H.265 §7.3.3); sub-layer entries are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProfileTierLevel {
    pub profile_space: u8,
    pub tier_flag: bool,
    pub profile_idc: u8,
    pub profile_compatibility_flags: u32,
    /// The 48 general constraint indicator bits (progressive, interlaced,
    /// non-packed, frame-only, ...), right-aligned.
    pub constraint_indicator_flags: u64,
    pub level_idc: u8,
}

impl ProfileTierLevel {
    fn parse(r: &mut BitReader<'_>, max_sub_layers_minus1: u8) -> Result<Self, CodecError> {
        let profile_space = r.read_u8(2, "general_profile_space")?;
        let tier_flag = r.read_flag("general_tier_flag")?;
        let profile_idc = r.read_u8(5, "general_profile_idc")?;
        let profile_compatibility_flags = r.read_u32(32, "general_profile_compatibility_flags")?;
        let constraint_indicator_flags = r.read_bits(48, "general constraint flags")?;
        let level_idc = r.read_u8(8, "general_level_idc")?;
        let n = usize::from(max_sub_layers_minus1);
        let mut present = [(false, false); 8];
        for p in present.iter_mut().take(n) {
            *p = (
                r.read_flag("sub_layer_profile_present_flag")?,
                r.read_flag("sub_layer_level_present_flag")?,
            );
        }
        if n > 0 {
            r.skip_bits(2 * (8 - n), "reserved_zero_2bits")?;
        }
        for &(profile, level) in present.iter().take(n) {
            if profile {
                r.skip_bits(88, "sub-layer profile")?;
            }
            if level {
                r.skip_bits(8, "sub_layer_level_idc")?;
            }
        }
        Ok(ProfileTierLevel {
            profile_space,
            tier_flag,
            profile_idc,
            profile_compatibility_flags,
            constraint_indicator_flags,
            level_idc,
        })
    }
}

fn rbsp_after_header<'a>(
    nal: &'a [u8],
    expected_type: u8,
    expected: &'static str,
) -> Result<std::borrow::Cow<'a, [u8]>, CodecError> {
    let t = nal_type(nal).ok_or(CodecError::EmptyNalUnit)?;
    if t != expected_type {
        return Err(CodecError::UnexpectedNalType { expected, found: t });
    }
    let payload = nal.get(2..).ok_or(CodecError::Truncated {
        what: "H.265 NAL header",
        needed: 2,
        available: nal.len(),
    })?;
    Ok(remove_emulation_prevention(payload))
}

/// Video parameter set header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vps {
    pub vps_id: u8,
    pub max_sub_layers: u8,
    pub temporal_id_nesting: bool,
    pub profile_tier_level: ProfileTierLevel,
}

impl Vps {
    pub fn parse(nal: &[u8]) -> Result<Self, CodecError> {
        let rbsp = rbsp_after_header(nal, NAL_VPS, "H.265 VPS (32)")?;
        let mut r = BitReader::new(&rbsp);
        let vps_id = r.read_u8(4, "vps_video_parameter_set_id")?;
        r.skip_bits(2 + 6, "vps base layer flags, vps_max_layers_minus1")?;
        let max_sub_layers_minus1 = r.read_u8(3, "vps_max_sub_layers_minus1")?;
        let temporal_id_nesting = r.read_flag("vps_temporal_id_nesting_flag")?;
        r.skip_bits(16, "vps_reserved_0xffff_16bits")?;
        let profile_tier_level = ProfileTierLevel::parse(&mut r, max_sub_layers_minus1)?;
        Ok(Vps {
            vps_id,
            max_sub_layers: max_sub_layers_minus1 + 1,
            temporal_id_nesting,
            profile_tier_level,
        })
    }
}

/// The parts of a sequence parameter set a track needs; parsing stops after the
/// bit depths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sps {
    pub vps_id: u8,
    pub max_sub_layers: u8,
    pub temporal_id_nesting: bool,
    pub profile_tier_level: ProfileTierLevel,
    pub sps_id: u32,
    pub chroma_format_idc: u8,
    pub separate_colour_plane: bool,
    pub pic_width_in_luma_samples: u32,
    pub pic_height_in_luma_samples: u32,
    /// Left, right, top, bottom offsets in chroma units.
    pub conformance_window: [u32; 4],
    pub bit_depth_luma: u8,
    pub bit_depth_chroma: u8,
    /// Displayed size after the conformance window.
    pub width: u32,
    pub height: u32,
}

impl Sps {
    pub fn parse(nal: &[u8]) -> Result<Self, CodecError> {
        let rbsp = rbsp_after_header(nal, NAL_SPS, "H.265 SPS (33)")?;
        let mut r = BitReader::new(&rbsp);
        let vps_id = r.read_u8(4, "sps_video_parameter_set_id")?;
        let max_sub_layers_minus1 = r.read_u8(3, "sps_max_sub_layers_minus1")?;
        if max_sub_layers_minus1 > 6 {
            return Err(CodecError::InvalidValue {
                field: "sps_max_sub_layers_minus1",
                value: u64::from(max_sub_layers_minus1),
            });
        }
        let temporal_id_nesting = r.read_flag("sps_temporal_id_nesting_flag")?;
        let profile_tier_level = ProfileTierLevel::parse(&mut r, max_sub_layers_minus1)?;
        let sps_id = r.read_ue_max(15, "sps_seq_parameter_set_id")?;
        let chroma_format_idc = r.read_ue_max(3, "chroma_format_idc")? as u8;
        let separate_colour_plane =
            chroma_format_idc == 3 && r.read_flag("separate_colour_plane_flag")?;
        let pic_width_in_luma_samples = r.read_ue("pic_width_in_luma_samples")?;
        let pic_height_in_luma_samples = r.read_ue("pic_height_in_luma_samples")?;
        let mut conformance_window = [0u32; 4];
        if r.read_flag("conformance_window_flag")? {
            for c in &mut conformance_window {
                *c = r.read_ue("conf_win_offset")?;
            }
        }
        let bit_depth_luma = 8 + r.read_ue_max(8, "bit_depth_luma_minus8")? as u8;
        let bit_depth_chroma = 8 + r.read_ue_max(8, "bit_depth_chroma_minus8")? as u8;

        // H.265 Table 6-1: offsets count in chroma samples.
        let (sub_w, sub_h) = match (separate_colour_plane, chroma_format_idc) {
            (false, 1) => (2u64, 2u64),
            (false, 2) => (2, 1),
            _ => (1, 1),
        };
        let [left, right, top, bottom] = conformance_window.map(u64::from);
        let width = cropped(
            "width",
            u64::from(pic_width_in_luma_samples),
            sub_w * (left + right),
        )?;
        let height = cropped(
            "height",
            u64::from(pic_height_in_luma_samples),
            sub_h * (top + bottom),
        )?;
        Ok(Sps {
            vps_id,
            max_sub_layers: max_sub_layers_minus1 + 1,
            temporal_id_nesting,
            profile_tier_level,
            sps_id,
            chroma_format_idc,
            separate_colour_plane,
            pic_width_in_luma_samples,
            pic_height_in_luma_samples,
            conformance_window,
            bit_depth_luma,
            bit_depth_chroma,
            width,
            height,
        })
    }
}

/// One hvcC array: all NAL units of one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HvcArray {
    /// True if every NAL unit of this type is in the array (none in-band).
    pub array_completeness: bool,
    pub nal_type: u8,
    pub nals: Vec<Bytes>,
}

/// HEVCDecoderConfigurationRecord: the CodecPrivate of `V_MPEGH/ISO/HEVC`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HvcDecoderConfig {
    pub profile_tier_level: ProfileTierLevel,
    pub min_spatial_segmentation_idc: u16,
    pub parallelism_type: u8,
    pub chroma_format: u8,
    pub bit_depth_luma_minus8: u8,
    pub bit_depth_chroma_minus8: u8,
    pub avg_frame_rate: u16,
    pub constant_frame_rate: u8,
    pub num_temporal_layers: u8,
    pub temporal_id_nested: bool,
    /// Bytes in each NAL length prefix of the samples: 1, 2 or 4.
    pub nal_length_size: u8,
    pub arrays: Vec<HvcArray>,
}

const HVCC_HEADER_LEN: usize = 23;

impl HvcDecoderConfig {
    pub fn parse(data: &[u8]) -> Result<Self, CodecError> {
        let header = data.get(..HVCC_HEADER_LEN).ok_or(CodecError::Truncated {
            what: "hvcC header",
            needed: HVCC_HEADER_LEN,
            available: data.len(),
        })?;
        let mut r = BitReader::new(header);
        let version = r.read_u8(8, "hvcC configurationVersion")?;
        if version != 1 {
            return Err(CodecError::InvalidValue {
                field: "hvcC configurationVersion",
                value: u64::from(version),
            });
        }
        let profile_space = r.read_u8(2, "hvcC general_profile_space")?;
        let tier_flag = r.read_flag("hvcC general_tier_flag")?;
        let profile_idc = r.read_u8(5, "hvcC general_profile_idc")?;
        let profile_compatibility_flags = r.read_u32(32, "hvcC compatibility flags")?;
        let constraint_indicator_flags = r.read_bits(48, "hvcC constraint flags")?;
        let level_idc = r.read_u8(8, "hvcC general_level_idc")?;
        r.skip_bits(4, "hvcC reserved")?;
        let min_spatial_segmentation_idc = r.read_bits(12, "min_spatial_segmentation_idc")? as u16;
        r.skip_bits(6, "hvcC reserved")?;
        let parallelism_type = r.read_u8(2, "parallelismType")?;
        r.skip_bits(6, "hvcC reserved")?;
        let chroma_format = r.read_u8(2, "chromaFormat")?;
        r.skip_bits(5, "hvcC reserved")?;
        let bit_depth_luma_minus8 = r.read_u8(3, "bitDepthLumaMinus8")?;
        r.skip_bits(5, "hvcC reserved")?;
        let bit_depth_chroma_minus8 = r.read_u8(3, "bitDepthChromaMinus8")?;
        let avg_frame_rate = r.read_bits(16, "avgFrameRate")? as u16;
        let constant_frame_rate = r.read_u8(2, "constantFrameRate")?;
        let num_temporal_layers = r.read_u8(3, "numTemporalLayers")?;
        let temporal_id_nested = r.read_flag("temporalIdNested")?;
        let length_size = r.read_u8(2, "lengthSizeMinusOne")? + 1;
        if length_size == 3 {
            return Err(CodecError::InvalidValue {
                field: "hvcC lengthSizeMinusOne",
                value: 2,
            });
        }
        let num_arrays = r.read_u8(8, "numOfArrays")?;

        let mut pos = HVCC_HEADER_LEN;
        let mut arrays = Vec::with_capacity(usize::from(num_arrays));
        for _ in 0..num_arrays {
            let head = data.get(pos..pos + 3).ok_or(CodecError::Truncated {
                what: "hvcC array header",
                needed: pos + 3,
                available: data.len(),
            })?;
            let count = u16::from_be_bytes([head[1], head[2]]);
            let mut array = HvcArray {
                array_completeness: head[0] & 0x80 != 0,
                nal_type: head[0] & 0x3f,
                nals: Vec::new(),
            };
            pos += 3;
            for _ in 0..count {
                let len_bytes = data.get(pos..pos + 2).ok_or(CodecError::Truncated {
                    what: "hvcC NAL length",
                    needed: pos + 2,
                    available: data.len(),
                })?;
                let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
                let nal = data
                    .get(pos + 2..pos + 2 + len)
                    .ok_or(CodecError::Truncated {
                        what: "hvcC NAL unit",
                        needed: pos + 2 + len,
                        available: data.len(),
                    })?;
                array.nals.push(Bytes::copy_from_slice(nal));
                pos += 2 + len;
            }
            arrays.push(array);
        }
        Ok(HvcDecoderConfig {
            profile_tier_level: ProfileTierLevel {
                profile_space,
                tier_flag,
                profile_idc,
                profile_compatibility_flags,
                constraint_indicator_flags,
                level_idc,
            },
            min_spatial_segmentation_idc,
            parallelism_type,
            chroma_format,
            bit_depth_luma_minus8,
            bit_depth_chroma_minus8,
            avg_frame_rate,
            constant_frame_rate,
            num_temporal_layers,
            temporal_id_nested,
            nal_length_size: length_size,
            arrays,
        })
    }

    /// Builds a record from parameter-set NAL units given in any order: VPS, SPS and
    /// PPS each land in the array of their own type, in that order (AWS's adapter
    /// types arrays by input position instead). Other NAL types are ignored.
    /// Profile, chroma and bit depths come from the first SPS.
    pub fn from_parameter_sets(nals: &[&[u8]]) -> Result<Self, CodecError> {
        let mut by_type: [Vec<Bytes>; 3] = Default::default();
        for nal in nals {
            let t = nal_type(nal).ok_or(CodecError::EmptyNalUnit)?;
            if let Some(slot) = t
                .checked_sub(NAL_VPS)
                .and_then(|i| by_type.get_mut(usize::from(i)))
            {
                slot.push(Bytes::copy_from_slice(nal));
            }
        }
        let [vps, sps, pps] = by_type;
        if vps.is_empty() {
            return Err(CodecError::MissingParameterSet("H.265 VPS"));
        }
        let first_sps = sps
            .first()
            .ok_or(CodecError::MissingParameterSet("H.265 SPS"))?;
        if pps.is_empty() {
            return Err(CodecError::MissingParameterSet("H.265 PPS"));
        }
        let parsed = Sps::parse(first_sps)?;
        let arrays = [(NAL_VPS, vps), (NAL_SPS, sps), (NAL_PPS, pps)]
            .into_iter()
            .map(|(nal_type, nals)| HvcArray {
                // As GStreamer's h265parse and Matroska muxers write it: parameter
                // sets may also appear in-band.
                array_completeness: false,
                nal_type,
                nals,
            })
            .collect();
        Ok(HvcDecoderConfig {
            profile_tier_level: parsed.profile_tier_level,
            min_spatial_segmentation_idc: 0,
            parallelism_type: 0,
            chroma_format: parsed.chroma_format_idc,
            bit_depth_luma_minus8: parsed.bit_depth_luma - 8,
            bit_depth_chroma_minus8: parsed.bit_depth_chroma - 8,
            avg_frame_rate: 0,
            constant_frame_rate: 0,
            num_temporal_layers: parsed.max_sub_layers,
            temporal_id_nested: parsed.temporal_id_nesting,
            nal_length_size: 4,
            arrays,
        })
    }

    /// NAL units of one type across all arrays.
    pub fn nals_of_type(&self, nal_type: u8) -> impl Iterator<Item = &Bytes> {
        self.arrays
            .iter()
            .filter(move |a| a.nal_type == nal_type)
            .flat_map(|a| a.nals.iter())
    }

    /// Parses the first SPS of the record.
    pub fn first_sps(&self) -> Result<Sps, CodecError> {
        let sps = self
            .nals_of_type(NAL_SPS)
            .next()
            .ok_or(CodecError::MissingParameterSet("H.265 SPS"))?;
        Sps::parse(sps)
    }

    pub fn to_bytes(&self) -> Result<Bytes, CodecError> {
        let length_size_minus_one = match self.nal_length_size {
            1 | 2 | 4 => self.nal_length_size - 1,
            other => {
                return Err(CodecError::InvalidValue {
                    field: "hvcC NAL length size",
                    value: u64::from(other),
                });
            }
        };
        let num_arrays = u8::try_from(self.arrays.len()).map_err(|_| CodecError::TooMany {
            what: "hvcC arrays",
            count: self.arrays.len(),
            max: 255,
        })?;
        let ptl = &self.profile_tier_level;
        let mut out = BytesMut::with_capacity(
            HVCC_HEADER_LEN
                + self
                    .arrays
                    .iter()
                    .map(|a| 3 + a.nals.iter().map(|n| n.len() + 2).sum::<usize>())
                    .sum::<usize>(),
        );
        out.put_u8(1);
        out.put_u8(
            (ptl.profile_space & 0x03) << 6
                | u8::from(ptl.tier_flag) << 5
                | (ptl.profile_idc & 0x1f),
        );
        out.put_u32(ptl.profile_compatibility_flags);
        out.put_slice(&ptl.constraint_indicator_flags.to_be_bytes()[2..]);
        out.put_u8(ptl.level_idc);
        out.put_u16(0xf000 | (self.min_spatial_segmentation_idc & 0x0fff));
        out.put_u8(0xfc | (self.parallelism_type & 0x03));
        out.put_u8(0xfc | (self.chroma_format & 0x03));
        out.put_u8(0xf8 | (self.bit_depth_luma_minus8 & 0x07));
        out.put_u8(0xf8 | (self.bit_depth_chroma_minus8 & 0x07));
        out.put_u16(self.avg_frame_rate);
        out.put_u8(
            (self.constant_frame_rate & 0x03) << 6
                | (self.num_temporal_layers & 0x07) << 3
                | u8::from(self.temporal_id_nested) << 2
                | length_size_minus_one,
        );
        out.put_u8(num_arrays);
        for a in &self.arrays {
            let count = u16::try_from(a.nals.len()).map_err(|_| CodecError::TooMany {
                what: "hvcC NAL units in one array",
                count: a.nals.len(),
                max: usize::from(u16::MAX),
            })?;
            out.put_u8(u8::from(a.array_completeness) << 7 | (a.nal_type & 0x3f));
            out.put_u16(count);
            for n in &a.nals {
                put_u16_prefixed(&mut out, n, "hvcC NAL unit")?;
            }
        }
        Ok(out.freeze())
    }
}
