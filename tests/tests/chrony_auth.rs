//! Symmetric-key authentication against a real chronyd (4.3 on the
//! project's machines): for every key type chrony supports, chronyd answers
//! requests that `ntp_wire::auth::sign` made, `ntp_wire::auth::verify`
//! accepts chronyd's MAC on the answer, any one-bit change to that answer is
//! caught, and a request with the wrong secret or an unknown key id gets no
//! answer at all. Our key-file parsers read the very file chronyd was given,
//! and an `ntp.keys` twin of it, to the same keys.
//!
//! Without chronyd these tests print `SKIPPED` (or fail under `CI=true`);
//! see `ntp_tests::tools::require`.
// A test states its expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime};

use ntp_tests::chrony::{Chronyd, ChronydConfig};
use ntp_tests::tools;
use ntp_wire::auth::{AuthError, Key, KeyType, Keyring, sign, verify};
use ntp_wire::{Mode, NtpTimestamp, Repr, Stratum, Version};

/// The keys chronyd gets: every type it knows, hex and text secrets, and a
/// key id above ntpd's 16-bit range.
const CHRONY_KEYS: &str = "\
# ntp-tests chrony_auth: one key per MAC type
1 MD5 HEX:fa1ac5e97ab9aca3b2f03903e26a6af4
2 SHA1 HEX:d04a747dfe8c39620c44086b080cda3d10d223d5
3 SHA256 HEX:75cecac8a9d2041adf3ca2ff6d531928736da7729b5614744c190f54bfdb785c
4 SHA384 HEX:b1941f5b3212578c95a95ad8c63696311dfab424302d247f08983bf667eb8904
5 SHA512 HEX:c066ff8f12004bd30cf17ccc483e55bab14d49833cc010edef530643799f1d31
6 AES128 HEX:62a6cf422dcdc5588164a320e51922bc
7 AES256 HEX:5d573662d0671eb802c689c54f8c6592aabbf5adfd53d29d26d6185cf037f986
8 tulipsAreRed
4000000000 MD5 ASCII:crocus-9
";

/// The same keys as NTPsec's `ntp.keys` spells them: over 20 characters is
/// hex, up to 20 is text, `M` is MD5.
const NTP_KEYS: &str = "\
# ntp-tests chrony_auth: the twin of CHRONY_KEYS
1 md5 fa1ac5e97ab9aca3b2f03903e26a6af4
2 sha1 d04a747dfe8c39620c44086b080cda3d10d223d5
3 sha256 75cecac8a9d2041adf3ca2ff6d531928736da7729b5614744c190f54bfdb785c
4 SHA-384 b1941f5b3212578c95a95ad8c63696311dfab424302d247f08983bf667eb8904
5 sha512 c066ff8f12004bd30cf17ccc483e55bab14d49833cc010edef530643799f1d31
6 aes-128 62a6cf422dcdc5588164a320e51922bc
7 aes-256 5d573662d0671eb802c689c54f8c6592aabbf5adfd53d29d26d6185cf037f986
8 M tulipsAreRed
4000000000 MD5 crocus-9
";

/// How long to wait for one answer. chronyd answers loopback in well under a millisecond.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(1);
/// Sends per request before giving up (the first can race chronyd's start).
const ATTEMPTS: usize = 3;
/// How long silence must last to count as "no answer".
const SILENCE: Duration = Duration::from_millis(1500);

struct Session {
    daemon: Chronyd,
    ring: Keyring,
    socket: UdpSocket,
}

/// Starts chronyd with `CHRONY_KEYS` and reads back the key file it was given.
fn start() -> Option<Session> {
    let program = tools::require("chronyd", "chrony")?;
    let config = ChronydConfig { keys: Some(CHRONY_KEYS.to_owned()), ..ChronydConfig::default() };
    let daemon = Chronyd::start(&program, &config).expect("start chronyd");
    daemon.wait_serving(Duration::from_secs(10)).expect("chronyd serves");
    let file = std::fs::read_to_string(daemon.keys_path()).expect("read chronyd's key file");
    let ring = Keyring::from_chrony_keys(&file).expect("parse chronyd's key file");
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    socket.set_read_timeout(Some(ANSWER_TIMEOUT)).unwrap();
    Some(Session { daemon, ring, socket })
}

/// A transmit timestamp no other request of this run uses.
fn fresh_timestamp(serial: u64) -> NtpTimestamp {
    let base = NtpTimestamp::from_system_time(SystemTime::now());
    NtpTimestamp::from_bits(base.to_bits().wrapping_add(serial << 8))
}

/// A client request (mode 3, version 4) signed with `key`.
fn signed_request(transmit: NtpTimestamp, key: &Key) -> Vec<u8> {
    let repr = Repr { mode: Mode::Client, version: Version::V4, poll: 6, transmit_time: transmit, ..Repr::default() };
    let mut buf = vec![0u8; 128];
    let header_len = repr.emit_into(&mut buf).unwrap();
    let len = sign(&mut buf, header_len, key).unwrap();
    buf.truncate(len);
    buf
}

/// Waits for the answer to the request sent with `transmit` (its origin
/// timestamp), skipping stale answers; `None` on timeout.
fn receive_answer(socket: &UdpSocket, from: SocketAddr, transmit: NtpTimestamp, within: Duration) -> Option<Vec<u8>> {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 2048];
    loop {
        let left = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())?;
        socket.set_read_timeout(Some(left)).unwrap();
        match socket.recv_from(&mut buf) {
            Ok((len, source)) if source == from && len >= 48 => {
                let answer = buf[..len].to_vec();
                if Repr::from_bytes(&answer).is_ok_and(|repr| repr.origin_time == transmit) {
                    return Some(answer);
                }
            }
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => return None,
            Err(e) => panic!("receive: {e}"),
        }
    }
}

/// Sends `request` until chronyd answers it, at most `ATTEMPTS` times.
fn exchange(session: &Session, request: &[u8], transmit: NtpTimestamp) -> Option<Vec<u8>> {
    let addr = session.daemon.addr();
    (0..ATTEMPTS).find_map(|_| {
        session.socket.send_to(request, addr).unwrap();
        receive_answer(&session.socket, addr, transmit, ANSWER_TIMEOUT)
    })
}

#[test]
fn our_parsers_read_chronyds_key_file_and_its_ntp_keys_twin() {
    let Some(session) = start() else { return };
    let types: Vec<KeyType> = session.ring.iter().map(|(key, _)| key.key_type()).collect();
    for key_type in KeyType::ALL {
        assert!(types.contains(&key_type), "{key_type} missing from the chrony key file");
    }
    assert!(session.ring.iter().all(|(_, trusted)| trusted), "chronyd uses every key in its file");
    let mut twin = Keyring::from_ntp_keys(NTP_KEYS).unwrap();
    assert_eq!(twin.trust_list("1-8 4000000000"), Ok(session.ring.len()));
    assert_eq!(twin, session.ring);
}

#[test]
fn chronyd_answers_our_signed_requests_and_we_verify_its_macs() {
    let Some(session) = start() else { return };
    for (serial, (key, _)) in session.ring.iter().enumerate() {
        let transmit = fresh_timestamp(serial as u64);
        let request = signed_request(transmit, key);
        let Some(answer) = exchange(&session, &request, transmit) else {
            panic!(
                "no answer to a request signed with key {} ({}); chronyd's log:\n{}",
                key.id(),
                key.key_type(),
                session.daemon.log()
            )
        };

        // chronyd signs its answer with the key the request used.
        let signer = verify(&answer, &session.ring).unwrap_or_else(|e| panic!("key {}: {e}", key.id()));
        assert_eq!(signer.id(), key.id());
        assert_eq!(answer.len(), 48 + key.mac_len(), "key {}: header and MAC only", key.id());
        let repr = Repr::from_bytes(&answer).unwrap();
        assert_eq!((repr.mode, repr.version, repr.stratum), (Mode::Server, Version::V4, Stratum(8)));
        assert_eq!(repr.origin_time, transmit);

        // Every single-bit change to chronyd's answer is caught.
        for bit in 0..answer.len() * 8 {
            let mut tampered = answer.clone();
            tampered[bit / 8] ^= 1 << (bit % 8);
            let result = verify(&tampered, &session.ring);
            assert!(result.is_err(), "key {}: flipping bit {bit} went unnoticed", key.id());
            let key_id_bits = 48 * 8..52 * 8;
            if !key_id_bits.contains(&bit) {
                // Outside the key id, the key is still found and the digest fails.
                assert_eq!(result, Err(AuthError::BadMac { key_id: key.id() }), "bit {bit}");
            }
        }
    }
}

#[test]
fn chronyd_ignores_wrong_secrets_and_unknown_keys() {
    let Some(session) = start() else { return };
    let addr = session.daemon.addr();
    let mut sent = Vec::new();
    for (serial, (key, _)) in session.ring.iter().enumerate() {
        // Same id and type, one byte of the secret changed.
        let mut secret = key.expose_secret().to_vec();
        secret[0] ^= 0x01;
        let impostor = Key::new(key.id(), key.key_type(), &secret).unwrap();
        let transmit = fresh_timestamp(1000 + serial as u64);
        session.socket.send_to(&signed_request(transmit, &impostor), addr).unwrap();
        sent.push(transmit);
    }
    let unknown = Key::new(999, KeyType::Sha1, b"nobody has this key").unwrap();
    let unknown_transmit = fresh_timestamp(2000);
    session.socket.send_to(&signed_request(unknown_transmit, &unknown), addr).unwrap();
    sent.push(unknown_transmit);

    // Neither an answer nor a crypto-NAK: chronyd drops them silently.
    let deadline = Instant::now() + SILENCE;
    let mut buf = [0u8; 2048];
    while let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) {
        session.socket.set_read_timeout(Some(left)).unwrap();
        if let Ok((len, source)) = session.socket.recv_from(&mut buf) {
            let origin = Repr::from_bytes(&buf[..len]).map(|r| r.origin_time);
            panic!("chronyd ({source}) answered a request it should have dropped: {len} bytes, origin {origin:?}");
        }
    }

    // And the silence was chronyd's choice, not a dead daemon.
    let (key, _) = session.ring.iter().next().unwrap();
    let transmit = fresh_timestamp(3000);
    let answer = exchange(&session, &signed_request(transmit, key), transmit);
    assert!(answer.is_some(), "chronyd stopped answering; its log:\n{}", session.daemon.log());
}
