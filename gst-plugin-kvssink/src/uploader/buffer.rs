// SPDX-License-Identifier: MPL-2.0
//! The bounded store of fragments not yet acknowledged, and the per-connection send cursor.
//!
//! Fragments are kept as the chunks the muxer produced (reference-counted `Bytes`, never
//! copied). A connection's request body pulls from here through a [`Cursor`], so a fragment
//! dropped for lack of space is simply never sent, and a reconnect resends by moving a cursor
//! rather than by replaying a queue.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::payload::{BodyData, Payload};

/// How far an acknowledgement has got, in the order the service sends them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum AckLevel {
    None,
    Buffering,
    Received,
    Persisted,
}

/// When a fragment may leave the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TrimAt {
    /// ACKs are off: nothing will ever confirm it, so it goes once fully written.
    Sent,
    /// Retention 0: the service never persists, RECEIVED is the last word.
    Received,
    Persisted,
}

#[derive(Debug)]
struct Fragment {
    seq: u64,
    header_id: u64,
    timecode: u64,
    parts: Vec<Payload>,
    len: usize,
    complete: bool,
    arrived: Instant,
    ack: AckLevel,
    /// The connection that last sent (part of) it; ACKs are matched against it.
    conn: Option<u64>,
    /// Set while a connection is part-way through it: it cannot be dropped then without
    /// cutting a cluster in half on the wire.
    in_flight: bool,
    /// When its last byte went to the connection (for the ACK latency statistic).
    sent_at: Option<Instant>,
}

/// Position of one connection's request body in the buffer.
#[derive(Debug, Clone)]
pub(crate) struct Cursor {
    pub(crate) conn: u64,
    pub(crate) header_id: u64,
    header_sent: bool,
    seq: u64,
    part: usize,
    /// End the body at the next fragment boundary (connection rotation).
    pub(crate) rotate: bool,
}

/// What a request body gets when it asks for more.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    Data(BodyData),
    /// Nothing to send yet.
    Wait,
    /// This connection is done: end of stream, a new MKV header follows, or rotation.
    End,
}

/// Why fragments were dropped, with how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dropped {
    pub(crate) count: usize,
    pub(crate) reason: String,
}

/// What an ACK matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AckMatch {
    /// From the fragment's last byte being written to its PERSISTED ACK.
    pub(crate) persist_latency: Option<Duration>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BufferStats {
    pub(crate) fragments: usize,
    pub(crate) bytes: usize,
}

#[derive(Debug)]
pub(crate) struct FragmentBuffer {
    /// Headers still referenced by a buffered fragment, plus the current one (last).
    headers: VecDeque<(u64, Bytes)>,
    next_header_id: u64,
    fragments: VecDeque<Fragment>,
    next_seq: u64,
    bytes: usize,
    max_bytes: u64,
    max_duration: Duration,
    trim: TrimAt,
    /// Data chunks are being discarded until the next fragment start (its fragment was
    /// dropped while still arriving, or data came before any fragment).
    discarding: bool,
    eos: bool,
    /// Emptied part lists of fragments that left, reused for new fragments so that the
    /// steady state allocates nothing per frame.
    spare_parts: Vec<Vec<Payload>>,
}

/// Part lists kept for reuse.
const SPARE_PART_LISTS: usize = 4;
/// Parts a new list has room for: a 1 s fragment at 30 fps (block header + payload each).
const PARTS_PER_FRAGMENT: usize = 64;

impl FragmentBuffer {
    pub(crate) fn new(max_bytes: u64, max_duration: Duration, trim: TrimAt) -> Self {
        Self {
            headers: VecDeque::new(),
            next_header_id: 0,
            fragments: VecDeque::new(),
            next_seq: 0,
            bytes: 0,
            max_bytes,
            max_duration,
            trim,
            discarding: false,
            eos: false,
            spare_parts: Vec::new(),
        }
    }

    pub(crate) fn stats(&self) -> BufferStats {
        BufferStats {
            fragments: self.fragments.len(),
            bytes: self.bytes,
        }
    }

    pub(crate) fn set_eos(&mut self) {
        self.close_last();
        self.eos = true;
    }

    /// Flow control: over `window` bytes with a complete fragment still unconfirmed (the
    /// open fragment alone never holds the producer back, whatever its size).
    pub(crate) fn holds_back(&self, window: u64) -> bool {
        self.bytes as u64 > window && self.fragments.iter().any(|f| f.complete)
    }

    /// Nothing left that the service has not confirmed (or, ACKs off, not been sent).
    pub(crate) fn is_empty(&self) -> bool {
        self.fragments.is_empty()
    }

    /// A new MKV header. Returns true when it differs from the current one, i.e. the
    /// current connection must end and a new one start.
    pub(crate) fn push_header(&mut self, bytes: Bytes) -> bool {
        self.close_last();
        if self.headers.back().is_some_and(|(_, h)| *h == bytes) {
            return false;
        }
        let id = self.next_header_id;
        self.next_header_id += 1;
        self.bytes += bytes.len();
        self.headers.push_back((id, bytes));
        self.prune_headers();
        true
    }

    pub(crate) fn start_fragment(
        &mut self,
        timecode: u64,
        bytes: Bytes,
        now: Instant,
    ) -> Option<Dropped> {
        self.close_last();
        let Some(&(header_id, _)) = self.headers.back() else {
            // Without a header the cluster cannot be sent on any connection.
            self.discarding = true;
            return Some(Dropped {
                count: 1,
                reason: "fragment arrived before any stream header".into(),
            });
        };
        self.discarding = false;
        let len = bytes.len();
        self.bytes += len;
        let parts = self.take_parts_vec(Payload::Bytes(bytes));
        self.fragments.push_back(Fragment {
            seq: self.next_seq,
            header_id,
            timecode,
            len,
            parts,
            complete: false,
            arrived: now,
            ack: AckLevel::None,
            conn: None,
            in_flight: false,
            sent_at: None,
        });
        self.next_seq += 1;
        self.enforce_limits(now)
    }

    /// Appends to the fragment being built. Returns what had to go to make room.
    pub(crate) fn push_data(&mut self, part: impl Into<Payload>, now: Instant) -> Option<Dropped> {
        if self.discarding {
            return None;
        }
        let part = part.into();
        match self.fragments.back_mut() {
            Some(f) if !f.complete => {
                f.len += part.len();
                self.bytes += part.len();
                f.parts.push(part);
            }
            _ => {
                // Data outside a fragment has no place in the stream.
                self.discarding = true;
                return None;
            }
        }
        self.enforce_limits(now)
    }

    pub(crate) fn end_fragment(&mut self) {
        self.close_last();
    }

    fn close_last(&mut self) {
        if let Some(f) = self.fragments.back_mut() {
            f.complete = true;
        }
    }

    fn enforce_limits(&mut self, now: Instant) -> Option<Dropped> {
        let mut count = 0;
        let mut over_bytes = false;
        loop {
            let too_big = self.bytes as u64 > self.max_bytes;
            let too_old = self
                .fragments
                .iter()
                .find(|f| !f.in_flight)
                .is_some_and(|f| now.saturating_duration_since(f.arrived) > self.max_duration);
            if !too_big && !too_old {
                break;
            }
            // Oldest first, but never one a connection is part-way through.
            let Some(idx) = self.fragments.iter().position(|f| !f.in_flight) else {
                break;
            };
            over_bytes |= too_big;
            let is_last = idx + 1 == self.fragments.len();
            if let Some(f) = self.remove_at(idx) {
                count += 1;
                if is_last && !f.complete {
                    self.discarding = true;
                }
            }
        }
        self.prune_headers();
        (count > 0).then(|| Dropped {
            count,
            reason: if over_bytes {
                format!(
                    "buffer over storage-size ({} bytes) while the service has not acknowledged them",
                    self.max_bytes
                )
            } else {
                format!(
                    "fragments older than buffer-duration ({:?}) were still unacknowledged",
                    self.max_duration
                )
            },
        })
    }

    fn remove_at(&mut self, idx: usize) -> Option<Fragment> {
        let mut f = self.fragments.remove(idx)?;
        self.bytes = self.bytes.saturating_sub(f.len);
        self.recycle(std::mem::take(&mut f.parts));
        Some(f)
    }

    /// Removes every fragment `gone` says is done with; true if any was.
    fn remove_where(&mut self, gone: impl Fn(&Fragment) -> bool) -> bool {
        let mut removed = false;
        let mut idx = 0;
        while let Some(f) = self.fragments.get(idx) {
            if gone(f) {
                self.remove_at(idx);
                removed = true;
            } else {
                idx += 1;
            }
        }
        removed
    }

    fn take_parts_vec(&mut self, first: Payload) -> Vec<Payload> {
        let mut parts = self
            .spare_parts
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(PARTS_PER_FRAGMENT));
        parts.push(first);
        parts
    }

    fn recycle(&mut self, mut parts: Vec<Payload>) {
        // Releases the media now, keeps the room.
        parts.clear();
        if parts.capacity() > 0 && self.spare_parts.len() < SPARE_PART_LISTS {
            self.spare_parts.push(parts);
        }
    }

    /// Forget headers no fragment needs any more (the current one always stays).
    fn prune_headers(&mut self) {
        while self.headers.len() > 1 {
            let Some(&(oldest, ref bytes)) = self.headers.front() else {
                break;
            };
            if self.fragments.iter().any(|f| f.header_id == oldest) {
                break;
            }
            self.bytes = self.bytes.saturating_sub(bytes.len());
            self.headers.pop_front();
        }
    }

    /// A cursor for a new connection: from the first fragment the service has not received,
    /// starting with the MKV header that fragment was muxed under.
    pub(crate) fn new_cursor(&mut self, conn: u64) -> Option<Cursor> {
        let first = self.fragments.iter().find(|f| f.ack < AckLevel::Received);
        let (header_id, seq) = match first {
            Some(f) => (f.header_id, f.seq),
            None => (self.headers.back()?.0, self.next_seq),
        };
        Some(Cursor {
            conn,
            header_id,
            header_sent: false,
            seq,
            part: 0,
            rotate: false,
        })
    }

    /// True when a new connection would have something to send (or must say EOS).
    pub(crate) fn has_pending(&self) -> bool {
        self.fragments.iter().any(|f| f.ack < AckLevel::Received)
    }

    pub(crate) fn next_piece(&mut self, cur: &mut Cursor) -> Piece {
        if !cur.header_sent {
            let Some((_, header)) = self.headers.iter().find(|(id, _)| *id == cur.header_id) else {
                return Piece::End;
            };
            cur.header_sent = true;
            return Piece::Data(BodyData::Bytes(header.clone()));
        }
        loop {
            let Some(idx) = self.fragments.iter().position(|f| f.seq >= cur.seq) else {
                return if self.eos
                    || cur.rotate
                    || self.headers.back().is_some_and(|h| h.0 != cur.header_id)
                {
                    Piece::End
                } else {
                    Piece::Wait
                };
            };
            let trim = self.trim;
            let Some(f) = self.fragments.get_mut(idx) else {
                return Piece::Wait;
            };
            if f.seq != cur.seq && cur.part > 0 {
                // The fragment we were in is gone (cannot happen: in-flight fragments are
                // never dropped); the cluster on the wire is cut, so end this body.
                return Piece::End;
            }
            if f.seq != cur.seq {
                cur.seq = f.seq;
                cur.part = 0;
            }
            if cur.part == 0 {
                if f.header_id != cur.header_id || cur.rotate {
                    return Piece::End;
                }
                if f.ack >= AckLevel::Received {
                    cur.seq += 1;
                    continue;
                }
            }
            if let Some(part) = f.parts.get(cur.part) {
                let Some(part) = part.to_body_data() else {
                    // Unreachable in practice (buffers are checked to map before they are
                    // accepted); ending the body makes the fragment go out again whole.
                    return Piece::End;
                };
                cur.part += 1;
                f.conn = Some(cur.conn);
                f.in_flight = true;
                return Piece::Data(part);
            }
            if !f.complete {
                return Piece::Wait;
            }
            f.in_flight = false;
            f.sent_at = Some(Instant::now());
            cur.seq += 1;
            cur.part = 0;
            if trim == TrimAt::Sent {
                self.remove_at(idx);
                self.prune_headers();
            }
        }
    }

    /// Applies an ACK from connection `conn`. `None` when no fragment sent on that
    /// connection has this timecode.
    pub(crate) fn on_ack(&mut self, conn: u64, timecode: u64, level: AckLevel) -> Option<AckMatch> {
        let f = self
            .fragments
            .iter_mut()
            .find(|f| f.conn == Some(conn) && f.timecode == timecode)?;
        if level > f.ack {
            f.ack = level;
        }
        let latency = f
            .sent_at
            .filter(|_| level == AckLevel::Persisted)
            .map(|t| t.elapsed());
        self.trim_acked();
        Some(AckMatch {
            persist_latency: latency,
        })
    }

    fn trim_acked(&mut self) {
        let done = match self.trim {
            TrimAt::Sent => return,
            TrimAt::Received => AckLevel::Received,
            TrimAt::Persisted => AckLevel::Persisted,
        };
        if self.remove_where(|f| f.ack >= done) {
            self.prune_headers();
        }
    }

    /// An ERROR ACK whose fragment must never be sent again. Returns true if it was buffered.
    pub(crate) fn drop_fragment(&mut self, conn: u64, timecode: u64) -> bool {
        let Some(idx) = self
            .fragments
            .iter()
            .position(|f| f.conn == Some(conn) && f.timecode == timecode)
        else {
            return false;
        };
        let was_last_open =
            idx + 1 == self.fragments.len() && self.fragments.get(idx).is_some_and(|f| !f.complete);
        self.remove_at(idx);
        if was_last_open {
            self.discarding = true;
        }
        self.prune_headers();
        true
    }

    /// The connection `conn` is gone: nothing is in flight on it any more. Fragments it
    /// delivered whole (RECEIVED) are done, since the service stores what it received;
    /// partial progress (BUFFERING) is forgotten so they are resent.
    pub(crate) fn connection_ended(&mut self, conn: u64) {
        for f in self.fragments.iter_mut().filter(|f| f.conn == Some(conn)) {
            f.in_flight = false;
            if f.ack == AckLevel::Buffering {
                f.ack = AckLevel::None;
            }
        }
        if self.remove_where(|f| f.conn == Some(conn) && f.ack >= AckLevel::Received) {
            self.prune_headers();
        }
    }

    /// Fragments sent on `conn` still waiting for their final ACK.
    pub(crate) fn awaiting_on(&self, conn: u64) -> usize {
        self.fragments
            .iter()
            .filter(|f| f.conn == Some(conn) && !f.in_flight)
            .count()
    }

    /// Timecodes of the buffered fragments, oldest first (for tests and diagnostics).
    #[cfg(test)]
    fn timecodes(&self) -> Vec<u64> {
        self.fragments.iter().map(|f| f.timecode).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn drain(buf: &mut FragmentBuffer, cur: &mut Cursor) -> (String, Piece) {
        let mut out = String::new();
        loop {
            match buf.next_piece(cur) {
                Piece::Data(d) => out.push_str(std::str::from_utf8(&d).unwrap_or("?")),
                other => return (out, other),
            }
        }
    }

    fn buffer() -> FragmentBuffer {
        FragmentBuffer::new(1 << 20, Duration::from_secs(60), TrimAt::Persisted)
    }

    #[test]
    fn streams_header_then_fragments_as_they_arrive() {
        let now = Instant::now();
        let mut buf = buffer();
        assert!(buf.push_header(b("H")));
        buf.start_fragment(10, b("[10"), now);
        let mut cur = buf.new_cursor(1).expect("cursor");
        assert_eq!(drain(&mut buf, &mut cur), ("H[10".into(), Piece::Wait));
        buf.push_data(b("a"), now);
        assert_eq!(drain(&mut buf, &mut cur), ("a".into(), Piece::Wait));
        buf.end_fragment();
        buf.start_fragment(20, b("[20"), now);
        buf.end_fragment();
        assert_eq!(drain(&mut buf, &mut cur), ("[20".into(), Piece::Wait));
        buf.set_eos();
        assert_eq!(drain(&mut buf, &mut cur), (String::new(), Piece::End));
        assert_eq!(buf.stats().fragments, 2);
        assert!(buf.on_ack(1, 10, AckLevel::Persisted).is_some());
        assert!(
            buf.on_ack(2, 20, AckLevel::Persisted).is_none(),
            "other connection"
        );
        let m = buf.on_ack(1, 20, AckLevel::Persisted).expect("known");
        assert!(m.persist_latency.is_some(), "fragment 20 was fully sent");
        assert!(buf.is_empty());
        assert_eq!(buf.stats().bytes, 1, "only the current header stays");
    }

    #[test]
    fn reconnect_resends_from_first_unreceived_with_header() {
        let now = Instant::now();
        let mut buf = buffer();
        buf.push_header(b("H"));
        for tc in [1, 2, 3] {
            buf.start_fragment(tc, b(&format!("[{tc}]")), now);
        }
        buf.end_fragment();
        let mut cur = buf.new_cursor(1).expect("cursor");
        assert_eq!(drain(&mut buf, &mut cur).0, "H[1][2][3]");
        buf.on_ack(1, 1, AckLevel::Persisted);
        buf.on_ack(1, 2, AckLevel::Received);
        buf.on_ack(1, 3, AckLevel::Buffering);
        buf.connection_ended(1);
        assert_eq!(buf.timecodes(), vec![3]);
        let mut cur = buf.new_cursor(2).expect("cursor");
        assert_eq!(drain(&mut buf, &mut cur).0, "H[3]");
    }

    #[test]
    fn partially_sent_fragment_is_resent_whole() {
        let now = Instant::now();
        let mut buf = buffer();
        buf.push_header(b("H"));
        buf.start_fragment(1, b("[1"), now);
        let mut cur = buf.new_cursor(1).expect("cursor");
        assert_eq!(drain(&mut buf, &mut cur).0, "H[1");
        buf.push_data(b("x"), now);
        buf.connection_ended(1);
        buf.push_data(b("y"), now);
        let mut cur = buf.new_cursor(2).expect("cursor");
        assert_eq!(drain(&mut buf, &mut cur), ("H[1xy".into(), Piece::Wait));
    }

    #[test]
    fn full_buffer_drops_oldest_whole_fragments_but_not_in_flight() {
        let now = Instant::now();
        let mut buf = FragmentBuffer::new(12, Duration::from_secs(60), TrimAt::Persisted);
        buf.push_header(b("H"));
        buf.start_fragment(1, b("1111"), now);
        let mut cur = buf.new_cursor(1).expect("cursor");
        assert_eq!(drain(&mut buf, &mut cur).0, "H1111");
        // Fragment 1 is in flight (not complete): it must survive.
        buf.push_data(b("11"), now);
        let d = buf.start_fragment(2, b("2222"), now);
        assert_eq!(d, None);
        let d = buf.start_fragment(3, b("3333"), now).expect("drop");
        assert_eq!(d.count, 1);
        assert_eq!(buf.timecodes(), vec![1, 3]);
        assert!(buf.stats().bytes <= 12);
    }

    #[test]
    fn dropping_the_open_fragment_discards_its_rest() {
        let now = Instant::now();
        let mut buf = FragmentBuffer::new(6, Duration::from_secs(60), TrimAt::Persisted);
        buf.push_header(b("H"));
        buf.start_fragment(1, b("11"), now);
        let d = buf.push_data(b("xxxx"), now).expect("dropped");
        assert_eq!(d.count, 1);
        assert!(buf.is_empty());
        assert_eq!(buf.push_data(b("zz"), now), None);
        assert!(buf.is_empty());
        buf.start_fragment(2, b("22"), now);
        assert_eq!(buf.timecodes(), vec![2]);
    }

    #[test]
    fn old_fragments_expire_by_duration() {
        let t0 = Instant::now();
        let mut buf = FragmentBuffer::new(1 << 20, Duration::from_secs(10), TrimAt::Persisted);
        buf.push_header(b("H"));
        buf.start_fragment(1, b("a"), t0);
        buf.start_fragment(2, b("b"), t0 + Duration::from_secs(5));
        let d = buf
            .start_fragment(3, b("c"), t0 + Duration::from_secs(11))
            .expect("expired");
        assert_eq!(d.count, 1);
        assert_eq!(buf.timecodes(), vec![2, 3]);
    }

    #[test]
    fn new_header_ends_connection_and_next_starts_with_it() {
        let now = Instant::now();
        let mut buf = buffer();
        buf.push_header(b("H1"));
        buf.start_fragment(1, b("[1]"), now);
        let mut cur = buf.new_cursor(1).expect("cursor");
        assert!(!buf.push_header(b("H1")), "same header is no change");
        assert!(buf.push_header(b("H2")));
        buf.start_fragment(2, b("[2]"), now);
        assert_eq!(drain(&mut buf, &mut cur), ("H1[1]".into(), Piece::End));
        buf.on_ack(1, 1, AckLevel::Persisted);
        buf.connection_ended(1);
        let mut cur = buf.new_cursor(2).expect("cursor");
        assert_eq!(drain(&mut buf, &mut cur), ("H2[2]".into(), Piece::Wait));
        assert_eq!(buf.headers.len(), 1, "old header pruned");
    }

    #[test]
    fn unsent_fragments_under_old_header_go_out_with_it() {
        let now = Instant::now();
        let mut buf = buffer();
        buf.push_header(b("H1"));
        buf.start_fragment(1, b("[1]"), now);
        buf.push_header(b("H2"));
        buf.start_fragment(2, b("[2]"), now);
        buf.end_fragment();
        let mut cur = buf.new_cursor(1).expect("cursor");
        assert_eq!(drain(&mut buf, &mut cur), ("H1[1]".into(), Piece::End));
    }

    #[test]
    fn acks_off_trims_on_send() {
        let now = Instant::now();
        let mut buf = FragmentBuffer::new(1 << 20, Duration::from_secs(60), TrimAt::Sent);
        buf.push_header(b("H"));
        buf.start_fragment(1, b("[1]"), now);
        buf.start_fragment(2, b("[2]"), now);
        let mut cur = buf.new_cursor(1).expect("cursor");
        assert_eq!(drain(&mut buf, &mut cur).0, "H[1][2]");
        assert_eq!(buf.timecodes(), vec![2], "2 is still open");
        buf.set_eos();
        assert_eq!(drain(&mut buf, &mut cur).1, Piece::End);
        assert!(buf.is_empty());
    }

    #[test]
    fn error_drop_removes_only_that_fragment() {
        let now = Instant::now();
        let mut buf = buffer();
        buf.push_header(b("H"));
        buf.start_fragment(1, b("[1]"), now);
        buf.start_fragment(2, b("[2]"), now);
        buf.end_fragment();
        let mut cur = buf.new_cursor(1).expect("cursor");
        drain(&mut buf, &mut cur);
        assert!(buf.drop_fragment(1, 1));
        buf.connection_ended(1);
        let mut cur = buf.new_cursor(2).expect("cursor");
        assert_eq!(drain(&mut buf, &mut cur).0, "H[2]");
    }

    #[test]
    fn rotation_ends_at_fragment_boundary() {
        let now = Instant::now();
        let mut buf = buffer();
        buf.push_header(b("H"));
        buf.start_fragment(1, b("[1"), now);
        let mut cur = buf.new_cursor(1).expect("cursor");
        drain(&mut buf, &mut cur);
        cur.rotate = true;
        buf.push_data(b("]"), now);
        buf.start_fragment(2, b("[2]"), now);
        assert_eq!(drain(&mut buf, &mut cur), ("]".into(), Piece::End));
    }

    #[test]
    fn flow_control_holds_back_only_behind_a_complete_unacknowledged_fragment() {
        let now = Instant::now();
        let mut buf = buffer();
        buf.push_header(b("H"));
        buf.start_fragment(1, b("[1"), now);
        buf.push_data(b("0123456789"), now);
        assert!(
            !buf.holds_back(4),
            "the open fragment alone never waits, however large"
        );
        buf.start_fragment(2, b("[2"), now);
        assert!(buf.holds_back(4), "over the window behind fragment 1");
        assert!(!buf.holds_back(1 << 20), "under the window");
        let mut cur = buf.new_cursor(1).expect("cursor");
        drain(&mut buf, &mut cur);
        buf.on_ack(1, 1, AckLevel::Persisted);
        assert!(
            !buf.holds_back(4),
            "fragment 1 acknowledged: only the open one is left"
        );
    }
}
