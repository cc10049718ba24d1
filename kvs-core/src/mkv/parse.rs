// SPDX-License-Identifier: MPL-2.0
//! Decoding of complete element bodies (EBML header, Info, Tracks, Tags, blocks) once the
//! streaming reader has gathered them.

use bytes::Bytes;

use super::error::MkvError;
use super::events::{Block, EbmlHeader, Lacing};
use super::ids;
use super::reader::ReaderLimits;
use super::types::{AudioParams, SegmentInfo, SimpleTag, Tag, TrackInfo, TrackType, VideoParams};
use crate::ebml::{self, EbmlError, ElementSize};

fn ebml_err(offset: u64) -> impl Fn(EbmlError) -> MkvError {
    move |source| MkvError::Ebml { offset, source }
}

/// Calls `f(id, body, offset)` for each child of `body`, which starts at input offset `base`.
pub(crate) fn for_each_child(
    body: &Bytes,
    base: u64,
    mut f: impl FnMut(u32, Bytes, u64) -> Result<(), MkvError>,
) -> Result<(), MkvError> {
    let mut pos = 0usize;
    while pos < body.len() {
        let offset = base + pos as u64;
        let rest = body.get(pos..).unwrap_or_default();
        let overflow = |id| MkvError::OverflowsParent { id, offset };
        let (id, id_len) = ebml::read_id(rest)
            .map_err(ebml_err(offset))?
            .ok_or(overflow(0))?;
        let (size, size_len) = ebml::read_size(rest.get(id_len..).unwrap_or_default())
            .map_err(ebml_err(offset))?
            .ok_or(overflow(id))?;
        let ElementSize::Known(size) = size else {
            return Err(MkvError::UnknownSizeNotAllowed { id, offset });
        };
        let start = pos + id_len + size_len;
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| start.checked_add(s))
            .filter(|&e| e <= body.len())
            .ok_or(overflow(id))?;
        f(id, body.slice(start..end), offset)?;
        pos = end;
    }
    Ok(())
}

fn uint(body: &[u8], offset: u64) -> Result<u64, MkvError> {
    ebml::read_uint(body).map_err(ebml_err(offset))
}

fn uint32(id: u32, body: &[u8], offset: u64) -> Result<u32, MkvError> {
    u32::try_from(uint(body, offset)?).map_err(|_| MkvError::InvalidElement {
        id,
        offset,
        reason: "value does not fit in 32 bits",
    })
}

pub(crate) fn ebml_header(body: &Bytes, base: u64) -> Result<EbmlHeader, MkvError> {
    let mut h = EbmlHeader::default();
    for_each_child(body, base, |id, b, off| {
        match id {
            ids::EBML_VERSION => h.version = uint(&b, off)?,
            ids::EBML_READ_VERSION => h.read_version = uint(&b, off)?,
            ids::EBML_MAX_ID_LENGTH => h.max_id_length = uint(&b, off)?,
            ids::EBML_MAX_SIZE_LENGTH => h.max_size_length = uint(&b, off)?,
            ids::DOC_TYPE => h.doc_type = ebml::read_string(&b),
            ids::DOC_TYPE_VERSION => h.doc_type_version = uint(&b, off)?,
            ids::DOC_TYPE_READ_VERSION => h.doc_type_read_version = uint(&b, off)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(h)
}

pub(crate) fn info(body: &Bytes, base: u64) -> Result<SegmentInfo, MkvError> {
    let mut info = SegmentInfo::default();
    for_each_child(body, base, |id, b, off| {
        match id {
            ids::SEGMENT_UID => info.segment_uid = <[u8; 16]>::try_from(&b[..]).ok(),
            ids::TIMECODE_SCALE => {
                info.timecode_scale = uint(&b, off)?;
                if info.timecode_scale == 0 {
                    return Err(MkvError::InvalidElement {
                        id,
                        offset: off,
                        reason: "TimecodeScale of 0",
                    });
                }
            }
            ids::TITLE => info.title = Some(ebml::read_string(&b)),
            ids::MUXING_APP => info.muxing_app = Some(ebml::read_string(&b)),
            ids::WRITING_APP => info.writing_app = Some(ebml::read_string(&b)),
            _ => {}
        }
        Ok(())
    })?;
    Ok(info)
}

pub(crate) fn tracks(
    body: &Bytes,
    base: u64,
    limits: &ReaderLimits,
) -> Result<Vec<TrackInfo>, MkvError> {
    let mut tracks = Vec::new();
    for_each_child(body, base, |id, b, off| {
        if id != ids::TRACK_ENTRY {
            return Ok(());
        }
        if tracks.len() >= limits.max_tracks {
            return Err(MkvError::TooManyTracks {
                limit: limits.max_tracks,
            });
        }
        tracks.push(track_entry(&b, off)?);
        Ok(())
    })?;
    Ok(tracks)
}

fn track_entry(body: &Bytes, base: u64) -> Result<TrackInfo, MkvError> {
    let mut t = TrackInfo::default();
    for_each_child(body, base, |id, b, off| {
        match id {
            ids::TRACK_NUMBER => t.number = uint(&b, off)?,
            ids::TRACK_UID => t.uid = uint(&b, off)?,
            ids::TRACK_TYPE => {
                let v = u8::try_from(uint(&b, off)?).map_err(|_| MkvError::InvalidElement {
                    id,
                    offset: off,
                    reason: "TrackType above 255",
                })?;
                t.track_type = Some(TrackType::from_u8(v));
            }
            ids::NAME => t.name = Some(ebml::read_string(&b)),
            ids::CODEC_ID => t.codec_id = ebml::read_string(&b),
            ids::CODEC_PRIVATE => t.codec_private = Some(b),
            ids::VIDEO => {
                let mut v = VideoParams::default();
                for_each_child(&b, off, |id, b, off| {
                    match id {
                        ids::PIXEL_WIDTH => v.pixel_width = uint32(id, &b, off)?,
                        ids::PIXEL_HEIGHT => v.pixel_height = uint32(id, &b, off)?,
                        _ => {}
                    }
                    Ok(())
                })?;
                t.video = Some(v);
            }
            ids::AUDIO => {
                let mut a = AudioParams {
                    // Matroska's default when the element is absent.
                    sampling_frequency: 8000.0,
                    channels: 1,
                    bit_depth: None,
                };
                for_each_child(&b, off, |id, b, off| {
                    match id {
                        ids::SAMPLING_FREQUENCY => {
                            a.sampling_frequency = ebml::read_float(&b).map_err(ebml_err(off))?;
                        }
                        ids::CHANNELS => a.channels = uint32(id, &b, off)?,
                        ids::BIT_DEPTH => a.bit_depth = Some(uint32(id, &b, off)?),
                        _ => {}
                    }
                    Ok(())
                })?;
                t.audio = Some(a);
            }
            _ => {}
        }
        Ok(())
    })?;
    if t.number == 0 {
        return Err(MkvError::InvalidElement {
            id: ids::TRACK_ENTRY,
            offset: base,
            reason: "TrackEntry without a non-zero TrackNumber",
        });
    }
    Ok(t)
}

pub(crate) fn tags(body: &Bytes, base: u64, limits: &ReaderLimits) -> Result<Vec<Tag>, MkvError> {
    let mut tags = Vec::new();
    let mut count = 0usize;
    for_each_child(body, base, |id, b, off| {
        if id != ids::TAG {
            return Ok(());
        }
        let mut tag = Tag::default();
        // Targets and nested SimpleTags are read past: KVS uses neither.
        for_each_child(&b, off, |id, b, off| {
            if id != ids::SIMPLE_TAG {
                return Ok(());
            }
            count += 1;
            if count > limits.max_tag_count {
                return Err(MkvError::TooManyTags {
                    limit: limits.max_tag_count,
                });
            }
            let mut st = SimpleTag::new(String::new(), String::new());
            for_each_child(&b, off, |id, b, _| {
                match id {
                    ids::TAG_NAME => st.name = ebml::read_string(&b),
                    ids::TAG_STRING => st.value = ebml::read_string(&b),
                    _ => {}
                }
                Ok(())
            })?;
            tag.simple_tags.push(st);
            Ok(())
        })?;
        tags.push(tag);
        Ok(())
    })?;
    Ok(tags)
}

/// Decodes a SimpleBlock (or a BlockGroup's Block, `simple == false`) body.
pub(crate) fn block(body: &Bytes, offset: u64, id: u32, simple: bool) -> Result<Block, MkvError> {
    let short = MkvError::InvalidElement {
        id,
        offset,
        reason: "block shorter than its header",
    };
    let (track_number, vlen) = ebml::read_vint(body)
        .map_err(ebml_err(offset))?
        .ok_or(short.clone())?;
    let Some(&[t0, t1, flags]) = body.get(vlen..vlen + 3) else {
        return Err(short);
    };
    let lacing = match (flags >> 1) & 0x03 {
        0 => Lacing::None,
        1 => Lacing::Xiph,
        2 => Lacing::FixedSize,
        _ => Lacing::Ebml,
    };
    Ok(Block {
        track_number,
        relative_timecode: i16::from_be_bytes([t0, t1]),
        keyframe: simple && flags & 0x80 != 0,
        invisible: flags & 0x08 != 0,
        discardable: simple && flags & 0x01 != 0,
        lacing,
        payload: body.slice(vlen + 3..),
    })
}

/// The Block inside a BlockGroup, if any; key frame = no ReferenceBlock.
pub(crate) fn block_group(body: &Bytes, offset: u64) -> Result<Option<Block>, MkvError> {
    let mut found = None;
    let mut referenced = false;
    for_each_child(body, offset, |id, b, off| {
        match id {
            ids::BLOCK if found.is_none() => found = Some(block(&b, off, id, false)?),
            ids::REFERENCE_BLOCK => referenced = true,
            _ => {}
        }
        Ok(())
    })?;
    Ok(found.map(|mut b| {
        b.keyframe = !referenced;
        b
    }))
}
