//! The NTS-KE messages (RFC 8915 §4), independent of the TLS connection
//! that carries them: what a client asks, how a server answers, and how the
//! client reads the answer. The TLS layer (a rustls connection used
//! sans-IO) feeds these with the plaintext it receives and sends what they
//! write; the session keys come from its exporter with
//! [`NTS_EXPORTER_LABEL`](super::NTS_EXPORTER_LABEL) and
//! [`nts_exporter_context`](super::nts_exporter_context).
//!
//! Only NTPv4 and AEAD_AES_SIV_CMAC_256 are spoken, which is what every
//! deployed server and client offers.

use ntp_wire::nts::ke::{
    AEAD_AES_SIV_CMAC_256, IdList, KeError, MessageLimits, MessageScanner, PROTOCOL_NTPV4, RecordRepr, RecordWriter,
    Records, Scan, error_code,
};

use super::NtsKeys;
use super::cookie::{MasterKeys, NTS_JAR_CAPACITY, NTS_MAX_COOKIE_LEN};
use super::random::RandomSource;

/// Why an NTS-KE exchange failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NtsKeError {
    /// The message's bytes are malformed, or longer than the limits.
    #[error("NTS-KE message: {0}")]
    Record(KeError),
    /// The message ended (the connection closed) before End of Message.
    #[error("NTS-KE message ended before its End of Message record")]
    Incomplete,
    /// The server answered with an Error record (codes in RFC 8915 §4.1.3).
    #[error("NTS-KE server reported error {0}")]
    ServerError(u16),
    /// The peer sent a critical record of a type we do not know.
    #[error("NTS-KE record type {0} is critical and not understood")]
    UnrecognizedCritical(u16),
    /// The server chose no protocol we offered (NTPv4), or none at all.
    #[error("NTS-KE server did not choose NTPv4")]
    NoProtocol,
    /// The server chose no AEAD algorithm we offered (AES-SIV-CMAC-256).
    #[error("NTS-KE server did not choose AEAD_AES_SIV_CMAC_256")]
    NoAead,
    /// The server sent no cookie.
    #[error("NTS-KE server sent no cookie")]
    NoCookies,
    /// The request broke a rule that makes the server answer with an
    /// Error record of this code.
    #[error("NTS-KE request refused with error code {0}")]
    Refused(u16),
    /// The engine was asked for an NTS-KE answer but serves no NTS (no
    /// `EngineConfig::with_nts_server`).
    #[error("NTS service is not enabled on this engine")]
    NotEnabled,
}

impl From<KeError> for NtsKeError {
    fn from(e: KeError) -> Self {
        NtsKeError::Record(e)
    }
}

/// What the client learned from the server's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NtsKeResponse {
    /// The cookies, in order (at most eight kept).
    pub cookies: Vec<Vec<u8>>,
    /// The NTP server to use, when it is not the NTS-KE server's host.
    pub server: Option<String>,
    /// The NTP port to use, when it is not 123.
    pub port: Option<u16>,
}

/// Writes the client's request: NTPv4, AES-SIV-CMAC-256, End of Message.
/// Returns its length.
pub fn nts_ke_write_request(buf: &mut [u8]) -> Result<usize, NtsKeError> {
    let mut w = RecordWriter::new(buf);
    w.push(&RecordRepr::NextProtocol(IdList::Values(&[PROTOCOL_NTPV4])))?;
    w.push(&RecordRepr::AeadAlgorithm(IdList::Values(&[AEAD_AES_SIV_CMAC_256])))?;
    Ok(w.finish()?)
}

/// Finds the end of the message in what arrived so far: `Ok(Some(len))`
/// once End of Message is in, `Ok(None)` while more is needed. Use one
/// scanner per message.
pub fn nts_ke_scan(scanner: &mut MessageScanner, received: &[u8]) -> Result<Option<usize>, NtsKeError> {
    match scanner.scan(received)? {
        Scan::Complete { len } => Ok(Some(len)),
        Scan::NeedMore => Ok(None),
    }
}

/// The limits applied to one NTS-KE message (records and bytes).
pub fn nts_ke_limits() -> MessageLimits {
    MessageLimits::default()
}

/// Reads the server's answer (a complete message, as found by
/// [`nts_ke_scan`]).
pub fn nts_ke_read_response(message: &[u8]) -> Result<NtsKeResponse, NtsKeError> {
    let mut protocol_ok = false;
    let mut aead_ok = false;
    let mut ended = false;
    let mut response = NtsKeResponse { cookies: Vec::new(), server: None, port: None };
    for record in Records::new(message) {
        match record? {
            RecordRepr::EndOfMessage => {
                ended = true;
                break;
            }
            RecordRepr::Error(code) => return Err(NtsKeError::ServerError(code)),
            // The server's choice: exactly one protocol, ours (§4.1.2).
            RecordRepr::NextProtocol(list) => protocol_ok = list.len() == 1 && list.contains(PROTOCOL_NTPV4),
            RecordRepr::AeadAlgorithm(list) => aead_ok = list.len() == 1 && list.contains(AEAD_AES_SIV_CMAC_256),
            RecordRepr::NewCookie(cookie) => {
                if !cookie.is_empty() && cookie.len() <= NTS_MAX_COOKIE_LEN && response.cookies.len() < NTS_JAR_CAPACITY
                {
                    response.cookies.push(cookie.to_vec());
                }
            }
            RecordRepr::Server(name) => response.server = Some(name.to_owned()),
            RecordRepr::Port(port) => response.port = Some(port),
            // Warnings are informational; the server still answered.
            RecordRepr::Warning(_) => {}
            RecordRepr::Unknown { critical: true, record_type, .. } => {
                return Err(NtsKeError::UnrecognizedCritical(record_type));
            }
            RecordRepr::Unknown { critical: false, .. } => {}
        }
    }
    if !ended {
        return Err(NtsKeError::Incomplete);
    }
    if !protocol_ok {
        return Err(NtsKeError::NoProtocol);
    }
    if !aead_ok {
        return Err(NtsKeError::NoAead);
    }
    if response.cookies.is_empty() {
        return Err(NtsKeError::NoCookies);
    }
    Ok(response)
}

/// What the server's NTS-KE answer should tell the client about where to
/// send NTP, besides the cookies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NtsKeServerConfig<'a> {
    /// The NTP server's name or address, when it is not this host.
    pub ntp_server: Option<&'a str>,
    /// The NTP port, when it is not 123.
    pub ntp_port: Option<u16>,
}

/// Answers a client's request (a complete message) into `out`: NTPv4,
/// AES-SIV-CMAC-256, the server and port of `config` if any, eight cookies
/// carrying `keys` (what the TLS exporter gave for this connection), End of
/// Message. A request that cannot be served is answered with an Error
/// record instead (RFC 8915 §4.1.3: code 0 for an unknown critical record,
/// 1 for anything else wrong). Either way the caller sends
/// `out[..answer.len]` and closes; an error means only that `out` was too
/// small.
pub fn nts_ke_answer(
    request: &[u8],
    master: &MasterKeys,
    keys: &NtsKeys,
    config: NtsKeServerConfig<'_>,
    rng: &mut dyn RandomSource,
    out: &mut [u8],
) -> Result<NtsKeAnswer, NtsKeError> {
    let code = match check_request(request) {
        Ok(()) => None,
        Err(NtsKeError::UnrecognizedCritical(_)) => Some(error_code::UNRECOGNIZED_CRITICAL_RECORD),
        Err(_) => Some(error_code::BAD_REQUEST),
    };
    if let Some(code) = code {
        return Ok(NtsKeAnswer { len: nts_ke_write_error(code, out)?, refused: Some(code) });
    }
    let mut w = RecordWriter::new(out);
    w.push(&RecordRepr::NextProtocol(IdList::Values(&[PROTOCOL_NTPV4])))?;
    w.push(&RecordRepr::AeadAlgorithm(IdList::Values(&[AEAD_AES_SIV_CMAC_256])))?;
    if let Some(name) = config.ntp_server {
        w.push(&RecordRepr::Server(name))?;
    }
    if let Some(port) = config.ntp_port {
        w.push(&RecordRepr::Port(port))?;
    }
    for _ in 0..NTS_JAR_CAPACITY {
        let cookie = master.seal_cookie(keys, rng);
        w.push(&RecordRepr::NewCookie(&cookie))?;
    }
    Ok(NtsKeAnswer { len: w.finish()?, refused: None })
}

/// The server's NTS-KE answer, written by [`nts_ke_answer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NtsKeAnswer {
    /// Its length in bytes.
    pub len: usize,
    /// `Some(code)` when the answer is an Error record (the request was
    /// refused); `None` when it carries cookies.
    pub refused: Option<u16>,
}

/// Writes an answer holding only an Error record with `code` and End of
/// Message; returns its length.
pub fn nts_ke_write_error(code: u16, out: &mut [u8]) -> Result<usize, NtsKeError> {
    let mut w = RecordWriter::new(out);
    w.push(&RecordRepr::Error(code))?;
    Ok(w.finish()?)
}

/// The rules a client request must follow (RFC 8915 §4): it ends with End
/// of Message, offers NTPv4 and AES-SIV-CMAC-256 (once each record), and
/// holds no critical record we do not know.
fn check_request(request: &[u8]) -> Result<(), NtsKeError> {
    let (mut protocol, mut aead, mut ended) = (None, None, false);
    for record in Records::new(request) {
        match record? {
            RecordRepr::EndOfMessage => {
                ended = true;
                break;
            }
            RecordRepr::NextProtocol(list) => {
                // The same negotiation twice is a bad request (§4.1.2, §4.1.5).
                let earlier = protocol.replace(list.contains(PROTOCOL_NTPV4));
                if earlier.is_some() {
                    return Err(NtsKeError::Refused(error_code::BAD_REQUEST));
                }
            }
            RecordRepr::AeadAlgorithm(list) => {
                // The same negotiation twice is a bad request (§4.1.2, §4.1.5).
                let earlier = aead.replace(list.contains(AEAD_AES_SIV_CMAC_256));
                if earlier.is_some() {
                    return Err(NtsKeError::Refused(error_code::BAD_REQUEST));
                }
            }
            RecordRepr::Unknown { critical: true, record_type, .. } => {
                return Err(NtsKeError::UnrecognizedCritical(record_type));
            }
            // A client sends no cookies, errors or server choices; RFC 8915
            // lets a server ignore what it does not need.
            _ => {}
        }
    }
    if !ended {
        return Err(NtsKeError::Incomplete);
    }
    match (protocol, aead) {
        (Some(true), Some(true)) => Ok(()),
        (Some(false), _) | (None, _) => Err(NtsKeError::NoProtocol),
        _ => Err(NtsKeError::NoAead),
    }
}

#[cfg(test)]
mod tests {
    use super::super::random::testing::Seeded;
    use super::*;
    use ntp_wire::nts::AeadKey;

    fn keys() -> NtsKeys {
        NtsKeys { c2s: AeadKey::new([5; 32]), s2c: AeadKey::new([6; 32]) }
    }

    #[test]
    fn client_and_server_agree() {
        let mut rng = Seeded(5);
        let master = MasterKeys::new(&mut rng, 0.0, 3600.0, 7200.0);
        let mut req = [0u8; 64];
        let req_len = nts_ke_write_request(&mut req).unwrap();
        let mut scanner = MessageScanner::new(nts_ke_limits());
        assert_eq!(nts_ke_scan(&mut scanner, &req[..req_len]).unwrap(), Some(req_len));
        let mut out = [0u8; 2048];
        let config = NtsKeServerConfig { ntp_server: Some("192.0.2.9"), ntp_port: Some(1123) };
        let answer = nts_ke_answer(&req[..req_len], &master, &keys(), config, &mut rng, &mut out).unwrap();
        assert_eq!(answer.refused, None);
        let len = answer.len;
        let response = nts_ke_read_response(&out[..len]).unwrap();
        assert_eq!(response.cookies.len(), 8);
        assert_eq!(response.server.as_deref(), Some("192.0.2.9"));
        assert_eq!(response.port, Some(1123));
        for cookie in &response.cookies {
            assert_eq!(master.open_cookie(cookie).unwrap().c2s.as_bytes(), &[5; 32]);
        }
    }

    fn message(records: &[RecordRepr<'_>]) -> Vec<u8> {
        let mut buf = vec![0u8; 4096];
        let mut w = RecordWriter::new(&mut buf);
        for r in records {
            w.push(r).unwrap();
        }
        let len = w.finish().unwrap();
        buf.truncate(len);
        buf
    }

    #[test]
    fn server_refuses_bad_requests() {
        let mut rng = Seeded(5);
        let master = MasterKeys::new(&mut rng, 0.0, 3600.0, 7200.0);
        let mut out = [0u8; 2048];
        let mut answer = |req: &[u8]| {
            let a = nts_ke_answer(req, &master, &keys(), Default::default(), &mut rng, &mut out).unwrap();
            // A refusal is an Error record the client reads as such.
            let back = nts_ke_read_response(&out[..a.len]);
            match a.refused {
                Some(code) => assert_eq!(back, Err(NtsKeError::ServerError(code))),
                None => assert_eq!(back.map(|r| r.cookies.len()), Ok(8)),
            }
            a.refused
        };
        let ntp = RecordRepr::NextProtocol(IdList::Values(&[0]));
        let aead = RecordRepr::AeadAlgorithm(IdList::Values(&[15]));
        let crit = RecordRepr::Unknown { critical: true, record_type: 99, body: &[] };
        let noncrit = RecordRepr::Unknown { critical: false, record_type: 99, body: &[1] };
        assert_eq!(answer(&message(&[ntp, aead, crit])), Some(0));
        assert_eq!(answer(&message(&[ntp, aead, noncrit])), None);
        assert_eq!(answer(&message(&[aead])), Some(1));
        assert_eq!(answer(&message(&[ntp])), Some(1));
        assert_eq!(answer(&message(&[RecordRepr::NextProtocol(IdList::Values(&[7])), aead])), Some(1));
        assert_eq!(answer(&message(&[ntp, ntp, aead])), Some(1));
        // No End of Message.
        let full = message(&[ntp, aead]);
        assert_eq!(answer(&full[..full.len() - 4]), Some(1));
        let mut out = [0u8; 16];
        let len = nts_ke_write_error(1, &mut out).unwrap();
        assert_eq!(nts_ke_read_response(&out[..len]), Err(NtsKeError::ServerError(1)));
    }

    #[test]
    fn client_refuses_bad_answers() {
        let ntp = RecordRepr::NextProtocol(IdList::Values(&[0]));
        let aead = RecordRepr::AeadAlgorithm(IdList::Values(&[15]));
        let cookie = RecordRepr::NewCookie(&[1; 100]);
        assert!(nts_ke_read_response(&message(&[ntp, aead, cookie])).is_ok());
        assert_eq!(nts_ke_read_response(&message(&[aead, cookie])), Err(NtsKeError::NoProtocol));
        assert_eq!(nts_ke_read_response(&message(&[ntp, cookie])), Err(NtsKeError::NoAead));
        assert_eq!(
            nts_ke_read_response(&message(&[ntp, RecordRepr::AeadAlgorithm(IdList::Values(&[15, 16])), cookie])),
            Err(NtsKeError::NoAead)
        );
        assert_eq!(nts_ke_read_response(&message(&[ntp, aead])), Err(NtsKeError::NoCookies));
        let crit = RecordRepr::Unknown { critical: true, record_type: 1234, body: &[] };
        assert_eq!(
            nts_ke_read_response(&message(&[ntp, aead, crit, cookie])),
            Err(NtsKeError::UnrecognizedCritical(1234))
        );
        let full = message(&[ntp, aead, cookie]);
        assert_eq!(nts_ke_read_response(&full[..full.len() - 4]), Err(NtsKeError::Incomplete));
        // Twenty cookies: eight kept.
        let many: Vec<_> = [ntp, aead].into_iter().chain(std::iter::repeat_n(cookie, 20)).collect();
        assert_eq!(nts_ke_read_response(&message(&many)).unwrap().cookies.len(), 8);
    }

    proptest::proptest! {
        #[test]
        fn answers_round_trip(server in proptest::option::of("[a-z0-9.:-]{1,40}"), port in proptest::option::of(proptest::prelude::any::<u16>()), seed in 1u64..) {
            let mut rng = Seeded(seed);
            let master = MasterKeys::new(&mut rng, 0.0, 3600.0, 7200.0);
            let mut req = [0u8; 64];
            let req_len = nts_ke_write_request(&mut req).unwrap();
            let mut out = vec![0u8; 4096];
            let config = NtsKeServerConfig { ntp_server: server.as_deref(), ntp_port: port };
            let answer = nts_ke_answer(&req[..req_len], &master, &keys(), config, &mut rng, &mut out).unwrap();
            let mut scanner = MessageScanner::new(nts_ke_limits());
            proptest::prop_assert_eq!(nts_ke_scan(&mut scanner, &out[..answer.len]).unwrap(), Some(answer.len));
            let back = nts_ke_read_response(&out[..answer.len]).unwrap();
            proptest::prop_assert_eq!(back.server, server);
            proptest::prop_assert_eq!(back.port, port);
            proptest::prop_assert_eq!(back.cookies.len(), 8);
        }

        #[test]
        fn reading_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            if let Ok(r) = nts_ke_read_response(&bytes) {
                proptest::prop_assert!((1..=8).contains(&r.cookies.len()));
            }
        }
    }
}
