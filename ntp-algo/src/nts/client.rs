//! The client side of NTS-protected NTP (RFC 8915 §5.7): one per
//! association.

use ntp_wire::nts::{AuthenticatorWriter, FieldWriter, NtsField, open_field};
use ntp_wire::trailer::{EXTENSION_HEADER_LEN, ExtensionFields, MIN_EXTENSION_LEN};
use ntp_wire::{HEADER_LEN, Packet, Stratum};

use super::cookie::{CookieJar, NTS_JAR_CAPACITY, NTS_MAX_COOKIE_LEN};
use super::random::RandomSource;
use super::scan::scan;
use super::{NTS_KISS_NTSN, NTS_NONCE_LEN, NTS_UNIQUE_ID_LEN, NtsError, NtsKeys};

/// The most plaintext a response may carry: eight cookie fields of the
/// longest cookie the jar takes, with their headers.
const MAX_RESPONSE_PLAINTEXT: usize = NTS_JAR_CAPACITY * (NTS_MAX_COOKIE_LEN + 4);

/// The wire length of a request's authenticator field: header, the two
/// length words, a 16-byte nonce and the 16-byte SIV tag (no encrypted
/// fields).
const REQUEST_AUTHENTICATOR_LEN: usize = EXTENSION_HEADER_LEN + 4 + NTS_NONCE_LEN + ntp_wire::nts::SIV_TAG_LEN;

fn pad4(len: usize) -> usize {
    len.next_multiple_of(4)
}

/// What a response turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NtsResponseCheck {
    /// Authentic: its unique identifier is ours and it opened with the
    /// server-to-client key. The header can be used.
    Authentic {
        /// Cookies it carried into the jar.
        new_cookies: usize,
    },
    /// An NTSN kiss answering our outstanding request: the server no
    /// longer opens our cookies. The jar is emptied; run NTS-KE again.
    Nak,
}

/// An association's NTS state: the session keys, the cookie jar and the
/// unique identifier of the request in flight.
#[derive(Debug)]
pub struct NtsClient {
    keys: NtsKeys,
    jar: CookieJar,
    pending: Option<[u8; NTS_UNIQUE_ID_LEN]>,
}

impl NtsClient {
    /// A client with the keys exported from NTS-KE and the cookies it
    /// handed out (at most eight are kept).
    pub fn new<'c>(keys: NtsKeys, cookies: impl IntoIterator<Item = &'c [u8]>) -> Self {
        let mut jar = CookieJar::new();
        for cookie in cookies {
            jar.push(cookie);
        }
        NtsClient { keys, jar, pending: None }
    }

    /// Cookies left.
    pub fn cookies(&self) -> usize {
        self.jar.len()
    }

    /// Whether NTS-KE must run again before the next request: no cookie
    /// is left (used up, or dropped after an NTSN kiss).
    pub fn needs_key_exchange(&self) -> bool {
        self.jar.is_empty()
    }

    /// Replaces keys and cookies after a new NTS-KE exchange.
    pub fn rekey<'c>(&mut self, keys: NtsKeys, cookies: impl IntoIterator<Item = &'c [u8]>) {
        *self = NtsClient::new(keys, cookies);
    }

    /// Adds the NTS fields to a request whose 48-byte header is already in
    /// `buf`: a fresh unique identifier, one cookie, placeholders to fill
    /// the jar again, and the authenticator sealed with the client-to-server
    /// key. Returns the packet length. Remembers the identifier: the next
    /// response must carry it.
    pub fn write_request(&mut self, buf: &mut [u8], rng: &mut dyn RandomSource) -> Result<usize, NtsError> {
        let cookie = self.jar.take().ok_or(NtsError::NoCookieLeft)?;
        // Placeholders only as far as the buffer has room: the caller's
        // buffer is its largest datagram, and the server's reply (one cookie
        // per cookie and placeholder) is about as long as the request, so
        // this also keeps the reply within it. The jar then refills over a
        // few exchanges instead of one.
        let placeholder_len = pad4(EXTENSION_HEADER_LEN + cookie.len()).max(MIN_EXTENSION_LEN);
        let fixed = HEADER_LEN
            + pad4(EXTENSION_HEADER_LEN + NTS_UNIQUE_ID_LEN).max(MIN_EXTENSION_LEN)
            + placeholder_len
            + REQUEST_AUTHENTICATOR_LEN;
        let room = buf.len().saturating_sub(fixed) / placeholder_len;
        let placeholders = self.jar.placeholders_wanted().min(room);
        let mut unique_id = [0u8; NTS_UNIQUE_ID_LEN];
        rng.fill(&mut unique_id);
        let mut nonce = [0u8; NTS_NONCE_LEN];
        rng.fill(&mut nonce);
        let mut fields = FieldWriter::new(buf, HEADER_LEN);
        fields.push_unique_id(&unique_id).map_err(NtsError::Field)?;
        fields.push_cookie(&cookie).map_err(NtsError::Field)?;
        for _ in 0..placeholders {
            fields.push_placeholder(cookie.len()).map_err(NtsError::Field)?;
        }
        let auth_start = fields.position();
        let writer = AuthenticatorWriter::new(buf, auth_start, &nonce).map_err(NtsError::Field)?;
        let len = writer.seal(&self.keys.c2s, 0).map_err(NtsError::Field)?;
        self.pending = Some(unique_id);
        Ok(len)
    }

    /// Checks a response to the outstanding request. Anything but
    /// [`NtsResponseCheck::Authentic`] or [`NtsResponseCheck::Nak`] is an error
    /// and the packet must be dropped; the request stays outstanding, so
    /// a forged packet cannot stop the real answer from being accepted.
    ///
    /// An NTSN kiss is believed only when it echoes the outstanding unique
    /// identifier (RFC 8915 §5.7): an off-path attacker cannot know it, so
    /// cannot make us throw our cookies away.
    pub fn check_response(&mut self, packet: &[u8]) -> Result<NtsResponseCheck, NtsError> {
        let pending = self.pending.ok_or(NtsError::UniqueIdMismatch)?;
        let found = scan(packet)?;
        let unique_id = found.unique_id.ok_or(NtsError::NoUniqueId)?;
        // The id may come back with padding after it; ours is 32 bytes, a
        // multiple of 4, so an exact echo has none.
        if unique_id != pending {
            return Err(NtsError::UniqueIdMismatch);
        }
        let Some((auth_start, auth)) = found.auth else {
            let header = Packet::new_checked(packet).map_err(NtsError::Wire)?;
            if header.stratum() == Stratum::UNSPECIFIED && header.reference_id().0 == NTS_KISS_NTSN {
                self.pending = None;
                self.jar.clear();
                return Ok(NtsResponseCheck::Nak);
            }
            return Err(NtsError::Unauthenticated);
        };
        let ad = packet.get(..auth_start).unwrap_or(&[]);
        let mut plaintext = vec![0u8; auth.ciphertext.len().min(MAX_RESPONSE_PLAINTEXT + 16)];
        let len = open_field(&auth, ad, &self.keys.s2c, &mut plaintext).map_err(|e| match e {
            ntp_wire::nts::NtsError::AuthenticationFailed => NtsError::AuthenticationFailed,
            other => NtsError::Field(other),
        })?;
        self.pending = None;
        let mut new_cookies = 0;
        for field in ExtensionFields::new(plaintext.get(..len).unwrap_or(&[]), 0) {
            // The plaintext is authentic; a malformed field in it is the
            // server's bug, and the cookies before it are still good.
            let Ok(field) = field else { break };
            if let Ok(NtsField::Cookie(cookie)) = NtsField::parse(&field) {
                if self.jar.push(cookie) {
                    new_cookies += 1;
                }
            }
        }
        Ok(NtsResponseCheck::Authentic { new_cookies })
    }
}
