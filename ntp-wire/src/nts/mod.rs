//! Network Time Security (RFC 8915): the bytes of NTS-KE and of NTS-protected
//! NTP packets.
//!
//! * Key establishment ([`ke`]): records of the NTS-KE protocol that runs over
//!   TLS 1.3 (TCP port 4460, ALPN `ntske/1`), a bounded scanner that finds
//!   the end of a message in a stream, and a writer.
//! * NTP extension fields: [`NtsField`] reads the Unique Identifier, NTS
//!   Cookie, Cookie Placeholder and Authenticator fields; [`FieldWriter`]
//!   writes them.
//! * AEAD_AES_SIV_CMAC_256: [`AeadKey`], [`AuthenticatorWriter`] (seal in the
//!   caller's buffer) and [`open_authenticator`] (open into the caller's
//!   buffer). No allocation anywhere, so all of it works without `std`.
//!
//! The protocol's decisions (cookie jars, server cookies, request and
//! response checks, the TLS handshake) belong to `ntp-algo`.

mod aead;
mod fields;
pub mod ke;

pub use aead::{AEAD_KEY_LEN, AeadKey, AuthenticatorWriter, SIV_TAG_LEN, open_authenticator, open_field};
pub use fields::{
    AUTHENTICATOR_HEADER_LEN, AuthenticatorField, FieldWriter, MIN_PADDED_NONCE_LEN, MIN_UNIQUE_ID_LEN, NtsField,
    field_type,
};

/// Why an NTS extension field could not be read, written, sealed or opened.
///
/// No message carries key material.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NtsError {
    /// A Unique Identifier shorter than 32 bytes (RFC 8915 §5.3).
    #[error("NTS unique identifier is {len} bytes; at least 32 are needed")]
    UniqueIdTooShort {
        /// Its length.
        len: usize,
    },
    /// An authenticator field whose lengths do not fit (RFC 8915 §5.6).
    #[error("NTS authenticator field of {len} bytes is malformed")]
    BadAuthenticator {
        /// The length of what was read.
        len: usize,
    },
    /// The field where an authenticator was expected has another type.
    #[error("extension field type {field_type:#06x} is not an NTS authenticator")]
    NotAnAuthenticator {
        /// Its type.
        field_type: u16,
    },
    /// A nonce of zero bytes, or one too long for its length word.
    #[error("NTS nonce of {len} bytes; 1 to 65535 are allowed")]
    BadNonceLength {
        /// Its length.
        len: usize,
    },
    /// A key that is not 32 bytes.
    #[error("an AEAD_AES_SIV_CMAC_256 key is 32 bytes, not {len}")]
    BadKeyLength {
        /// Its length.
        len: usize,
    },
    /// A field too long for its 16-bit length word.
    #[error("extension field body of {len} bytes is too long")]
    FieldTooLong {
        /// The body's length.
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
    /// The AEAD refused to seal (too many header components; cannot happen
    /// with the two NTS uses).
    #[error("the AEAD could not seal")]
    Aead,
    /// The AEAD did not authenticate the data: wrong key, or the packet was
    /// changed.
    #[error("NTS authenticator does not verify")]
    AuthenticationFailed,
}
