//! Fuzz target `nts_cookie`: the server's cookie decryption and request
//! check (`ntp_algo::MasterKeys`, `ntp_algo::nts_check_request`) with
//! fixed master keys.
//!
//! * Arbitrary bytes never open as a cookie (nobody without the master key
//!   can make one), and never pass as an authentic request; nothing panics.
//! * A cookie sealed from input-chosen session keys opens to the same keys,
//!   and changing any one byte of it (the input picks which) makes it fail.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ntp_algo::{MasterKeys, NTS_COOKIE_LEN, NtsKeys, NtsRequestCheck, nts_check_request};
use ntp_wire::nts::AeadKey;

fuzz_target!(|data: &[u8]| {
    let mut counter = 0u8;
    let mut rng = |buf: &mut [u8]| {
        for b in buf {
            counter = counter.wrapping_add(37);
            *b = counter;
        }
    };
    let mut master = MasterKeys::new(&mut rng, 0.0, 3600.0, 7200.0);
    master.rotate(&mut rng, 1.0);

    assert!(master.open_cookie(data).is_err(), "arbitrary bytes opened as a cookie");
    assert!(
        !matches!(nts_check_request(&master, data), Ok(NtsRequestCheck::Authentic(_))),
        "arbitrary bytes passed as an authentic request"
    );

    let [which, keys @ ..] = data else { return };
    let Some(keys) = keys.get(..64) else { return };
    let session = NtsKeys {
        c2s: AeadKey::from_slice(&keys[..32]).expect("32 bytes"),
        s2c: AeadKey::from_slice(&keys[32..]).expect("32 bytes"),
    };
    let cookie = master.seal_cookie(&session, &mut rng);
    let opened = master.open_cookie(&cookie).expect("own cookie opens");
    assert_eq!(opened.c2s.as_bytes(), session.c2s.as_bytes());
    assert_eq!(opened.s2c.as_bytes(), session.s2c.as_bytes());
    let mut bad = cookie;
    bad[usize::from(*which) % NTS_COOKIE_LEN] ^= 0x80;
    assert!(master.open_cookie(&bad).is_err(), "a changed cookie opened");
});
