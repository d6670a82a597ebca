//! The stateless server responder (RFC 5905 §9.2, the FXMIT cell of
//! Figure 20): a reply to each client request, computed from the request and
//! the system variables alone. Usable without the engine.
//!
//! What it keeps is bounded: the rate limiter's fixed-size table. A request
//! costs at most one table slot and one reply; nothing else is remembered.
//!
//! The order of checks puts cheap ones first, so a flood is turned away
//! before any digest is computed: structure, mode and version; access class;
//! rate limit; then the MAC.
//!
//! The reply's receive and transmit timestamps are both the time the caller
//! gives for the request's arrival: this crate never reads a clock, and the
//! microseconds between the two are far below what a client can resolve
//! over a network. A caller that wants a later transmit time can pass it.

use core::net::IpAddr;

use ntp_wire::auth::{self, AuthError, Key, KeyLookup};
use ntp_wire::{KissCode, LeapIndicator, Mode, NtpTimestamp, Packet, ReferenceId, Repr, Stratum, Version};

use crate::access::AccessClass;
use crate::ratelimit::{RateDecision, RateLimitConfig, RateLimiter};

/// The largest reply the responder writes: a header and a 20-byte-digest MAC.
pub const MAX_REPLY_LEN: usize = 48 + 24;

/// How the responder behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct ResponderConfig {
    /// Rate limiting per source; `None` answers every allowed request.
    pub rate_limit: Option<RateLimitConfig>,
    /// Answer a request whose MAC fails with a crypto-NAK instead of
    /// silence. chrony and ntpd stay silent, which gives an attacker
    /// nothing; the default follows them.
    pub crypto_nak_on_failure: bool,
    /// Answer mode 1 (symmetric active) packets from sources we do not peer
    /// with by a mode 2 reply, as chrony does, when access allows time service.
    pub answer_symmetric: bool,
}

impl Default for ResponderConfig {
    fn default() -> Self {
        ResponderConfig { rate_limit: None, crypto_nak_on_failure: false, answer_symmetric: true }
    }
}

/// Why a request got no reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// Not a well-formed NTP packet.
    Malformed,
    /// Not a request this responder answers (mode other than 3, or 1 when enabled).
    NotARequest,
    /// A version other than 1..=4.
    BadVersion,
    /// Access control does not allow time service to this source.
    AccessDenied,
    /// The rate limiter dropped it.
    RateLimited,
    /// Its MAC did not verify, or its key is unknown or untrusted.
    AuthFailed(AuthError),
    /// The output buffer is smaller than [`MAX_REPLY_LEN`].
    BufferTooSmall,
    /// An NTS request (RFC 8915) that did not authenticate, was malformed,
    /// or arrived while NTS service is off; chrony drops these silently
    /// too (only a cookie that does not open gets an answer, NTSN).
    Nts(crate::nts::NtsError),
}

/// What the responder did with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub enum Response {
    /// A reply of `len` bytes is in the output buffer.
    Reply {
        /// Its length.
        len: usize,
        /// The key that signed it, if any.
        key_id: Option<u32>,
    },
    /// A kiss-o'-death of `len` bytes is in the output buffer.
    KissOfDeath {
        /// Its length.
        len: usize,
        /// The code.
        code: KissCode,
    },
    /// A crypto-NAK of `len` bytes is in the output buffer.
    CryptoNak {
        /// Its length.
        len: usize,
    },
    /// Nothing to send.
    Drop(DropReason),
}

/// Counters of the responder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponderCounters {
    /// Replies written.
    pub replies: u64,
    /// Signed replies among them.
    pub signed_replies: u64,
    /// Kiss-o'-death RATE replies written.
    pub kod_sent: u64,
    /// Requests dropped, for any reason.
    pub dropped: u64,
    /// Requests dropped by the rate limiter.
    pub rate_dropped: u64,
    /// Requests refused by access control.
    pub access_denied: u64,
    /// Requests whose MAC failed.
    pub auth_failed: u64,
    /// NTS requests answered with an authenticated reply (RATE kisses
    /// included: they are authenticated too).
    pub nts_replies: u64,
    /// NTSN kisses sent: the request's cookie did not open (another
    /// server's key, a master key past its grace period, or forged).
    pub nts_naks: u64,
    /// NTS requests dropped: malformed, unauthenticated, or NTS is off.
    pub nts_dropped: u64,
}

/// One request as the responder sees it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The datagram's bytes.
    pub bytes: &'a [u8],
    /// Who sent it.
    pub source: IpAddr,
    /// The source's access class.
    pub access: AccessClass,
    /// Our clock when it arrived: the reply's receive (and transmit) timestamp.
    pub received: NtpTimestamp,
    /// The same instant in seconds on the caller's timeline, for rate limiting.
    pub now: f64,
}

/// A request the engine's dispatch has parsed and MAC-checked already
/// (a mode 1 packet that may not create an association): the responder
/// answers it without doing either again.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Verified<'p, 'b> {
    /// The packet, structure checked.
    pub(crate) packet: &'p Packet<&'b [u8]>,
    /// The MAC verdict: the id of the trusted key it verified with, or why not.
    pub(crate) key_id: Result<u32, AuthError>,
}

/// The MAC check of a request: still to run, or already run by the caller.
#[derive(Clone, Copy, Debug)]
enum MacCheck<'b> {
    /// Verify these bytes.
    Verify(&'b [u8]),
    /// The caller's verdict: the trusted key's id, or why not.
    Done(Result<u32, AuthError>),
}

impl MacCheck<'_> {
    /// The key a request verified with (`None`: no MAC), or why it failed.
    fn run<K: KeyLookup + ?Sized>(self, keys: &K) -> Result<Option<&Key>, AuthError> {
        let verdict = match self {
            MacCheck::Verify(bytes) => auth::verify(bytes, keys).map(|key| key.id()),
            MacCheck::Done(verdict) => verdict,
        };
        match verdict {
            Ok(key_id) => keys.lookup(key_id).map(|(key, _)| Some(key)).ok_or(AuthError::UnknownKey { key_id }),
            Err(AuthError::NoMac) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// The stateless server.
#[derive(Debug)]
pub struct Responder {
    config: ResponderConfig,
    limiter: Option<RateLimiter>,
    counters: ResponderCounters,
}

impl Responder {
    /// A responder; the rate limiter's table is allocated here, once.
    pub fn new(config: ResponderConfig) -> Self {
        Responder { config, limiter: config.rate_limit.map(RateLimiter::new), counters: ResponderCounters::default() }
    }

    /// The configuration.
    pub fn config(&self) -> &ResponderConfig {
        &self.config
    }

    /// Counters.
    pub fn counters(&self) -> &ResponderCounters {
        &self.counters
    }

    /// The rate limiter, when there is one (the MRU list of mode 6 reads it).
    pub(crate) fn limiter(&self) -> Option<&RateLimiter> {
        self.limiter.as_ref()
    }

    /// Sources the rate limiter tracks now (at most its capacity).
    pub fn tracked_sources(&self) -> usize {
        self.limiter.as_ref().map_or(0, RateLimiter::tracked)
    }

    /// Answers one request.
    ///
    /// * `system`: the system variables to send (leap, stratum, precision,
    ///   root delay and dispersion, reference id and time); its mode, poll
    ///   and timestamps are ignored.
    /// * `keys`: the keys a signed request may use; a reply is signed with
    ///   the request's key when it verifies.
    /// * `out`: where the reply goes, at least [`MAX_REPLY_LEN`] bytes.
    pub fn respond<K: KeyLookup + ?Sized>(
        &mut self,
        request: &Request<'_>,
        system: &Repr,
        keys: &K,
        out: &mut [u8],
    ) -> Response {
        let response = self.decide(request, system, keys, out);
        self.count(response);
        response
    }

    /// [`Responder::respond`] for an NTS request (RFC 8915): the same checks
    /// in the same order (access, rate limit), then `seal` checks the NTS
    /// fields and finishes the reply whose header is in `out`, instead of
    /// a MAC. Crypto runs only for requests the cheap checks let through.
    pub(crate) fn respond_nts(
        &mut self,
        request: &Request<'_>,
        system: &Repr,
        out: &mut [u8],
        seal: &mut dyn FnMut(&mut [u8]) -> Result<crate::nts::Sealed, crate::nts::NtsError>,
    ) -> Response {
        let response = if out.len() < MAX_REPLY_LEN {
            Response::Drop(DropReason::BufferTooSmall)
        } else {
            match Packet::new_checked(request.bytes) {
                Err(_) => Response::Drop(DropReason::Malformed),
                Ok(packet) => {
                    // An NTS request carries no MAC: the verdict "none".
                    let verdict = MacCheck::Done(Err(AuthError::NoMac));
                    let Request { source, access, received, now, .. } = *request;
                    let response = self.answer(
                        &packet,
                        source,
                        access,
                        received,
                        now,
                        system,
                        &ntp_wire::auth::Keyring::new(),
                        out,
                        verdict,
                    );
                    match response {
                        Response::Reply { .. } | Response::KissOfDeath { .. } => match seal(out) {
                            Ok(crate::nts::Sealed::Reply(len)) => match response {
                                Response::KissOfDeath { code, .. } => Response::KissOfDeath { len, code },
                                _ => Response::Reply { len, key_id: None },
                            },
                            Ok(crate::nts::Sealed::Nak(len)) => {
                                Response::KissOfDeath { len, code: KissCode::from_bytes(crate::nts::NTS_KISS_NTSN) }
                            }
                            Err(error) => Response::Drop(DropReason::Nts(error)),
                        },
                        other => other,
                    }
                }
            }
        };
        self.count(response);
        match response {
            Response::KissOfDeath { code, .. } if code.to_bytes() == crate::nts::NTS_KISS_NTSN => {
                self.counters.nts_naks += 1;
            }
            Response::Reply { .. } | Response::KissOfDeath { .. } => self.counters.nts_replies += 1,
            _ => {}
        }
        response
    }

    /// Counts an NTS request dropped before the responder saw it (NTS
    /// service is off).
    pub(crate) fn count_nts_dropped(&mut self) {
        self.counters.dropped += 1;
        self.counters.nts_dropped += 1;
    }

    /// [`Responder::respond`] for a packet the caller has parsed and
    /// MAC-checked already.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn respond_verified<K: KeyLookup + ?Sized>(
        &mut self,
        verified: Verified<'_, '_>,
        source: IpAddr,
        access: AccessClass,
        received: NtpTimestamp,
        now: f64,
        system: &Repr,
        keys: &K,
        out: &mut [u8],
    ) -> Response {
        let verdict = MacCheck::Done(verified.key_id);
        let response = if out.len() < MAX_REPLY_LEN {
            Response::Drop(DropReason::BufferTooSmall)
        } else {
            self.answer(verified.packet, source, access, received, now, system, keys, out, verdict)
        };
        self.count(response);
        response
    }

    fn count(&mut self, response: Response) {
        match response {
            Response::Reply { key_id, .. } => {
                self.counters.replies += 1;
                if key_id.is_some() {
                    self.counters.signed_replies += 1;
                }
            }
            Response::KissOfDeath { .. } => self.counters.kod_sent += 1,
            Response::CryptoNak { .. } => {}
            Response::Drop(reason) => {
                self.counters.dropped += 1;
                match reason {
                    DropReason::RateLimited => self.counters.rate_dropped += 1,
                    DropReason::AccessDenied => self.counters.access_denied += 1,
                    DropReason::AuthFailed(_) => self.counters.auth_failed += 1,
                    DropReason::Nts(_) => self.counters.nts_dropped += 1,
                    _ => {}
                }
            }
        }
    }

    fn decide<K: KeyLookup + ?Sized>(
        &mut self,
        request: &Request<'_>,
        system: &Repr,
        keys: &K,
        out: &mut [u8],
    ) -> Response {
        let Request { bytes, source, access, received, now } = *request;
        if out.len() < MAX_REPLY_LEN {
            return Response::Drop(DropReason::BufferTooSmall);
        }
        let Ok(packet) = Packet::new_checked(bytes) else { return Response::Drop(DropReason::Malformed) };
        let verdict = MacCheck::Verify(bytes);
        self.answer(&packet, source, access, received, now, system, keys, out, verdict)
    }

    /// The checks after parsing, in order of cost, and the reply. `verdict`
    /// gives the MAC's verdict; it runs only once access and the rate
    /// limiter have let the request through.
    #[allow(clippy::too_many_arguments)]
    fn answer<K: KeyLookup + ?Sized>(
        &mut self,
        packet: &Packet<&[u8]>,
        source: IpAddr,
        access: AccessClass,
        received: NtpTimestamp,
        now: f64,
        system: &Repr,
        keys: &K,
        out: &mut [u8],
        verdict: MacCheck<'_>,
    ) -> Response {
        let reply_mode = match packet.mode() {
            Mode::Client => Mode::Server,
            Mode::SymmetricActive if self.config.answer_symmetric => Mode::SymmetricPassive,
            _ => return Response::Drop(DropReason::NotARequest),
        };
        let version = packet.version();
        if matches!(version, Version::Unknown(_)) {
            return Response::Drop(DropReason::BadVersion);
        }
        if !access.allows_time_requests() {
            return Response::Drop(DropReason::AccessDenied);
        }
        let rate = match self.limiter.as_mut() {
            Some(limiter) => limiter.check_tagged(source, 0, now, packet.as_bytes().first().map_or(0, |b| b & 0x3f)),
            None => RateDecision::Allow,
        };
        if rate == RateDecision::Drop {
            return Response::Drop(DropReason::RateLimited);
        }
        let key = match verdict.run(keys) {
            Ok(key) => key,
            Err(error) => {
                if self.config.crypto_nak_on_failure {
                    return self.crypto_nak(packet, reply_mode, received, out);
                }
                return Response::Drop(DropReason::AuthFailed(error));
            }
        };
        let mut reply = Repr {
            version,
            mode: reply_mode,
            poll: packet.poll(),
            origin_time: packet.transmit_time(),
            receive_time: received,
            transmit_time: received,
            ..*system
        };
        let kod = rate == RateDecision::KissOfDeath;
        if kod {
            // A KoD carries no usable time (RFC 5905 §7.4): stratum 0, the code
            // in the reference id, and only the origin a client needs to match it.
            reply.leap = LeapIndicator::Unsynchronized;
            reply.stratum = Stratum::UNSPECIFIED;
            reply.reference_id = ReferenceId(KissCode::Rate.to_bytes());
            reply.reference_time = NtpTimestamp::ZERO;
            reply.receive_time = packet.transmit_time();
            reply.transmit_time = packet.transmit_time();
        }
        let Ok(mut len) = reply.emit_into(out) else { return Response::Drop(DropReason::BufferTooSmall) };
        if let Some(key) = key {
            match auth::sign(out, len, key) {
                Ok(total) => len = total,
                Err(_) => return Response::Drop(DropReason::BufferTooSmall),
            }
        }
        if kod {
            Response::KissOfDeath { len, code: KissCode::Rate }
        } else {
            Response::Reply { len, key_id: key.map(|k| k.id()) }
        }
    }

    fn crypto_nak<T: AsRef<[u8]>>(
        &self,
        packet: &Packet<T>,
        reply_mode: Mode,
        received: NtpTimestamp,
        out: &mut [u8],
    ) -> Response {
        let reply = Repr {
            leap: LeapIndicator::Unsynchronized,
            version: packet.version(),
            mode: reply_mode,
            stratum: Stratum::UNSPECIFIED,
            poll: packet.poll(),
            origin_time: packet.transmit_time(),
            receive_time: received,
            transmit_time: received,
            ..Repr::default()
        };
        match reply.emit_into(out).and_then(|len| ntp_wire::trailer::emit_crypto_nak(out, len)) {
            Ok(len) => Response::CryptoNak { len },
            Err(_) => Response::Drop(DropReason::BufferTooSmall),
        }
    }
}

#[cfg(test)]
mod tests {
    use ntp_wire::auth::Keyring;

    use super::*;

    fn system() -> Repr {
        Repr {
            leap: LeapIndicator::NoWarning,
            stratum: Stratum(2),
            precision: -20,
            reference_id: ReferenceId([10, 0, 0, 1]),
            reference_time: NtpTimestamp::from_unix(1_795_219_100, 0),
            ..Repr::default()
        }
    }

    fn request(transmit: NtpTimestamp) -> [u8; 48] {
        let mut out = [0u8; 48];
        Repr { mode: Mode::Client, poll: 6, transmit_time: transmit, ..Repr::default() }.emit_into(&mut out).unwrap();
        out
    }

    /// Sends one request from 192.0.2.7 at `now` seconds; returns the response and the reply's header.
    fn ask(responder: &mut Responder, access: AccessClass, now: f64) -> (Response, Option<Repr>, NtpTimestamp) {
        let sent = NtpTimestamp::from_unix(1_795_219_200, 0) + ntp_wire::NtpDuration::from_seconds_f64(now);
        let bytes = request(sent);
        let received = sent + ntp_wire::NtpDuration::from_seconds_f64(0.0001);
        let source = "192.0.2.7".parse().unwrap();
        let mut out = [0u8; MAX_REPLY_LEN];
        let r = Request { bytes: &bytes, source, access, received, now };
        let response = responder.respond(&r, &system(), &Keyring::new(), &mut out);
        let header = match response {
            Response::Reply { len, .. } | Response::KissOfDeath { len, .. } => Repr::from_bytes(&out[..len]).ok(),
            _ => None,
        };
        (response, header, sent)
    }

    #[test]
    fn test_reply_carries_the_system_variables_and_our_origin() {
        let mut responder = Responder::new(ResponderConfig::default());
        let (response, reply, sent) = ask(&mut responder, AccessClass::Serve, 0.0);
        assert!(matches!(response, Response::Reply { len: 48, key_id: None }), "{response:?}");
        let reply = reply.unwrap();
        assert_eq!((reply.mode, reply.stratum, reply.reference_id), (Mode::Server, Stratum(2), system().reference_id));
        assert_eq!(reply.origin_time, sent, "the client's transmit time comes back as the origin");
        assert_eq!(responder.counters().replies, 1);
    }

    #[test]
    fn test_rate_kiss_of_death() {
        let limit = RateLimitConfig { burst: 1, ..RateLimitConfig::default() };
        let config = ResponderConfig { rate_limit: Some(limit), ..ResponderConfig::default() };
        let mut responder = Responder::new(config);
        let (first, _, _) = ask(&mut responder, AccessClass::Serve, 0.0);
        assert!(matches!(first, Response::Reply { .. }), "{first:?}");
        // Too soon after the first (minimum spacing 2 s, bucket empty): KoD RATE.
        let (second, kod, sent) = ask(&mut responder, AccessClass::Serve, 0.5);
        assert_eq!(second, Response::KissOfDeath { len: 48, code: KissCode::Rate });
        let kod = kod.unwrap();
        assert_eq!(kod.stratum, Stratum::UNSPECIFIED, "a KoD has stratum 0 (RFC 5905 §7.4)");
        assert_eq!(kod.reference_id.0, *b"RATE");
        assert_eq!(kod.leap, LeapIndicator::Unsynchronized);
        assert_eq!(kod.mode, Mode::Server);
        assert_eq!(kod.origin_time, sent, "the client matches the KoD to its request by the origin");
        assert!(kod.reference_time.is_zero(), "a KoD carries no time of ours");
        assert_eq!((kod.receive_time, kod.transmit_time), (sent, sent), "nor our clock");
        // And a third, still too soon, is dropped: at most one KoD per spacing.
        let (third, _, _) = ask(&mut responder, AccessClass::Serve, 1.0);
        assert_eq!(third, Response::Drop(DropReason::RateLimited));
        assert_eq!((responder.counters().kod_sent, responder.counters().rate_dropped), (1, 1));
    }

    #[test]
    fn test_access_classes_for_time_requests() {
        for class in AccessClass::ALL {
            let mut responder = Responder::new(ResponderConfig::default());
            let (response, _, _) = ask(&mut responder, class, 0.0);
            if class.allows_time_requests() {
                assert!(matches!(response, Response::Reply { .. }), "{class}: {response:?}");
            } else {
                assert_eq!(response, Response::Drop(DropReason::AccessDenied), "{class}");
            }
        }
    }
}
