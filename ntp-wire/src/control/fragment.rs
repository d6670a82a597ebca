//! Splitting a response into fragments and putting one back together
//! (RFC 9327 §2: the M bit, offset and count).
//!
//! A response longer than [`MAX_DATA_LEN`] bytes goes out as several
//! messages with one sequence number: each carries `count` bytes at `offset`
//! of the whole, and all but the last have the M bit set. `ntpq` accepts at
//! most [`MAX_FRAGMENTS`] of them. Fragments may arrive in any order.
//!
//! ntpd cuts between items of a variable list; [`fragments`] cuts at 468
//! bytes whatever the text, which every reader accepts because the list is
//! parsed only after reassembly (`ntpq` does exactly that).

use super::codes::Opcode;
use super::error::{ControlError, ReassemblyError};
use super::packet::{ControlPacket, ControlRepr, MAX_DATA_LEN};

/// The most fragments of one response `ntpq` reassembles (its `MAXFRAGS`).
pub const MAX_FRAGMENTS: usize = 32;

/// The longest response payload that fits [`MAX_FRAGMENTS`] fragments, bytes.
pub const MAX_PAYLOAD_LEN: usize = MAX_FRAGMENTS * MAX_DATA_LEN;

/// One fragment of a response payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// Where its data sits in the payload, bytes.
    pub offset: u16,
    /// Its data, at most [`MAX_DATA_LEN`] bytes.
    pub data: &'a [u8],
    /// Whether more fragments follow (the M bit).
    pub more: bool,
}

impl<'a> Fragment<'a> {
    /// `template` with this fragment's offset, data and M bit: the message
    /// to send.
    pub fn apply(&self, template: ControlRepr<'a>) -> ControlRepr<'a> {
        ControlRepr { offset: self.offset, data: self.data, more: self.more, ..template }
    }
}

/// Splits a response payload into fragments of at most 468 bytes (one
/// empty fragment for an empty payload). Fails for a payload longer than
/// [`MAX_PAYLOAD_LEN`].
///
/// ```
/// use ntp_wire::control::{fragments, ControlRepr, Opcode};
/// let payload = [b'x'; 1000];
/// let template = ControlRepr { response: true, opcode: Opcode::ReadVariables, sequence: 7, ..Default::default() };
/// let mut buf = [0u8; 480];
/// let sizes: Vec<_> = fragments(&payload)?.map(|f| f.apply(template).emit(&mut buf)).collect::<Result<_, _>>()?;
/// assert_eq!(sizes, [480, 480, 76]);
/// # Ok::<(), ntp_wire::control::ControlError>(())
/// ```
pub fn fragments(payload: &[u8]) -> Result<Fragments<'_>, ControlError> {
    if payload.len() > MAX_PAYLOAD_LEN {
        return Err(ControlError::PayloadTooLong { len: payload.len(), max: MAX_PAYLOAD_LEN });
    }
    Ok(Fragments { payload, offset: 0, done: false })
}

/// Iterator over the fragments of a payload, in order.
#[derive(Clone, Debug)]
pub struct Fragments<'a> {
    payload: &'a [u8],
    offset: usize,
    done: bool,
}

impl<'a> Iterator for Fragments<'a> {
    type Item = Fragment<'a>;

    fn next(&mut self) -> Option<Fragment<'a>> {
        if self.done {
            return None;
        }
        let rest = self.payload.get(self.offset..).unwrap_or(&[]);
        let (data, after) = rest.split_at(rest.len().min(MAX_DATA_LEN));
        // The payload is at most 32 × 468 bytes, so every offset fits a u16.
        let fragment = Fragment { offset: self.offset as u16, data, more: !after.is_empty() };
        self.offset += data.len();
        self.done = after.is_empty();
        Some(fragment)
    }
}

/// Collects the fragments of one response into a caller's buffer.
///
/// Each fragment is checked against the request (R bit, sequence, opcode,
/// no E bit) and against the fragments already held (no duplicate offset,
/// no overlap, nothing past the end the last fragment set, at most
/// [`MAX_FRAGMENTS`]); a refused fragment leaves the reassembler unchanged.
///
/// ```
/// use ntp_wire::control::{fragments, ControlPacket, ControlRepr, Opcode, Reassembler};
/// let payload: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
/// let template = ControlRepr { response: true, opcode: Opcode::ReadVariables, sequence: 7, ..Default::default() };
/// let mut datagrams = Vec::new();
/// for fragment in fragments(&payload)? {
///     let mut buf = [0u8; 480];
///     let len = fragment.apply(template).emit(&mut buf)?;
///     datagrams.push(buf[..len].to_vec());
/// }
/// let mut store = [0u8; 2000];
/// let mut reassembler = Reassembler::new(&mut store, 7, Opcode::ReadVariables);
/// for datagram in datagrams.iter().rev() {
///     reassembler.push(&ControlPacket::new_checked(&datagram[..])?)?;
/// }
/// assert_eq!(reassembler.payload()?, &payload[..]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Reassembler<'b> {
    buf: &'b mut [u8],
    sequence: u16,
    opcode: Opcode,
    ranges: [(usize, usize); MAX_FRAGMENTS],
    held: usize,
    bytes: usize,
    total: Option<usize>,
    status: u16,
}

impl<'b> Reassembler<'b> {
    /// Waits for the response to the request with `sequence` and `opcode`,
    /// collecting its payload in `buf` (14976 bytes hold any response).
    pub fn new(buf: &'b mut [u8], sequence: u16, opcode: Opcode) -> Reassembler<'b> {
        Reassembler {
            buf,
            sequence,
            opcode,
            ranges: [(0, 0); MAX_FRAGMENTS],
            held: 0,
            bytes: 0,
            total: None,
            status: 0,
        }
    }

    /// Takes one fragment (a message [`ControlPacket::new_checked`]
    /// accepted). Returns whether the response is now complete.
    pub fn push<T: AsRef<[u8]>>(&mut self, packet: &ControlPacket<T>) -> Result<bool, ReassemblyError> {
        if !packet.is_response() {
            return Err(ReassemblyError::NotResponse);
        }
        if packet.sequence() != self.sequence {
            return Err(ReassemblyError::WrongSequence { expected: self.sequence, got: packet.sequence() });
        }
        if packet.opcode() != self.opcode {
            return Err(ReassemblyError::WrongOpcode {
                expected: self.opcode.to_bits(),
                got: packet.opcode().to_bits(),
            });
        }
        if let Some(code) = packet.error_code() {
            return Err(ReassemblyError::ServerError { code });
        }
        let data = packet.data();
        let offset = packet.offset() as usize;
        let end = offset + data.len();
        let more = packet.more();
        if data.is_empty() && more {
            return Err(ReassemblyError::EmptyFragment { offset });
        }
        if let Some(total) = self.total {
            if end > total || !more {
                return Err(self.refusal_against(offset, end).unwrap_or(ReassemblyError::PastEnd {
                    offset,
                    end,
                    total,
                }));
            }
        } else if !more {
            if let Some(&(_, furthest)) = self.held().iter().max_by_key(|r| r.1) {
                if furthest > end {
                    return Err(ReassemblyError::PastEnd { offset: end, end: furthest, total: end });
                }
            }
        }
        if let Some(refusal) = self.refusal_against(offset, end) {
            return Err(refusal);
        }
        if self.held >= MAX_FRAGMENTS {
            return Err(ReassemblyError::TooManyFragments { max: MAX_FRAGMENTS });
        }
        let len = self.buf.len();
        let slot = self.buf.get_mut(offset..end).ok_or(ReassemblyError::BufferTooSmall { len, end })?;
        slot.copy_from_slice(data);
        if let Some(range) = self.ranges.get_mut(self.held) {
            *range = (offset, end);
        }
        self.held += 1;
        self.bytes += data.len();
        if !more {
            self.total = Some(end);
            self.status = packet.status();
        }
        Ok(self.is_complete())
    }

    fn held(&self) -> &[(usize, usize)] {
        self.ranges.get(..self.held).unwrap_or(&[])
    }

    /// A duplicate or an overlap with what is held.
    fn refusal_against(&self, offset: usize, end: usize) -> Option<ReassemblyError> {
        for &(start, stop) in self.held() {
            if start == offset {
                return Some(ReassemblyError::Duplicate { offset });
            }
            if start < end && offset < stop {
                return Some(ReassemblyError::Overlap { offset, end });
            }
        }
        None
    }

    /// Whether every byte up to the end the last fragment set has arrived.
    #[inline]
    pub fn is_complete(&self) -> bool {
        // Fragments never overlap and never pass the end, so the byte count
        // alone tells whether the whole span is covered.
        self.total == Some(self.bytes)
    }

    /// Fragments held.
    #[inline]
    pub fn fragment_count(&self) -> usize {
        self.held
    }

    /// The status word of the last fragment (0 until it arrives), which
    /// `ntpq` takes as the response's.
    #[inline]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The whole payload, or where the first missing byte is (a hole, or
    /// the end when the last fragment is still to come).
    pub fn payload(&self) -> Result<&[u8], ReassemblyError> {
        if let Some(total) = self.total.filter(|_| self.is_complete()) {
            return Ok(self.buf.get(..total).unwrap_or(&[]));
        }
        let mut covered = 0;
        while let Some(&(_, stop)) = self.held().iter().find(|r| r.0 == covered && r.1 > covered) {
            covered = stop;
        }
        Err(ReassemblyError::Incomplete { offset: covered })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::codes::ErrorCode;
    use proptest::prelude::*;

    fn template() -> ControlRepr<'static> {
        ControlRepr { response: true, opcode: Opcode::ReadVariables, sequence: 42, ..ControlRepr::default() }
    }

    fn datagram(repr: ControlRepr<'_>) -> Vec<u8> {
        let mut buf = vec![0u8; 600];
        let len = repr.emit(&mut buf).unwrap();
        buf.truncate(len);
        buf
    }

    fn push(r: &mut Reassembler<'_>, repr: ControlRepr<'_>) -> Result<bool, ReassemblyError> {
        let bytes = datagram(repr);
        r.push(&ControlPacket::new_checked(&bytes[..]).unwrap())
    }

    #[test]
    fn test_fragment_sizes_offsets_and_more_bits() {
        let payload = [7u8; 2 * MAX_DATA_LEN + 10];
        let parts: Vec<_> = fragments(&payload).unwrap().collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(
            parts.iter().map(|f| (f.offset, f.data.len(), f.more)).collect::<Vec<_>>(),
            [(0, 468, true), (468, 468, true), (936, 10, false)]
        );
        let exact: Vec<_> = fragments(&payload[..MAX_DATA_LEN]).unwrap().collect();
        assert_eq!(exact.iter().map(|f| (f.offset, f.data.len(), f.more)).collect::<Vec<_>>(), [(0, 468, false)]);
        let empty: Vec<_> = fragments(&[]).unwrap().collect();
        assert_eq!(empty, [Fragment { offset: 0, data: &[], more: false }]);
        let most = vec![0u8; MAX_PAYLOAD_LEN];
        assert_eq!(fragments(&most).unwrap().count(), MAX_FRAGMENTS);
        assert_eq!(
            fragments(&vec![0u8; MAX_PAYLOAD_LEN + 1]).err(),
            Some(ControlError::PayloadTooLong { len: MAX_PAYLOAD_LEN + 1, max: MAX_PAYLOAD_LEN })
        );
    }

    #[test]
    fn test_reassembler_refuses_what_does_not_belong() {
        let mut store = [0u8; 2000];
        let mut r = Reassembler::new(&mut store, 42, Opcode::ReadVariables);
        let t = template();
        assert_eq!(push(&mut r, ControlRepr { response: false, ..t }), Err(ReassemblyError::NotResponse));
        assert_eq!(
            push(&mut r, ControlRepr { sequence: 43, ..t }),
            Err(ReassemblyError::WrongSequence { expected: 42, got: 43 })
        );
        assert_eq!(
            push(&mut r, ControlRepr { opcode: Opcode::ReadStatus, ..t }),
            Err(ReassemblyError::WrongOpcode { expected: 2, got: 1 })
        );
        assert_eq!(
            push(&mut r, ControlRepr { error: true, status: 0x0500, ..t }),
            Err(ReassemblyError::ServerError { code: ErrorCode::UnknownVariable })
        );
        assert_eq!(push(&mut r, ControlRepr { more: true, ..t }), Err(ReassemblyError::EmptyFragment { offset: 0 }));
        assert_eq!(r.fragment_count(), 0);
    }

    #[test]
    fn test_reassembler_refuses_duplicates_overlaps_and_past_end() {
        let mut store = [0u8; 2000];
        let mut r = Reassembler::new(&mut store, 42, Opcode::ReadVariables);
        let t = template();
        let a = [b'a'; 100];
        assert_eq!(push(&mut r, ControlRepr { offset: 0, data: &a, more: true, ..t }), Ok(false));
        assert_eq!(
            push(&mut r, ControlRepr { offset: 0, data: &a[..10], more: true, ..t }),
            Err(ReassemblyError::Duplicate { offset: 0 })
        );
        assert_eq!(
            push(&mut r, ControlRepr { offset: 50, data: &a, more: true, ..t }),
            Err(ReassemblyError::Overlap { offset: 50, end: 150 })
        );
        // The last fragment sets the end at 300; a hole remains at 100..200.
        assert_eq!(push(&mut r, ControlRepr { offset: 200, data: &a, more: false, ..t }), Ok(false));
        assert_eq!(r.payload(), Err(ReassemblyError::Incomplete { offset: 100 }));
        assert_eq!(
            push(&mut r, ControlRepr { offset: 300, data: &a[..4], more: true, ..t }),
            Err(ReassemblyError::PastEnd { offset: 300, end: 304, total: 300 })
        );
        assert_eq!(
            push(&mut r, ControlRepr { offset: 100, data: &a, more: false, ..t }),
            Err(ReassemblyError::PastEnd { offset: 100, end: 200, total: 300 })
        );
        assert_eq!(push(&mut r, ControlRepr { offset: 100, data: &a, more: true, ..t }), Ok(true));
        assert_eq!(r.payload().map(<[u8]>::len), Ok(300));
    }

    #[test]
    fn test_last_fragment_cannot_cut_off_data_already_held() {
        let mut store = [0u8; 2000];
        let mut r = Reassembler::new(&mut store, 42, Opcode::ReadVariables);
        let t = template();
        let a = [b'a'; 100];
        push(&mut r, ControlRepr { offset: 200, data: &a, more: true, ..t }).unwrap();
        assert_eq!(
            push(&mut r, ControlRepr { offset: 0, data: &a, more: false, ..t }),
            Err(ReassemblyError::PastEnd { offset: 100, end: 300, total: 100 })
        );
        assert_eq!(r.payload(), Err(ReassemblyError::Incomplete { offset: 0 }));
    }

    #[test]
    fn test_at_most_32_fragments_and_the_buffer_bound() {
        let mut store = [0u8; 100];
        let mut r = Reassembler::new(&mut store, 42, Opcode::ReadVariables);
        let t = template();
        for i in 0..MAX_FRAGMENTS {
            push(&mut r, ControlRepr { offset: i as u16, data: b"x", more: true, ..t }).unwrap();
        }
        assert_eq!(
            push(&mut r, ControlRepr { offset: 40, data: b"x", more: false, ..t }),
            Err(ReassemblyError::TooManyFragments { max: 32 })
        );
        let mut small = [0u8; 10];
        let mut r = Reassembler::new(&mut small, 42, Opcode::ReadVariables);
        assert_eq!(
            push(&mut r, ControlRepr { offset: 8, data: b"abc", more: false, ..t }),
            Err(ReassemblyError::BufferTooSmall { len: 10, end: 11 })
        );
    }

    #[test]
    fn test_status_comes_from_the_last_fragment() {
        let mut store = [0u8; 100];
        let mut r = Reassembler::new(&mut store, 42, Opcode::ReadVariables);
        let t = template();
        push(&mut r, ControlRepr { offset: 2, data: b"cd", status: 0x0615, ..t }).unwrap();
        assert_eq!(r.status(), 0x0615);
        assert_eq!(push(&mut r, ControlRepr { offset: 0, data: b"ab", more: true, status: 1, ..t }), Ok(true));
        assert_eq!((r.status(), r.payload()), (0x0615, Ok(&b"abcd"[..])));
    }

    proptest! {
        #[test]
        fn prop_fragment_then_reassemble_in_any_order(
            payload in proptest::collection::vec(any::<u8>(), 0..4000),
            seed in any::<u64>(),
        ) {
            let parts: Vec<Vec<u8>> = fragments(&payload).unwrap().map(|f| datagram(f.apply(template()))).collect();
            // A permutation from the seed (proptest shrinks the seed).
            let mut order: Vec<usize> = (0..parts.len()).collect();
            let mut state = seed | 1;
            for i in (1..order.len()).rev() {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                order.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let mut store = vec![0u8; MAX_PAYLOAD_LEN];
            let mut r = Reassembler::new(&mut store, 42, Opcode::ReadVariables);
            for (n, &i) in order.iter().enumerate() {
                let complete = r.push(&ControlPacket::new_checked(&parts[i][..]).unwrap()).unwrap();
                prop_assert_eq!(complete, n + 1 == parts.len());
                // A second copy of any fragment is refused.
                prop_assert!(r.push(&ControlPacket::new_checked(&parts[i][..]).unwrap()).is_err());
            }
            prop_assert_eq!(r.payload().unwrap(), &payload[..]);
        }
    }
}
