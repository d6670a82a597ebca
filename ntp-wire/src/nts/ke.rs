//! NTS Key Establishment records (RFC 8915 §4).
//!
//! NTS-KE runs over TLS 1.3 on TCP (port 4460, ALPN `ntske/1`). Inside the
//! TLS stream each side sends one message: a sequence of records, the last
//! of which is End of Message. A record is a 16-bit word holding the
//! critical bit (0x8000) and a 15-bit type, a 16-bit body length, and the
//! body.
//!
//! Three layers:
//!
//! * [`Record`]: one record as it is on the wire, borrowed (critical bit,
//!   type, body).
//! * [`RecordRepr`]: what a record means, for every type RFC 8915 defines,
//!   with unknown types kept as they came so the caller can apply the rule
//!   of §4: an unknown record is ignored unless its critical bit is set, in
//!   which case the whole message is an error ([`RecordRepr::is_unrecognized_critical`]).
//! * [`MessageScanner`]: finds where a message ends in a stream of bytes
//!   that arrives in pieces, with limits on the record count and the total
//!   length, so a peer that never sends End of Message is cut off with an
//!   error instead of growing a buffer without end. [`RecordWriter`] writes
//!   a message.

use core::fmt;

/// Length of a record's header: type word and body length.
pub const RECORD_HEADER_LEN: usize = 4;
/// The critical bit in a record's first word (RFC 8915 §4).
pub const CRITICAL_BIT: u16 = 0x8000;
/// The longest body a record can carry (the 16-bit length field).
pub const MAX_RECORD_BODY_LEN: usize = u16::MAX as usize;

/// Record type numbers (RFC 8915 §7.6, "Network Time Security Key
/// Establishment Record Types").
pub mod record_type {
    /// End of Message (§4.1.1).
    pub const END_OF_MESSAGE: u16 = 0;
    /// NTS Next Protocol Negotiation (§4.1.2).
    pub const NEXT_PROTOCOL: u16 = 1;
    /// Error (§4.1.3).
    pub const ERROR: u16 = 2;
    /// Warning (§4.1.4).
    pub const WARNING: u16 = 3;
    /// AEAD Algorithm Negotiation (§4.1.5).
    pub const AEAD_ALGORITHM: u16 = 4;
    /// New Cookie for NTPv4 (§4.1.6).
    pub const NEW_COOKIE: u16 = 5;
    /// NTPv4 Server Negotiation (§4.1.7).
    pub const SERVER: u16 = 6;
    /// NTPv4 Port Negotiation (§4.1.8).
    pub const PORT: u16 = 7;
}

/// NTS next-protocol id of NTPv4 (RFC 8915 §7.7).
pub const PROTOCOL_NTPV4: u16 = 0;
/// AEAD algorithm id of AEAD_AES_SIV_CMAC_256 (RFC 5297; IANA AEAD registry).
pub const AEAD_AES_SIV_CMAC_256: u16 = 15;

/// Error record codes (RFC 8915 §4.1.3, §7.8).
pub mod error_code {
    /// Unrecognized Critical Record.
    pub const UNRECOGNIZED_CRITICAL_RECORD: u16 = 0;
    /// Bad Request.
    pub const BAD_REQUEST: u16 = 1;
    /// Internal Server Error.
    pub const INTERNAL_SERVER_ERROR: u16 = 2;
}

/// Why NTS-KE bytes could not be read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeError {
    /// Fewer bytes than the record header or the body length it declares.
    #[error("NTS-KE record at byte {offset} is truncated: {needed} bytes needed, {available} present")]
    Truncated {
        /// Where the record starts in the message.
        offset: usize,
        /// Bytes the record needs.
        needed: usize,
        /// Bytes present from its start.
        available: usize,
    },
    /// A body whose length does not fit its record type.
    #[error("NTS-KE record type {record_type} has a body of {len} bytes, which its type does not allow")]
    BadBodyLength {
        /// The record type.
        record_type: u16,
        /// The body's length.
        len: usize,
    },
    /// A server name that is not printable ASCII (RFC 8915 §4.1.7).
    #[error("NTS-KE server record is not printable ASCII")]
    BadServerName,
    /// More records than the limit before End of Message.
    #[error("NTS-KE message has more than {max} records without End of Message")]
    TooManyRecords {
        /// The limit.
        max: usize,
    },
    /// More bytes than the limit before End of Message.
    #[error("NTS-KE message exceeds {max} bytes without End of Message")]
    TooLong {
        /// The limit, in bytes.
        max: usize,
    },
    /// The output buffer is too small.
    #[error("buffer is {len} bytes; {needed} are needed")]
    BufferTooSmall {
        /// Bytes available.
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// A body too long for the 16-bit length field.
    #[error("NTS-KE record body of {len} bytes is too long; at most 65535 fit")]
    BodyTooLong {
        /// The body's length.
        len: usize,
    },
}

/// One record as it is on the wire, borrowed from the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// The critical bit.
    pub critical: bool,
    /// The 15-bit record type.
    pub record_type: u16,
    /// The body.
    pub body: &'a [u8],
}

impl<'a> Record<'a> {
    /// Reads the record at the start of `bytes` and returns it with the
    /// number of bytes it spans. `offset` is where `bytes` starts in the
    /// message, for the error only.
    pub fn parse(bytes: &'a [u8], offset: usize) -> Result<(Record<'a>, usize), KeError> {
        let truncated = |needed| KeError::Truncated { offset, needed, available: bytes.len() };
        let (word, len) = match bytes {
            [a, b, c, d, ..] => (u16::from_be_bytes([*a, *b]), usize::from(u16::from_be_bytes([*c, *d]))),
            _ => return Err(truncated(RECORD_HEADER_LEN)),
        };
        let end = RECORD_HEADER_LEN + len;
        let body = bytes.get(RECORD_HEADER_LEN..end).ok_or_else(|| truncated(end))?;
        Ok((Record { critical: word & CRITICAL_BIT != 0, record_type: word & !CRITICAL_BIT, body }, end))
    }

    /// Length on the wire.
    #[inline]
    pub fn wire_len(&self) -> usize {
        RECORD_HEADER_LEN + self.body.len()
    }
}

/// A list of 16-bit ids (protocols or AEAD algorithms): either as read
/// from the wire, or as values to write.
#[derive(Clone, Copy)]
pub enum IdList<'a> {
    /// Big-endian pairs of bytes as they came (even length, checked by the parser).
    Wire(&'a [u8]),
    /// Values.
    Values(&'a [u16]),
}

impl<'a> IdList<'a> {
    /// The ids in order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + 'a {
        let (wire, values): (&'a [u8], &'a [u16]) = match *self {
            IdList::Wire(bytes) => (bytes, &[]),
            IdList::Values(values) => (&[], values),
        };
        wire.chunks_exact(2)
            .map(|pair| match pair {
                [a, b] => u16::from_be_bytes([*a, *b]),
                _ => 0,
            })
            .chain(values.iter().copied())
    }

    /// How many ids.
    pub fn len(&self) -> usize {
        match self {
            IdList::Wire(bytes) => bytes.len() / 2,
            IdList::Values(values) => values.len(),
        }
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `id` is in the list.
    pub fn contains(&self, id: u16) -> bool {
        self.iter().any(|x| x == id)
    }
}

impl PartialEq for IdList<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for IdList<'_> {}

impl fmt::Debug for IdList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// What a record means (RFC 8915 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordRepr<'a> {
    /// End of Message: the last record of every message (§4.1.1).
    EndOfMessage,
    /// The protocols offered (client) or chosen (server) (§4.1.2).
    NextProtocol(IdList<'a>),
    /// The request failed; a code from [`error_code`] (§4.1.3).
    Error(u16),
    /// A non-fatal condition; the code's meaning is the server's (§4.1.4).
    Warning(u16),
    /// The AEAD algorithms offered (client) or chosen (server) (§4.1.5).
    AeadAlgorithm(IdList<'a>),
    /// One cookie for NTPv4, opaque to the client (§4.1.6).
    NewCookie(&'a [u8]),
    /// The NTPv4 server to use: a host name or an IP address in ASCII (§4.1.7).
    Server(&'a str),
    /// The NTPv4 UDP port to use (§4.1.8).
    Port(u16),
    /// A type this crate does not know, kept as it came.
    Unknown {
        /// Its critical bit: when set, the message must be refused (§4).
        critical: bool,
        /// The record type.
        record_type: u16,
        /// The body.
        body: &'a [u8],
    },
}

impl<'a> RecordRepr<'a> {
    /// Reads a record's meaning. The critical bit of a known type is not
    /// checked: RFC 8915 tells senders which bit to set, and a receiver
    /// gains nothing from refusing a record it understands.
    pub fn parse(record: &Record<'a>) -> Result<RecordRepr<'a>, KeError> {
        use record_type::*;
        let body = record.body;
        let bad = || KeError::BadBodyLength { record_type: record.record_type, len: body.len() };
        let u16_body = || match body {
            [a, b] => Ok(u16::from_be_bytes([*a, *b])),
            _ => Err(bad()),
        };
        let list = || if body.len() % 2 == 0 { Ok(IdList::Wire(body)) } else { Err(bad()) };
        Ok(match record.record_type {
            END_OF_MESSAGE if body.is_empty() => RecordRepr::EndOfMessage,
            END_OF_MESSAGE => return Err(bad()),
            NEXT_PROTOCOL => RecordRepr::NextProtocol(list()?),
            ERROR => RecordRepr::Error(u16_body()?),
            WARNING => RecordRepr::Warning(u16_body()?),
            AEAD_ALGORITHM => RecordRepr::AeadAlgorithm(list()?),
            NEW_COOKIE => RecordRepr::NewCookie(body),
            SERVER => {
                if body.is_empty() || !body.iter().all(|b| b.is_ascii_graphic()) {
                    return Err(KeError::BadServerName);
                }
                RecordRepr::Server(core::str::from_utf8(body).map_err(|_| KeError::BadServerName)?)
            }
            PORT => RecordRepr::Port(u16_body()?),
            record_type => RecordRepr::Unknown { critical: record.critical, record_type, body },
        })
    }

    /// The record type number.
    pub fn record_type(&self) -> u16 {
        use record_type::*;
        match self {
            RecordRepr::EndOfMessage => END_OF_MESSAGE,
            RecordRepr::NextProtocol(_) => NEXT_PROTOCOL,
            RecordRepr::Error(_) => ERROR,
            RecordRepr::Warning(_) => WARNING,
            RecordRepr::AeadAlgorithm(_) => AEAD_ALGORITHM,
            RecordRepr::NewCookie(_) => NEW_COOKIE,
            RecordRepr::Server(_) => SERVER,
            RecordRepr::Port(_) => PORT,
            RecordRepr::Unknown { record_type, .. } => *record_type & !CRITICAL_BIT,
        }
    }

    /// The critical bit written for this record: set where RFC 8915 says
    /// it MUST be (End of Message, Next Protocol, Error, Warning), clear
    /// where it MUST NOT be (New Cookie), and clear where the sender may
    /// choose (AEAD, Server, Port), since a peer that does not know those
    /// can still proceed with its defaults.
    pub fn critical(&self) -> bool {
        match self {
            RecordRepr::EndOfMessage | RecordRepr::NextProtocol(_) | RecordRepr::Error(_) | RecordRepr::Warning(_) => {
                true
            }
            RecordRepr::AeadAlgorithm(_) | RecordRepr::NewCookie(_) | RecordRepr::Server(_) | RecordRepr::Port(_) => {
                false
            }
            RecordRepr::Unknown { critical, .. } => *critical,
        }
    }

    /// Whether the receiver must refuse the message because of this record:
    /// an unknown type with the critical bit set (§4).
    pub fn is_unrecognized_critical(&self) -> bool {
        matches!(self, RecordRepr::Unknown { critical: true, .. })
    }

    /// Length of the body in bytes.
    pub fn body_len(&self) -> usize {
        match self {
            RecordRepr::EndOfMessage => 0,
            RecordRepr::NextProtocol(list) | RecordRepr::AeadAlgorithm(list) => 2 * list.len(),
            RecordRepr::Error(_) | RecordRepr::Warning(_) | RecordRepr::Port(_) => 2,
            RecordRepr::NewCookie(body) | RecordRepr::Unknown { body, .. } => body.len(),
            RecordRepr::Server(name) => name.len(),
        }
    }

    /// Length on the wire.
    pub fn wire_len(&self) -> usize {
        RECORD_HEADER_LEN + self.body_len()
    }

    /// Writes the record at the start of `buf`; returns its length.
    /// Writes nothing when it fails.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, KeError> {
        let body_len = self.body_len();
        if body_len > MAX_RECORD_BODY_LEN {
            return Err(KeError::BodyTooLong { len: body_len });
        }
        let len = RECORD_HEADER_LEN + body_len;
        let available = buf.len();
        let out = buf.get_mut(..len).ok_or(KeError::BufferTooSmall { len: available, needed: len })?;
        let (head, body) = out.split_at_mut(RECORD_HEADER_LEN);
        let word = self.record_type() | if self.critical() { CRITICAL_BIT } else { 0 };
        let [w0, w1] = word.to_be_bytes();
        let [l0, l1] = (body_len as u16).to_be_bytes();
        head.copy_from_slice(&[w0, w1, l0, l1]);
        match self {
            RecordRepr::EndOfMessage => {}
            RecordRepr::NextProtocol(list) | RecordRepr::AeadAlgorithm(list) => {
                for (slot, id) in body.chunks_exact_mut(2).zip(list.iter()) {
                    slot.copy_from_slice(&id.to_be_bytes());
                }
            }
            RecordRepr::Error(v) | RecordRepr::Warning(v) | RecordRepr::Port(v) => {
                body.copy_from_slice(&v.to_be_bytes());
            }
            RecordRepr::NewCookie(bytes) | RecordRepr::Unknown { body: bytes, .. } => body.copy_from_slice(bytes),
            RecordRepr::Server(name) => body.copy_from_slice(name.as_bytes()),
        }
        Ok(len)
    }
}

/// Iterator over the records of a complete message (as found by
/// [`MessageScanner`]). Each item is checked; after the first error the
/// iterator ends.
#[derive(Clone, Debug)]
pub struct Records<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Records<'a> {
    /// Iterates over the records in `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Records { bytes, offset: 0 }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<RecordRepr<'a>, KeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.bytes.is_empty() {
            return None;
        }
        let parsed = Record::parse(self.bytes, self.offset).and_then(|(record, len)| {
            let repr = RecordRepr::parse(&record)?;
            Ok((repr, len))
        });
        match parsed {
            Ok((repr, len)) => {
                self.bytes = self.bytes.get(len..).unwrap_or(&[]);
                self.offset += len;
                Some(Ok(repr))
            }
            Err(e) => {
                self.bytes = &[];
                Some(Err(e))
            }
        }
    }
}

/// Bounds on one NTS-KE message, so a peer cannot make us buffer without end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageLimits {
    /// The most records a message may hold, End of Message included.
    pub max_records: usize,
    /// The most bytes a message may span.
    pub max_len: usize,
}

impl Default for MessageLimits {
    /// 64 records and 16 KiB: a server answer with eight cookies of a few
    /// hundred bytes, a server name and a port is well under both, and
    /// chrony's own limit on a message is the same order (a 16 KiB buffer).
    fn default() -> Self {
        MessageLimits { max_records: 64, max_len: 16 * 1024 }
    }
}

/// What [`MessageScanner::scan`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scan {
    /// No End of Message yet: read more bytes and scan again.
    NeedMore,
    /// The message is complete: the first `len` bytes, End of Message included.
    Complete {
        /// The message's length in bytes.
        len: usize,
    },
}

/// Finds the end of one NTS-KE message in bytes that arrive in pieces.
///
/// The caller appends what TLS delivers to its buffer and calls
/// [`scan`](MessageScanner::scan) with the whole buffer each time; the
/// scanner remembers how far it got, so every byte is looked at once. It
/// fails as soon as the message passes either limit of [`MessageLimits`],
/// even when the record that passes it is not complete yet, so the caller
/// never needs to hold more than `max_len` bytes.
#[derive(Clone, Debug)]
pub struct MessageScanner {
    limits: MessageLimits,
    scanned: usize,
    records: usize,
}

impl MessageScanner {
    /// A scanner for one message.
    pub fn new(limits: MessageLimits) -> Self {
        MessageScanner { limits, scanned: 0, records: 0 }
    }

    /// Scans `buf` (everything received so far, from the message's first
    /// byte).
    pub fn scan(&mut self, buf: &[u8]) -> Result<Scan, KeError> {
        loop {
            let rest = buf.get(self.scanned..).unwrap_or(&[]);
            let header = match rest {
                [a, b, c, d, ..] => (u16::from_be_bytes([*a, *b]), usize::from(u16::from_be_bytes([*c, *d]))),
                _ => return self.check_len(buf.len()).map(|()| Scan::NeedMore),
            };
            let (word, body_len) = header;
            let end = self.scanned + RECORD_HEADER_LEN + body_len;
            self.check_len(end)?;
            if self.records >= self.limits.max_records {
                return Err(KeError::TooManyRecords { max: self.limits.max_records });
            }
            if buf.len() < end {
                return Ok(Scan::NeedMore);
            }
            self.records += 1;
            self.scanned = end;
            if word & !CRITICAL_BIT == record_type::END_OF_MESSAGE {
                return Ok(Scan::Complete { len: end });
            }
        }
    }

    fn check_len(&self, len: usize) -> Result<(), KeError> {
        if len > self.limits.max_len { Err(KeError::TooLong { max: self.limits.max_len }) } else { Ok(()) }
    }
}

/// Writes a message's records one after another into a caller's buffer.
#[derive(Debug)]
pub struct RecordWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> RecordWriter<'a> {
    /// Starts at the beginning of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        RecordWriter { buf, pos: 0 }
    }

    /// Appends one record.
    pub fn push(&mut self, record: &RecordRepr<'_>) -> Result<(), KeError> {
        let available = self.buf.len();
        let pos = self.pos;
        let rest = self.buf.get_mut(pos..).unwrap_or(&mut []);
        let written = record.emit(rest).map_err(|e| match e {
            KeError::BufferTooSmall { needed, .. } => KeError::BufferTooSmall { len: available, needed: pos + needed },
            other => other,
        })?;
        self.pos += written;
        Ok(())
    }

    /// Appends End of Message and returns the message length.
    pub fn finish(mut self) -> Result<usize, KeError> {
        self.push(&RecordRepr::EndOfMessage)?;
        Ok(self.pos)
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.pos
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_a_client_request() {
        // Next Protocol {NTPv4}, AEAD {15}, End of Message: what chrony sends.
        let bytes = [0x80, 0x01, 0x00, 0x02, 0x00, 0x00, 0x80, 0x04, 0x00, 0x02, 0x00, 0x0f, 0x80, 0x00, 0x00, 0x00];
        let mut scanner = MessageScanner::new(MessageLimits::default());
        assert_eq!(scanner.scan(&bytes).unwrap(), Scan::Complete { len: 16 });
        let records: Vec<_> = Records::new(&bytes).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            records,
            [
                RecordRepr::NextProtocol(IdList::Values(&[PROTOCOL_NTPV4])),
                RecordRepr::AeadAlgorithm(IdList::Values(&[AEAD_AES_SIV_CMAC_256])),
                RecordRepr::EndOfMessage,
            ]
        );
    }

    #[test]
    fn writes_what_it_reads() {
        let mut buf = [0u8; 64];
        let mut w = RecordWriter::new(&mut buf);
        w.push(&RecordRepr::NextProtocol(IdList::Values(&[0]))).unwrap();
        w.push(&RecordRepr::AeadAlgorithm(IdList::Values(&[15]))).unwrap();
        let len = w.finish().unwrap();
        assert_eq!(&buf[..len], &[0x80, 1, 0, 2, 0, 0, 0, 4, 0, 2, 0, 15, 0x80, 0, 0, 0]);
    }

    #[test]
    fn unknown_records_keep_their_critical_bit() {
        let bytes = [0x80, 0x42, 0x00, 0x01, 0xaa, 0x00, 0x43, 0x00, 0x00];
        let mut it = Records::new(&bytes);
        let first = it.next().unwrap().unwrap();
        assert!(first.is_unrecognized_critical());
        assert_eq!(first, RecordRepr::Unknown { critical: true, record_type: 0x42, body: &[0xaa] });
        let second = it.next().unwrap().unwrap();
        assert!(!second.is_unrecognized_critical());
        assert!(it.next().is_none());
    }

    #[test]
    fn bad_bodies_are_errors() {
        // Error with three bytes, Port with one, EoM with a body, odd list, bad server name.
        for bytes in [
            &[0x80, 0x02, 0x00, 0x03, 0, 0, 0][..],
            &[0x00, 0x07, 0x00, 0x01, 0][..],
            &[0x80, 0x00, 0x00, 0x01, 0][..],
            &[0x80, 0x01, 0x00, 0x03, 0, 0, 0][..],
            &[0x00, 0x06, 0x00, 0x02, b'a', b' '][..],
            &[0x00, 0x06, 0x00, 0x00][..],
        ] {
            let (record, _) = Record::parse(bytes, 0).unwrap();
            assert!(RecordRepr::parse(&record).is_err(), "{bytes:?}");
        }
    }

    #[test]
    fn truncated_records_are_errors() {
        assert!(matches!(Record::parse(&[0x80, 0x05, 0x00], 0), Err(KeError::Truncated { .. })));
        assert_eq!(
            Record::parse(&[0x00, 0x05, 0x00, 0x04, 1, 2], 7),
            Err(KeError::Truncated { offset: 7, needed: 8, available: 6 })
        );
    }

    #[test]
    fn a_stream_that_never_ends_is_cut_off() {
        let limits = MessageLimits { max_records: 8, max_len: 256 };
        // Warnings forever, in small pieces: too many records.
        let mut scanner = MessageScanner::new(limits);
        let mut stream = Vec::new();
        let mut result = Ok(Scan::NeedMore);
        for _ in 0..100 {
            stream.extend_from_slice(&[0x80, 0x03, 0x00, 0x02, 0x00, 0x01]);
            result = scanner.scan(&stream);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(KeError::TooManyRecords { max: 8 }));
        assert!(stream.len() <= 9 * 6);
        // One record that announces more than the limit: refused at its header.
        let mut scanner = MessageScanner::new(limits);
        assert_eq!(scanner.scan(&[0x00, 0x05, 0x01, 0x00]), Err(KeError::TooLong { max: 256 }));
        // Bytes that never form a header beyond the limit.
        let mut scanner = MessageScanner::new(MessageLimits { max_records: 8, max_len: 2 });
        assert_eq!(scanner.scan(&[0, 5, 0]), Err(KeError::TooLong { max: 2 }));
    }

    #[test]
    fn scanning_in_pieces_finds_the_same_end() {
        let mut buf = [0u8; 64];
        let mut w = RecordWriter::new(&mut buf);
        w.push(&RecordRepr::NewCookie(&[9; 20])).unwrap();
        w.push(&RecordRepr::Server("192.0.2.1")).unwrap();
        let len = w.finish().unwrap();
        let mut scanner = MessageScanner::new(MessageLimits::default());
        for end in 0..len {
            assert_eq!(scanner.scan(&buf[..end]).unwrap(), Scan::NeedMore, "{end}");
        }
        assert_eq!(scanner.scan(&buf[..len]).unwrap(), Scan::Complete { len });
    }

    #[test]
    fn writer_refuses_a_small_buffer() {
        let mut buf = [0u8; 8];
        let mut w = RecordWriter::new(&mut buf);
        w.push(&RecordRepr::Port(123)).unwrap();
        assert_eq!(w.len(), 6);
        assert_eq!(w.finish(), Err(KeError::BufferTooSmall { len: 8, needed: 10 }));
    }

    fn arb_repr(data: &'static [u8]) -> impl Strategy<Value = RecordRepr<'static>> {
        let ids: &'static [u16] = &[0, 15, 1, 0x8000, 65535, 17];
        prop_oneof![
            Just(RecordRepr::EndOfMessage),
            (0..=ids.len()).prop_map(move |n| RecordRepr::NextProtocol(IdList::Values(&ids[..n]))),
            (0..=ids.len()).prop_map(move |n| RecordRepr::AeadAlgorithm(IdList::Values(&ids[..n]))),
            any::<u16>().prop_map(RecordRepr::Error),
            any::<u16>().prop_map(RecordRepr::Warning),
            any::<u16>().prop_map(RecordRepr::Port),
            (0..=data.len()).prop_map(move |n| RecordRepr::NewCookie(&data[..n])),
            prop::sample::select(&["ntp.example", "192.0.2.1", "[2001:db8::1]", "x"][..]).prop_map(RecordRepr::Server),
            (any::<bool>(), 8u16..0x8000, 0..=data.len()).prop_map(move |(critical, record_type, n)| {
                RecordRepr::Unknown { critical, record_type, body: &data[..n] }
            }),
        ]
    }

    static DATA: [u8; 300] = {
        let mut d = [0u8; 300];
        let mut i = 0;
        while i < 300 {
            d[i] = (i * 7 + 3) as u8;
            i += 1;
        }
        d
    };

    proptest! {
        #[test]
        fn repr_round_trips(repr in arb_repr(&DATA)) {
            let mut buf = [0u8; 512];
            let len = repr.emit(&mut buf).unwrap();
            prop_assert_eq!(len, repr.wire_len());
            let (record, used) = Record::parse(&buf[..len], 0).unwrap();
            prop_assert_eq!(used, len);
            prop_assert_eq!(record.critical, repr.critical());
            prop_assert_eq!(RecordRepr::parse(&record).unwrap(), repr);
        }

        #[test]
        fn messages_round_trip(reprs in prop::collection::vec(arb_repr(&DATA), 0..10)) {
            let reprs: Vec<_> = reprs.into_iter().filter(|r| *r != RecordRepr::EndOfMessage).collect();
            let mut buf = vec![0u8; 8192];
            let mut w = RecordWriter::new(&mut buf);
            for r in &reprs {
                w.push(r).unwrap();
            }
            let len = w.finish().unwrap();
            let mut scanner = MessageScanner::new(MessageLimits::default());
            prop_assert_eq!(scanner.scan(&buf[..len]).unwrap(), Scan::Complete { len });
            let back: Vec<_> = Records::new(&buf[..len]).collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(back.last(), Some(&RecordRepr::EndOfMessage));
            prop_assert_eq!(&back[..back.len() - 1], &reprs[..]);
        }

        #[test]
        fn scanner_and_parser_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200), max_records in 0usize..10, max_len in 0usize..300) {
            let mut scanner = MessageScanner::new(MessageLimits { max_records, max_len });
            if let Ok(Scan::Complete { len }) = scanner.scan(&bytes) {
                prop_assert!(len <= max_len && len <= bytes.len());
                let n = Records::new(&bytes[..len]).count();
                prop_assert!(n <= max_records);
            }
            for r in Records::new(&bytes) {
                let _ = r;
            }
        }
    }
}
