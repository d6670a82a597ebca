//! Fuzz target `nts_ke_records`: NTS-KE record streams (`ntp_wire::nts::ke`).
//!
//! The first two bytes set the scanner's limits (records, and length in
//! units of 8 bytes); the rest is the stream a TLS peer sends. Checks:
//!
//! * Nothing panics.
//! * The scanner never reports a message longer than its length limit or
//!   than the bytes given, nor one with more records than its record limit;
//!   and feeding the stream one byte at a time gives the same answer as
//!   feeding it whole (the first error, or the same end).
//! * Every record that parses writes back to the same type and body, with
//!   the critical bit kept for unknown types.
//! * The stream taken as a client's request, the server's NTS-KE answer
//!   (`ntp_algo::nts_ke_answer`) is cookies exactly when the request offers
//!   NTPv4 and AES-SIV and holds no unknown critical record, an Error
//!   record otherwise, and the client reads it back as such; the stream
//!   taken as a server's answer (`ntp_algo::nts_ke_read_response`) yields
//!   one to eight cookies or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ntp_algo::{MasterKeys, NtsKeError, NtsKeServerConfig, NtsKeys, nts_ke_answer, nts_ke_read_response};
use ntp_wire::nts::AeadKey;
use ntp_wire::nts::ke::{MessageLimits, MessageScanner, Record, RecordRepr, Records, Scan};

fuzz_target!(|data: &[u8]| {
    let [max_records, len_units, stream @ ..] = data else { return };
    let limits = MessageLimits { max_records: usize::from(*max_records), max_len: usize::from(*len_units) * 8 };

    let whole = MessageScanner::new(limits).scan(stream);
    let mut scanner = MessageScanner::new(limits);
    let mut piecewise = Ok(Scan::NeedMore);
    for end in 0..=stream.len() {
        piecewise = scanner.scan(&stream[..end]);
        if piecewise != Ok(Scan::NeedMore) {
            break;
        }
    }
    assert_eq!(whole, piecewise, "whole and piecewise scans disagree");

    if let Ok(Scan::Complete { len }) = whole {
        assert!(len <= limits.max_len && len <= stream.len());
        let records: Vec<_> = Records::new(&stream[..len]).collect();
        assert!(records.len() <= limits.max_records);
    }

    // Every record that parses re-encodes to its own type and body.
    let mut rest = stream;
    let mut offset = 0;
    while let Ok((record, used)) = Record::parse(rest, offset) {
        if let Ok(repr) = RecordRepr::parse(&record) {
            let mut out = vec![0u8; repr.wire_len()];
            assert_eq!(repr.emit(&mut out), Ok(record.wire_len()));
            let (again, _) = Record::parse(&out, 0).expect("own record parses");
            assert_eq!(again.record_type, record.record_type);
            assert_eq!(again.body, record.body);
            if let RecordRepr::Unknown { critical, .. } = repr {
                assert_eq!(critical, record.critical);
                assert_eq!(repr.is_unrecognized_critical(), record.critical);
            }
            assert_eq!(RecordRepr::parse(&again), Ok(repr));
        }
        rest = &rest[used..];
        offset += used;
    }

    // The message-level rules, on the same bytes.
    if let Ok(response) = nts_ke_read_response(stream) {
        assert!((1..=8).contains(&response.cookies.len()));
    }
    let mut n = 0u8;
    let mut rng = |buf: &mut [u8]| {
        for b in buf {
            n = n.wrapping_add(29);
            *b = n;
        }
    };
    let master = MasterKeys::new(&mut rng, 0.0, 3600.0, 7200.0);
    let keys = NtsKeys { c2s: AeadKey::new([1; 32]), s2c: AeadKey::new([2; 32]) };
    let mut out = [0u8; 2048];
    let answer = nts_ke_answer(stream, &master, &keys, NtsKeServerConfig::default(), &mut rng, &mut out)
        .expect("2 KiB holds any answer");
    let offers = |wanted: fn(&RecordRepr<'_>) -> bool| {
        Records::new(stream).map_while(Result::ok).take_while(|r| *r != RecordRepr::EndOfMessage).any(|r| wanted(&r))
    };
    let critical_unknown = offers(|r| r.is_unrecognized_critical());
    match (answer.refused, nts_ke_read_response(&out[..answer.len])) {
        (None, Ok(response)) => {
            assert_eq!(response.cookies.len(), 8);
            assert!(!critical_unknown, "served a request with an unknown critical record");
            assert!(offers(|r| matches!(r, RecordRepr::NextProtocol(l) if l.contains(0))));
            assert!(offers(|r| matches!(r, RecordRepr::AeadAlgorithm(l) if l.contains(15))));
        }
        (Some(code), Err(NtsKeError::ServerError(read))) => {
            assert_eq!(code, read);
            assert!(code <= 1);
        }
        (refused, read) => panic!("answer {refused:?} read back as {read:?}"),
    }
});
