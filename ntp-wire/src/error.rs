//! The one error type of this crate.

/// Why bytes could not be decoded, or a packet could not be written.
///
/// Messages name the offending offset or length so an operator reading a log
/// line can find the problem in a capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Fewer bytes than the 48-byte header.
    #[error("packet is {len} bytes; an NTP header needs 48")]
    Truncated {
        /// Bytes given.
        len: usize,
    },
    /// An extension field header declares a length outside what RFC 7822 allows.
    #[error("extension field at byte {offset} declares length {declared}; RFC 7822 needs a multiple of 4, at least 16")]
    BadExtensionLength {
        /// Offset of the field's type in the packet.
        offset: usize,
        /// The length it declares.
        declared: usize,
    },
    /// An extension field runs past the end of the packet.
    #[error("extension field at byte {offset} declares length {declared}, but only {available} bytes remain")]
    ExtensionOverrun {
        /// Offset of the field's type in the packet.
        offset: usize,
        /// The length it declares.
        declared: usize,
        /// Bytes from its start to the end of the packet.
        available: usize,
    },
    /// The last extension field is followed by no MAC and is shorter than
    /// the 28 bytes RFC 7822 §7.5 demands (so it cannot be mistaken for a MAC).
    #[error(
        "last extension field at byte {offset} is {declared} bytes with no MAC after it; RFC 7822 needs at least 28"
    )]
    LastExtensionTooShort {
        /// Offset of the field's type in the packet.
        offset: usize,
        /// Its length.
        declared: usize,
    },
    /// What follows the header (or the last extension field) is none of the
    /// shapes a trailer may take.
    #[error(
        "{len} bytes at byte {offset} are neither a MAC (20 or 24 bytes), a crypto-NAK (4 zero bytes) nor an extension field (16 or more)"
    )]
    BadTrailerLength {
        /// Where the trailer starts.
        offset: usize,
        /// Its length.
        len: usize,
    },
    /// A trailer that can only be a MAC of the wrong length: 17 to 27
    /// bytes (not 20 or 24) whose first word is no extension field header.
    /// A MAC is a 4-byte key id and a 16- or 20-byte digest.
    #[error(
        "{len} bytes at byte {offset} look like a MAC of the wrong length; a MAC is 20 or 24 bytes (key id and a 16- or 20-byte digest)"
    )]
    BadMacLength {
        /// Where the MAC starts.
        offset: usize,
        /// Its length.
        len: usize,
    },
    /// A 4-byte trailer whose key id is not zero: crypto-NAKs carry key id 0.
    #[error("4-byte trailer at byte {offset} holds key id {key_id}; a crypto-NAK must be zero")]
    BadCryptoNak {
        /// Where the trailer starts.
        offset: usize,
        /// The key id it holds.
        key_id: u32,
    },
    /// The output buffer is too small for what is to be written.
    #[error("buffer is {len} bytes; {needed} are needed")]
    BufferTooSmall {
        /// Bytes available.
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// An extension field value too long for the 16-bit length field.
    #[error("extension field value of {len} bytes is too long; at most 65528 fit")]
    ExtensionTooLong {
        /// The value's length.
        len: usize,
    },
}
