//! The one result type of the C ABI, and its messages.
//!
//! Codes are grouped in ranges so a caller can classify an error without
//! knowing every code: 1-99 misuse of the ABI itself, 100-199 wire format,
//! 200-299 authentication and keys, 300-399 configuration (key files,
//! associations), 400-499 the engine, 500-599 the mode 6 control client. A number is never reused for another
//! meaning; new codes take fresh numbers.

use std::ffi::c_char;

use ntp_algo::ConfigError;
use ntp_wire::Error as WireError;
use ntp_wire::auth::{AuthError, KeyError, KeyFileError, TrustedKeysError};

use crate::ptr::{self, boundary};

/// What a call did. 0 is success. Codes are grouped in ranges: 1-99
/// misuse of the ABI, 100-199 wire format, 200-299 authentication and
/// keys, 300-399 configuration, 400-499 the engine, 500-599 the mode 6
/// control client. A number is never reused for another meaning.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ntp_result {
    /// Success.
    Ok = 0,
    /// A pointer that must not be NULL was NULL.
    NullParameter = 1,
    /// A caller's buffer (or array) is too small for the result.
    InsufficientSize = 2,
    /// The library hit a bug and stopped it at the ABI boundary.
    Panic = 3,
    /// A value outside its documented range (an enum code, a field).
    InvalidParameter = 4,
    /// Text that must be UTF-8 was not.
    InvalidUtf8 = 5,
    /// No such item (key id, extension field index).
    NotFound = 6,
    /// A time conversion whose answer does not fit the target type.
    OutOfRange = 7,
    /// A struct's `struct_size` is not one this library knows.
    StructSizeMismatch = 8,

    /// Fewer bytes than the 48-byte NTP header.
    WireTruncated = 100,
    /// An extension field declares a length RFC 7822 forbids.
    WireBadExtensionLength = 101,
    /// An extension field runs past the end of the packet.
    WireExtensionOverrun = 102,
    /// The last extension field without a MAC is shorter than 28 bytes.
    WireLastExtensionTooShort = 103,
    /// The bytes after the header are no valid trailer shape.
    WireBadTrailerLength = 104,
    /// A 4-byte trailer with a non-zero key id.
    WireBadCryptoNak = 105,
    /// An extension field value too long for its 16-bit length.
    WireExtensionTooLong = 106,
    /// A wire error this version of the ABI has no code for.
    WireOther = 199,

    /// The packet carries no MAC.
    AuthNoMac = 200,
    /// The packet carries a crypto-NAK (RFC 5905 section 7.4).
    AuthCryptoNak = 201,
    /// The MAC's key id is not in the keyring.
    AuthUnknownKey = 202,
    /// The key is in the keyring but not trusted.
    AuthUntrusted = 203,
    /// The MAC's digest length does not fit the key's type.
    AuthKeyTypeMismatch = 204,
    /// The digest does not match: wrong secret or altered packet.
    AuthBadMac = 205,
    /// Key id 0 is reserved (it marks crypto-NAKs).
    AuthZeroKeyId = 206,
    /// A key with an empty secret.
    AuthEmptySecret = 207,
    /// A secret longer than the library supports (512 bytes).
    AuthSecretTooLong = 208,
    /// An AES key of the wrong length (16 bytes for AES-128, 32 for AES-256).
    AuthWrongSecretLength = 209,
    /// An authentication error this version of the ABI has no code for.
    AuthOther = 299,

    /// A key file line that could not be read (its number is reported).
    ConfigKeyFileSyntax = 300,
    /// A key id defined twice in a key file.
    ConfigDuplicateKeyId = 301,
    /// A trusted-key list that could not be read.
    ConfigTrustedKeysSyntax = 302,
    /// A poll exponent outside 0..=17.
    ConfigPollOutOfRange = 303,
    /// minpoll greater than maxpoll.
    ConfigPollOrder = 304,
    /// An association's key id is not in the engine's keyring.
    ConfigUnknownKey = 305,
    /// An association with this address exists already.
    ConfigDuplicateAssociation = 306,
    /// Key id 0 given to sign an association's packets.
    ConfigZeroKeyId = 307,
    /// A configuration text has a line the parser refused.
    ConfigSyntax = 308,
    /// A configuration text is in none of the dialects this library reads.
    ConfigUnknownDialect = 309,
    /// A configuration names key files or host names, which this call does
    /// not read or resolve.
    ConfigUnresolved = 310,
    /// A configuration error this version of the ABI has no code for.
    ConfigOther = 399,

    /// No association has this id.
    EngineNoSuchAssociation = 400,

    /// The control client has a request in flight already.
    ControlBusy = 500,
    /// No complete response after one retry (ntpq's timeouts).
    ControlTimeout = 501,
    /// The server answered with a mode 6 error code (see
    /// `ntp_control_client_server_error`).
    ControlServerError = 502,
    /// A response's MAC did not verify with the client's key.
    ControlUnauthenticated = 503,
    /// A response's variable list, or a value in it, did not parse.
    ControlBadResponse = 504,
    /// No complete response is held (none yet, or a new request started).
    ControlNoResponse = 505,
    /// A control client error this version of the ABI has no code for.
    ControlOther = 599,
}

impl ntp_result {
    /// The message of each code. Static, so `ntp_result_message` can copy
    /// it without formatting (and so cannot fail but for the buffer).
    pub(crate) const fn message(self) -> &'static str {
        match self {
            ntp_result::Ok => "success",
            ntp_result::NullParameter => "a required pointer was NULL",
            ntp_result::InsufficientSize => "the output buffer is too small",
            ntp_result::Panic => "internal error: the library panicked (a bug; please report it)",
            ntp_result::InvalidParameter => "a parameter is outside its allowed range",
            ntp_result::InvalidUtf8 => "text is not valid UTF-8",
            ntp_result::NotFound => "no such item",
            ntp_result::OutOfRange => "the time does not fit the target representation",
            ntp_result::StructSizeMismatch => "struct_size does not match this library's struct",
            ntp_result::WireTruncated => "packet shorter than the 48-byte NTP header",
            ntp_result::WireBadExtensionLength => "extension field length not allowed by RFC 7822",
            ntp_result::WireExtensionOverrun => "extension field runs past the end of the packet",
            ntp_result::WireLastExtensionTooShort => "last extension field without a MAC is under 28 bytes",
            ntp_result::WireBadTrailerLength => {
                "bytes after the header are neither MAC, crypto-NAK nor extension field"
            }
            ntp_result::WireBadCryptoNak => "4-byte trailer with a non-zero key id",
            ntp_result::WireExtensionTooLong => "extension field value too long",
            ntp_result::WireOther => "malformed packet",
            ntp_result::AuthNoMac => "the packet carries no MAC",
            ntp_result::AuthCryptoNak => "the packet is a crypto-NAK",
            ntp_result::AuthUnknownKey => "the key id is not configured",
            ntp_result::AuthUntrusted => "the key is configured but not trusted",
            ntp_result::AuthKeyTypeMismatch => "the digest length does not fit the key's type",
            ntp_result::AuthBadMac => "the MAC does not match the packet",
            ntp_result::AuthZeroKeyId => "key id 0 is reserved",
            ntp_result::AuthEmptySecret => "the key's secret is empty",
            ntp_result::AuthSecretTooLong => "the key's secret is too long",
            ntp_result::AuthWrongSecretLength => "wrong secret length for an AES-CMAC key",
            ntp_result::AuthOther => "authentication failed",
            ntp_result::ConfigKeyFileSyntax => "a key file line could not be read",
            ntp_result::ConfigDuplicateKeyId => "a key id is defined twice in the key file",
            ntp_result::ConfigTrustedKeysSyntax => "the trusted-key list could not be read",
            ntp_result::ConfigPollOutOfRange => "poll exponent outside 0..17",
            ntp_result::ConfigPollOrder => "minpoll is greater than maxpoll",
            ntp_result::ConfigUnknownKey => "the association's key id is not in the keyring",
            ntp_result::ConfigDuplicateAssociation => "an association with this address exists already",
            ntp_result::ConfigZeroKeyId => "key id 0 cannot sign packets",
            ntp_result::ConfigSyntax => "a configuration line was refused (ntp_config_check names it)",
            ntp_result::ConfigUnknownDialect => "the configuration is in no known dialect",
            ntp_result::ConfigUnresolved => "the configuration names key files or hosts this call cannot read",
            ntp_result::ConfigOther => "invalid configuration",
            ntp_result::EngineNoSuchAssociation => "no association has this id",
            ntp_result::ControlBusy => "a mode 6 request is already in flight",
            ntp_result::ControlTimeout => "no mode 6 response (timed out after one retry)",
            ntp_result::ControlServerError => "the server answered the mode 6 request with an error",
            ntp_result::ControlUnauthenticated => "the mode 6 response did not authenticate",
            ntp_result::ControlBadResponse => "the mode 6 response's variables did not parse",
            ntp_result::ControlNoResponse => "no complete mode 6 response is held",
            ntp_result::ControlOther => "mode 6 request failed",
        }
    }

    /// Every code, to look a raw number up without transmuting it.
    pub(crate) const ALL: [ntp_result; 48] = [
        ntp_result::Ok,
        ntp_result::NullParameter,
        ntp_result::InsufficientSize,
        ntp_result::Panic,
        ntp_result::InvalidParameter,
        ntp_result::InvalidUtf8,
        ntp_result::NotFound,
        ntp_result::OutOfRange,
        ntp_result::StructSizeMismatch,
        ntp_result::WireTruncated,
        ntp_result::WireBadExtensionLength,
        ntp_result::WireExtensionOverrun,
        ntp_result::WireLastExtensionTooShort,
        ntp_result::WireBadTrailerLength,
        ntp_result::WireBadCryptoNak,
        ntp_result::WireExtensionTooLong,
        ntp_result::WireOther,
        ntp_result::AuthNoMac,
        ntp_result::AuthCryptoNak,
        ntp_result::AuthUnknownKey,
        ntp_result::AuthUntrusted,
        ntp_result::AuthKeyTypeMismatch,
        ntp_result::AuthBadMac,
        ntp_result::AuthZeroKeyId,
        ntp_result::AuthEmptySecret,
        ntp_result::AuthSecretTooLong,
        ntp_result::AuthWrongSecretLength,
        ntp_result::AuthOther,
        ntp_result::ConfigKeyFileSyntax,
        ntp_result::ConfigDuplicateKeyId,
        ntp_result::ConfigTrustedKeysSyntax,
        ntp_result::ConfigPollOutOfRange,
        ntp_result::ConfigPollOrder,
        ntp_result::ConfigUnknownKey,
        ntp_result::ConfigDuplicateAssociation,
        ntp_result::ConfigZeroKeyId,
        ntp_result::ConfigSyntax,
        ntp_result::ConfigUnknownDialect,
        ntp_result::ConfigUnresolved,
        ntp_result::ConfigOther,
        ntp_result::EngineNoSuchAssociation,
        ntp_result::ControlBusy,
        ntp_result::ControlTimeout,
        ntp_result::ControlServerError,
        ntp_result::ControlUnauthenticated,
        ntp_result::ControlBadResponse,
        ntp_result::ControlNoResponse,
        ntp_result::ControlOther,
    ];

    fn from_code(code: u32) -> Option<ntp_result> {
        ntp_result::ALL.iter().copied().find(|r| *r as u32 == code)
    }
}

impl From<WireError> for ntp_result {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Truncated { .. } => ntp_result::WireTruncated,
            WireError::BadExtensionLength { .. } => ntp_result::WireBadExtensionLength,
            WireError::ExtensionOverrun { .. } => ntp_result::WireExtensionOverrun,
            WireError::LastExtensionTooShort { .. } => ntp_result::WireLastExtensionTooShort,
            WireError::BadTrailerLength { .. } => ntp_result::WireBadTrailerLength,
            WireError::BadCryptoNak { .. } => ntp_result::WireBadCryptoNak,
            WireError::BufferTooSmall { .. } => ntp_result::InsufficientSize,
            WireError::ExtensionTooLong { .. } => ntp_result::WireExtensionTooLong,
            _ => ntp_result::WireOther,
        }
    }
}

impl From<AuthError> for ntp_result {
    fn from(e: AuthError) -> Self {
        match e {
            // The exact structural reason is more useful than "malformed".
            AuthError::Malformed(wire) => wire.into(),
            AuthError::NoMac => ntp_result::AuthNoMac,
            AuthError::CryptoNak => ntp_result::AuthCryptoNak,
            AuthError::UnknownKey { .. } => ntp_result::AuthUnknownKey,
            AuthError::UntrustedKey { .. } => ntp_result::AuthUntrusted,
            AuthError::DigestLength { .. } => ntp_result::AuthKeyTypeMismatch,
            AuthError::BadMac { .. } => ntp_result::AuthBadMac,
            _ => ntp_result::AuthOther,
        }
    }
}

impl From<KeyError> for ntp_result {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::ZeroKeyId => ntp_result::AuthZeroKeyId,
            KeyError::EmptySecret => ntp_result::AuthEmptySecret,
            KeyError::SecretTooLong { .. } => ntp_result::AuthSecretTooLong,
            KeyError::WrongSecretLength { .. } => ntp_result::AuthWrongSecretLength,
            _ => ntp_result::AuthOther,
        }
    }
}

impl From<KeyFileError> for ntp_result {
    fn from(e: KeyFileError) -> Self {
        match e.kind {
            ntp_wire::auth::KeyFileErrorKind::DuplicateKeyId { .. } => ntp_result::ConfigDuplicateKeyId,
            _ => ntp_result::ConfigKeyFileSyntax,
        }
    }
}

impl From<TrustedKeysError> for ntp_result {
    fn from(_: TrustedKeysError) -> Self {
        ntp_result::ConfigTrustedKeysSyntax
    }
}

impl From<ConfigError> for ntp_result {
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::PollOutOfRange { .. } => ntp_result::ConfigPollOutOfRange,
            ConfigError::PollOrder { .. } => ntp_result::ConfigPollOrder,
            ConfigError::ZeroKeyId => ntp_result::ConfigZeroKeyId,
            ConfigError::UnknownKey { .. } => ntp_result::ConfigUnknownKey,
            ConfigError::Duplicate { .. } => ntp_result::ConfigDuplicateAssociation,
            ConfigError::NoSuchAssociation { .. } => ntp_result::EngineNoSuchAssociation,
            _ => ntp_result::ConfigOther,
        }
    }
}

/// Copies the message of `code` (any number; unknown codes get a generic
/// message) into `buf` as a NUL-terminated string.
///
/// - `buf`: caller-owned, `len` bytes, must hold the message and its NUL.
/// - `written`: receives the message length without the NUL.
///
/// Returns `NTP_RESULT_INSUFFICIENT_SIZE` when `len` is too small (256
/// bytes always suffice).
#[unsafe(no_mangle)]
pub extern "C" fn ntp_result_message(code: u32, buf: *mut c_char, len: usize, written: *mut usize) -> ntp_result {
    boundary(|| {
        let message = match ntp_result::from_code(code) {
            Some(known) => known.message(),
            None => "unknown result code",
        };
        let out = ptr::slice_mut(buf.cast::<u8>(), len)?;
        let written = ptr::out(written)?;
        let n = ptr::write_c_string(out, message)?;
        *written = n;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_in_their_ranges() {
        let mut seen = std::collections::BTreeSet::new();
        for r in &ntp_result::ALL {
            assert!(seen.insert(*r as u32), "{r:?} reused");
            assert!(!r.message().is_empty());
        }
        assert_eq!(ntp_result::from_code(202), Some(ntp_result::AuthUnknownKey));
        assert_eq!(ntp_result::from_code(9999), None);
    }

    #[test]
    fn message_copies_with_nul_and_checks_length() {
        let mut buf = [0x55 as c_char; 64];
        let mut n = 0usize;
        assert_eq!(ntp_result_message(205, buf.as_mut_ptr(), buf.len(), &mut n), ntp_result::Ok);
        let expect = ntp_result::AuthBadMac.message();
        assert_eq!(n, expect.len());
        assert_eq!(buf[n], 0);
        let mut small = [0 as c_char; 4];
        let mut n2 = 77usize;
        assert_eq!(ntp_result_message(205, small.as_mut_ptr(), 4, &mut n2), ntp_result::InsufficientSize);
        assert_eq!(n2, 77, "out-parameter untouched on failure");
        assert_eq!(ntp_result_message(0, std::ptr::null_mut(), 10, &mut n2), ntp_result::NullParameter);
    }

    #[test]
    fn auth_errors_keep_their_exact_reason() {
        assert_eq!(ntp_result::from(AuthError::BadMac { key_id: 1 }), ntp_result::AuthBadMac);
        assert_eq!(ntp_result::from(AuthError::Malformed(WireError::Truncated { len: 3 })), ntp_result::WireTruncated);
    }
}
