// SPDX-License-Identifier: MPL-2.0
//! Parameter sets carried in-band in an access unit (byte-stream input, or cameras
//! that send no codec_data), and CodecPrivate built from them.

use bytes::Bytes;

use super::CodecError;
use super::h264::{self, AvcDecoderConfig};
use super::h265::{self, HvcDecoderConfig};
use super::nal::{NalFraming, Nals};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    H264,
    H265,
}

/// Parameter sets found in one access unit, in stream order, duplicates removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InBandParameterSets<'a> {
    /// Always empty for H.264.
    pub vps: Vec<&'a [u8]>,
    pub sps: Vec<&'a [u8]>,
    pub pps: Vec<&'a [u8]>,
    /// True if the access unit holds an IDR (H.264) or IRAP (H.265) slice.
    pub has_random_access_slice: bool,
}

fn push_unique<'a>(list: &mut Vec<&'a [u8]>, nal: &'a [u8]) {
    if !list.contains(&nal) {
        list.push(nal);
    }
}

impl<'a> InBandParameterSets<'a> {
    pub fn collect(
        codec: VideoCodec,
        access_unit: &'a [u8],
        framing: NalFraming,
    ) -> Result<Self, CodecError> {
        let mut found = InBandParameterSets::default();
        for nal in Nals::new(access_unit, framing)? {
            let nal = nal?;
            match codec {
                VideoCodec::H264 => match h264::nal_type(nal) {
                    Some(h264::NAL_SPS) => push_unique(&mut found.sps, nal),
                    Some(h264::NAL_PPS) => push_unique(&mut found.pps, nal),
                    Some(h264::NAL_IDR_SLICE) => found.has_random_access_slice = true,
                    _ => {}
                },
                VideoCodec::H265 => match h265::nal_type(nal) {
                    Some(h265::NAL_VPS) => push_unique(&mut found.vps, nal),
                    Some(h265::NAL_SPS) => push_unique(&mut found.sps, nal),
                    Some(h265::NAL_PPS) => push_unique(&mut found.pps, nal),
                    Some(t) if h265::is_irap(t) => found.has_random_access_slice = true,
                    _ => {}
                },
            }
        }
        Ok(found)
    }

    pub fn is_empty(&self) -> bool {
        self.vps.is_empty() && self.sps.is_empty() && self.pps.is_empty()
    }

    /// avcC or hvcC from these parameter sets; errors if a required one is missing.
    pub fn codec_private(&self, codec: VideoCodec) -> Result<Bytes, CodecError> {
        match codec {
            VideoCodec::H264 => {
                AvcDecoderConfig::from_parameter_sets(&self.sps, &self.pps)?.to_bytes()
            }
            VideoCodec::H265 => {
                let all: Vec<&[u8]> = self
                    .vps
                    .iter()
                    .chain(&self.sps)
                    .chain(&self.pps)
                    .copied()
                    .collect();
                HvcDecoderConfig::from_parameter_sets(&all)?.to_bytes()
            }
        }
    }
}

/// CodecPrivate from the parameter sets of a key-frame access unit: `Ok(None)` when
/// the unit carries none at all, an error when only some are present.
pub fn codec_private_from_access_unit(
    codec: VideoCodec,
    access_unit: &[u8],
    framing: NalFraming,
) -> Result<Option<Bytes>, CodecError> {
    let sets = InBandParameterSets::collect(codec, access_unit, framing)?;
    if sets.is_empty() {
        return Ok(None);
    }
    sets.codec_private(codec).map(Some)
}
