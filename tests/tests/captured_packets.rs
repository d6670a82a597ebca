//! The captured packets under `ntp-wire/testdata/` (chrony 4.3 and NTPsec
//! 1.2.2 on loopback, made by `scripts/capture-chrony.sh`; see
//! `ntp-wire/testdata/README.md`) decoded with `ntp-wire`.
//!
//! Every expected value below was read off tshark 4.0's dissection of the
//! same frames of `ntp-wire/testdata/chrony/capture.pcapng`, not computed by
//! `ntp-wire`: the comments give what tshark printed where it prints a value
//! differently (unsigned poll and precision, dates for timestamps). So these
//! tests check `ntp-wire` against an independent decoder on bytes written by
//! real daemons, and then the relations a reply must keep with its request.
// A test states its expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::PathBuf;

use md5::{Digest, Md5};
use ntp_wire::{
    Authenticator, Error, KissCode, LeapIndicator, Mode, NtpShort, NtpTimestamp, Packet, ReferenceId, Repr, Stratum,
    Version,
};
use sha1::Sha1;

/// The keys of `scripts/capture-chrony.sh`: key 1 is MD5 with an ASCII
/// secret, key 2 is SHA1 with a hex one.
const MD5_KEY: &[u8] = b"interop-md5-key";
const SHA1_KEY: &[u8] = b"ntp-wire sha1 key!!!"; // HEX:6e74702d776972652073686131206b6579212121

/// What tshark showed for one captured packet.
struct Expected {
    /// Path under `ntp-wire/testdata/`.
    file: &'static str,
    leap: LeapIndicator,
    version: Version,
    mode: Mode,
    stratum: u8,
    /// log2 seconds; tshark prints the byte unsigned.
    poll: i8,
    /// log2 seconds; tshark prints the byte unsigned.
    precision: i8,
    /// Raw 16.16, as tshark prints it.
    root_delay: u32,
    /// Raw 16.16, as tshark prints it.
    root_dispersion: u32,
    reference_id: [u8; 4],
    /// Raw 32.32 timestamps (tshark's `_raw` bytes; its date in the comment).
    reference_time: u64,
    origin_time: u64,
    receive_time: u64,
    transmit_time: u64,
    /// Extension fields: type, length on the wire, value (padding included) in hex.
    extensions: &'static [(u16, usize, &'static str)],
    /// What `Repr::kiss_code` must say; only checked on server packets.
    kiss: Option<KissCode>,
    /// Key id and digest in hex.
    mac: Option<(u32, &'static str)>,
}

/// `chrony/client-request.bin`: frame 7 of `capture.pcapng`.
const CHRONY_CLIENT_REQUEST: Expected = Expected {
    file: "chrony/client-request.bin",
    leap: LeapIndicator::NoWarning,
    version: Version::V4,
    mode: Mode::Client,
    stratum: 0,
    poll: 0,       // tshark: 0
    precision: 32, // tshark: 32
    root_delay: 0,
    root_dispersion: 0,
    reference_id: [0x00, 0x00, 0x00, 0x00], // tshark: 00000000
    reference_time: 0x0000_0000_0000_0000,  // NULL
    origin_time: 0x0000_0000_0000_0000,     // NULL
    receive_time: 0x0000_0000_0000_0000,    // NULL
    transmit_time: 0x36de_2710_3176_5f2f,   // Apr  9, 2065 12:52:32.193212460 UTC
    extensions: &[],
    kiss: None,
    mac: None,
};

/// `chrony/server-reply.bin`: frame 8 of `capture.pcapng`.
const CHRONY_SERVER_REPLY: Expected = Expected {
    file: "chrony/server-reply.bin",
    leap: LeapIndicator::NoWarning,
    version: Version::V4,
    mode: Mode::Server,
    stratum: 8,
    poll: 0,        // tshark: 0
    precision: -25, // tshark: 231
    root_delay: 0,
    root_dispersion: 0,
    reference_id: [0x7f, 0x7f, 0x01, 0x01], // tshark: 7f7f0101
    reference_time: 0xeeac_35a8_492e_79bb,  // Nov 21, 2026 15:22:16.285865409 UTC
    origin_time: 0x36de_2710_3176_5f2f,     // Apr  9, 2065 12:52:32.193212460 UTC
    receive_time: 0xeeac_35aa_253b_cd0b,    // Nov 21, 2026 15:22:18.145443740 UTC
    transmit_time: 0xeeac_35aa_253f_0756,   // Nov 21, 2026 15:22:18.145492990 UTC
    extensions: &[],
    kiss: None,
    mac: None,
};

/// `chrony/client-request-md5.bin`: frame 3 of `capture.pcapng`.
const CHRONY_CLIENT_REQUEST_MD5: Expected = Expected {
    file: "chrony/client-request-md5.bin",
    leap: LeapIndicator::NoWarning,
    version: Version::V4,
    mode: Mode::Client,
    stratum: 0,
    poll: 0,       // tshark: 0
    precision: 32, // tshark: 32
    root_delay: 0,
    root_dispersion: 0,
    reference_id: [0x00, 0x00, 0x00, 0x00], // tshark: 00000000
    reference_time: 0x0000_0000_0000_0000,  // NULL
    origin_time: 0x0000_0000_0000_0000,     // NULL
    receive_time: 0x0000_0000_0000_0000,    // NULL
    transmit_time: 0xe7ca_58ae_7cff_c3f8,   // Mar 26, 2023 05:37:50.488277671 UTC
    extensions: &[],
    kiss: None,
    mac: Some((0x00000001, "c1a9b720d27bb29b587144ff52dde139")),
};

/// `chrony/server-reply-md5.bin`: frame 4 of `capture.pcapng`.
const CHRONY_SERVER_REPLY_MD5: Expected = Expected {
    file: "chrony/server-reply-md5.bin",
    leap: LeapIndicator::NoWarning,
    version: Version::V4,
    mode: Mode::Server,
    stratum: 8,
    poll: 0,        // tshark: 0
    precision: -25, // tshark: 231
    root_delay: 0,
    root_dispersion: 0,
    reference_id: [0x7f, 0x7f, 0x01, 0x01], // tshark: 7f7f0101
    reference_time: 0xeeac_35a8_492e_79bb,  // Nov 21, 2026 15:22:16.285865409 UTC
    origin_time: 0xe7ca_58ae_7cff_c3f8,     // Mar 26, 2023 05:37:50.488277671 UTC
    receive_time: 0xeeac_35aa_1d22_aa3d,    // Nov 21, 2026 15:22:18.113810195 UTC
    transmit_time: 0xeeac_35aa_1d26_3b52,   // Nov 21, 2026 15:22:18.113864619 UTC
    extensions: &[],
    kiss: None,
    mac: Some((0x00000001, "66aa2e9c9aa0a5974526c502cbf431e8")),
};

/// `chrony/client-request-sha1.bin`: frame 1 of `capture.pcapng`.
const CHRONY_CLIENT_REQUEST_SHA1: Expected = Expected {
    file: "chrony/client-request-sha1.bin",
    leap: LeapIndicator::NoWarning,
    version: Version::V4,
    mode: Mode::Client,
    stratum: 0,
    poll: 0,       // tshark: 0
    precision: 32, // tshark: 32
    root_delay: 0,
    root_dispersion: 0,
    reference_id: [0x00, 0x00, 0x00, 0x00], // tshark: 00000000
    reference_time: 0x0000_0000_0000_0000,  // NULL
    origin_time: 0x0000_0000_0000_0000,     // NULL
    receive_time: 0x0000_0000_0000_0000,    // NULL
    transmit_time: 0x1b0d_a704_5025_76d0,   // Jun 26, 2050 12:07:32.313071656 UTC
    extensions: &[],
    kiss: None,
    mac: Some((0x00000002, "3228f14caefdea2a0bdbbf02a076d017640094c4")),
};

/// `chrony/server-reply-sha1.bin`: frame 2 of `capture.pcapng`.
const CHRONY_SERVER_REPLY_SHA1: Expected = Expected {
    file: "chrony/server-reply-sha1.bin",
    leap: LeapIndicator::NoWarning,
    version: Version::V4,
    mode: Mode::Server,
    stratum: 8,
    poll: 0,        // tshark: 0
    precision: -25, // tshark: 231
    root_delay: 0,
    root_dispersion: 0,
    reference_id: [0x7f, 0x7f, 0x01, 0x01], // tshark: 7f7f0101
    reference_time: 0xeeac_35a8_492e_79bb,  // Nov 21, 2026 15:22:16.285865409 UTC
    origin_time: 0x1b0d_a704_5025_76d0,     // Jun 26, 2050 12:07:32.313071656 UTC
    receive_time: 0xeeac_35aa_1ce5_5a39,    // Nov 21, 2026 15:22:18.112874640 UTC
    transmit_time: 0xeeac_35aa_1ceb_8382,   // Nov 21, 2026 15:22:18.112968653 UTC
    extensions: &[],
    kiss: None,
    mac: Some((0x00000002, "dc2ab2d26c8f4b44bcfde3a514fb1036abf74cba")),
};

/// `chrony/client-request-extfield.bin`: frame 5 of `capture.pcapng`.
const CHRONY_CLIENT_REQUEST_EXTFIELD: Expected = Expected {
    file: "chrony/client-request-extfield.bin",
    leap: LeapIndicator::NoWarning,
    version: Version::V4,
    mode: Mode::Client,
    stratum: 0,
    poll: 0,       // tshark: 0
    precision: 32, // tshark: 32
    root_delay: 0,
    root_dispersion: 0,
    reference_id: [0x00, 0x00, 0x00, 0x00], // tshark: 00000000
    reference_time: 0x0000_0000_0000_0000,  // NULL
    origin_time: 0x0000_0000_0000_0000,     // NULL
    receive_time: 0x0000_0000_0000_0000,    // NULL
    transmit_time: 0x2ded_349a_8518_49a1,   // Jul  8, 2060 07:51:54.519901849 UTC
    extensions: &[(0xf323, 28, "f5bedd9a0000000000000000000000000000000000000000")],
    kiss: None,
    mac: None,
};

/// `chrony/server-reply-extfield.bin`: frame 6 of `capture.pcapng`.
const CHRONY_SERVER_REPLY_EXTFIELD: Expected = Expected {
    file: "chrony/server-reply-extfield.bin",
    leap: LeapIndicator::NoWarning,
    version: Version::V4,
    mode: Mode::Server,
    stratum: 8,
    poll: 0,        // tshark: 0
    precision: -25, // tshark: 231
    root_delay: 0,
    root_dispersion: 0,
    reference_id: [0x7f, 0x7f, 0x01, 0x01], // tshark: 7f7f0101
    reference_time: 0xeeac_35a8_492e_79bb,  // Nov 21, 2026 15:22:16.285865409 UTC
    origin_time: 0x2ded_349a_8518_49a1,     // Jul  8, 2060 07:51:54.519901849 UTC
    receive_time: 0xeeac_35aa_24bc_0d65,    // Nov 21, 2026 15:22:18.143494450 UTC
    transmit_time: 0xeeac_35aa_24bf_e1aa,   // Nov 21, 2026 15:22:18.143552879 UTC
    extensions: &[(0xf323, 28, "f5bedd9a0000000000000000eeac35aa24bc0d24da7ae33b")],
    kiss: None,
    mac: None,
};

/// `ntpsec/ntpdig-request.bin`: frame 49 of `capture.pcapng`.
const NTPSEC_NTPDIG_REQUEST: Expected = Expected {
    file: "ntpsec/ntpdig-request.bin",
    leap: LeapIndicator::Unsynchronized,
    version: Version::V4,
    mode: Mode::Client,
    stratum: 0,
    poll: 0,      // tshark: 0
    precision: 0, // tshark: 0
    root_delay: 0,
    root_dispersion: 0,
    reference_id: [0x00, 0x00, 0x00, 0x00], // tshark: 00000000
    reference_time: 0x0000_0000_0000_0000,  // NULL
    origin_time: 0x0000_0000_0000_0000,     // NULL
    receive_time: 0x0000_0000_0000_0000,    // NULL
    transmit_time: 0xeeac_35ad_a752_4000,   // Nov 21, 2026 15:22:21.653598785 UTC
    extensions: &[],
    kiss: None,
    mac: None,
};

/// `chrony/reply-to-ntpdig.bin`: frame 50 of `capture.pcapng`.
const CHRONY_REPLY_TO_NTPDIG: Expected = Expected {
    file: "chrony/reply-to-ntpdig.bin",
    leap: LeapIndicator::NoWarning,
    version: Version::V4,
    mode: Mode::Server,
    stratum: 8,
    poll: 0,        // tshark: 0
    precision: -25, // tshark: 231
    root_delay: 0,
    root_dispersion: 0,
    reference_id: [0x7f, 0x7f, 0x01, 0x01], // tshark: 7f7f0101
    reference_time: 0xeeac_35a8_492e_79bb,  // Nov 21, 2026 15:22:16.285865409 UTC
    origin_time: 0xeeac_35ad_a752_4000,     // Nov 21, 2026 15:22:21.653598785 UTC
    receive_time: 0xeeac_35ad_ab76_d313,    // Nov 21, 2026 15:22:21.669781868 UTC
    transmit_time: 0xeeac_35ad_ab7c_867e,   // Nov 21, 2026 15:22:21.669868856 UTC
    extensions: &[],
    kiss: None,
    mac: None,
};

/// `ntpsec/ntpdig-request-md5.bin`: frame 51 of `capture.pcapng`.
const NTPSEC_NTPDIG_REQUEST_MD5: Expected = Expected {
    file: "ntpsec/ntpdig-request-md5.bin",
    leap: LeapIndicator::Unsynchronized,
    version: Version::V4,
    mode: Mode::Client,
    stratum: 0,
    poll: 0,      // tshark: 0
    precision: 0, // tshark: 0
    root_delay: 0,
    root_dispersion: 0,
    reference_id: [0x00, 0x00, 0x00, 0x00], // tshark: 00000000
    reference_time: 0x0000_0000_0000_0000,  // NULL
    origin_time: 0x0000_0000_0000_0000,     // NULL
    receive_time: 0x0000_0000_0000_0000,    // NULL
    transmit_time: 0xeeac_35ad_e25a_1000,   // Nov 21, 2026 15:22:21.884186744 UTC
    extensions: &[],
    kiss: None,
    mac: Some((0x00000001, "c6d60beb472fc3fed9e2a431c7f483a3")),
};

/// `chrony/reply-to-ntpdig-md5.bin`: frame 52 of `capture.pcapng`.
const CHRONY_REPLY_TO_NTPDIG_MD5: Expected = Expected {
    file: "chrony/reply-to-ntpdig-md5.bin",
    leap: LeapIndicator::NoWarning,
    version: Version::V4,
    mode: Mode::Server,
    stratum: 8,
    poll: 0,        // tshark: 0
    precision: -25, // tshark: 231
    root_delay: 0,
    root_dispersion: 0,
    reference_id: [0x7f, 0x7f, 0x01, 0x01], // tshark: 7f7f0101
    reference_time: 0xeeac_35a8_492e_79bb,  // Nov 21, 2026 15:22:16.285865409 UTC
    origin_time: 0xeeac_35ad_e25a_1000,     // Nov 21, 2026 15:22:21.884186744 UTC
    receive_time: 0xeeac_35ad_e269_fef3,    // Nov 21, 2026 15:22:21.884429869 UTC
    transmit_time: 0xeeac_35ad_e355_b11c,   // Nov 21, 2026 15:22:21.888026303 UTC
    extensions: &[],
    kiss: None,
    mac: Some((0x00000001, "be19bc453fa875e506f8fea30c6de5ff")),
};

/// `ntpsec/ntpd-client-request.bin`: frame 53 of `capture.pcapng`.
const NTPSEC_NTPD_CLIENT_REQUEST: Expected = Expected {
    file: "ntpsec/ntpd-client-request.bin",
    leap: LeapIndicator::NoWarning,
    version: Version::V4,
    mode: Mode::Client,
    stratum: 0,
    poll: 0,       // tshark: 0
    precision: 32, // tshark: 32
    root_delay: 0,
    root_dispersion: 0,
    reference_id: [0x00, 0x00, 0x00, 0x00], // tshark: 00000000
    reference_time: 0x0000_0000_0000_0000,  // NULL
    origin_time: 0x0000_0000_0000_0000,     // NULL
    receive_time: 0x0000_0000_0000_0000,    // NULL
    transmit_time: 0x5c04_3e48_cac1_003f,   // Jan  8, 2085 02:47:36.792007460 UTC
    extensions: &[],
    kiss: None,
    mac: None,
};

/// `chrony/reply-to-ntpd.bin`: frame 54 of `capture.pcapng`.
const CHRONY_REPLY_TO_NTPD: Expected = Expected {
    file: "chrony/reply-to-ntpd.bin",
    leap: LeapIndicator::NoWarning,
    version: Version::V4,
    mode: Mode::Server,
    stratum: 8,
    poll: 0,        // tshark: 0
    precision: -25, // tshark: 231
    root_delay: 0,
    root_dispersion: 0,
    reference_id: [0x7f, 0x7f, 0x01, 0x01], // tshark: 7f7f0101
    reference_time: 0xeeac_35a8_492e_79bb,  // Nov 21, 2026 15:22:16.285865409 UTC
    origin_time: 0x5c04_3e48_cac1_003f,     // Jan  8, 2085 02:47:36.792007460 UTC
    receive_time: 0xeeac_35af_18c4_3837,    // Nov 21, 2026 15:22:23.096744073 UTC
    transmit_time: 0xeeac_35af_18cf_6ef0,   // Nov 21, 2026 15:22:23.096915181 UTC
    extensions: &[],
    kiss: None,
    mac: None,
};

/// `ntpsec/burst-request-1.bin`: frame 55 of `capture.pcapng`.
const NTPSEC_BURST_REQUEST_1: Expected = Expected {
    file: "ntpsec/burst-request-1.bin",
    leap: LeapIndicator::NoWarning,
    version: Version::V4,
    mode: Mode::Client,
    stratum: 0,
    poll: 0,      // tshark: 0
    precision: 0, // tshark: 0
    root_delay: 0,
    root_dispersion: 0,
    reference_id: [0x00, 0x00, 0x00, 0x00], // tshark: 00000000
    reference_time: 0x0000_0000_0000_0000,  // NULL
    origin_time: 0x0000_0000_0000_0000,     // NULL
    receive_time: 0x0000_0000_0000_0000,    // NULL
    transmit_time: 0xeeac_35b0_3c76_0000,   // Nov 21, 2026 15:22:24.236175537 UTC
    extensions: &[],
    kiss: None,
    mac: None,
};

/// `ntpsec/ntpd-reply-unsynchronized.bin`: frame 56 of `capture.pcapng`.
const NTPSEC_NTPD_REPLY_UNSYNCHRONIZED: Expected = Expected {
    file: "ntpsec/ntpd-reply-unsynchronized.bin",
    leap: LeapIndicator::Unsynchronized,
    version: Version::V4,
    mode: Mode::Server,
    stratum: 0,
    poll: 0,        // tshark: 0
    precision: -23, // tshark: 233
    root_delay: 0,
    root_dispersion: 1,
    reference_id: *b"INIT",                // tshark: 494e4954
    reference_time: 0x0000_0000_0000_0000, // NULL
    origin_time: 0xeeac_35b0_3c76_0000,    // Nov 21, 2026 15:22:24.236175537 UTC
    receive_time: 0xeeac_35b0_3c79_8fd9,   // Nov 21, 2026 15:22:24.236229887 UTC
    transmit_time: 0xeeac_35b0_3c7f_562d,  // Nov 21, 2026 15:22:24.236318002 UTC
    extensions: &[],
    kiss: Some(KissCode::Init),
    mac: None,
};

/// `ntpsec/burst-request-2.bin`: frame 57 of `capture.pcapng`.
const NTPSEC_BURST_REQUEST_2: Expected = Expected {
    file: "ntpsec/burst-request-2.bin",
    leap: LeapIndicator::NoWarning,
    version: Version::V4,
    mode: Mode::Client,
    stratum: 0,
    poll: 0,      // tshark: 0
    precision: 0, // tshark: 0
    root_delay: 0,
    root_dispersion: 0,
    reference_id: [0x00, 0x00, 0x00, 0x00], // tshark: 00000000
    reference_time: 0x0000_0000_0000_0000,  // NULL
    origin_time: 0x0000_0000_0000_0000,     // NULL
    receive_time: 0x0000_0000_0000_0000,    // NULL
    transmit_time: 0xeeac_35b0_4ab5_7800,   // Nov 21, 2026 15:22:24.291831493 UTC
    extensions: &[],
    kiss: None,
    mac: None,
};

/// `ntpsec/ntpd-kod-rate.bin`: frame 58 of `capture.pcapng`.
const NTPSEC_NTPD_KOD_RATE: Expected = Expected {
    file: "ntpsec/ntpd-kod-rate.bin",
    leap: LeapIndicator::Unsynchronized,
    version: Version::V4,
    mode: Mode::Server,
    stratum: 0,
    poll: 0,      // tshark: 0
    precision: 0, // tshark: 0
    root_delay: 0,
    root_dispersion: 0,
    reference_id: *b"RATE",                // tshark: 52415445
    reference_time: 0x0000_0000_0000_0000, // NULL
    origin_time: 0xeeac_35b0_4ab5_7800,    // Nov 21, 2026 15:22:24.291831493 UTC
    receive_time: 0xeeac_35b0_4ab5_7800,   // Nov 21, 2026 15:22:24.291831493 UTC
    transmit_time: 0xeeac_35b0_4ab5_7800,  // Nov 21, 2026 15:22:24.291831493 UTC
    extensions: &[],
    kiss: Some(KissCode::Rate),
    mac: None,
};

/// Every decodable capture (the mode 6 ones are tested apart).
const ALL: [&Expected; 18] = [
    &CHRONY_CLIENT_REQUEST,
    &CHRONY_SERVER_REPLY,
    &CHRONY_CLIENT_REQUEST_MD5,
    &CHRONY_SERVER_REPLY_MD5,
    &CHRONY_CLIENT_REQUEST_SHA1,
    &CHRONY_SERVER_REPLY_SHA1,
    &CHRONY_CLIENT_REQUEST_EXTFIELD,
    &CHRONY_SERVER_REPLY_EXTFIELD,
    &NTPSEC_NTPDIG_REQUEST,
    &CHRONY_REPLY_TO_NTPDIG,
    &NTPSEC_NTPDIG_REQUEST_MD5,
    &CHRONY_REPLY_TO_NTPDIG_MD5,
    &NTPSEC_NTPD_CLIENT_REQUEST,
    &CHRONY_REPLY_TO_NTPD,
    &NTPSEC_BURST_REQUEST_1,
    &NTPSEC_NTPD_REPLY_UNSYNCHRONIZED,
    &NTPSEC_BURST_REQUEST_2,
    &NTPSEC_NTPD_KOD_RATE,
];

/// Requests and the replies that answer them.
const EXCHANGES: [(&Expected, &Expected); 9] = [
    (&CHRONY_CLIENT_REQUEST, &CHRONY_SERVER_REPLY),
    (&CHRONY_CLIENT_REQUEST_MD5, &CHRONY_SERVER_REPLY_MD5),
    (&CHRONY_CLIENT_REQUEST_SHA1, &CHRONY_SERVER_REPLY_SHA1),
    (&CHRONY_CLIENT_REQUEST_EXTFIELD, &CHRONY_SERVER_REPLY_EXTFIELD),
    (&NTPSEC_NTPDIG_REQUEST, &CHRONY_REPLY_TO_NTPDIG),
    (&NTPSEC_NTPDIG_REQUEST_MD5, &CHRONY_REPLY_TO_NTPDIG_MD5),
    (&NTPSEC_NTPD_CLIENT_REQUEST, &CHRONY_REPLY_TO_NTPD),
    (&NTPSEC_BURST_REQUEST_1, &NTPSEC_NTPD_REPLY_UNSYNCHRONIZED),
    (&NTPSEC_BURST_REQUEST_2, &NTPSEC_NTPD_KOD_RATE),
];

fn testdata(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ntp-wire/testdata").join(file)
}

fn read(file: &str) -> Vec<u8> {
    let path = testdata(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse(file: &str) -> Repr {
    Repr::from_bytes(&read(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "{text}: odd number of hex digits");
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digits")).collect()
}

/// Checks one capture field by field through both layers: the zero-copy
/// view's getters and the owned `Repr`, then the trailer.
fn check(expected: &Expected) {
    let file = expected.file;
    let bytes = read(file);
    let packet = Packet::new_checked(&bytes[..]).unwrap_or_else(|e| panic!("{file}: {e}"));

    assert_eq!(packet.leap(), expected.leap, "{file}: leap");
    assert_eq!(packet.version(), expected.version, "{file}: version");
    assert_eq!(packet.mode(), expected.mode, "{file}: mode");
    assert_eq!(packet.stratum(), Stratum(expected.stratum), "{file}: stratum");
    assert_eq!(packet.poll(), expected.poll, "{file}: poll");
    assert_eq!(packet.precision(), expected.precision, "{file}: precision");
    assert_eq!(packet.root_delay(), NtpShort::from_bits(expected.root_delay), "{file}: root delay");
    assert_eq!(packet.root_dispersion(), NtpShort::from_bits(expected.root_dispersion), "{file}: root dispersion");
    assert_eq!(packet.reference_id(), ReferenceId(expected.reference_id), "{file}: reference id");
    assert_eq!(packet.reference_time().to_bits(), expected.reference_time, "{file}: reference time");
    assert_eq!(packet.origin_time().to_bits(), expected.origin_time, "{file}: origin time");
    assert_eq!(packet.receive_time().to_bits(), expected.receive_time, "{file}: receive time");
    assert_eq!(packet.transmit_time().to_bits(), expected.transmit_time, "{file}: transmit time");

    let repr = Repr::parse(&packet).unwrap_or_else(|e| panic!("{file}: {e}"));
    let want = Repr {
        leap: expected.leap,
        version: expected.version,
        mode: expected.mode,
        stratum: Stratum(expected.stratum),
        poll: expected.poll,
        precision: expected.precision,
        root_delay: NtpShort::from_bits(expected.root_delay),
        root_dispersion: NtpShort::from_bits(expected.root_dispersion),
        reference_id: ReferenceId(expected.reference_id),
        reference_time: NtpTimestamp::from_bits(expected.reference_time),
        origin_time: NtpTimestamp::from_bits(expected.origin_time),
        receive_time: NtpTimestamp::from_bits(expected.receive_time),
        transmit_time: NtpTimestamp::from_bits(expected.transmit_time),
    };
    assert_eq!(repr, want, "{file}: Repr");
    if expected.mode == Mode::Server {
        assert_eq!(repr.kiss_code(), expected.kiss, "{file}: kiss code");
    }

    // Emitting the decoded header gives back the daemon's bytes exactly.
    let mut header = [0u8; 48];
    assert_eq!(repr.emit_into(&mut header), Ok(48), "{file}");
    assert_eq!(header[..], bytes[..48], "{file}: re-emitted header");

    let trailer = packet.trailer().unwrap_or_else(|e| panic!("{file}: {e}"));
    let fields: Vec<_> = trailer.extension_fields().map(|f| f.unwrap_or_else(|e| panic!("{file}: {e}"))).collect();
    assert_eq!(fields.len(), expected.extensions.len(), "{file}: number of extension fields");
    for (field, &(field_type, len, value)) in fields.iter().zip(expected.extensions) {
        assert_eq!(field.field_type, field_type, "{file}: extension type");
        assert_eq!(field.wire_len(), len, "{file}: extension length");
        assert_eq!(field.value, &unhex(value)[..], "{file}: extension value");
    }
    let extensions_len: usize = expected.extensions.iter().map(|&(_, len, _)| len).sum();
    assert_eq!(trailer.auth_offset(), 48 + extensions_len, "{file}: where the MAC starts");
    match (trailer.authenticator(), expected.mac) {
        (Authenticator::None, None) => assert_eq!(bytes.len(), 48 + extensions_len, "{file}: length"),
        (Authenticator::Mac(mac), Some((key_id, digest))) => {
            assert_eq!(mac.key_id, key_id, "{file}: key id");
            assert_eq!(mac.digest, &unhex(digest)[..], "{file}: digest");
            assert_eq!(bytes.len(), trailer.auth_offset() + 4 + mac.digest.len(), "{file}: length");
        }
        (got, want) => panic!("{file}: authenticator {got:?}, tshark shows key id and MAC {want:?}"),
    }
}

#[test]
fn every_capture_decodes_to_what_tshark_shows() {
    for expected in ALL {
        check(expected);
    }
}

#[test]
fn macs_have_the_digest_length_of_their_key_type() {
    let digest_len = |file: &str| {
        let bytes = read(file);
        match Packet::new_checked(&bytes[..]).unwrap().trailer().unwrap().authenticator() {
            Authenticator::Mac(mac) => (mac.key_id, mac.digest.len(), bytes.len()),
            other => panic!("{file}: expected a MAC, got {other:?}"),
        }
    };
    // MD5: a 16-byte digest, 20-byte MAC, 68-byte packet.
    for file in [
        CHRONY_CLIENT_REQUEST_MD5.file,
        CHRONY_SERVER_REPLY_MD5.file,
        NTPSEC_NTPDIG_REQUEST_MD5.file,
        CHRONY_REPLY_TO_NTPDIG_MD5.file,
    ] {
        assert_eq!(digest_len(file), (1, 16, 68), "{file}");
    }
    // SHA1: a 20-byte digest, 24-byte MAC, 72-byte packet.
    for file in [CHRONY_CLIENT_REQUEST_SHA1.file, CHRONY_SERVER_REPLY_SHA1.file] {
        assert_eq!(digest_len(file), (2, 20, 72), "{file}");
    }
}

/// The legacy MAC is the digest of key || everything before the MAC (not an
/// HMAC). Recomputing it over `ntp-wire`'s split of the packet proves the
/// split is where the daemons put it, and that the captures are what the
/// README says they are.
#[test]
fn captured_macs_verify_with_the_documented_keys() {
    for expected in ALL {
        let Some((key_id, _)) = expected.mac else { continue };
        let bytes = read(expected.file);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        let trailer = packet.trailer().unwrap();
        let covered = &bytes[..trailer.auth_offset()];
        let Authenticator::Mac(mac) = trailer.authenticator() else { panic!("{}: no MAC", expected.file) };
        let computed: Vec<u8> = match key_id {
            1 => Md5::new().chain_update(MD5_KEY).chain_update(covered).finalize().to_vec(),
            2 => Sha1::new().chain_update(SHA1_KEY).chain_update(covered).finalize().to_vec(),
            other => panic!("{}: unexpected key id {other}", expected.file),
        };
        assert_eq!(mac.digest, &computed[..], "{}: digest", expected.file);
    }
}

#[test]
fn every_reply_answers_its_request() {
    for (request, reply) in EXCHANGES {
        let (req, rep) = (parse(request.file), parse(reply.file));
        let name = reply.file;
        assert_eq!(req.mode, Mode::Client, "{}", request.file);
        assert_eq!(rep.mode, Mode::Server, "{name}");
        // The origin timestamp is the request's transmit timestamp: the
        // check a client makes before it believes a reply (RFC 5905 test 2).
        assert_eq!(rep.origin_time, req.transmit_time, "{name}: origin = request's transmit");
        assert!(!req.transmit_time.is_zero(), "{}: a request carries a transmit timestamp", request.file);
        // Both servers answer with the client's poll (RFC 5905 FXMIT).
        assert_eq!(rep.poll, req.poll, "{name}: poll");
        // Whatever the client authenticated with, the server signed with too.
        let key_id = |file: &str| match Packet::new_checked(read(file)).unwrap().trailer().unwrap().authenticator() {
            Authenticator::Mac(mac) => Some(mac.key_id),
            _ => None,
        };
        assert_eq!(key_id(name), key_id(request.file), "{name}: key id");
    }
}

#[test]
fn server_timestamps_are_in_order() {
    // Replies that carry time: received (T2) no later than sent (T3), and
    // the reference time (when the server's clock was last set) before both.
    for (_, reply) in EXCHANGES {
        let rep = parse(reply.file);
        if rep.kiss_code().is_some() {
            continue;
        }
        let t2_to_t3 = rep.transmit_time - rep.receive_time;
        assert!(!t2_to_t3.is_negative(), "{}: T3 - T2 = {t2_to_t3}", reply.file);
        assert!(t2_to_t3.to_seconds_f64() < 0.01, "{}: T3 - T2 = {t2_to_t3} on loopback", reply.file);
        let age = rep.receive_time - rep.reference_time;
        assert!(!age.is_negative() && age.to_seconds_f64() < 60.0, "{}: reference age {age}", reply.file);
    }
}

#[test]
fn chrony_server_state_is_the_same_in_every_reply() {
    // One chronyd served every client with `local stratum 8`: its refid is
    // 127.127.1.1, the address form of its local reference.
    let replies = EXCHANGES.iter().map(|(_, reply)| reply).filter(|reply| reply.file.starts_with("chrony/"));
    let mut count = 0;
    for reply in replies {
        let rep = parse(reply.file);
        assert_eq!(rep.stratum, Stratum(8), "{}", reply.file);
        assert_eq!(rep.reference_id.as_ipv4(), std::net::Ipv4Addr::new(127, 127, 1, 1), "{}", reply.file);
        assert_eq!(rep.reference_time, parse(CHRONY_SERVER_REPLY.file).reference_time, "{}", reply.file);
        assert_eq!(rep.leap, LeapIndicator::NoWarning, "{}", reply.file);
        count += 1;
    }
    assert_eq!(count, 7);
}

#[test]
fn chrony_answers_its_extension_field_with_the_same_type() {
    let request = Packet::new_checked(read(CHRONY_CLIENT_REQUEST_EXTFIELD.file)).unwrap();
    let reply = Packet::new_checked(read(CHRONY_SERVER_REPLY_EXTFIELD.file)).unwrap();
    let field = |packet: &Packet<Vec<u8>>| {
        let trailer = packet.trailer().unwrap();
        let fields: Vec<_> =
            trailer.extension_fields().map(Result::unwrap).map(|f| (f.field_type, f.wire_len())).collect();
        fields
    };
    // A single 28-byte field: the shortest a last field without a MAC may be.
    assert_eq!(field(&request), [(0xf323, 28)]);
    assert_eq!(field(&reply), [(0xf323, 28)]);
}

#[test]
fn ntpd_kiss_codes() {
    // Unsynchronized, ntpd answers at stratum 0 with the INIT kiss code.
    let init = parse(NTPSEC_NTPD_REPLY_UNSYNCHRONIZED.file);
    assert_eq!(init.leap, LeapIndicator::Unsynchronized);
    assert_eq!(init.kiss_code(), Some(KissCode::Init));
    assert!(init.reference_time.is_zero());

    // Over the rate limit: KoD RATE, for the request it answers.
    let request = parse(NTPSEC_BURST_REQUEST_2.file);
    let kod = parse(NTPSEC_NTPD_KOD_RATE.file);
    let code = kod.kiss_code().expect("stratum 0 carries a kiss code");
    assert_eq!(code, KissCode::Rate);
    assert!(code.demands_slower_polling() && !code.demands_stop());
    assert_eq!(kod.origin_time, request.transmit_time);
    // NTPsec fills a KoD's receive and transmit timestamps with the
    // request's transmit time too: no time information leaks, and nothing
    // in it may be used as a sample.
    assert_eq!(kod.receive_time, request.transmit_time);
    assert_eq!(kod.transmit_time, request.transmit_time);
}

#[test]
fn mode6_captures_are_control_messages_not_ntp_headers() {
    // ntpq's readvar request is 12 bytes: a mode 6 header, shorter than an
    // NTP header, which the checked view refuses rather than misreads.
    let request = read("ntpsec/ntpq-readvar-request.bin");
    assert_eq!(request.len(), 12);
    assert_eq!(request[0] & 7, 6);
    assert_eq!(Packet::new_checked(&request[..]), Err(Error::Truncated { len: 12 }));
    // The response is longer than 48 bytes; its first byte still reads as
    // LI 3, version 2, mode 6 (tshark: flags 0xd6).
    let response = read("ntpsec/ntpd-readvar-response.bin");
    let view = Packet::new_unchecked(&response[..]);
    assert_eq!(view.mode(), Mode::Control);
    assert_eq!(view.version(), Version::V2);
    assert_eq!(view.leap(), LeapIndicator::Unsynchronized);
}
