// SPDX-License-Identifier: MPL-2.0
//! Streaming (push) MKV reader for PutMedia bodies and GetMedia output.
//!
//! Input arrives as `Bytes` chunks of any size; events come out as soon as the elements
//! they describe are complete. Only Segment and Cluster are entered; every other level-1
//! element is gathered whole (within [`ReaderLimits`]) and decoded, or skipped without being
//! buffered. Block payloads are slices of the pushed chunks, copied only when a block
//! straddles chunks.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use super::error::MkvError;
use super::events::{MkvEvent, MkvEventAt};
use super::ids;
use super::parse;
use crate::ebml::{self, ElementSize, MAX_HEADER_LEN};

/// Bounds on what hostile input can make the reader hold or build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderLimits {
    /// Largest SimpleBlock/BlockGroup body.
    pub max_block_size: u64,
    /// Largest EBML header, Info or Tracks element (CodecPrivate lives in Tracks).
    pub max_header_size: u64,
    /// Largest Tags element.
    pub max_tags_size: u64,
    /// Most TrackEntries in one Tracks element.
    pub max_tracks: usize,
    /// Most SimpleTags in one Tags element.
    pub max_tag_count: usize,
    /// Most master elements open at once (Segment, Cluster).
    pub max_nesting: usize,
}

impl Default for ReaderLimits {
    fn default() -> Self {
        ReaderLimits {
            max_block_size: 64 << 20,
            max_header_size: 8 << 20,
            max_tags_size: 1 << 20,
            max_tracks: 64,
            max_tag_count: 1024,
            max_nesting: 8,
        }
    }
}

/// Pushed chunks smaller than this are copied together while an element is incomplete.
const COALESCE_BELOW: usize = 4096;

#[derive(Debug)]
struct Open {
    id: u32,
    offset: u64,
    /// Where the element ends: its own size, or its parent's end for an unknown size.
    end: Option<u64>,
    unknown_size: bool,
    size: Option<u64>,
    /// Cluster only: Timecode read and ClusterStart reported.
    started: bool,
}

enum Step {
    Progress,
    NeedMore,
}

/// Push parser: `push` chunks, then drain `next_event` until it returns `Ok(None)`; call
/// `finish` at the end of input and drain once more.
#[derive(Debug)]
pub struct MkvReader {
    limits: ReaderLimits,
    chunks: VecDeque<Bytes>,
    /// Small pushes that cannot complete the element being waited for, gathered so that a
    /// peer sending tiny chunks cannot make us hold one `Bytes` (32+ bytes) per input byte.
    /// Logically after `chunks`; only non-empty while `buffered < want`.
    staging: BytesMut,
    /// Bytes held in `chunks` and `staging`.
    buffered: usize,
    /// Input offset of the first byte in `chunks`.
    offset: u64,
    /// Bytes still to drop for an element being skipped.
    skip: u64,
    /// Nothing useful can happen before this many bytes are buffered.
    want: usize,
    stack: Vec<Open>,
    queue: VecDeque<MkvEventAt>,
    eof: bool,
    failed: Option<MkvError>,
}

impl Default for MkvReader {
    fn default() -> Self {
        Self::new()
    }
}

impl MkvReader {
    /// A reader with the default [`ReaderLimits`].
    pub fn new() -> Self {
        Self::with_limits(ReaderLimits::default())
    }

    /// A reader enforcing `limits`.
    pub fn with_limits(limits: ReaderLimits) -> Self {
        MkvReader {
            limits,
            chunks: VecDeque::new(),
            staging: BytesMut::new(),
            buffered: 0,
            offset: 0,
            skip: 0,
            want: 0,
            stack: Vec::new(),
            queue: VecDeque::new(),
            eof: false,
            failed: None,
        }
    }

    /// Appends input. The reader keeps the `Bytes` (no copy) until parsed; only chunks under
    /// 4 KiB that leave an element still incomplete are copied together.
    pub fn push(&mut self, data: Bytes) {
        if self.eof {
            self.failed.get_or_insert(MkvError::PushAfterFinish);
            return;
        }
        if data.is_empty() {
            return;
        }
        let after = self.buffered + data.len();
        if data.len() < COALESCE_BELOW && after < self.want {
            self.staging.extend_from_slice(&data);
        } else {
            self.flush_staging();
            self.chunks.push_back(data);
        }
        self.buffered = after;
    }

    fn flush_staging(&mut self) {
        if !self.staging.is_empty() {
            self.chunks.push_back(self.staging.split().freeze());
        }
    }

    /// Input offset up to which everything has been parsed.
    pub fn position(&self) -> u64 {
        self.offset
    }

    /// Bytes pushed but not yet parsed.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// Separate buffers held for those bytes (diagnostics: stays small even when the peer
    /// sends tiny chunks).
    pub fn buffered_chunks(&self) -> usize {
        self.chunks.len() + usize::from(!self.staging.is_empty())
    }

    /// The next event, or `Ok(None)` when more input is needed (or, after `finish`, when
    /// the input is exhausted). After an error every call returns that error.
    pub fn next_event(&mut self) -> Result<Option<MkvEventAt>, MkvError> {
        loop {
            if let Some(ev) = self.queue.pop_front() {
                return Ok(Some(ev));
            }
            if let Some(e) = &self.failed {
                return Err(e.clone());
            }
            match self.step() {
                Ok(Step::Progress) => {}
                Ok(Step::NeedMore) => return Ok(None),
                Err(e) => {
                    self.failed = Some(e.clone());
                    return Err(e);
                }
            }
        }
    }

    /// Marks the end of input and parses what is left; the resulting events (including the
    /// ClusterEnd/SegmentEnd of unknown-size elements, which end cleanly here) stay queued
    /// for `next_event`. Fails if the input stopped inside any other element.
    pub fn finish(&mut self) -> Result<(), MkvError> {
        self.eof = true;
        loop {
            if let Some(e) = &self.failed {
                return Err(e.clone());
            }
            match self.step() {
                Ok(Step::Progress) => {}
                Ok(Step::NeedMore) => return Ok(()),
                Err(e) => {
                    self.failed = Some(e.clone());
                    return Err(e);
                }
            }
        }
    }

    fn emit(&mut self, offset: u64, event: MkvEvent) {
        self.queue.push_back(MkvEventAt { offset, event });
    }

    fn need_more(&mut self) -> Result<Step, MkvError> {
        if !self.eof {
            return Ok(Step::NeedMore);
        }
        if self.buffered > 0 || self.skip > 0 {
            return Err(MkvError::Truncated {
                offset: self.offset,
            });
        }
        match self.stack.last() {
            None => Ok(Step::NeedMore),
            // Cut before its Timecode: the input stopped short, the cluster is not malformed.
            Some(top) if top.unknown_size && (top.id != ids::CLUSTER || top.started) => {
                self.close_top()?;
                Ok(Step::Progress)
            }
            Some(_) => Err(MkvError::Truncated {
                offset: self.offset,
            }),
        }
    }

    fn close_top(&mut self) -> Result<(), MkvError> {
        let Some(open) = self.stack.pop() else {
            return Ok(());
        };
        match open.id {
            ids::CLUSTER if !open.started => Err(MkvError::MissingClusterTimecode {
                offset: open.offset,
            }),
            ids::CLUSTER => {
                self.emit(self.offset, MkvEvent::ClusterEnd);
                Ok(())
            }
            _ => {
                self.emit(self.offset, MkvEvent::SegmentEnd);
                Ok(())
            }
        }
    }

    fn step(&mut self) -> Result<Step, MkvError> {
        if self.skip > 0 {
            self.flush_staging();
            let n = usize::try_from(self.skip).map_or(self.buffered, |s| s.min(self.buffered));
            self.discard(n);
            self.skip -= n as u64;
            if self.skip > 0 {
                return self.need_more();
            }
        }
        if self
            .stack
            .last()
            .is_some_and(|top| top.end == Some(self.offset))
        {
            self.close_top()?;
            return Ok(Step::Progress);
        }
        if self.buffered == 0 || self.buffered < self.want {
            return self.need_more();
        }
        self.flush_staging();

        let offset = self.offset;
        let mut hdr = [0u8; MAX_HEADER_LEN];
        let n = self.peek(&mut hdr);
        let hdr = hdr.get(..n).unwrap_or_default();
        let ebml_err = |source| MkvError::Ebml { offset, source };
        let Some((id, id_len)) = ebml::read_id(hdr).map_err(ebml_err)? else {
            self.want = self.buffered + 1;
            return self.need_more();
        };
        let Some((size, size_len)) =
            ebml::read_size(hdr.get(id_len..).unwrap_or_default()).map_err(ebml_err)?
        else {
            self.want = self.buffered + 1;
            return self.need_more();
        };
        let hlen = id_len + size_len;

        // An unknown-size element ends where something that cannot be its child starts.
        if let Some(top) = self.stack.last() {
            let is_child = match top.id {
                ids::CLUSTER => !ids::is_level1(id) && !ids::is_top_level(id),
                _ => !ids::is_top_level(id),
            };
            if top.unknown_size && !is_child {
                self.close_top()?;
                return Ok(Step::Progress);
            }
        }

        let parent_end = self.stack.last().and_then(|o| o.end);
        if let (Some(end), ElementSize::Known(s)) = (parent_end, size)
            && offset
                .checked_add(hlen as u64)
                .and_then(|o| o.checked_add(s))
                .is_none_or(|e| e > end)
        {
            return Err(MkvError::OverflowsParent { id, offset });
        }

        let parent = self.stack.last().map(|o| o.id);
        let limits = self.limits;
        match (parent, id) {
            (None, ids::EBML) => {
                let Some(body) = self.take_body(id, hlen, size, limits.max_header_size)? else {
                    return self.need_more();
                };
                let h = parse::ebml_header(&body, offset + hlen as u64)?;
                self.emit(offset, MkvEvent::EbmlHeader(h));
            }
            (None, ids::SEGMENT) | (Some(ids::SEGMENT), ids::CLUSTER) => {
                if self.stack.len() >= limits.max_nesting {
                    return Err(MkvError::NestingTooDeep {
                        limit: limits.max_nesting,
                    });
                }
                self.discard(hlen);
                let known = size.known();
                let end = known.map(|s| self.offset + s).or(parent_end);
                self.stack.push(Open {
                    id,
                    offset,
                    end,
                    unknown_size: known.is_none(),
                    size: known,
                    started: false,
                });
                if id == ids::SEGMENT {
                    self.emit(offset, MkvEvent::SegmentStart { size: known });
                }
            }
            (Some(ids::SEGMENT), ids::INFO) => {
                let Some(body) = self.take_body(id, hlen, size, limits.max_header_size)? else {
                    return self.need_more();
                };
                let info = parse::info(&body, offset + hlen as u64)?;
                self.emit(offset, MkvEvent::Info(info));
            }
            (Some(ids::SEGMENT), ids::TRACKS) => {
                let Some(body) = self.take_body(id, hlen, size, limits.max_header_size)? else {
                    return self.need_more();
                };
                let tracks = parse::tracks(&body, offset + hlen as u64, &limits)?;
                self.emit(offset, MkvEvent::Tracks(tracks));
            }
            (Some(ids::SEGMENT), ids::TAGS) => {
                let Some(body) = self.take_body(id, hlen, size, limits.max_tags_size)? else {
                    return self.need_more();
                };
                let tags = parse::tags(&body, offset + hlen as u64, &limits)?;
                self.emit(offset, MkvEvent::Tags(tags));
            }
            (Some(ids::CLUSTER), ids::TIMECODE) if !self.cluster_started() => {
                let Some(body) = self.take_body(id, hlen, size, 8)? else {
                    return self.need_more();
                };
                let timecode =
                    ebml::read_uint(&body).map_err(|source| MkvError::Ebml { offset, source })?;
                if let Some(top) = self.stack.last_mut() {
                    top.started = true;
                    let (at, size) = (top.offset, top.size);
                    self.emit(at, MkvEvent::ClusterStart { timecode, size });
                }
            }
            (Some(ids::CLUSTER), ids::SIMPLE_BLOCK | ids::BLOCK_GROUP) => {
                if !self.cluster_started() {
                    return Err(MkvError::BlockBeforeClusterTimecode { offset });
                }
                let Some(body) = self.take_body(id, hlen, size, limits.max_block_size)? else {
                    return self.need_more();
                };
                let body_offset = offset + hlen as u64;
                let block = if id == ids::SIMPLE_BLOCK {
                    Some(parse::block(&body, offset, id, true)?)
                } else {
                    parse::block_group(&body, body_offset)?
                };
                match block {
                    Some(b) => self.emit(offset, MkvEvent::Block(b)),
                    None => self.emit(
                        offset,
                        MkvEvent::Skipped {
                            id,
                            size: body.len() as u64,
                        },
                    ),
                }
            }
            _ => {
                let ElementSize::Known(size) = size else {
                    return Err(MkvError::UnknownSizeNotAllowed { id, offset });
                };
                self.discard(hlen);
                self.skip = size;
                // Before its Timecode a cluster has not been reported yet; CRC-32 and the
                // like that precede it would otherwise appear outside it.
                if parent != Some(ids::CLUSTER) || self.cluster_started() {
                    self.emit(offset, MkvEvent::Skipped { id, size });
                }
            }
        }
        self.want = 0;
        Ok(Step::Progress)
    }

    fn cluster_started(&self) -> bool {
        self.stack.last().is_some_and(|o| o.started)
    }

    /// Takes an element's header and body once all of it is buffered.
    fn take_body(
        &mut self,
        id: u32,
        hlen: usize,
        size: ElementSize,
        limit: u64,
    ) -> Result<Option<Bytes>, MkvError> {
        let offset = self.offset;
        let ElementSize::Known(size) = size else {
            return Err(MkvError::UnknownSizeNotAllowed { id, offset });
        };
        let too_large = MkvError::ElementTooLarge {
            id,
            offset,
            size,
            limit,
        };
        if size > limit {
            return Err(too_large);
        }
        let total = usize::try_from(size)
            .ok()
            .and_then(|s| s.checked_add(hlen))
            .ok_or(too_large)?;
        if self.buffered < total {
            self.want = total;
            return Ok(None);
        }
        self.discard(hlen);
        Ok(Some(self.take(total - hlen)))
    }

    /// Copies up to `out.len()` leading bytes without consuming them.
    fn peek(&self, out: &mut [u8]) -> usize {
        let mut n = 0;
        for chunk in &self.chunks {
            let Some(dst) = out.get_mut(n..) else { break };
            let k = dst.len().min(chunk.len());
            if let (Some(d), Some(s)) = (dst.get_mut(..k), chunk.get(..k)) {
                d.copy_from_slice(s);
            }
            n += k;
            if n == out.len() {
                break;
            }
        }
        n
    }

    /// Removes `n` buffered bytes (n ≤ buffered) as one `Bytes`, without copying when they
    /// sit in one chunk.
    fn take(&mut self, n: usize) -> Bytes {
        self.buffered -= n;
        self.offset += n as u64;
        if let Some(front) = self.chunks.front_mut()
            && front.len() >= n
        {
            let out = front.split_to(n);
            if front.is_empty() {
                self.chunks.pop_front();
            }
            return out;
        }
        let mut out = BytesMut::with_capacity(n);
        while out.len() < n {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            let k = (n - out.len()).min(front.len());
            out.extend_from_slice(front.get(..k).unwrap_or_default());
            front.advance(k);
            if front.is_empty() {
                self.chunks.pop_front();
            }
        }
        out.freeze()
    }

    /// Drops `n` buffered bytes (n ≤ buffered).
    fn discard(&mut self, n: usize) {
        self.buffered -= n;
        self.offset += n as u64;
        let mut left = n;
        while left > 0 {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            let k = left.min(front.len());
            front.advance(k);
            left -= k;
            if front.is_empty() {
                self.chunks.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_finishes_cleanly() {
        let mut r = MkvReader::new();
        assert_eq!(r.next_event().unwrap(), None);
        r.finish().unwrap();
        assert_eq!(r.next_event().unwrap(), None);
    }

    #[test]
    fn truncated_header_is_an_error_at_finish() {
        let mut r = MkvReader::new();
        r.push(Bytes::from_static(&[0x1A, 0x45]));
        assert_eq!(r.next_event().unwrap(), None);
        assert_eq!(r.finish(), Err(MkvError::Truncated { offset: 0 }));
    }

    #[test]
    fn oversized_block_rejected_before_buffering() {
        let mut r = MkvReader::with_limits(ReaderLimits {
            max_block_size: 100,
            ..ReaderLimits::default()
        });
        // Segment (unknown), Cluster (unknown), Timecode 0, SimpleBlock of 1000 bytes.
        r.push(Bytes::from_static(&[
            0x18, 0x53, 0x80, 0x67, 0xFF, 0x1F, 0x43, 0xB6, 0x75, 0xFF, 0xE7, 0x81, 0x00, 0xA3,
            0x43, 0xE8,
        ]));
        let mut events = Vec::new();
        let err = loop {
            match r.next_event() {
                Ok(Some(e)) => events.push(e.event),
                Ok(None) => panic!("expected an error"),
                Err(e) => break e,
            }
        };
        assert!(matches!(err, MkvError::ElementTooLarge { size: 1000, .. }));
        assert_eq!(events.len(), 2);
    }
}
