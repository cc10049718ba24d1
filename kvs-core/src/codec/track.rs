// SPDX-License-Identifier: MPL-2.0
//! From codec data to a Matroska TrackEntry: CodecID, CodecPrivate and the
//! Video/Audio parameters derived from it.

use bytes::Bytes;

use super::CodecError;
use super::aac::AudioSpecificConfig;
use super::g711::{G711Law, WaveFormatEx};
use super::h264::AvcDecoderConfig;
use super::h265::HvcDecoderConfig;
use super::inband::{InBandParameterSets, VideoCodec};
use super::nal::{NalFraming, starts_with_start_code};
use crate::mkv::{AudioParams, TrackInfo, TrackType, VideoParams};

pub const CODEC_ID_H264: &str = "V_MPEG4/ISO/AVC";
pub const CODEC_ID_H265: &str = "V_MPEGH/ISO/HEVC";
pub const CODEC_ID_AAC: &str = "A_AAC";
pub const CODEC_ID_MS_ACM: &str = "A_MS/ACM";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodecKind {
    H264,
    H265,
    Aac,
    G711(G711Law),
}

impl CodecKind {
    pub fn codec_id(self) -> &'static str {
        match self {
            CodecKind::H264 => CODEC_ID_H264,
            CodecKind::H265 => CODEC_ID_H265,
            CodecKind::Aac => CODEC_ID_AAC,
            CodecKind::G711(_) => CODEC_ID_MS_ACM,
        }
    }

    pub fn track_type(self) -> TrackType {
        match self {
            CodecKind::H264 | CodecKind::H265 => TrackType::Video,
            CodecKind::Aac | CodecKind::G711(_) => TrackType::Audio,
        }
    }
}

/// A codec's CodecPrivate plus the track parameters derived from it.
#[derive(Debug, Clone, PartialEq)]
pub struct CodecConfig {
    pub kind: CodecKind,
    pub codec_private: Bytes,
    pub video: Option<VideoParams>,
    pub audio: Option<AudioParams>,
}

fn video_params(width: u32, height: u32) -> Option<VideoParams> {
    Some(VideoParams {
        pixel_width: width,
        pixel_height: height,
    })
}

impl CodecConfig {
    /// H.264 from caps `codec_data`: an avcC record (kept verbatim) or Annex-B
    /// SPS/PPS (turned into avcC).
    pub fn h264(codec_data: &[u8]) -> Result<Self, CodecError> {
        let (record, codec_private) = if starts_with_start_code(codec_data) {
            let sets =
                InBandParameterSets::collect(VideoCodec::H264, codec_data, NalFraming::AnnexB)?;
            let record = AvcDecoderConfig::from_parameter_sets(&sets.sps, &sets.pps)?;
            let bytes = record.to_bytes()?;
            (record, bytes)
        } else {
            (
                AvcDecoderConfig::parse(codec_data)?,
                Bytes::copy_from_slice(codec_data),
            )
        };
        let sps = record.first_sps()?;
        Ok(CodecConfig {
            kind: CodecKind::H264,
            codec_private,
            video: video_params(sps.width, sps.height),
            audio: None,
        })
    }

    /// H.265 from caps `codec_data`: an hvcC record (kept verbatim) or Annex-B
    /// VPS/SPS/PPS (turned into hvcC).
    pub fn h265(codec_data: &[u8]) -> Result<Self, CodecError> {
        let (record, codec_private) = if starts_with_start_code(codec_data) {
            let sets =
                InBandParameterSets::collect(VideoCodec::H265, codec_data, NalFraming::AnnexB)?;
            let bytes = sets.codec_private(VideoCodec::H265)?;
            (HvcDecoderConfig::parse(&bytes)?, bytes)
        } else {
            (
                HvcDecoderConfig::parse(codec_data)?,
                Bytes::copy_from_slice(codec_data),
            )
        };
        let sps = record.first_sps()?;
        Ok(CodecConfig {
            kind: CodecKind::H265,
            codec_private,
            video: video_params(sps.width, sps.height),
            audio: None,
        })
    }

    /// Video from the parameter sets of a key frame (input without codec_data).
    /// `Ok(None)` when the access unit carries none.
    pub fn video_from_access_unit(
        codec: VideoCodec,
        access_unit: &[u8],
        framing: NalFraming,
    ) -> Result<Option<Self>, CodecError> {
        let sets = InBandParameterSets::collect(codec, access_unit, framing)?;
        if sets.is_empty() {
            return Ok(None);
        }
        let cpd = sets.codec_private(codec)?;
        match codec {
            VideoCodec::H264 => Self::h264(&cpd),
            VideoCodec::H265 => Self::h265(&cpd),
        }
        .map(Some)
    }

    /// AAC from an AudioSpecificConfig (kept verbatim).
    pub fn aac(audio_specific_config: &[u8]) -> Result<Self, CodecError> {
        let asc = AudioSpecificConfig::parse(audio_specific_config)?;
        let channels = asc.channels().ok_or_else(|| CodecError::Unsupported {
            what: "AAC channel configuration",
            detail: format!(
                "channelConfiguration {} (program config element) gives no channel count",
                asc.channel_configuration
            ),
        })?;
        Ok(CodecConfig {
            kind: CodecKind::Aac,
            codec_private: Bytes::copy_from_slice(audio_specific_config),
            video: None,
            audio: Some(AudioParams {
                sampling_frequency: f64::from(asc.sampling_frequency),
                channels,
                bit_depth: None,
            }),
        })
    }

    /// AAC when caps carry no codec_data: an LC AudioSpecificConfig is generated.
    pub fn aac_lc(rate: u32, channels: u32) -> Result<Self, CodecError> {
        let asc = AudioSpecificConfig::new(super::aac::OBJECT_TYPE_AAC_LC, rate, channels)?;
        Self::aac(&asc.to_bytes()?)
    }

    pub fn g711(law: G711Law, rate: u32, channels: u16) -> Result<Self, CodecError> {
        let wf = WaveFormatEx::g711(law, rate, channels)?;
        Ok(CodecConfig {
            kind: CodecKind::G711(law),
            codec_private: wf.to_bytes(),
            video: None,
            audio: Some(AudioParams {
                sampling_frequency: f64::from(rate),
                channels: u32::from(channels),
                bit_depth: Some(u32::from(wf.bits_per_sample)),
            }),
        })
    }

    /// A TrackEntry for this codec. `number` is the TrackNumber blocks refer to;
    /// AWS's kvssink uses uid 1 for video and 2 for audio.
    pub fn track_info(&self, number: u64, uid: u64, name: Option<&str>) -> TrackInfo {
        TrackInfo {
            number,
            uid,
            track_type: Some(self.kind.track_type()),
            name: name.map(str::to_owned),
            codec_id: self.kind.codec_id().to_owned(),
            codec_private: Some(self.codec_private.clone()),
            video: self.video,
            audio: self.audio,
        }
    }
}
