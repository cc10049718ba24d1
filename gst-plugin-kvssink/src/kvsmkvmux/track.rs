// SPDX-License-Identifier: MPL-2.0
//! Per-track input handling: caps → codec configuration, and video access units →
//! length-prefixed payloads (with codec private data taken from in-band parameter sets
//! when the caps carry none).

use kvs_core::codec::g711::G711Law;
use kvs_core::codec::inband::VideoCodec;
use kvs_core::codec::nal::{self, LengthPrefixedNals, NalFraming};
use kvs_core::codec::{CodecConfig, CodecError};
use thiserror::Error;

/// Why caps were refused. Rendered to the user, so each says what to do.
#[derive(Debug, Error)]
pub enum CapsError {
    #[error(
        "{media} with stream-format={format} needs codec_data in its caps; put {parser} \
         before kvssink, or send stream-format=byte-stream with in-band parameter sets"
    )]
    MissingCodecData {
        media: &'static str,
        format: String,
        parser: &'static str,
    },
    #[error(
        "the codec_data of {media} caps is invalid ({source}); check the encoder/parser upstream"
    )]
    BadCodecData {
        media: &'static str,
        #[source]
        source: CodecError,
    },
    #[error("unsupported caps {0}")]
    Unsupported(String),
    #[error("caps {caps} lack a usable '{field}' field")]
    MissingField { caps: String, field: &'static str },
}

/// Why a frame could not be used.
#[derive(Debug, Error)]
pub enum FrameError {
    #[error(
        "the first key frame carries no parameter sets (SPS/PPS) and the caps have no \
         codec_data, so the stream cannot be described; make the encoder repeat headers \
         (e.g. x264enc/v4l2h264enc with in-band headers, h264parse config-interval=-1) or \
         send stream-format=avc with codec_data"
    )]
    NoParameterSets,
    #[error("a video buffer is not valid {framing} H.264/H.265 data ({source})")]
    Malformed {
        framing: &'static str,
        #[source]
        source: CodecError,
    },
    #[error("the in-band parameter sets are invalid ({0})")]
    BadParameterSets(#[source] CodecError),
}

/// How video access units arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    LengthPrefixed(u8),
    AnnexB,
}

/// What the caps of a pad tell us.
#[derive(Debug, Clone)]
pub enum TrackInput {
    Video {
        codec: VideoCodec,
        framing: Framing,
        /// Known from codec_data; `None` until a key frame brings parameter sets.
        config: Option<CodecConfig>,
    },
    Audio(CodecConfig),
}

impl TrackInput {
    pub fn config(&self) -> Option<&CodecConfig> {
        match self {
            TrackInput::Video { config, .. } => config.as_ref(),
            TrackInput::Audio(c) => Some(c),
        }
    }
}

fn codec_data(s: &gst::StructureRef) -> Option<gst::Buffer> {
    s.get::<gst::Buffer>("codec_data").ok()
}

fn int_field(s: &gst::StructureRef, field: &'static str) -> Result<u32, CapsError> {
    s.get::<i32>(field)
        .ok()
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| CapsError::MissingField {
            caps: s.to_string(),
            field,
        })
}

/// Parses fixed caps of a sink pad.
pub fn parse_caps(caps: &gst::CapsRef) -> Result<TrackInput, CapsError> {
    let s = caps
        .structure(0)
        .ok_or_else(|| CapsError::Unsupported(caps.to_string()))?;
    match s.name().as_str() {
        "video/x-h264" | "video/x-h265" => {
            let h264 = s.name() == "video/x-h264";
            let (codec, media, parser) = if h264 {
                (VideoCodec::H264, "H.264", "h264parse")
            } else {
                (VideoCodec::H265, "H.265", "h265parse")
            };
            let format = s
                .get::<&str>("stream-format")
                .unwrap_or(if h264 { "avc" } else { "hvc1" })
                .to_owned();
            let annexb = format == "byte-stream";
            let config = match codec_data(s) {
                Some(buf) => {
                    let map = buf
                        .map_readable()
                        .map_err(|_| CapsError::Unsupported(caps.to_string()))?;
                    let cfg = if h264 {
                        CodecConfig::h264(&map)
                    } else {
                        CodecConfig::h265(&map)
                    };
                    Some(cfg.map_err(|source| CapsError::BadCodecData { media, source })?)
                }
                None if annexb => None,
                None => {
                    return Err(CapsError::MissingCodecData {
                        media,
                        format,
                        parser,
                    });
                }
            };
            let framing = if annexb {
                Framing::AnnexB
            } else {
                let len = config
                    .as_ref()
                    .and_then(|c| nal_length_size(codec, &c.codec_private))
                    .unwrap_or(4);
                Framing::LengthPrefixed(len)
            };
            Ok(TrackInput::Video {
                codec,
                framing,
                config,
            })
        }
        "audio/mpeg" => {
            let cfg = match codec_data(s) {
                Some(buf) => {
                    let map = buf
                        .map_readable()
                        .map_err(|_| CapsError::Unsupported(caps.to_string()))?;
                    CodecConfig::aac(&map)
                }
                None => CodecConfig::aac_lc(int_field(s, "rate")?, int_field(s, "channels")?),
            }
            .map_err(|source| CapsError::BadCodecData {
                media: "AAC",
                source,
            })?;
            Ok(TrackInput::Audio(cfg))
        }
        "audio/x-alaw" | "audio/x-mulaw" => {
            let law = if s.name() == "audio/x-alaw" {
                G711Law::ALaw
            } else {
                G711Law::MuLaw
            };
            let channels =
                u16::try_from(int_field(s, "channels")?).map_err(|_| CapsError::MissingField {
                    caps: s.to_string(),
                    field: "channels",
                })?;
            let cfg =
                CodecConfig::g711(law, int_field(s, "rate")?, channels).map_err(|source| {
                    CapsError::BadCodecData {
                        media: "G.711",
                        source,
                    }
                })?;
            Ok(TrackInput::Audio(cfg))
        }
        _ => Err(CapsError::Unsupported(caps.to_string())),
    }
}

/// NAL length size of avcC (byte 4) / hvcC (byte 21): low two bits + 1.
fn nal_length_size(codec: VideoCodec, record: &[u8]) -> Option<u8> {
    let idx = match codec {
        VideoCodec::H264 => 4,
        VideoCodec::H265 => 21,
    };
    record.get(idx).map(|b| (b & 0x03) + 1)
}

/// The result of looking at one video access unit.
pub struct VideoFrame {
    /// Length-prefixed payload; `None` means "use the input buffer as it is".
    pub converted: Option<Vec<u8>>,
    /// New codec configuration found in-band (differs from the current one).
    pub new_config: Option<CodecConfig>,
}

/// Validates (and for byte-stream converts) one access unit. `current` is the codec
/// configuration in use, if any.
pub fn prepare_video(
    codec: VideoCodec,
    framing: Framing,
    current: Option<&CodecConfig>,
    keyframe: bool,
    data: &[u8],
) -> Result<VideoFrame, FrameError> {
    let nal_framing = match framing {
        Framing::AnnexB => NalFraming::AnnexB,
        Framing::LengthPrefixed(length_size) => NalFraming::LengthPrefixed { length_size },
    };
    let framing_name = match framing {
        Framing::AnnexB => "byte-stream",
        Framing::LengthPrefixed(_) => "length-prefixed",
    };
    // Validate before anything else so garbage is reported as such.
    let converted = match framing {
        Framing::AnnexB => {
            let mut out = Vec::with_capacity(nal::annexb_to_avcc_capacity(data.len()));
            nal::annexb_to_avcc(data, &mut out).map_err(|source| FrameError::Malformed {
                framing: framing_name,
                source,
            })?;
            Some(out)
        }
        Framing::LengthPrefixed(length_size) => {
            let nals = LengthPrefixedNals::new(data, length_size).map_err(|source| {
                FrameError::Malformed {
                    framing: framing_name,
                    source,
                }
            })?;
            for nal in nals {
                nal.map_err(|source| FrameError::Malformed {
                    framing: framing_name,
                    source,
                })?;
            }
            None
        }
    };

    let mut new_config = None;
    // In-band parameter sets matter on key frames: they may describe the stream for the
    // first time (byte-stream without codec_data) or announce a new one (resolution change).
    if keyframe && framing == Framing::AnnexB {
        match CodecConfig::video_from_access_unit(codec, data, nal_framing) {
            Ok(Some(cfg)) => {
                if current.is_none_or(|c| c.codec_private != cfg.codec_private) {
                    new_config = Some(cfg);
                }
            }
            Ok(None) if current.is_none() => return Err(FrameError::NoParameterSets),
            Ok(None) => {}
            Err(e) if current.is_none() => return Err(FrameError::BadParameterSets(e)),
            // A broken repeat of parameter sets we already have: keep the known ones.
            Err(_) => {}
        }
    }
    Ok(VideoFrame {
        converted,
        new_config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Vec<u8> {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../kvs-core/tests/fixtures/h264-320x240.annexb"
        ))
        .expect("kvs-core fixture")
    }

    fn caps(s: &str) -> gst::Caps {
        gst::init().unwrap();
        s.parse().unwrap()
    }

    #[test]
    fn avc_without_codec_data_says_what_to_do() {
        let err = parse_caps(&caps("video/x-h264,stream-format=avc,alignment=au")).unwrap_err();
        assert!(matches!(err, CapsError::MissingCodecData { .. }));
        assert!(err.to_string().contains("h264parse"));
    }

    #[test]
    fn byte_stream_without_codec_data_waits_for_in_band_sets() {
        let input =
            parse_caps(&caps("video/x-h265,stream-format=byte-stream,alignment=au")).unwrap();
        assert!(matches!(
            input,
            TrackInput::Video {
                codec: VideoCodec::H265,
                framing: Framing::AnnexB,
                config: None
            }
        ));
    }

    #[test]
    fn audio_configs_come_from_caps_fields() {
        let aac = parse_caps(&caps(
            "audio/mpeg,mpegversion=4,stream-format=raw,rate=48000,channels=2",
        ))
        .unwrap();
        let cfg = aac.config().unwrap();
        assert_eq!(cfg.kind.codec_id(), "A_AAC");
        assert_eq!(
            cfg.audio.map(|a| (a.sampling_frequency, a.channels)),
            Some((48000.0, 2))
        );
        let alaw = parse_caps(&caps("audio/x-alaw,rate=8000,channels=1")).unwrap();
        assert_eq!(
            alaw.config().unwrap().kind,
            kvs_core::codec::CodecKind::G711(G711Law::ALaw)
        );
        assert!(parse_caps(&caps("audio/x-alaw,rate=8000")).is_err());
    }

    #[test]
    fn annexb_key_frame_yields_config_and_length_prefixed_payload() {
        let data = fixture();
        let frame = prepare_video(VideoCodec::H264, Framing::AnnexB, None, true, &data).unwrap();
        let cfg = frame.new_config.expect("codec private data from SPS/PPS");
        assert_eq!(
            cfg.video.map(|v| (v.pixel_width, v.pixel_height)),
            Some((320, 240))
        );
        let avcc = frame.converted.expect("converted");
        // Every unit is now length-prefixed and the lengths add up.
        let total: usize = LengthPrefixedNals::new(&avcc, 4)
            .unwrap()
            .map(|n| n.unwrap().len() + 4)
            .sum();
        assert_eq!(total, avcc.len());
        // The same parameter sets again are not a change.
        let again =
            prepare_video(VideoCodec::H264, Framing::AnnexB, Some(&cfg), true, &data).unwrap();
        assert!(again.new_config.is_none());
    }

    #[test]
    fn key_frame_without_parameter_sets_or_with_garbage_is_refused() {
        let idr = [0, 0, 0, 1, 0x65, 0x88, 0x84, 0x00];
        assert!(matches!(
            prepare_video(VideoCodec::H264, Framing::AnnexB, None, true, &idr),
            Err(FrameError::NoParameterSets)
        ));
        assert!(matches!(
            prepare_video(
                VideoCodec::H264,
                Framing::LengthPrefixed(4),
                None,
                true,
                &[0xff; 16]
            ),
            Err(FrameError::Malformed { .. })
        ));
        assert!(matches!(
            prepare_video(VideoCodec::H264, Framing::AnnexB, None, false, &[0x12; 16]),
            Err(FrameError::Malformed { .. })
        ));
    }
}
