//! The server side of NTS-protected NTP (RFC 8915 §5.7, §6): check a
//! request, answer with fresh cookies sealed with the server-to-client key,
//! or with an NTSN kiss when the cookie does not open.
//!
//! Stateless like the plain responder: everything needed comes from the
//! cookie. A replayed request opens and verifies like the original, so the
//! server answers it too; that is harmless, since the answer only helps the
//! holder of the session keys, and the client drops it because its unique
//! identifier is no longer outstanding (RFC 8915 §5.7 leaves replay
//! detection to the client).

use ntp_wire::nts::{AuthenticatorWriter, FieldWriter, open_field};
use ntp_wire::{HEADER_LEN, Packet, ReferenceId, Stratum};

use super::cookie::{MasterKeys, NTS_COOKIE_LEN, NTS_JAR_CAPACITY};
use super::random::RandomSource;
use super::scan::scan;
use super::{NTS_KISS_NTSN, NTS_NONCE_LEN, NtsError, NtsKeys};

/// The most encrypted plaintext a request may carry. Clients send none
/// today; this leaves room for a few small encrypted fields while keeping
/// the buffer on the stack.
const MAX_REQUEST_PLAINTEXT: usize = 512;

/// A request that authenticated: what the reply needs.
#[derive(Debug)]
pub struct NtsRequest<'a> {
    /// The session keys from its cookie.
    pub keys: NtsKeys,
    /// Its unique identifier, echoed in the reply.
    pub unique_id: &'a [u8],
    /// Cookies to send back: one for the cookie used, one per placeholder
    /// of our cookie length, at most eight.
    pub cookies_wanted: usize,
}

/// What a request turned out to be.
#[derive(Debug)]
pub enum NtsRequestCheck<'a> {
    /// Authentic: answer with [`nts_write_response`].
    Authentic(NtsRequest<'a>),
    /// Its cookie does not open (another server's, a retired master key, or
    /// forged): answer with [`nts_write_nak`] so the client runs NTS-KE again.
    CookieRejected {
        /// Its unique identifier, echoed in the kiss.
        unique_id: &'a [u8],
    },
}

/// Checks an NTS request (a whole client packet). An error means: drop it
/// without an answer (malformed, no unique identifier or cookie, no
/// authenticator, or an authenticator that does not verify).
pub fn nts_check_request<'a>(master: &MasterKeys, packet: &'a [u8]) -> Result<NtsRequestCheck<'a>, NtsError> {
    let found = scan(packet)?;
    let unique_id = found.unique_id.ok_or(NtsError::NoUniqueId)?;
    let cookie = found.cookie.ok_or(NtsError::NoCookie)?;
    let (auth_start, auth) = found.auth.ok_or(NtsError::Unauthenticated)?;
    let keys = match master.open_cookie(cookie) {
        Ok(keys) => keys,
        Err(_) => return Ok(NtsRequestCheck::CookieRejected { unique_id }),
    };
    let plaintext_len = auth.ciphertext.len().saturating_sub(ntp_wire::nts::SIV_TAG_LEN);
    if plaintext_len > MAX_REQUEST_PLAINTEXT {
        return Err(NtsError::PlaintextTooLong { len: plaintext_len });
    }
    let mut plaintext = [0u8; MAX_REQUEST_PLAINTEXT];
    let ad = packet.get(..auth_start).unwrap_or(&[]);
    open_field(&auth, ad, &keys.c2s, &mut plaintext).map_err(|e| match e {
        ntp_wire::nts::NtsError::AuthenticationFailed => NtsError::AuthenticationFailed,
        other => NtsError::Field(other),
    })?;
    // Placeholders of another length ask for cookies we do not make; a
    // reply with them would be larger than the request (RFC 8915 §5.7
    // forbids amplification), so they do not count.
    let usable = found.placeholder_lens.iter().take(found.placeholders).filter(|&&len| len == NTS_COOKIE_LEN).count();
    let cookies_wanted = (1 + usable).min(NTS_JAR_CAPACITY);
    Ok(NtsRequestCheck::Authentic(NtsRequest { keys, unique_id, cookies_wanted }))
}

/// Adds the NTS fields to a reply whose 48-byte header is already in
/// `reply`: the unique identifier, then the authenticator sealed with the
/// server-to-client key around `cookies_wanted` fresh cookies. Returns the
/// packet length.
pub fn nts_write_response(
    master: &MasterKeys,
    request: &NtsRequest<'_>,
    reply: &mut [u8],
    rng: &mut dyn RandomSource,
) -> Result<usize, NtsError> {
    let mut nonce = [0u8; NTS_NONCE_LEN];
    rng.fill(&mut nonce);
    let mut fields = FieldWriter::new(reply, HEADER_LEN);
    fields.push(ntp_wire::nts::field_type::UNIQUE_IDENTIFIER, request.unique_id).map_err(NtsError::Field)?;
    let auth_start = fields.position();
    let mut auth = AuthenticatorWriter::new(reply, auth_start, &nonce).map_err(NtsError::Field)?;
    // As many of the cookies asked for as the buffer holds (the engine's
    // buffer is its largest datagram): fewer cookies only mean that the
    // client's jar refills over more exchanges.
    let room = auth.plaintext_mut().len() / (ntp_wire::trailer::EXTENSION_HEADER_LEN + NTS_COOKIE_LEN);
    let mut inner = FieldWriter::new(auth.plaintext_mut(), 0);
    for _ in 0..request.cookies_wanted.min(room) {
        let cookie = master.seal_cookie(&request.keys, rng);
        inner.push_cookie(&cookie).map_err(NtsError::Field)?;
    }
    let plaintext_len = inner.position();
    auth.seal(&request.keys.s2c, plaintext_len).map_err(NtsError::Field)
}

/// Turns the reply whose header is in `reply[..48]` into an NTSN kiss
/// (stratum 0, reference id `NTSN`) carrying the request's unique
/// identifier and nothing else (RFC 8915 §5.7). Returns the packet length.
pub fn nts_write_nak(unique_id: &[u8], reply: &mut [u8]) -> Result<usize, NtsError> {
    let available = reply.len();
    let header = reply
        .get_mut(..HEADER_LEN)
        .ok_or(NtsError::Field(ntp_wire::nts::NtsError::BufferTooSmall { len: available, needed: HEADER_LEN }))?;
    let mut packet = Packet::new_unchecked(header);
    // A kiss carries no time of ours (RFC 5905 §7.4): unsynchronized,
    // stratum 0, the code in the reference id, no reference time.
    packet.set_leap(ntp_wire::LeapIndicator::Unsynchronized);
    packet.set_stratum(Stratum::UNSPECIFIED);
    packet.set_reference_id(ReferenceId(NTS_KISS_NTSN));
    packet.set_reference_time(ntp_wire::NtpTimestamp::ZERO);
    let mut fields = FieldWriter::new(reply, HEADER_LEN);
    fields.push(ntp_wire::nts::field_type::UNIQUE_IDENTIFIER, unique_id).map_err(NtsError::Field)?;
    Ok(fields.position())
}

#[cfg(test)]
mod tests {
    use super::super::client::{NtsClient, NtsResponseCheck};
    use super::super::random::testing::Seeded;
    use super::*;
    use ntp_wire::nts::AeadKey;
    use ntp_wire::{Mode, Repr};

    struct World {
        rng: Seeded,
        master: MasterKeys,
        client: NtsClient,
    }

    fn keys() -> NtsKeys {
        NtsKeys { c2s: AeadKey::new([0x11; 32]), s2c: AeadKey::new([0x22; 32]) }
    }

    fn world() -> World {
        let mut rng = Seeded(42);
        let master = MasterKeys::new(&mut rng, 0.0, 3600.0, 7200.0);
        let cookies: Vec<[u8; NTS_COOKIE_LEN]> = (0..8).map(|_| master.seal_cookie(&keys(), &mut rng)).collect();
        let client = NtsClient::new(keys(), cookies.iter().map(|c| &c[..]));
        World { rng, master, client }
    }

    fn request(w: &mut World) -> Vec<u8> {
        let mut buf = vec![0u8; 1200];
        Repr { mode: Mode::Client, ..Repr::default() }.emit_into(&mut buf).unwrap();
        let len = w.client.write_request(&mut buf, &mut w.rng).unwrap();
        buf.truncate(len);
        buf
    }

    fn answer(w: &mut World, req: &[u8]) -> Vec<u8> {
        let mut reply = vec![0u8; 1200];
        Repr { mode: Mode::Server, stratum: Stratum(1), ..Repr::default() }.emit_into(&mut reply).unwrap();
        let len = match nts_check_request(&w.master, req).unwrap() {
            NtsRequestCheck::Authentic(r) => nts_write_response(&w.master, &r, &mut reply, &mut w.rng).unwrap(),
            NtsRequestCheck::CookieRejected { unique_id } => nts_write_nak(unique_id, &mut reply).unwrap(),
        };
        reply.truncate(len);
        reply
    }

    #[test]
    fn exchange_keeps_the_jar_full() {
        let mut w = world();
        for _ in 0..20 {
            let req = request(&mut w);
            assert_eq!(w.client.cookies(), 7);
            let reply = answer(&mut w, &req);
            // No amplification: the reply is no longer than the request.
            assert!(reply.len() <= req.len(), "{} > {}", reply.len(), req.len());
            assert_eq!(w.client.check_response(&reply), Ok(NtsResponseCheck::Authentic { new_cookies: 1 }));
            assert_eq!(w.client.cookies(), 8);
        }
    }

    #[test]
    fn placeholders_refill_a_low_jar() {
        let mut w = world();
        // Lose five replies: the jar drops to 3 cookies.
        for _ in 0..5 {
            request(&mut w);
        }
        assert_eq!(w.client.cookies(), 3);
        let req = request(&mut w);
        let reply = answer(&mut w, &req);
        assert_eq!(w.client.check_response(&reply), Ok(NtsResponseCheck::Authentic { new_cookies: 6 }));
        assert_eq!(w.client.cookies(), 8);
    }

    #[test]
    fn replayed_and_mismatched_responses_are_refused() {
        let mut w = world();
        let req = request(&mut w);
        let reply = answer(&mut w, &req);
        assert!(matches!(w.client.check_response(&reply), Ok(NtsResponseCheck::Authentic { .. })));
        // The same reply again: nothing outstanding.
        assert_eq!(w.client.check_response(&reply), Err(NtsError::UniqueIdMismatch));
        // A reply to an older request.
        let _new = request(&mut w);
        assert_eq!(w.client.check_response(&reply), Err(NtsError::UniqueIdMismatch));
    }

    #[test]
    fn tampered_and_unauthenticated_responses_are_refused() {
        let mut w = world();
        let req = request(&mut w);
        let reply = answer(&mut w, &req);
        // Change the header's transmit time: AD no longer matches.
        let mut bad = reply.clone();
        bad[47] ^= 1;
        assert_eq!(w.client.check_response(&bad), Err(NtsError::AuthenticationFailed));
        // Strip the authenticator: unique id alone is not enough.
        let stripped_len = HEADER_LEN + 36;
        let mut stripped = reply[..stripped_len].to_vec();
        assert_eq!(w.client.check_response(&stripped), Err(NtsError::Unauthenticated));
        // A truncated authenticator is refused as malformed.
        for cut in stripped_len + 1..reply.len() {
            assert!(w.client.check_response(&reply[..cut]).is_err(), "{cut}");
        }
        // The real reply still goes through: forgeries did not clear the request.
        assert!(matches!(w.client.check_response(&reply), Ok(NtsResponseCheck::Authentic { .. })));
        stripped.clear();
    }

    #[test]
    fn ntsn_only_when_the_unique_id_matches() {
        let mut w = world();
        let req = request(&mut w);
        // The server has rotated its keys out of existence.
        w.master = MasterKeys::new(&mut Seeded(7), 0.0, 3600.0, 0.0);
        let nak = answer(&mut w, &req);
        let header = Packet::new_checked(&nak[..]).unwrap();
        assert_eq!(header.reference_id(), ReferenceId(*b"NTSN"));
        // A NAK with another unique id is ignored and keeps the cookies.
        let mut forged = nak.clone();
        forged[HEADER_LEN + 4] ^= 1;
        assert_eq!(w.client.check_response(&forged), Err(NtsError::UniqueIdMismatch));
        assert_eq!(w.client.cookies(), 7);
        // An unauthenticated non-kiss packet with the right id is refused.
        let mut not_kiss = nak.clone();
        not_kiss[1] = 2;
        assert_eq!(w.client.check_response(&not_kiss), Err(NtsError::Unauthenticated));
        assert_eq!(w.client.check_response(&nak), Ok(NtsResponseCheck::Nak));
        assert!(w.client.needs_key_exchange());
        let mut buf = vec![0u8; 1200];
        assert_eq!(w.client.write_request(&mut buf, &mut w.rng), Err(NtsError::NoCookieLeft));
    }

    #[test]
    fn server_refuses_bad_requests() {
        let mut w = world();
        let req = request(&mut w);
        // Tampered header: the cookie opens but the authenticator fails.
        let mut bad = req.clone();
        bad[40] ^= 0x80;
        assert_eq!(nts_check_request(&w.master, &bad).err(), Some(NtsError::AuthenticationFailed));
        // Cookie from another server key: NAK.
        let other = MasterKeys::new(&mut Seeded(99), 0.0, 3600.0, 7200.0);
        assert!(matches!(nts_check_request(&other, &req), Ok(NtsRequestCheck::CookieRejected { .. })));
        // A request without NTS fields at all.
        assert_eq!(nts_check_request(&w.master, &req[..HEADER_LEN]).err(), Some(NtsError::NoUniqueId));
        // Every truncation is refused or rejected, never accepted.
        for cut in HEADER_LEN..req.len() {
            assert!(!matches!(nts_check_request(&w.master, &req[..cut]), Ok(NtsRequestCheck::Authentic(_))), "{cut}");
        }
    }

    #[test]
    fn replayed_request_is_answered_but_the_client_drops_the_answer() {
        let mut w = world();
        let req = request(&mut w);
        let first = answer(&mut w, &req);
        assert!(w.client.check_response(&first).is_ok());
        let replayed = answer(&mut w, &req);
        assert_eq!(w.client.check_response(&replayed), Err(NtsError::UniqueIdMismatch));
    }

    #[test]
    fn master_key_rotation_keeps_clients_going() {
        let mut w = world();
        for round in 0..6 {
            let now = f64::from(round) * 3600.0;
            w.master.rotate_if_due(&mut w.rng, now);
            // Ten polls per rotation: every cookie in the jar is renewed
            // long before its master key leaves the grace period.
            for _ in 0..10 {
                let req = request(&mut w);
                let reply = answer(&mut w, &req);
                assert!(matches!(w.client.check_response(&reply), Ok(NtsResponseCheck::Authentic { .. })), "{round}");
            }
        }
    }
}
