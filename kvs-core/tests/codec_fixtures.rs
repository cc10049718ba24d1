// SPDX-License-Identifier: MPL-2.0
//! Byte-stream fixtures made with x264enc/x265enc (see fixtures/README.md): Annex-B
//! conversion, in-band parameter-set extraction, and CodecPrivate equal to what
//! GStreamer's h264parse/h265parse produce.

use std::path::PathBuf;

use kvs_core::codec::CodecConfig;
use kvs_core::codec::h264::{self, AvcDecoderConfig};
use kvs_core::codec::h265::{self, HvcDecoderConfig};
use kvs_core::codec::inband::{InBandParameterSets, VideoCodec, codec_private_from_access_unit};
use kvs_core::codec::nal::{
    AnnexBNals, LengthPrefixedNals, NalFraming, annexb_to_avcc, annexb_to_avcc_capacity,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {} missing: {e}", path.display()))
}

fn decode_hex(hex: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "odd hex length");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// The codec_data the parser element produced for `annexb`, from a fixtures listing.
fn parser_codec_data(listing: &str, annexb: &str) -> Vec<u8> {
    let text = String::from_utf8(fixture(listing)).expect("UTF-8 listing");
    let hex = text
        .lines()
        .find_map(|l| l.strip_prefix(annexb).map(str::trim))
        .unwrap_or_else(|| panic!("{annexb} not in {listing}"));
    decode_hex(hex)
}

const H264_FIXTURES: [(&str, u32, u32, u8, u8); 3] = [
    // name, width, height, profile_idc, chroma_format_idc
    ("h264-320x240.annexb", 320, 240, 100, 1),
    ("h264-1920x1080.annexb", 1920, 1080, 100, 1),
    ("h264-y444-64x48.annexb", 64, 48, 244, 3),
];

const H265_FIXTURES: [(&str, u32, u32); 2] = [
    ("h265-320x240.annexb", 320, 240),
    ("h265-200x150.annexb", 200, 150),
];

#[test]
fn annexb_to_avcc_keeps_every_nal_unit() {
    for name in H264_FIXTURES
        .map(|f| f.0)
        .into_iter()
        .chain(H265_FIXTURES.map(|f| f.0))
    {
        let input = fixture(name);
        let nals: Vec<&[u8]> = AnnexBNals::new(&input).collect();
        assert!(
            nals.len() >= 4,
            "{name}: parameter sets and slices expected"
        );

        let mut out = Vec::with_capacity(annexb_to_avcc_capacity(input.len()));
        let written = annexb_to_avcc(&input, &mut out).unwrap();
        assert_eq!(written, nals.len(), "{name}");
        assert_eq!(
            out.len(),
            nals.iter().map(|n| n.len() + 4).sum::<usize>(),
            "{name}"
        );
        assert!(out.len() <= annexb_to_avcc_capacity(input.len()));

        let back: Vec<&[u8]> = LengthPrefixedNals::new(&out, 4)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(back, nals, "{name}");

        // BytesMut works as the destination too, appending after existing bytes.
        let mut buf = bytes::BytesMut::from(&b"xy"[..]);
        annexb_to_avcc(&input, &mut buf).unwrap();
        assert_eq!(&buf[..2], b"xy");
        assert_eq!(&buf[2..], &out[..]);
    }
}

#[test]
fn h264_sps_sizes_are_crop_aware() {
    for (name, width, height, profile, chroma) in H264_FIXTURES {
        let input = fixture(name);
        let sets =
            InBandParameterSets::collect(VideoCodec::H264, &input, NalFraming::AnnexB).unwrap();
        assert_eq!(sets.sps.len(), 1, "{name}");
        assert_eq!(sets.pps.len(), 1, "{name}");
        assert!(sets.has_random_access_slice, "{name}: first frame is IDR");
        let sps = h264::Sps::parse(sets.sps[0]).unwrap();
        assert_eq!((sps.width, sps.height), (width, height), "{name}");
        assert_eq!(sps.profile_idc, profile, "{name}");
        assert_eq!(sps.chroma_format_idc, chroma, "{name}");
        assert!(sps.frame_mbs_only);
    }
    let sps_nal = {
        let input = fixture("h264-1920x1080.annexb");
        let sets =
            InBandParameterSets::collect(VideoCodec::H264, &input, NalFraming::AnnexB).unwrap();
        sets.sps[0].to_vec()
    };
    let sps = h264::Sps::parse(&sps_nal).unwrap();
    assert_eq!(sps.pic_height_in_map_units * 16, 1088, "coded height");
    assert_eq!(
        sps.frame_crop,
        [0, 0, 0, 4],
        "4 chroma rows = 8 luma rows cropped"
    );
}

#[test]
fn h264_inband_avcc_equals_h264parse() {
    for (name, _, _, _, chroma) in H264_FIXTURES {
        let input = fixture(name);
        let expected = parser_codec_data("h264parse-codec-data.txt", name);

        let ours = codec_private_from_access_unit(VideoCodec::H264, &input, NalFraming::AnnexB)
            .unwrap()
            .expect("parameter sets present");
        // h264parse omits the high-profile trailer; everything before it matches.
        assert_eq!(&ours[..expected.len()], &expected[..], "{name}");
        assert_eq!(
            &ours[expected.len()..],
            &[0xfc | chroma, 0xf8, 0xf8, 0x00],
            "{name}"
        );
        let record = AvcDecoderConfig::parse(&ours).unwrap();
        assert_eq!(
            &record.without_high_profile_ext().to_bytes().unwrap()[..],
            &expected[..]
        );

        // The same from length-prefixed framing.
        let mut avcc = Vec::new();
        annexb_to_avcc(&input, &mut avcc).unwrap();
        let from_avcc = codec_private_from_access_unit(
            VideoCodec::H264,
            &avcc,
            NalFraming::LengthPrefixed { length_size: 4 },
        )
        .unwrap()
        .expect("parameter sets present");
        assert_eq!(from_avcc, ours, "{name}");

        // Caps codec_data from h264parse is kept verbatim.
        let config = CodecConfig::h264(&expected).unwrap();
        assert_eq!(&config.codec_private[..], &expected[..]);
    }
}

#[test]
fn h264_annexb_codec_data_becomes_avcc() {
    let (name, width, height, _, _) = H264_FIXTURES[1];
    let input = fixture(name);
    let sets = InBandParameterSets::collect(VideoCodec::H264, &input, NalFraming::AnnexB).unwrap();
    // Caps codec_data some encoders send: SPS and PPS with start codes.
    let mut annexb_cpd = Vec::new();
    for nal in sets.sps.iter().chain(&sets.pps) {
        annexb_cpd.extend_from_slice(&[0, 0, 0, 1]);
        annexb_cpd.extend_from_slice(nal);
    }
    let config = CodecConfig::h264(&annexb_cpd).unwrap();
    let record = AvcDecoderConfig::parse(&config.codec_private).unwrap();
    assert_eq!(record.sps[0], sets.sps[0]);
    assert_eq!(record.pps[0], sets.pps[0]);
    let video = config.video.unwrap();
    assert_eq!((video.pixel_width, video.pixel_height), (width, height));

    let from_au = CodecConfig::video_from_access_unit(VideoCodec::H264, &input, NalFraming::AnnexB)
        .unwrap()
        .unwrap();
    assert_eq!(from_au, config);
}

#[test]
fn h265_inband_hvcc_equals_h265parse() {
    for (name, width, height) in H265_FIXTURES {
        let input = fixture(name);
        let expected = parser_codec_data("h265parse-codec-data.txt", name);
        let ours = codec_private_from_access_unit(VideoCodec::H265, &input, NalFraming::AnnexB)
            .unwrap()
            .expect("parameter sets present");
        assert_eq!(&ours[..], &expected[..], "{name}");

        let sets =
            InBandParameterSets::collect(VideoCodec::H265, &input, NalFraming::AnnexB).unwrap();
        assert!(sets.has_random_access_slice, "{name}: first frame is IRAP");
        let sps = h265::Sps::parse(sets.sps[0]).unwrap();
        assert_eq!((sps.width, sps.height), (width, height), "{name}");

        let config = CodecConfig::h265(&expected).unwrap();
        let video = config.video.unwrap();
        assert_eq!((video.pixel_width, video.pixel_height), (width, height));
        assert_eq!(
            HvcDecoderConfig::parse(&expected)
                .unwrap()
                .to_bytes()
                .unwrap(),
            ours
        );
    }
    let input = fixture("h265-200x150.annexb");
    let sets = InBandParameterSets::collect(VideoCodec::H265, &input, NalFraming::AnnexB).unwrap();
    let sps = h265::Sps::parse(sets.sps[0]).unwrap();
    assert_eq!(sps.pic_height_in_luma_samples, 152, "coded height");
    assert_eq!(
        sps.conformance_window,
        [0, 0, 0, 1],
        "one chroma row = two luma rows"
    );
}

#[test]
fn partial_parameter_sets_are_errors_and_absent_ones_none() {
    let input = fixture("h264-320x240.annexb");
    let nals: Vec<&[u8]> = AnnexBNals::new(&input).collect();
    let slices_only: Vec<u8> = nals
        .iter()
        .filter(|n| !matches!(h264::nal_type(n), Some(h264::NAL_SPS | h264::NAL_PPS)))
        .flat_map(|n| [&[0u8, 0, 1][..], n].concat())
        .collect();
    assert_eq!(
        codec_private_from_access_unit(VideoCodec::H264, &slices_only, NalFraming::AnnexB),
        Ok(None)
    );
    let without_pps: Vec<u8> = nals
        .iter()
        .filter(|n| h264::nal_type(n) != Some(h264::NAL_PPS))
        .flat_map(|n| [&[0u8, 0, 1][..], n].concat())
        .collect();
    assert_eq!(
        codec_private_from_access_unit(VideoCodec::H264, &without_pps, NalFraming::AnnexB),
        Err(kvs_core::codec::CodecError::MissingParameterSet(
            "H.264 PPS"
        ))
    );
}
