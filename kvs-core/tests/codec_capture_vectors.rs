// SPDX-License-Identifier: MPL-2.0
//! Codec private data recorded from AWS's kvssink (shared/test-vectors/official-kvssink):
//! our parsers must read it, rebuild it byte for byte, and agree with mkvinfo/ffprobe.

use std::path::PathBuf;

use kvs_core::codec::aac::AudioSpecificConfig;
use kvs_core::codec::g711::{G711Law, WAVE_FORMAT_ALAW, WaveFormatEx};
use kvs_core::codec::h264::{self, AvcDecoderConfig};
use kvs_core::codec::h265::{self, HvcDecoderConfig};
use kvs_core::codec::{CodecConfig, CodecKind};
use kvs_core::mkv::TrackType;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/test-vectors/official-kvssink")
}

fn read_vector(name: &str) -> Vec<u8> {
    let path = vectors_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("test vector {} missing: {e}", path.display()))
}

/// Reads an EBML vint at `pos`: (value, length).
fn read_vint(data: &[u8], pos: usize) -> (u64, usize) {
    let first = data[pos];
    let len = first.leading_zeros() as usize + 1;
    assert!(len <= 8, "invalid vint at {pos}");
    let mut value = u64::from(first) & ((1u64 << (8 - len)) - 1);
    for &b in &data[pos + 1..pos + len] {
        value = (value << 8) | u64::from(b);
    }
    (value, len)
}

/// Every CodecPrivate (ID 0x63A2) before the first Cluster, in track order.
fn codec_privates(mkv: &[u8]) -> Vec<Vec<u8>> {
    let cluster = mkv
        .windows(4)
        .position(|w| w == [0x1f, 0x43, 0xb6, 0x75])
        .expect("no Cluster in the capture");
    let head = &mkv[..cluster];
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(off) = head[pos..].windows(2).position(|w| w == [0x63, 0xa2]) {
        let at = pos + off + 2;
        let (size, len) = read_vint(head, at);
        let start = at + len;
        out.push(head[start..start + size as usize].to_vec());
        pos = start + size as usize;
    }
    out
}

fn summary(name: &str) -> String {
    String::from_utf8(read_vector(name)).expect("summary is UTF-8")
}

/// A `key=value` from the ffprobe `stream|index=N|...` line of a summary.
fn ffprobe_field(summary: &str, index: u32, key: &str) -> u32 {
    let prefix = format!("stream|index={index}|codec_name");
    let line = summary
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no ffprobe line for stream {index}"));
    line.split('|')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {line}"))
        .parse()
        .expect("numeric field")
}

/// Pixel width/height as mkvinfo printed them in a summary.
fn mkvinfo_size(summary: &str) -> (u32, u32) {
    let get = |label: &str| -> u32 {
        summary
            .lines()
            .find_map(|l| {
                l.split_once(label)
                    .map(|(_, v)| v.trim().parse().expect("number"))
            })
            .unwrap_or_else(|| panic!("no '{label}' in summary"))
    };
    (get("Pixel width:"), get("Pixel height:"))
}

#[test]
fn h264_avcc_round_trips_and_gives_the_recorded_size() {
    let cpds = codec_privates(&read_vector("capture-h264.mkv"));
    assert_eq!(cpds.len(), 1);
    let avcc = &cpds[0];
    assert_eq!(avcc.len(), 44);

    let record = AvcDecoderConfig::parse(avcc).unwrap();
    assert_eq!(record.nal_length_size, 4);
    assert_eq!(record.sps.len(), 1);
    assert_eq!(record.pps.len(), 1);
    assert_eq!(record.high_profile_ext, None);
    assert_eq!(&record.to_bytes().unwrap()[..], &avcc[..]);

    let sps = record.first_sps().unwrap();
    assert_eq!(sps.profile_idc, 100, "mkvinfo says High");
    assert_eq!(sps.level_idc, 30, "mkvinfo says L3.0");
    assert_eq!(
        (sps.width, sps.height),
        mkvinfo_size(&summary("capture-h264.summary.txt"))
    );
    assert_eq!(sps.chroma_format_idc, 1);

    // Rebuilt from its SPS and PPS: identical apart from the high-profile trailer
    // ISO/IEC 14496-15 wants and AWS's CPD lacks.
    let rebuilt =
        AvcDecoderConfig::from_parameter_sets(&[&record.sps[0]], &[&record.pps[0]]).unwrap();
    let with_ext = rebuilt.to_bytes().unwrap();
    assert_eq!(&with_ext[..avcc.len()], &avcc[..]);
    assert_eq!(&with_ext[avcc.len()..], &[0xfd, 0xf8, 0xf8, 0x00]);
    assert_eq!(AvcDecoderConfig::parse(&with_ext).unwrap(), rebuilt);
    assert_eq!(
        &rebuilt.without_high_profile_ext().to_bytes().unwrap()[..],
        &avcc[..]
    );
}

#[test]
fn h264_codec_config_builds_the_recorded_track() {
    let cpds = codec_privates(&read_vector("capture-h264.mkv"));
    let config = CodecConfig::h264(&cpds[0]).unwrap();
    let track = config.track_info(1, 1, Some("kinesis_video"));
    assert_eq!(track.codec_id, "V_MPEG4/ISO/AVC");
    assert_eq!(track.track_type, Some(TrackType::Video));
    assert_eq!(track.codec_private.as_deref(), Some(&cpds[0][..]));
    let video = track.video.unwrap();
    assert_eq!(
        (video.pixel_width, video.pixel_height),
        mkvinfo_size(&summary("capture-h264.summary.txt"))
    );
    assert_eq!(track.audio, None);
}

#[test]
fn h265_hvcc_round_trips_and_rebuilds_from_any_order() {
    let cpds = codec_privates(&read_vector("capture-h265.mkv"));
    assert_eq!(cpds.len(), 1);
    let hvcc = &cpds[0];
    assert_eq!(hvcc.len(), 118, "mkvinfo reports size 118");

    let record = HvcDecoderConfig::parse(hvcc).unwrap();
    assert_eq!(record.nal_length_size, 4);
    let types: Vec<u8> = record.arrays.iter().map(|a| a.nal_type).collect();
    assert_eq!(types, [h265::NAL_VPS, h265::NAL_SPS, h265::NAL_PPS]);
    assert_eq!(&record.to_bytes().unwrap()[..], &hvcc[..]);

    let sps = record.first_sps().unwrap();
    assert_eq!(sps.profile_tier_level.profile_idc, 1, "mkvinfo says Main");
    assert_eq!(sps.profile_tier_level.level_idc, 90, "mkvinfo says L3.0");
    assert_eq!(
        (sps.width, sps.height),
        mkvinfo_size(&summary("capture-h265.summary.txt"))
    );
    let vps = h265::Vps::parse(&record.arrays[0].nals[0]).unwrap();
    assert_eq!(vps.profile_tier_level, sps.profile_tier_level);

    // Arrays are typed by NAL type, not by input position.
    let vps_nal = &record.arrays[0].nals[0];
    let sps_nal = &record.arrays[1].nals[0];
    let pps_nal = &record.arrays[2].nals[0];
    let shuffled: [&[u8]; 3] = [pps_nal, vps_nal, sps_nal];
    let rebuilt = HvcDecoderConfig::from_parameter_sets(&shuffled).unwrap();
    assert_eq!(&rebuilt.to_bytes().unwrap()[..], &hvcc[..]);

    let track = CodecConfig::h265(hvcc).unwrap().track_info(1, 1, None);
    assert_eq!(track.codec_id, "V_MPEGH/ISO/HEVC");
    let video = track.video.unwrap();
    assert_eq!(
        (video.pixel_width, video.pixel_height),
        (sps.width, sps.height)
    );
}

#[test]
fn aac_audio_specific_config_matches_ffprobe() {
    let cpds = codec_privates(&read_vector("capture-h264-aac.mkv"));
    assert_eq!(cpds.len(), 2);
    let asc_bytes = &cpds[1];
    let s = summary("capture-h264-aac.summary.txt");
    let rate = ffprobe_field(&s, 1, "sample_rate");
    let channels = ffprobe_field(&s, 1, "channels");

    let asc = AudioSpecificConfig::parse(asc_bytes).unwrap();
    assert_eq!(asc.object_type, 2, "ffprobe says LC");
    assert_eq!(asc.sampling_frequency, rate);
    assert_eq!(asc.channels(), Some(channels));
    // Our minimal config for the same stream is its first two bytes (the rest is
    // avenc_aac's backward-compatible SBR signalling).
    let ours = AudioSpecificConfig::new(2, rate, channels)
        .unwrap()
        .to_bytes()
        .unwrap();
    assert_eq!(&ours[..], &asc_bytes[..2]);

    let track = CodecConfig::aac(asc_bytes)
        .unwrap()
        .track_info(2, 2, Some("audio"));
    assert_eq!(track.codec_id, "A_AAC");
    assert_eq!(track.track_type, Some(TrackType::Audio));
    let audio = track.audio.unwrap();
    assert_eq!(audio.sampling_frequency, f64::from(rate));
    assert_eq!(audio.channels, channels);
    assert_eq!(track.codec_private.as_deref(), Some(&asc_bytes[..]));
}

#[test]
fn g711_cpd_fixes_exactly_the_fields_aws_gets_wrong() {
    let cpds = codec_privates(&read_vector("capture-h264-alaw.mkv"));
    assert_eq!(cpds.len(), 2);
    let aws_bytes = &cpds[1];
    let s = summary("capture-h264-alaw.summary.txt");
    let rate = ffprobe_field(&s, 1, "sample_rate");
    let channels = ffprobe_field(&s, 1, "channels") as u16;

    let aws = WaveFormatEx::parse(aws_bytes).unwrap();
    assert_eq!(aws.format_tag, WAVE_FORMAT_ALAW);
    let ours = WaveFormatEx::g711(G711Law::ALaw, rate, channels).unwrap();
    // The spec's quirk: rate * channels / 8 average bytes and 0 bits per sample.
    assert_eq!(aws.avg_bytes_per_sec, rate * u32::from(channels) / 8);
    assert_eq!(aws.bits_per_sample, 0);
    assert_eq!(ours.avg_bytes_per_sec, rate * u32::from(channels));
    assert_eq!(ours.bits_per_sample, 8);
    assert_eq!(
        WaveFormatEx {
            avg_bytes_per_sec: ours.avg_bytes_per_sec,
            bits_per_sample: ours.bits_per_sample,
            ..aws
        },
        ours,
        "only nAvgBytesPerSec and wBitsPerSample may differ"
    );
    let ours_bytes = ours.to_array();
    let differing: Vec<usize> = (0..18).filter(|&i| ours_bytes[i] != aws_bytes[i]).collect();
    assert!(
        differing
            .iter()
            .all(|i| (8..12).contains(i) || (14..16).contains(i))
    );

    let config = CodecConfig::g711(G711Law::ALaw, rate, channels).unwrap();
    assert_eq!(config.kind, CodecKind::G711(G711Law::ALaw));
    let track = config.track_info(2, 2, Some("audio"));
    assert_eq!(track.codec_id, "A_MS/ACM");
    assert_eq!(track.codec_private.as_deref(), Some(&ours_bytes[..]));
    let audio = track.audio.unwrap();
    assert_eq!(
        (audio.sampling_frequency, audio.channels, audio.bit_depth),
        (f64::from(rate), u32::from(channels), Some(8))
    );
}

#[test]
fn truncated_records_are_errors() {
    let h264 = codec_privates(&read_vector("capture-h264.mkv")).remove(0);
    for cut in 0..h264.len() {
        assert!(
            AvcDecoderConfig::parse(&h264[..cut]).is_err(),
            "avcC cut at {cut}"
        );
    }
    let h265 = codec_privates(&read_vector("capture-h265.mkv")).remove(0);
    for cut in 0..h265.len() {
        assert!(
            HvcDecoderConfig::parse(&h265[..cut]).is_err(),
            "hvcC cut at {cut}"
        );
    }
    let record = AvcDecoderConfig::parse(&h264).unwrap();
    let sps = &record.sps[0];
    // The SPS needs every byte up to frame cropping; shorter ones must fail cleanly.
    for cut in 0..10 {
        assert!(h264::Sps::parse(&sps[..cut]).is_err(), "SPS cut at {cut}");
    }
}

/// Corrupted records must give errors or values, never panics.
#[test]
fn mutated_records_never_panic() {
    let mkvs = [
        "capture-h264.mkv",
        "capture-h265.mkv",
        "capture-h264-aac.mkv",
        "capture-h264-alaw.mkv",
    ];
    let mut seeds: Vec<Vec<u8>> = mkvs
        .iter()
        .flat_map(|m| codec_privates(&read_vector(m)))
        .collect();
    let avcc = AvcDecoderConfig::parse(&seeds[0]).unwrap();
    seeds.push(avcc.sps[0].to_vec());
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for seed in &seeds {
        for _ in 0..2000 {
            let mut data = seed.clone();
            for _ in 0..=(next() % 4) {
                let i = (next() as usize) % data.len();
                data[i] = next() as u8;
            }
            let keep = (next() as usize) % (data.len() + 1);
            data.truncate(keep.max(data.len() / 2));
            let _ = AvcDecoderConfig::parse(&data).map(|r| r.to_bytes());
            let _ = HvcDecoderConfig::parse(&data).map(|r| r.to_bytes());
            let _ = h264::Sps::parse(&data);
            let _ = h265::Sps::parse(&data);
            let _ = h265::Vps::parse(&data);
            let _ = AudioSpecificConfig::parse(&data);
            let _ = WaveFormatEx::parse(&data);
            let _ = CodecConfig::h264(&data);
            let _ = CodecConfig::h265(&data);
            let _ = CodecConfig::aac(&data);
        }
    }
}
