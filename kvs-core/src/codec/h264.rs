// SPDX-License-Identifier: MPL-2.0
//! H.264: sequence parameter set fields that matter for a track, and the
//! AVCDecoderConfigurationRecord (avcC, ISO/IEC 14496-15 §5.3.3.1).

use bytes::{BufMut, Bytes, BytesMut};

use super::CodecError;
use super::bits::BitReader;
use super::nal::remove_emulation_prevention;

pub const NAL_SLICE: u8 = 1;
pub const NAL_IDR_SLICE: u8 = 5;
pub const NAL_SEI: u8 = 6;
pub const NAL_SPS: u8 = 7;
pub const NAL_PPS: u8 = 8;
pub const NAL_AUD: u8 = 9;
pub const NAL_SPS_EXT: u8 = 13;

/// `nal_unit_type` of an H.264 NAL unit (None for an empty unit).
pub fn nal_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|b| b & 0x1f)
}

/// Profiles whose SPS carries chroma format and bit depths (H.264 §7.3.2.1.1).
fn sps_has_chroma_info(profile_idc: u8) -> bool {
    matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    )
}

/// Profiles for which avcC carries the chroma/bit-depth trailer (ISO/IEC 14496-15
/// lists High, High 10, High 4:2:2 and High 4:4:4; 144 is the withdrawn original
/// High 4:4:4, 244 its successor).
pub fn avcc_has_high_profile_ext(profile_idc: u8) -> bool {
    matches!(profile_idc, 100 | 110 | 122 | 144 | 244)
}

/// The parts of a sequence parameter set a track needs. Parsing stops before the VUI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sps {
    pub profile_idc: u8,
    /// constraint_set0..5 flags and the two reserved bits, as in the NAL.
    pub constraint_flags: u8,
    pub level_idc: u8,
    pub seq_parameter_set_id: u32,
    /// 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4.
    pub chroma_format_idc: u8,
    pub separate_colour_plane: bool,
    pub bit_depth_luma: u8,
    pub bit_depth_chroma: u8,
    pub pic_width_in_mbs: u32,
    pub pic_height_in_map_units: u32,
    pub frame_mbs_only: bool,
    /// Left, right, top, bottom offsets in crop units.
    pub frame_crop: [u32; 4],
    /// Displayed size after cropping.
    pub width: u32,
    pub height: u32,
}

fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Result<(), CodecError> {
    let mut last = 8i32;
    let mut next = 8i32;
    for _ in 0..size {
        if next != 0 {
            let delta = r.read_se("delta_scale")?;
            if !(-128..=127).contains(&delta) {
                return Err(CodecError::InvalidValue {
                    field: "delta_scale",
                    value: u64::from(delta.unsigned_abs()),
                });
            }
            next = (last + delta + 256) % 256;
        }
        if next != 0 {
            last = next;
        }
    }
    Ok(())
}

impl Sps {
    /// Parses an SPS NAL unit (starting with its one-byte header).
    pub fn parse(nal: &[u8]) -> Result<Self, CodecError> {
        let t = nal_type(nal).ok_or(CodecError::EmptyNalUnit)?;
        if t != NAL_SPS {
            return Err(CodecError::UnexpectedNalType {
                expected: "H.264 SPS (7)",
                found: t,
            });
        }
        let rbsp = remove_emulation_prevention(nal.get(1..).unwrap_or_default());
        let mut r = BitReader::new(&rbsp);
        let profile_idc = r.read_u8(8, "profile_idc")?;
        let constraint_flags = r.read_u8(8, "constraint flags")?;
        let level_idc = r.read_u8(8, "level_idc")?;
        let seq_parameter_set_id = r.read_ue_max(31, "seq_parameter_set_id")?;

        let mut chroma_format_idc = 1u8;
        let mut separate_colour_plane = false;
        let mut bit_depth_luma = 8u8;
        let mut bit_depth_chroma = 8u8;
        if sps_has_chroma_info(profile_idc) {
            chroma_format_idc = r.read_ue_max(3, "chroma_format_idc")? as u8;
            if chroma_format_idc == 3 {
                separate_colour_plane = r.read_flag("separate_colour_plane_flag")?;
            }
            bit_depth_luma = 8 + r.read_ue_max(6, "bit_depth_luma_minus8")? as u8;
            bit_depth_chroma = 8 + r.read_ue_max(6, "bit_depth_chroma_minus8")? as u8;
            r.skip_bits(1, "qpprime_y_zero_transform_bypass_flag")?;
            if r.read_flag("seq_scaling_matrix_present_flag")? {
                let lists = if chroma_format_idc == 3 { 12 } else { 8 };
                for i in 0..lists {
                    if r.read_flag("seq_scaling_list_present_flag")? {
                        skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                    }
                }
            }
        }
        r.read_ue_max(12, "log2_max_frame_num_minus4")?;
        match r.read_ue_max(2, "pic_order_cnt_type")? {
            0 => {
                r.read_ue_max(12, "log2_max_pic_order_cnt_lsb_minus4")?;
            }
            1 => {
                r.skip_bits(1, "delta_pic_order_always_zero_flag")?;
                r.read_se("offset_for_non_ref_pic")?;
                r.read_se("offset_for_top_to_bottom_field")?;
                let n = r.read_ue_max(255, "num_ref_frames_in_pic_order_cnt_cycle")?;
                for _ in 0..n {
                    r.read_se("offset_for_ref_frame")?;
                }
            }
            _ => {}
        }
        r.read_ue("max_num_ref_frames")?;
        r.skip_bits(1, "gaps_in_frame_num_value_allowed_flag")?;
        let pic_width_in_mbs = r.read_ue("pic_width_in_mbs_minus1")?.saturating_add(1);
        let pic_height_in_map_units = r
            .read_ue("pic_height_in_map_units_minus1")?
            .saturating_add(1);
        let frame_mbs_only = r.read_flag("frame_mbs_only_flag")?;
        if !frame_mbs_only {
            r.skip_bits(1, "mb_adaptive_frame_field_flag")?;
        }
        r.skip_bits(1, "direct_8x8_inference_flag")?;
        let mut frame_crop = [0u32; 4];
        if r.read_flag("frame_cropping_flag")? {
            for c in &mut frame_crop {
                *c = r.read_ue("frame_crop_offset")?;
            }
        }

        // H.264 §7.4.2.1.1: crop units depend on the chroma subsampling.
        let chroma_array_type = if separate_colour_plane {
            0
        } else {
            chroma_format_idc
        };
        let field_factor = if frame_mbs_only { 1u64 } else { 2 };
        let (crop_unit_x, crop_unit_y) = match chroma_array_type {
            0 => (1u64, field_factor),
            1 => (2, 2 * field_factor),
            2 => (2, field_factor),
            _ => (1, field_factor),
        };
        let coded_w = u64::from(pic_width_in_mbs) * 16;
        let coded_h = u64::from(pic_height_in_map_units) * 16 * field_factor;
        let crop_w = crop_unit_x * (u64::from(frame_crop[0]) + u64::from(frame_crop[1]));
        let crop_h = crop_unit_y * (u64::from(frame_crop[2]) + u64::from(frame_crop[3]));
        let width = cropped("width", coded_w, crop_w)?;
        let height = cropped("height", coded_h, crop_h)?;

        Ok(Sps {
            profile_idc,
            constraint_flags,
            level_idc,
            seq_parameter_set_id,
            chroma_format_idc,
            separate_colour_plane,
            bit_depth_luma,
            bit_depth_chroma,
            pic_width_in_mbs,
            pic_height_in_map_units,
            frame_mbs_only,
            frame_crop,
            width,
            height,
        })
    }
}

/// Coded size minus cropping, checked to stay positive and fit in u32.
pub(super) fn cropped(axis: &'static str, coded: u64, crop: u64) -> Result<u32, CodecError> {
    if crop >= coded {
        return Err(CodecError::CropTooLarge { axis, crop, coded });
    }
    u32::try_from(coded - crop).map_err(|_| CodecError::InvalidValue {
        field: axis,
        value: coded - crop,
    })
}

/// The avcC trailer present for high profiles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcHighProfileExt {
    pub chroma_format: u8,
    pub bit_depth_luma_minus8: u8,
    pub bit_depth_chroma_minus8: u8,
    pub sps_ext: Vec<Bytes>,
}

/// AVCDecoderConfigurationRecord: the CodecPrivate of `V_MPEG4/ISO/AVC`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcDecoderConfig {
    pub profile_indication: u8,
    pub profile_compatibility: u8,
    pub level_indication: u8,
    /// Bytes in each NAL length prefix of the samples: 1, 2 or 4.
    pub nal_length_size: u8,
    pub sps: Vec<Bytes>,
    pub pps: Vec<Bytes>,
    /// Present when the record carries the high-profile trailer.
    pub high_profile_ext: Option<AvcHighProfileExt>,
}

fn read_u16_prefixed(
    data: &[u8],
    pos: &mut usize,
    what: &'static str,
) -> Result<Bytes, CodecError> {
    let len_bytes = data.get(*pos..*pos + 2).ok_or(CodecError::Truncated {
        what,
        needed: *pos + 2,
        available: data.len(),
    })?;
    let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
    let start = *pos + 2;
    let nal = data.get(start..start + len).ok_or(CodecError::Truncated {
        what,
        needed: start + len,
        available: data.len(),
    })?;
    *pos = start + len;
    Ok(Bytes::copy_from_slice(nal))
}

fn read_u8_at(data: &[u8], pos: &mut usize, what: &'static str) -> Result<u8, CodecError> {
    let b = *data.get(*pos).ok_or(CodecError::Truncated {
        what,
        needed: *pos + 1,
        available: data.len(),
    })?;
    *pos += 1;
    Ok(b)
}

pub(super) fn put_u16_prefixed(
    out: &mut BytesMut,
    nal: &[u8],
    what: &'static str,
) -> Result<(), CodecError> {
    let len = u16::try_from(nal.len()).map_err(|_| CodecError::TooLarge {
        what,
        len: nal.len(),
        max: usize::from(u16::MAX),
    })?;
    out.put_u16(len);
    out.put_slice(nal);
    Ok(())
}

fn check_count(what: &'static str, count: usize, max: usize) -> Result<(), CodecError> {
    if count > max {
        return Err(CodecError::TooMany { what, count, max });
    }
    Ok(())
}

impl AvcDecoderConfig {
    pub fn parse(data: &[u8]) -> Result<Self, CodecError> {
        let header = data.get(..6).ok_or(CodecError::Truncated {
            what: "avcC header",
            needed: 6,
            available: data.len(),
        })?;
        if header[0] != 1 {
            return Err(CodecError::InvalidValue {
                field: "avcC configurationVersion",
                value: u64::from(header[0]),
            });
        }
        let length_size = (header[4] & 0x03) + 1;
        if length_size == 3 {
            return Err(CodecError::InvalidValue {
                field: "avcC lengthSizeMinusOne",
                value: 2,
            });
        }
        let mut pos = 6;
        let num_sps = usize::from(header[5] & 0x1f);
        let mut sps = Vec::with_capacity(num_sps);
        for _ in 0..num_sps {
            sps.push(read_u16_prefixed(data, &mut pos, "avcC SPS")?);
        }
        let num_pps = usize::from(read_u8_at(
            data,
            &mut pos,
            "avcC numOfPictureParameterSets",
        )?);
        let mut pps = Vec::with_capacity(num_pps);
        for _ in 0..num_pps {
            pps.push(read_u16_prefixed(data, &mut pos, "avcC PPS")?);
        }
        let profile = header[1];
        // Some writers (h264parse among them) omit the trailer even for high
        // profiles, so it is read only when present.
        let high_profile_ext =
            if !matches!(profile, 66 | 77 | 88) && data.len().saturating_sub(pos) >= 4 {
                let chroma_format = read_u8_at(data, &mut pos, "avcC chroma_format")? & 0x03;
                let luma = read_u8_at(data, &mut pos, "avcC bit_depth_luma")? & 0x07;
                let chroma = read_u8_at(data, &mut pos, "avcC bit_depth_chroma")? & 0x07;
                let n = usize::from(read_u8_at(data, &mut pos, "avcC numOfSPSExt")?);
                let mut sps_ext = Vec::with_capacity(n);
                for _ in 0..n {
                    sps_ext.push(read_u16_prefixed(data, &mut pos, "avcC SPS extension")?);
                }
                Some(AvcHighProfileExt {
                    chroma_format,
                    bit_depth_luma_minus8: luma,
                    bit_depth_chroma_minus8: chroma,
                    sps_ext,
                })
            } else {
                None
            };
        Ok(AvcDecoderConfig {
            profile_indication: profile,
            profile_compatibility: header[2],
            level_indication: header[3],
            nal_length_size: length_size,
            sps,
            pps,
            high_profile_ext,
        })
    }

    /// Builds a record from SPS and PPS NAL units (with headers, emulation
    /// prevention kept). Profile and level come from the first SPS; the high-profile
    /// trailer is added for the profiles ISO/IEC 14496-15 requires it for.
    pub fn from_parameter_sets(sps: &[&[u8]], pps: &[&[u8]]) -> Result<Self, CodecError> {
        if sps.is_empty() {
            return Err(CodecError::MissingParameterSet("H.264 SPS"));
        }
        if pps.is_empty() {
            return Err(CodecError::MissingParameterSet("H.264 PPS"));
        }
        for nal in pps {
            let t = nal_type(nal).ok_or(CodecError::EmptyNalUnit)?;
            if t != NAL_PPS {
                return Err(CodecError::UnexpectedNalType {
                    expected: "H.264 PPS (8)",
                    found: t,
                });
            }
        }
        let mut parsed = None;
        for nal in sps {
            let s = Sps::parse(nal)?;
            parsed.get_or_insert(s);
        }
        let parsed = parsed.ok_or(CodecError::MissingParameterSet("H.264 SPS"))?;
        let high_profile_ext =
            avcc_has_high_profile_ext(parsed.profile_idc).then(|| AvcHighProfileExt {
                chroma_format: parsed.chroma_format_idc,
                bit_depth_luma_minus8: parsed.bit_depth_luma - 8,
                bit_depth_chroma_minus8: parsed.bit_depth_chroma - 8,
                sps_ext: Vec::new(),
            });
        Ok(AvcDecoderConfig {
            profile_indication: parsed.profile_idc,
            profile_compatibility: parsed.constraint_flags,
            level_indication: parsed.level_idc,
            nal_length_size: 4,
            sps: sps.iter().map(|s| Bytes::copy_from_slice(s)).collect(),
            pps: pps.iter().map(|p| Bytes::copy_from_slice(p)).collect(),
            high_profile_ext,
        })
    }

    /// The same record without the high-profile trailer (what GStreamer's h264parse
    /// and AWS's producer write).
    pub fn without_high_profile_ext(mut self) -> Self {
        self.high_profile_ext = None;
        self
    }

    /// Parses the first SPS of the record.
    pub fn first_sps(&self) -> Result<Sps, CodecError> {
        let sps = self
            .sps
            .first()
            .ok_or(CodecError::MissingParameterSet("H.264 SPS"))?;
        Sps::parse(sps)
    }

    pub fn to_bytes(&self) -> Result<Bytes, CodecError> {
        check_count("avcC SPS list", self.sps.len(), 31)?;
        check_count("avcC PPS list", self.pps.len(), 255)?;
        let length_size_minus_one = match self.nal_length_size {
            1 | 2 | 4 => self.nal_length_size - 1,
            other => {
                return Err(CodecError::InvalidValue {
                    field: "avcC NAL length size",
                    value: u64::from(other),
                });
            }
        };
        let mut out = BytesMut::with_capacity(
            16 + self
                .sps
                .iter()
                .chain(&self.pps)
                .map(|n| n.len() + 2)
                .sum::<usize>(),
        );
        out.put_u8(1);
        out.put_u8(self.profile_indication);
        out.put_u8(self.profile_compatibility);
        out.put_u8(self.level_indication);
        out.put_u8(0xfc | length_size_minus_one);
        out.put_u8(0xe0 | self.sps.len() as u8);
        for s in &self.sps {
            put_u16_prefixed(&mut out, s, "avcC SPS")?;
        }
        out.put_u8(self.pps.len() as u8);
        for p in &self.pps {
            put_u16_prefixed(&mut out, p, "avcC PPS")?;
        }
        if let Some(ext) = &self.high_profile_ext {
            check_count("avcC SPS extension list", ext.sps_ext.len(), 255)?;
            out.put_u8(0xfc | (ext.chroma_format & 0x03));
            out.put_u8(0xf8 | (ext.bit_depth_luma_minus8 & 0x07));
            out.put_u8(0xf8 | (ext.bit_depth_chroma_minus8 & 0x07));
            out.put_u8(ext.sps_ext.len() as u8);
            for e in &ext.sps_ext {
                put_u16_prefixed(&mut out, e, "avcC SPS extension")?;
            }
        }
        Ok(out.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::bits::BitWriter;

    /// An interlaced High-profile 1080i SPS with a scaling matrix and POC type 1:
    /// the paths the x264 fixtures do not take.
    fn interlaced_sps() -> Vec<u8> {
        let mut w = BitWriter::new();
        w.write_bits(0x67, 8);
        w.write_bits(100, 8);
        w.write_bits(0, 8);
        w.write_bits(40, 8);
        w.write_ue(0); // sps id
        w.write_ue(1); // 4:2:0
        w.write_ue(0);
        w.write_ue(0);
        w.write_bit(false); // transform bypass
        w.write_bit(true); // scaling matrix present
        w.write_bit(true); // list 0 present...
        w.write_se(-8); // ...and ends at once (nextScale 0)
        for _ in 1..8 {
            w.write_bit(false);
        }
        w.write_ue(0); // log2_max_frame_num_minus4
        w.write_ue(1); // POC type 1
        w.write_bit(false);
        w.write_se(0);
        w.write_se(0);
        w.write_ue(2);
        w.write_se(1);
        w.write_se(-1);
        w.write_ue(1); // max_num_ref_frames
        w.write_bit(false);
        w.write_ue(119); // 120 MBs = 1920
        w.write_ue(33); // 34 map units of field pairs = 1088 lines
        w.write_bit(false); // frame_mbs_only
        w.write_bit(true); // mbaff
        w.write_bit(true); // direct_8x8
        w.write_bit(true); // cropping
        for c in [0, 0, 0, 2] {
            w.write_ue(c);
        }
        w.write_bit(false); // no VUI
        w.write_bit(true); // rbsp stop bit
        w.into_bytes()
    }

    #[test]
    fn interlaced_crop_uses_field_crop_units() {
        let sps = Sps::parse(&interlaced_sps()).unwrap();
        assert!(!sps.frame_mbs_only);
        assert_eq!(sps.pic_height_in_map_units, 34);
        assert_eq!((sps.width, sps.height), (1920, 1080));
        assert_eq!(sps.level_idc, 40);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let nal = interlaced_sps();
        for cut in 0..nal.len() - 1 {
            assert!(Sps::parse(&nal[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn crop_larger_than_picture_is_an_error() {
        let mut w = BitWriter::new();
        w.write_bits(0x67, 8);
        w.write_bits(66, 8);
        w.write_bits(0, 8);
        w.write_bits(30, 8);
        w.write_ue(0);
        w.write_ue(0);
        w.write_ue(2); // POC type 2
        w.write_ue(1);
        w.write_bit(false);
        w.write_ue(0); // 16 wide
        w.write_ue(0); // 16 high
        w.write_bit(true);
        w.write_bit(true);
        w.write_bit(true);
        for c in [4, 4, 0, 0] {
            w.write_ue(c);
        }
        w.write_bit(false);
        w.write_bit(true);
        assert!(matches!(
            Sps::parse(&w.into_bytes()),
            Err(CodecError::CropTooLarge {
                axis: "width",
                crop: 16,
                coded: 16
            })
        ));
    }
}
