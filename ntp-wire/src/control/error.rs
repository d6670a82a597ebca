//! Why a control message could not be decoded, written or reassembled.

use super::codes::ErrorCode;

/// Why bytes are not a well-formed mode 6 message, or one could not be
/// written. Offsets and lengths are in bytes from the start of the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// Fewer bytes than the 12-byte control header.
    #[error("control message is {len} bytes; the header needs 12")]
    Truncated {
        /// Bytes given.
        len: usize,
    },
    /// The mode field is not 6.
    #[error("mode is {mode}; control messages are mode 6")]
    NotControl {
        /// The mode found.
        mode: u8,
    },
    /// The length is not a multiple of 4: every sender pads the data to a
    /// 32-bit boundary (RFC 9327 §2), and ntpd answers anything else with
    /// a format error.
    #[error("control message is {len} bytes, not a multiple of 4")]
    Unpadded {
        /// Bytes given.
        len: usize,
    },
    /// The count field claims more than 468 bytes of data.
    #[error("count is {count}; a control message carries at most 468 bytes of data")]
    CountTooLarge {
        /// The count field.
        count: usize,
    },
    /// The count field claims more data than the message holds.
    #[error("count is {count} but only {available} bytes follow the header")]
    CountOverrun {
        /// The count field.
        count: usize,
        /// Bytes after the 12-byte header.
        available: usize,
    },
    /// Bytes after the 8-byte-aligned end of the data that are not a MAC of
    /// 20 or 24 bytes (key id and a 16- or 20-byte digest).
    #[error(
        "{len} bytes at byte {offset} after the data are not a MAC; a MAC is 20 or 24 bytes (key id and a 16- or 20-byte digest)"
    )]
    BadMacLength {
        /// Where the MAC would start.
        offset: usize,
        /// Bytes found there.
        len: usize,
    },
    /// The output buffer is too small.
    #[error("buffer is {len} bytes; {needed} are needed")]
    BufferTooSmall {
        /// Bytes available.
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// More data than one message carries (468 bytes); fragment it first.
    #[error("{len} bytes of data do not fit one control message (at most 468)")]
    DataTooLong {
        /// Bytes of data given.
        len: usize,
    },
    /// A response payload longer than 32 fragments of 468 bytes, the most
    /// `ntpq` reassembles.
    #[error("a payload of {len} bytes needs more than 32 fragments (at most {max} bytes)")]
    PayloadTooLong {
        /// Bytes given.
        len: usize,
        /// The limit, 32 × 468 = 14976.
        max: usize,
    },
}

/// Why a `name=value` list could not be parsed or written. Offsets count
/// bytes from the start of the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VarListError {
    /// An item with nothing before its `=` or between two commas.
    #[error("empty variable name at byte {offset}")]
    EmptyName {
        /// Where the item starts.
        offset: usize,
    },
    /// A variable name longer than [`MAX_NAME_LEN`](super::MAX_NAME_LEN).
    #[error("variable name at byte {offset} is {len} bytes; at most {max} are accepted")]
    NameTooLong {
        /// Where the name starts.
        offset: usize,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A value longer than [`MAX_VALUE_LEN`](super::MAX_VALUE_LEN).
    #[error("value at byte {offset} is {len} bytes; at most {max} are accepted")]
    ValueTooLong {
        /// Where the value starts.
        offset: usize,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A character a variable name may not hold (names are printable ASCII
    /// without space, `=`, `,` or `"`).
    #[error("byte {offset} (0x{byte:02x}) is not allowed in a variable name")]
    BadNameByte {
        /// Where it is.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// A control character, DEL or a non-ASCII byte inside a value.
    #[error("byte {offset} (0x{byte:02x}) is not allowed in a value")]
    BadValueByte {
        /// Where it is.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// A quoted value with no closing quote.
    #[error("quoted value starting at byte {offset} is not closed")]
    UnterminatedQuote {
        /// Where the opening quote is.
        offset: usize,
    },
    /// Something other than a comma after a closing quote.
    #[error("byte {offset} follows a closing quote; expected `,` or the end")]
    AfterQuote {
        /// Where it is.
        offset: usize,
    },
    /// The list does not fit the writer's buffer.
    #[error("the list needs {needed} bytes; the buffer holds {len}")]
    BufferTooSmall {
        /// Bytes available.
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// A string to be written quoted holds a `"` or a control character,
    /// which the format cannot carry (it has no escapes).
    #[error("a quoted value cannot hold byte 0x{byte:02x}")]
    Unquotable {
        /// The byte.
        byte: u8,
    },
}

/// Why a response fragment was refused by the
/// [`Reassembler`](super::Reassembler). The reassembler is unchanged after
/// any of these: the caller may drop the fragment and keep waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReassemblyError {
    /// The R bit is clear: a request, not a response.
    #[error("the message is a request (R bit clear), not a response")]
    NotResponse,
    /// The response answers another request.
    #[error("sequence {got} does not match the request's {expected}")]
    WrongSequence {
        /// The request's sequence number.
        expected: u16,
        /// The fragment's.
        got: u16,
    },
    /// The response is for another opcode.
    #[error("opcode {got} does not match the request's {expected}")]
    WrongOpcode {
        /// The request's opcode.
        expected: u8,
        /// The fragment's.
        got: u8,
    },
    /// The server answered with an error (E bit set).
    #[error("the server answered with an error: {code}")]
    ServerError {
        /// The error code from the status word.
        code: ErrorCode,
    },
    /// A fragment with no data that claims more follow: it cannot advance.
    #[error("empty fragment at offset {offset} with the M bit set")]
    EmptyFragment {
        /// Its offset.
        offset: usize,
    },
    /// A second fragment at an offset already filled.
    #[error("duplicate fragment at offset {offset}")]
    Duplicate {
        /// Its offset.
        offset: usize,
    },
    /// A fragment whose bytes overlap one already received.
    #[error("fragment {offset}..{end} overlaps one already received")]
    Overlap {
        /// Its first byte.
        offset: usize,
        /// One past its last byte.
        end: usize,
    },
    /// A fragment past the end set by the last fragment (M clear), or a
    /// second last fragment that disagrees with the first.
    #[error("fragment {offset}..{end} lies past the end of the response at {total}")]
    PastEnd {
        /// Its first byte.
        offset: usize,
        /// One past its last byte.
        end: usize,
        /// The response length the last fragment set.
        total: usize,
    },
    /// More than 32 fragments, the most `ntpq` accepts.
    #[error("more than {max} fragments")]
    TooManyFragments {
        /// The limit, 32.
        max: usize,
    },
    /// The fragment does not fit the caller's buffer.
    #[error("fragment ends at byte {end}; the buffer holds {len}")]
    BufferTooSmall {
        /// Bytes available.
        len: usize,
        /// One past the fragment's last byte.
        end: usize,
    },
    /// The response is not complete: bytes from `offset` on are missing
    /// (a hole, or the last fragment has not arrived).
    #[error("response incomplete: bytes from {offset} are missing")]
    Incomplete {
        /// The first missing byte.
        offset: usize,
    },
}
