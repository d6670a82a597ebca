//! The NTS extension fields of NTP packets (RFC 8915 §5.3–§5.6), framed as
//! RFC 7822 extension fields.

use crate::trailer::{EXTENSION_HEADER_LEN, ExtensionField, MAX_EXTENSION_VALUE_LEN, MIN_EXTENSION_LEN};

use super::NtsError;

/// Extension field types of NTS (RFC 8915 §7.5).
pub mod field_type {
    /// Unique Identifier (§5.3).
    pub const UNIQUE_IDENTIFIER: u16 = 0x0104;
    /// NTS Cookie (§5.4).
    pub const COOKIE: u16 = 0x0204;
    /// NTS Cookie Placeholder (§5.5).
    pub const COOKIE_PLACEHOLDER: u16 = 0x0304;
    /// NTS Authenticator and Encrypted Extension Fields (§5.6).
    pub const AUTHENTICATOR: u16 = 0x0404;
}

/// The shortest Unique Identifier body: 32 bytes (RFC 8915 §5.3).
pub const MIN_UNIQUE_ID_LEN: usize = 32;
/// Length of the authenticator body's two length words.
pub const AUTHENTICATOR_HEADER_LEN: usize = 4;
/// An authenticator has room for at least this many nonce bytes, padding
/// included: RFC 8915 §5.6's N_REQ = min(16, N_MAX), which is 16 for
/// AES-SIV (its N_MAX is unbounded).
pub const MIN_PADDED_NONCE_LEN: usize = 16;

/// Rounds up to a multiple of 4, the alignment of everything in an NTS field.
#[inline]
pub(crate) fn pad4(len: usize) -> usize {
    len.next_multiple_of(4)
}

/// An NTS extension field, read from an RFC 7822 [`ExtensionField`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NtsField<'a> {
    /// The Unique Identifier: at least 32 random bytes, which the server
    /// echoes (the body as it came, padding included).
    UniqueIdentifier(&'a [u8]),
    /// A cookie (the body as it came; cookies this family makes are a
    /// multiple of 4 bytes, so there is no padding).
    Cookie(&'a [u8]),
    /// A placeholder asking for one more cookie of the body's length; the
    /// body's content is ignored (§5.5).
    CookiePlaceholder {
        /// The body's length in bytes.
        len: usize,
    },
    /// The authenticator and encrypted extension fields.
    Authenticator(AuthenticatorField<'a>),
    /// Not an NTS field.
    Other(ExtensionField<'a>),
}

impl<'a> NtsField<'a> {
    /// Reads one extension field.
    pub fn parse(field: &ExtensionField<'a>) -> Result<NtsField<'a>, NtsError> {
        Ok(match field.field_type {
            field_type::UNIQUE_IDENTIFIER => {
                if field.value.len() < MIN_UNIQUE_ID_LEN {
                    return Err(NtsError::UniqueIdTooShort { len: field.value.len() });
                }
                NtsField::UniqueIdentifier(field.value)
            }
            field_type::COOKIE => NtsField::Cookie(field.value),
            field_type::COOKIE_PLACEHOLDER => NtsField::CookiePlaceholder { len: field.value.len() },
            field_type::AUTHENTICATOR => NtsField::Authenticator(AuthenticatorField::parse(field.value)?),
            _ => NtsField::Other(*field),
        })
    }
}

/// The body of an NTS Authenticator and Encrypted Extension Fields field,
/// borrowed (RFC 8915 §5.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthenticatorField<'a> {
    /// The AEAD nonce, without padding.
    pub nonce: &'a [u8],
    /// The AEAD output: for AES-SIV the 16-byte synthetic IV, then the
    /// encrypted extension fields. Without padding.
    pub ciphertext: &'a [u8],
}

impl<'a> AuthenticatorField<'a> {
    /// Reads the body of the field (after its type and length words).
    ///
    /// Refuses a nonce of zero bytes, and a body too short for the nonce
    /// and ciphertext with their padding, or for the 16-byte minimum of the
    /// nonce with its padding (chrony refuses those too: the RFC asks the
    /// sender to pad a short nonce so every authenticator has room for one
    /// of 16).
    pub fn parse(body: &'a [u8]) -> Result<AuthenticatorField<'a>, NtsError> {
        let (nonce_len, ct_len) = match body {
            [a, b, c, d, ..] => (usize::from(u16::from_be_bytes([*a, *b])), usize::from(u16::from_be_bytes([*c, *d]))),
            _ => return Err(NtsError::BadAuthenticator { len: body.len() }),
        };
        let needed = AUTHENTICATOR_HEADER_LEN + pad4(nonce_len).max(MIN_PADDED_NONCE_LEN) + pad4(ct_len);
        if nonce_len == 0 || needed > body.len() {
            return Err(NtsError::BadAuthenticator { len: body.len() });
        }
        let nonce_start = AUTHENTICATOR_HEADER_LEN;
        let ct_start = nonce_start + pad4(nonce_len);
        let bad = NtsError::BadAuthenticator { len: body.len() };
        let nonce = body.get(nonce_start..nonce_start + nonce_len).ok_or(bad)?;
        let ciphertext = body.get(ct_start..ct_start + ct_len).ok_or(bad)?;
        Ok(AuthenticatorField { nonce, ciphertext })
    }
}

/// Writes extension fields into a caller's buffer from a given position:
/// after the NTP header, or at the start of the plaintext region of an
/// authenticator (see [`AuthenticatorWriter`](super::AuthenticatorWriter)).
///
/// Every field is zero-padded to a multiple of 4 and to at least 16 bytes
/// (RFC 7822 §3).
#[derive(Debug)]
pub struct FieldWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> FieldWriter<'a> {
    /// Starts writing at byte `pos` of `buf`.
    pub fn new(buf: &'a mut [u8], pos: usize) -> Self {
        FieldWriter { buf, pos }
    }

    /// Where the next field goes.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Reserves a field of `field_type` with room for `value_len` bytes and
    /// returns its (zeroed) value area.
    fn reserve(&mut self, field_type: u16, value_len: usize) -> Result<&mut [u8], NtsError> {
        if value_len > MAX_EXTENSION_VALUE_LEN {
            return Err(NtsError::FieldTooLong { len: value_len });
        }
        let len = pad4(EXTENSION_HEADER_LEN + value_len).max(MIN_EXTENSION_LEN);
        let start = self.pos;
        let end = start + len;
        let available = self.buf.len();
        let field = self.buf.get_mut(start..end).ok_or(NtsError::BufferTooSmall { len: available, needed: end })?;
        field.fill(0);
        let (head, body) = field.split_at_mut(EXTENSION_HEADER_LEN);
        let [t0, t1] = field_type.to_be_bytes();
        let [l0, l1] = (len as u16).to_be_bytes();
        head.copy_from_slice(&[t0, t1, l0, l1]);
        self.pos = end;
        Ok(body.get_mut(..value_len).unwrap_or(&mut []))
    }

    /// Appends a field with `value`.
    pub fn push(&mut self, field_type: u16, value: &[u8]) -> Result<(), NtsError> {
        self.reserve(field_type, value.len())?.copy_from_slice(value);
        Ok(())
    }

    /// Appends a Unique Identifier (at least 32 bytes).
    pub fn push_unique_id(&mut self, id: &[u8]) -> Result<(), NtsError> {
        if id.len() < MIN_UNIQUE_ID_LEN {
            return Err(NtsError::UniqueIdTooShort { len: id.len() });
        }
        self.push(field_type::UNIQUE_IDENTIFIER, id)
    }

    /// Appends a cookie.
    pub fn push_cookie(&mut self, cookie: &[u8]) -> Result<(), NtsError> {
        self.push(field_type::COOKIE, cookie)
    }

    /// Appends a cookie placeholder whose zero body is `cookie_len` bytes.
    pub fn push_placeholder(&mut self, cookie_len: usize) -> Result<(), NtsError> {
        self.reserve(field_type::COOKIE_PLACEHOLDER, cookie_len).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trailer::ExtensionFields;
    use proptest::prelude::*;

    #[test]
    fn placeholder_is_zero_and_sized_like_the_cookie() {
        let mut buf = [0xffu8; 200];
        let mut w = FieldWriter::new(&mut buf, 0);
        w.push_placeholder(100).unwrap();
        assert_eq!(w.position(), 104);
        assert_eq!(&buf[..4], &[0x03, 0x04, 0, 104]);
        assert!(buf[4..104].iter().all(|&b| b == 0));
        let field = ExtensionFields::new(&buf[..104], 0).next().unwrap().unwrap();
        assert_eq!(NtsField::parse(&field).unwrap(), NtsField::CookiePlaceholder { len: 100 });
    }

    #[test]
    fn short_unique_id_is_refused() {
        let mut buf = [0u8; 64];
        let mut w = FieldWriter::new(&mut buf, 0);
        assert_eq!(w.push_unique_id(&[1; 31]), Err(NtsError::UniqueIdTooShort { len: 31 }));
        let field = ExtensionField { field_type: field_type::UNIQUE_IDENTIFIER, value: &[1; 28] };
        assert_eq!(NtsField::parse(&field), Err(NtsError::UniqueIdTooShort { len: 28 }));
    }

    #[test]
    fn authenticator_body_checks() {
        // nonce 16, ciphertext 16: body 36.
        let mut body = [0u8; 36];
        body[..4].copy_from_slice(&[0, 16, 0, 16]);
        body[4..20].fill(0xaa);
        body[20..36].fill(0xbb);
        let f = AuthenticatorField::parse(&body).unwrap();
        assert_eq!(f.nonce, &[0xaa; 16]);
        assert_eq!(f.ciphertext, &[0xbb; 16]);
        // Truncated by one byte.
        assert!(AuthenticatorField::parse(&body[..35]).is_err());
        // A zero-length nonce.
        assert!(AuthenticatorField::parse(&[0, 0, 0, 16, 0, 0, 0, 0]).is_err());
        // A 4-byte nonce without the padding up to 16.
        let mut short = [0u8; 24];
        short[..4].copy_from_slice(&[0, 4, 0, 16]);
        assert!(AuthenticatorField::parse(&short).is_err());
        let mut padded = [0u8; 36];
        padded[..4].copy_from_slice(&[0, 4, 0, 16]);
        let f = AuthenticatorField::parse(&padded).unwrap();
        assert_eq!((f.nonce.len(), f.ciphertext.len()), (4, 16));
    }

    proptest! {
        #[test]
        fn fields_round_trip(id in prop::collection::vec(any::<u8>(), 32..80),
                             cookie in prop::collection::vec(any::<u8>(), 0..200),
                             placeholder in 0usize..200) {
            let mut buf = vec![0u8; 600];
            let mut w = FieldWriter::new(&mut buf, 0);
            w.push_unique_id(&id).unwrap();
            w.push_cookie(&cookie).unwrap();
            w.push_placeholder(placeholder).unwrap();
            let end = w.position();
            let fields: Vec<_> = ExtensionFields::new(&buf[..end], 0)
                .map(|f| NtsField::parse(&f.unwrap()).unwrap())
                .collect();
            prop_assert_eq!(fields.len(), 3);
            match fields[0] {
                NtsField::UniqueIdentifier(v) => { prop_assert_eq!(&v[..id.len()], &id[..]); prop_assert!(v[id.len()..].iter().all(|&b| b == 0)); }
                other => prop_assert!(false, "{:?}", other),
            }
            match fields[1] {
                NtsField::Cookie(v) => { prop_assert_eq!(&v[..cookie.len()], &cookie[..]); prop_assert!(v[cookie.len()..].iter().all(|&b| b == 0)); }
                other => prop_assert!(false, "{:?}", other),
            }
            match fields[2] {
                NtsField::CookiePlaceholder { len } => prop_assert_eq!(len, pad4(4 + placeholder).max(16) - 4),
                other => prop_assert!(false, "{:?}", other),
            }
        }

        #[test]
        fn authenticator_parse_never_panics(body in prop::collection::vec(any::<u8>(), 0..100)) {
            if let Ok(f) = AuthenticatorField::parse(&body) {
                prop_assert!(!f.nonce.is_empty());
                prop_assert!(4 + pad4(f.nonce.len()).max(16) + pad4(f.ciphertext.len()) <= body.len());
            }
        }
    }
}
