//! Wireshark's NTP dissector as an independent judge of our encoding.
//!
//! Packets made by `ntp-wire` (a few hundred random headers from a seeded
//! generator, hand-picked edge cases, and the captured chrony/NTPsec
//! packets under `ntp-wire/testdata`) are written into a pcap file as UDP
//! datagrams to port 123. tshark dissects the file, and every field it prints
//! must equal what `ntp-wire` decodes from the same bytes, formatted the way
//! tshark formats it. The decode must also equal the `Repr` and trailer the
//! packet was built from, so an encoding mistake shows up either as a
//! round-trip failure or, when encoder and decoder agree on the same mistake
//! (two swapped fields, say), as a disagreement with tshark.
//!
//! # How tshark 4.0 prints each field (`-T fields`)
//!
//! | field | printed as |
//! |---|---|
//! | `ntp.flags.li`, `.vn`, `.mode`, `ntp.stratum` | decimal |
//! | `ntp.ppoll`, `ntp.precision` | the byte as an *unsigned* decimal (-25 prints 231) |
//! | `ntp.rootdelay`, `ntp.rootdispersion` | the raw 16.16 value as a decimal integer |
//! | `ntp.refid`, `ntp.keyid`, `ntp.mac`, `ntp.ext.value` | lower-case hex of the bytes, whatever the stratum |
//! | `ntp.reftime`, `.org`, `.rec`, `.xmt` | `Nov 21, 2026 15:22:18.143552879 UTC` (day padded with a space), see below |
//! | `ntp.ext.type` | `0x` and four hex digits |
//! | `ntp.ext.length` | decimal |
//!
//! Timestamps: the era is chosen by the top bit of the seconds (set:
//! 1968–2036, clear: 2036–2104), which is `NtpTimestamp::to_date` with
//! `NtpDate::ERA1_START` as the pivot, and the fraction is truncated to whole
//! nanoseconds. An instant that truncates to exactly 1970-01-01 00:00:00 or
//! exactly 2036-02-07 06:28:16 prints as `NULL` instead of a date (so the
//! all-zero "unknown" timestamp prints `NULL`, but so does a seconds field of
//! zero with a fraction below 5 units).
//!
//! The trailer is split as `ntp-wire` splits it: extension fields while more
//! than 24 bytes remain, then a key id and the rest as the MAC; a crypto-NAK
//! shows as key id `00000000` with no MAC. Several extension fields print
//! comma-separated in each `ntp.ext.*` column.
//!
//! # Mode 6 control messages
//!
//! `tshark_dissects_control_messages_as_meant` does the same for messages
//! built with `ntp_wire::control` (READSTAT and READVAR requests and
//! responses, a fragmented response, error responses, requests and
//! responses signed with MD5 and SHA1 keys) and NTPsec's captured ones.
//! tshark 4.0 prints `ntp.ctrl.flags2.*`, `.sequence`, `.associd`,
//! `.offset`, `.count` and `.err_status` (the error code) in decimal and
//! `ntp.ctrl.status` as `0x` and four hex digits; it dissects the MAC
//! (`ntp.key_index` as `0x` and eight hex digits, `ntp.key_signature` as
//! hex) of requests only, after the data padded to 8 bytes. In a READSTAT
//! response it also prints each (association id, peer status word) pair of
//! the data after the header's own, comma-separated.
// A test states its expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ntp_tests::pcap::PcapWriter;
use ntp_wire::{
    Authenticator, ExtensionFieldWriter, LeapIndicator, Mode, NtpDate, NtpShort, NtpTimestamp, Packet, ReferenceId,
    Repr, Stratum, Version,
};

/// How many random headers go into the file (besides the edge cases).
const RANDOM_PACKETS: usize = 256;
/// Seed of the generator: fixed, so every run checks the same packets.
const SEED: u64 = 0x6e74_702d_7769_7265;

/// The fields asked of tshark, in column order.
const FIELDS: [&str; 18] = [
    "ntp.flags.li",
    "ntp.flags.vn",
    "ntp.flags.mode",
    "ntp.stratum",
    "ntp.ppoll",
    "ntp.precision",
    "ntp.rootdelay",
    "ntp.rootdispersion",
    "ntp.refid",
    "ntp.reftime",
    "ntp.org",
    "ntp.rec",
    "ntp.xmt",
    "ntp.keyid",
    "ntp.mac",
    "ntp.ext.type",
    "ntp.ext.length",
    "ntp.ext.value",
];

/// What goes after the header.
#[derive(Clone, Debug, Default)]
struct TrailerSpec {
    /// Extension fields: type and value (before padding).
    extensions: Vec<(u16, Vec<u8>)>,
    auth: AuthSpec,
}

#[derive(Clone, Debug, Default)]
enum AuthSpec {
    #[default]
    None,
    CryptoNak,
    /// Key id and digest (16 or 20 bytes).
    Mac(u32, Vec<u8>),
}

/// A packet to check: where it comes from, what it was built from (when we
/// built it), and its bytes.
struct Case {
    name: String,
    built_from: Option<(Repr, TrailerSpec)>,
    bytes: Vec<u8>,
}

impl Case {
    fn built(name: impl Into<String>, repr: Repr, trailer: TrailerSpec) -> Case {
        let bytes = emit(&repr, &trailer);
        Case { name: name.into(), built_from: Some((repr, trailer)), bytes }
    }
}

/// Encodes a packet with `ntp-wire`: the header with `Repr::emit_into`, the
/// extension fields with `ExtensionFieldWriter`, then the key id and digest
/// or the crypto-NAK.
fn emit(repr: &Repr, trailer: &TrailerSpec) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    assert_eq!(repr.emit_into(&mut buf), Ok(48));
    let mut writer = ExtensionFieldWriter::new(&mut buf);
    for (field_type, value) in &trailer.extensions {
        writer.push(*field_type, value).expect("extension field fits the buffer");
    }
    // Only a MAC may follow a short last field: a 16-byte field followed by
    // a 4-byte crypto-NAK would read as one 20-byte MAC.
    let mac_follows = matches!(trailer.auth, AuthSpec::Mac(..));
    let mut len = writer.finish(mac_follows).expect("extension fields fit the buffer");
    match &trailer.auth {
        AuthSpec::None => {}
        AuthSpec::CryptoNak => len = ntp_wire::trailer::emit_crypto_nak(&mut buf, len).expect("room for a NAK"),
        AuthSpec::Mac(key_id, digest) => {
            buf[len..len + 4].copy_from_slice(&key_id.to_be_bytes());
            buf[len + 4..len + 4 + digest.len()].copy_from_slice(digest);
            len += 4 + digest.len();
        }
    }
    buf.truncate(len);
    buf
}

/// xorshift64*: tiny, seedable, and good enough to spread test values.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }

    /// A timestamp, weighted toward the values with special meaning or
    /// printing: zero, whole seconds, a zero seconds field, and the era
    /// boundary (top bit of the seconds).
    fn timestamp(&mut self) -> NtpTimestamp {
        let bits = self.next_u64();
        NtpTimestamp::from_bits(match self.below(8) {
            0 => 0,
            1 => bits & 0xffff_ffff_0000_0000,
            2 => bits & 0x0000_0000_ffff_ffff,
            3 => (bits & 0x0000_000f_ffff_ffff) ^ 0x8000_0000_0000_0000,
            _ => bits,
        })
    }
}

/// NTS extension field types (RFC 8915). Wireshark dissects their contents
/// (nonce and ciphertext lengths, cookies) instead of printing a plain value,
/// so random fields stay clear of them.
const NTS_TYPES: [u16; 4] = [0x0104, 0x0204, 0x0304, 0x0404];

fn random_repr(rng: &mut Rng) -> Repr {
    Repr {
        leap: LeapIndicator::from_bits(rng.below(4) as u8),
        version: Version::from_bits(rng.below(8) as u8),
        // Modes 6 and 7 are control and private messages with a different
        // layout, which tshark dissects as such: not NTP headers.
        mode: Mode::from_bits(rng.below(6) as u8),
        stratum: Stratum(rng.next_u64() as u8),
        poll: rng.next_u64() as i8,
        precision: rng.next_u64() as i8,
        root_delay: NtpShort::from_bits(rng.next_u64() as u32),
        root_dispersion: NtpShort::from_bits(rng.next_u64() as u32),
        reference_id: ReferenceId::from_u32(rng.next_u64() as u32),
        reference_time: rng.timestamp(),
        origin_time: rng.timestamp(),
        receive_time: rng.timestamp(),
        transmit_time: rng.timestamp(),
    }
}

fn random_mac(rng: &mut Rng) -> AuthSpec {
    let digest_len = if rng.below(2) == 0 { 16 } else { 20 };
    AuthSpec::Mac(rng.next_u64() as u32 | 1, rng.bytes(digest_len))
}

fn random_trailer(rng: &mut Rng) -> TrailerSpec {
    let mut trailer = TrailerSpec::default();
    match rng.below(6) {
        0 | 1 => {}
        2 | 3 => trailer.auth = random_mac(rng),
        4 => trailer.auth = AuthSpec::CryptoNak,
        _ => {
            for _ in 0..=rng.below(3) {
                let field_type = loop {
                    let t = rng.next_u64() as u16;
                    if !NTS_TYPES.contains(&t) {
                        break t;
                    }
                };
                let len = rng.below(41) as usize;
                trailer.extensions.push((field_type, rng.bytes(len)));
            }
            trailer.auth = match rng.below(3) {
                0 => AuthSpec::None,
                1 => AuthSpec::CryptoNak,
                _ => random_mac(rng),
            };
        }
    }
    trailer
}

/// The timestamp of a Unix time (seconds), in whatever era that falls.
fn unix(seconds: i64) -> NtpTimestamp {
    NtpDate::from_unix(seconds, 0).expect("in range").timestamp()
}

/// Hand-picked packets: each one pins down a case a random header may miss.
fn edge_cases() -> Vec<Case> {
    let base = Repr {
        leap: LeapIndicator::NoWarning,
        version: Version::V4,
        mode: Mode::Server,
        stratum: Stratum(2),
        poll: 6,
        precision: -20,
        root_delay: NtpShort::from_bits(0x0000_1234),
        root_dispersion: NtpShort::from_bits(0x0001_8000),
        reference_id: ReferenceId::from_ipv4(Ipv4Addr::new(192, 0, 2, 1)),
        reference_time: NtpTimestamp::from_parts(0xeeac_35a8, 0x492e_79bb),
        origin_time: NtpTimestamp::from_parts(0x1b0d_a704, 0x5025_76d0),
        receive_time: NtpTimestamp::from_parts(0xeeac_35aa, 0x1ce5_5a39),
        transmit_time: NtpTimestamp::from_parts(0xeeac_35aa, 0x1ceb_8382),
    };
    let none = TrailerSpec::default;
    let mut cases = vec![
        Case::built("plain server reply", base, none()),
        Case::built(
            "KoD RATE at stratum 0",
            Repr {
                leap: LeapIndicator::Unsynchronized,
                stratum: Stratum::UNSPECIFIED,
                reference_id: ReferenceId(*b"RATE"),
                precision: 0,
                reference_time: NtpTimestamp::ZERO,
                ..base
            },
            none(),
        ),
        Case::built(
            "KoD DENY at stratum 0",
            Repr { stratum: Stratum::UNSPECIFIED, reference_id: ReferenceId(*b"DENY"), ..base },
            none(),
        ),
        Case::built(
            "stratum 16, unsynchronized",
            Repr {
                leap: LeapIndicator::Unsynchronized,
                stratum: Stratum::UNSYNCHRONIZED,
                reference_id: ReferenceId(*b"INIT"),
                ..base
            },
            none(),
        ),
        Case::built(
            "stratum 1 with a source name",
            Repr { stratum: Stratum::PRIMARY, reference_id: ReferenceId(*b"GPS\0"), ..base },
            none(),
        ),
        Case::built("reserved stratum 255", Repr { stratum: Stratum(255), ..base }, none()),
        Case::built("most negative precision and poll", Repr { precision: -128, poll: -128, ..base }, none()),
        Case::built("precision -1, poll 17", Repr { precision: -1, poll: 17, ..base }, none()),
        Case::built("positive precision, poll 127", Repr { precision: 32, poll: 127, ..base }, none()),
        Case::built(
            "largest root delay and dispersion",
            Repr { root_delay: NtpShort::MAX, root_dispersion: NtpShort::MAX, ..base },
            none(),
        ),
        Case::built("all timestamps zero", Repr { mode: Mode::Client, ..Repr::default() }, none()),
        Case::built(
            "era 1: 2036-02-07 onward",
            Repr {
                reference_time: NtpTimestamp::from_parts(0, 0x8000_0000), // 06:28:16.5, the first second of era 1
                origin_time: NtpTimestamp::from_parts(1, 0),
                receive_time: unix(2_208_988_800),  // 2040-01-01
                transmit_time: unix(4_102_444_800), // 2100-01-01
                ..base
            },
            none(),
        ),
        Case::built(
            "era boundaries",
            Repr {
                reference_time: NtpTimestamp::from_bits(0x7fff_ffff_ffff_ffff), // last instant shown in era 1 (2104)
                origin_time: NtpTimestamp::from_bits(0x8000_0000_0000_0000),    // first shown in era 0 (1968)
                receive_time: NtpTimestamp::from_bits(u64::MAX),                // 2036-02-07 06:28:15.999999999
                transmit_time: NtpTimestamp::from_parts(0, 5),                  // 2036-02-07 06:28:16.000000001
                ..base
            },
            none(),
        ),
        Case::built(
            "instants tshark prints as NULL",
            Repr {
                reference_time: unix(0), // the Unix epoch
                origin_time: NtpTimestamp::from_parts(0, 4),
                receive_time: NtpTimestamp::from_parts(0x83aa_7e80, 5), // 1 ns after the Unix epoch: a date again
                transmit_time: NtpTimestamp::from_parts(0x83aa_7e7f, u32::MAX),
                ..base
            },
            none(),
        ),
        Case::built(
            "every header bit set",
            Repr {
                leap: LeapIndicator::Unsynchronized,
                version: Version::Unknown(7),
                mode: Mode::Broadcast,
                stratum: Stratum(255),
                poll: -1,
                precision: -1,
                root_delay: NtpShort::MAX,
                root_dispersion: NtpShort::MAX,
                reference_id: ReferenceId([0xff; 4]),
                reference_time: NtpTimestamp::from_bits(u64::MAX),
                origin_time: NtpTimestamp::from_bits(u64::MAX),
                receive_time: NtpTimestamp::from_bits(u64::MAX),
                transmit_time: NtpTimestamp::from_bits(u64::MAX),
            },
            none(),
        ),
        Case::built(
            "MD5-sized MAC (20 bytes)",
            Repr { mode: Mode::Client, ..base },
            TrailerSpec { auth: AuthSpec::Mac(1, (0..16).collect()), ..none() },
        ),
        Case::built(
            "SHA1-sized MAC (24 bytes)",
            Repr { mode: Mode::Client, ..base },
            TrailerSpec { auth: AuthSpec::Mac(0xffff_fffe, (100..120).collect()), ..none() },
        ),
        Case::built("crypto-NAK", base, TrailerSpec { auth: AuthSpec::CryptoNak, ..none() }),
        Case::built(
            "one extension field, no MAC (padded to 28)",
            base,
            TrailerSpec { extensions: vec![(0xf323, vec![0xf5, 0xbe, 0xdd, 0x9a])], ..none() },
        ),
        Case::built(
            "three extension fields and a 20-byte MAC",
            base,
            TrailerSpec {
                extensions: vec![(0x0002, vec![1; 5]), (0x7777, vec![2; 12]), (0xffff, vec![3; 40])],
                auth: AuthSpec::Mac(5, vec![0xcd; 16]),
            },
        ),
        Case::built(
            "a 16-byte extension field and a 24-byte MAC",
            base,
            TrailerSpec { extensions: vec![(0x0000, vec![])], auth: AuthSpec::Mac(6, vec![0xef; 20]) },
        ),
        Case::built(
            "extension field and crypto-NAK",
            base,
            TrailerSpec { extensions: vec![(0x1234, vec![9; 30])], auth: AuthSpec::CryptoNak },
        ),
    ];
    // Symmetric, broadcast and reserved modes, each version number.
    for mode in 0..6 {
        cases.push(Case::built(format!("mode {mode}"), Repr { mode: Mode::from_bits(mode), ..base }, none()));
    }
    for version in 0..8 {
        cases.push(Case::built(
            format!("version {version}"),
            Repr { version: Version::from_bits(version), ..base },
            none(),
        ));
    }
    cases
}

/// The captured packets of real daemons (all but the mode 6 ones).
fn captured_cases() -> Vec<Case> {
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ntp-wire/testdata");
    let mut cases = Vec::new();
    for dir in ["chrony", "ntpsec"] {
        let mut paths: Vec<_> = std::fs::read_dir(testdata.join(dir))
            .expect("ntp-wire/testdata is in the checkout")
            .map(|entry| entry.expect("readable directory entry").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "bin"))
            .collect();
        paths.sort();
        for path in paths {
            let bytes = std::fs::read(&path).expect("readable capture");
            if bytes.first().is_some_and(|first| first & 7 >= 6) {
                continue;
            }
            cases.push(Case {
                name: format!("{dir}/{}", path.file_name().unwrap().to_string_lossy()),
                built_from: None,
                bytes,
            });
        }
    }
    assert!(cases.len() >= 15, "the captured packets are missing from ntp-wire/testdata");
    cases
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// A timestamp as tshark prints it (see the module doc), computed with
/// `ntp-wire`'s own era and calendar conversions.
fn tshark_time(ts: NtpTimestamp) -> String {
    let date = ts.to_date(NtpDate::ERA1_START).expect("every timestamp has a date near the pivot");
    let utc = date.to_utc().expect("dates near the pivot have a calendar year");
    let null = (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.nanosecond);
    if null == (1970, 1, 1, 0, 0, 0, 0) || null == (2036, 2, 7, 6, 28, 16, 0) {
        return "NULL".to_owned();
    }
    format!(
        "{} {:>2}, {} {:02}:{:02}:{:02}.{:09} UTC",
        MONTHS[usize::from(utc.month) - 1],
        utc.day,
        utc.year,
        utc.hour,
        utc.minute,
        utc.second,
        utc.nanosecond
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Every field of `FIELDS` as tshark should print it, from `ntp-wire`'s
/// decode of `bytes`.
fn decoded_fields(bytes: &[u8]) -> Vec<String> {
    let packet = Packet::new_checked(bytes).expect("our packets are well-formed");
    let repr = Repr::parse(&packet).expect("a checked packet parses");
    let trailer = packet.trailer().expect("a checked packet has a trailer");
    let (key_id, mac) = match trailer.authenticator() {
        Authenticator::None => (String::new(), String::new()),
        Authenticator::CryptoNak => ("00000000".to_owned(), String::new()),
        Authenticator::Mac(mac) => (hex(&mac.key_id.to_be_bytes()), hex(mac.digest)),
    };
    let fields: Vec<_> =
        trailer.extension_fields().map(|field| field.expect("a checked packet has well-formed fields")).collect();
    let join = |f: &dyn Fn(&ntp_wire::ExtensionField<'_>) -> String| fields.iter().map(f).collect::<Vec<_>>().join(",");
    vec![
        repr.leap.to_bits().to_string(),
        repr.version.to_bits().to_string(),
        repr.mode.to_bits().to_string(),
        repr.stratum.0.to_string(),
        (repr.poll as u8).to_string(),
        (repr.precision as u8).to_string(),
        repr.root_delay.to_bits().to_string(),
        repr.root_dispersion.to_bits().to_string(),
        hex(&repr.reference_id.0),
        tshark_time(repr.reference_time),
        tshark_time(repr.origin_time),
        tshark_time(repr.receive_time),
        tshark_time(repr.transmit_time),
        key_id,
        mac,
        join(&|f| format!("{:#06x}", f.field_type)),
        join(&|f| f.wire_len().to_string()),
        join(&|f| hex(f.value)),
    ]
}

/// Checks that decoding a packet we built gives back what we built it from.
fn assert_round_trip(case: &Case) {
    let Some((repr, spec)) = &case.built_from else { return };
    let packet = Packet::new_checked(&case.bytes[..]).unwrap_or_else(|e| panic!("{}: {e}", case.name));
    assert_eq!(Repr::parse(&packet).as_ref(), Ok(repr), "{}: header round trip", case.name);
    let trailer = packet.trailer().expect("checked");
    let fields: Vec<_> = trailer.extension_fields().map(|f| f.expect("checked")).collect();
    assert_eq!(fields.len(), spec.extensions.len(), "{}: number of extension fields", case.name);
    for (field, (field_type, value)) in fields.iter().zip(&spec.extensions) {
        assert_eq!(field.field_type, *field_type, "{}", case.name);
        let (data, padding) = field.value.split_at(value.len());
        assert_eq!(data, &value[..], "{}: extension value", case.name);
        assert!(padding.iter().all(|&b| b == 0), "{}: extension padding is zero", case.name);
    }
    match (&spec.auth, trailer.authenticator()) {
        (AuthSpec::None, Authenticator::None) | (AuthSpec::CryptoNak, Authenticator::CryptoNak) => {}
        (AuthSpec::Mac(key_id, digest), Authenticator::Mac(mac)) => {
            assert_eq!((mac.key_id, mac.digest), (*key_id, &digest[..]), "{}: MAC", case.name);
        }
        (want, got) => panic!("{}: built with {want:?}, decoded as {got:?}", case.name),
    }
}

/// Runs tshark over the pcap and returns one row of `FIELDS` per frame.
fn tshark_rows(tshark: &Path, pcap: &Path, home: &Path) -> Vec<Vec<String>> {
    let mut command = Command::new(tshark);
    // A fresh HOME keeps any personal Wireshark preferences (other ports,
    // time formats) out of the test.
    command.env("HOME", home).arg("-n").arg("-r").arg(pcap).args(["-T", "fields", "-E", "separator=/t"]);
    command.args(["-E", "occurrence=a", "-E", "aggregator=,", "-E", "quote=n", "-e", "frame.number"]);
    for field in FIELDS {
        command.args(["-e", field]);
    }
    let output = command.output().expect("tshark runs");
    assert!(output.status.success(), "tshark failed: {}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).expect("tshark prints UTF-8");
    stdout.lines().map(|line| line.split('\t').map(str::to_owned).collect()).collect()
}

#[test]
fn tshark_prints_every_field_as_ntp_wire_decodes_it() {
    let Some(tshark) = ntp_tests::tools::require("tshark", "tshark") else { return };

    let mut cases = edge_cases();
    let mut rng = Rng(SEED);
    for i in 0..RANDOM_PACKETS {
        let repr = random_repr(&mut rng);
        let trailer = random_trailer(&mut rng);
        cases.push(Case::built(format!("random #{i}"), repr, trailer));
    }
    cases.extend(captured_cases());
    for case in &cases {
        assert_round_trip(case);
    }

    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("ntp-wire.pcap");
    let file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create the pcap"));
    let mut pcap = PcapWriter::new(file).expect("write the pcap header");
    let client = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), 40_123);
    let server = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 123);
    for (i, case) in cases.iter().enumerate() {
        // Requests go to the server, everything else comes from it; either
        // way one end is port 123.
        let (src, dst) = if case.bytes[0] & 7 == 3 { (client, server) } else { (server, client) };
        let time = Duration::from_secs(1_795_273_920) + Duration::from_millis(i as u64);
        pcap.write_udp(time, src, dst, &case.bytes).expect("write a packet");
    }
    pcap.into_inner().expect("flush the pcap");

    let rows = tshark_rows(&tshark, &path, dir.path());
    assert_eq!(rows.len(), cases.len(), "tshark shows one row per packet");
    let mut mismatches = Vec::new();
    for (i, (case, row)) in cases.iter().zip(&rows).enumerate() {
        assert_eq!(row.first().map(String::as_str), Some((i + 1).to_string().as_str()), "frame numbers line up");
        let ours = decoded_fields(&case.bytes);
        for ((name, theirs), ours) in FIELDS.iter().zip(row.iter().skip(1)).zip(&ours) {
            if theirs != ours {
                mismatches.push(format!(
                    "frame {} ({}): {name}: tshark {theirs:?}, ntp-wire {ours:?}",
                    i + 1,
                    case.name
                ));
            }
        }
        assert_eq!(row.len(), FIELDS.len() + 1, "frame {} ({}): column count", i + 1, case.name);
    }
    // Equal empty columns prove nothing: every field must have been printed
    // (and so compared) for a good number of packets.
    for (column, name) in FIELDS.iter().enumerate() {
        let printed = rows.iter().filter(|row| row.get(column + 1).is_some_and(|v| !v.is_empty())).count();
        assert!(printed >= 10, "tshark printed {name} for only {printed} packets");
    }
    assert!(
        mismatches.is_empty(),
        "{} fields differ between tshark and ntp-wire, first ones:\n{}",
        mismatches.len(),
        mismatches.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// The formatting above, checked against strings tshark 4.0.17 printed for
/// these raw values, so it stays honest even where tshark is not installed.
#[test]
fn timestamp_formatting_matches_recorded_tshark_output() {
    let recorded = [
        (0x0000_0000_0000_0000, "NULL"),
        (0x0000_0000_0000_0001, "NULL"),
        (0x0000_0000_0000_0004, "NULL"),
        (0x0000_0000_0000_0005, "Feb  7, 2036 06:28:16.000000001 UTC"),
        (0x0000_0000_8000_0000, "Feb  7, 2036 06:28:16.500000000 UTC"),
        (0x0000_0000_ffff_ffff, "Feb  7, 2036 06:28:16.999999999 UTC"),
        (0x0000_0001_0000_0000, "Feb  7, 2036 06:28:17.000000000 UTC"),
        (0x7fff_ffff_ffff_ffff, "Feb 26, 2104 09:42:23.999999999 UTC"),
        (0x8000_0000_0000_0000, "Jan 20, 1968 03:14:08.000000000 UTC"),
        (0x83aa_7e7f_ffff_ffff, "Dec 31, 1969 23:59:59.999999999 UTC"),
        (0x83aa_7e80_0000_0000, "NULL"),
        (0x83aa_7e80_0000_0001, "NULL"),
        (0x83aa_7e80_0000_0005, "Jan  1, 1970 00:00:00.000000001 UTC"),
        (0x83aa_7e81_0000_0000, "Jan  1, 1970 00:00:01.000000000 UTC"),
        (0xffff_ffff_0000_0000, "Feb  7, 2036 06:28:15.000000000 UTC"),
        (0xffff_ffff_ffff_ffff, "Feb  7, 2036 06:28:15.999999999 UTC"),
        // From the chrony capture: a server's transmit time and a client's
        // random transmit cookie that lands in era 1.
        (0xeeac_35aa_24bf_e1aa, "Nov 21, 2026 15:22:18.143552879 UTC"),
        (0x2ded_349a_8518_49a1, "Jul  8, 2060 07:51:54.519901849 UTC"),
    ];
    for (bits, text) in recorded {
        assert_eq!(tshark_time(NtpTimestamp::from_bits(bits)), text, "{bits:#018x}");
    }
}

/// The control fields asked of tshark, in column order.
const CONTROL_FIELDS: [&str; 14] = [
    "ntp.flags.li",
    "ntp.flags.vn",
    "ntp.flags.mode",
    "ntp.ctrl.flags2.r",
    "ntp.ctrl.flags2.error",
    "ntp.ctrl.flags2.more",
    "ntp.ctrl.flags2.opcode",
    "ntp.ctrl.sequence",
    "ntp.ctrl.status",
    "ntp.ctrl.associd",
    "ntp.ctrl.offset",
    "ntp.ctrl.count",
    "ntp.key_index",
    "ntp.key_signature",
];

/// A control message: its bytes and, when we built it, the `ControlRepr`
/// we meant (with the key id that signed it).
struct ControlCase {
    name: String,
    bytes: Vec<u8>,
    meant: Option<(ntp_wire::control::ControlRepr<'static>, Option<u32>)>,
}

fn control_cases() -> Vec<ControlCase> {
    use ntp_wire::auth::{Key, KeyType};
    use ntp_wire::control::{ControlRepr, ErrorCode, Opcode, PeerSelection, PeerStatus, SystemStatus, fragments};

    let md5 = Key::from_ascii(1, KeyType::Md5, "interop-md5-key").unwrap();
    let sha1 = Key::from_hex(2, KeyType::Sha1, "6e74702d776972652073686131206b6579212121").unwrap();
    let mut cases = Vec::new();
    let mut push = |name: &str, repr: ControlRepr<'static>, key: Option<&Key>| {
        let mut buf = vec![0u8; 600];
        let len = match key {
            Some(key) => repr.emit_signed(&mut buf, key).unwrap(),
            None => repr.emit(&mut buf).unwrap(),
        };
        buf.truncate(len);
        cases.push(ControlCase { name: name.to_owned(), bytes: buf, meant: Some((repr, key.map(Key::id))) });
    };
    let request = ControlRepr { version: Version::V2, sequence: 1, ..ControlRepr::default() };
    let response = ControlRepr {
        leap: LeapIndicator::NoWarning,
        response: true,
        status: SystemStatus { leap: LeapIndicator::NoWarning, clock_source: 6, event_count: 3, last_event: 5 }
            .to_bits(),
        ..request
    };
    push("READSTAT request", ControlRepr { opcode: Opcode::ReadStatus, ..request }, None);
    // The association list: id and peer status word, big-endian, per association.
    let peer = PeerStatus {
        configured: true,
        reachable: true,
        selection: PeerSelection::SystemPeer,
        event_count: 1,
        last_event: 0xa,
        ..PeerStatus::default()
    };
    let list: &'static [u8] = Box::leak(
        [(1u16, peer.to_bits()), (2, 0x9424), (3, 0x8011)]
            .iter()
            .flat_map(|(id, status)| id.to_be_bytes().into_iter().chain(status.to_be_bytes()))
            .collect::<Vec<u8>>()
            .into_boxed_slice(),
    );
    push("READSTAT response", ControlRepr { opcode: Opcode::ReadStatus, data: list, ..response }, None);
    let names: &'static [u8] = b"stratum,offset,rootdisp";
    let readvar = ControlRepr { opcode: Opcode::ReadVariables, sequence: 2, data: names, ..request };
    push("READVAR request", readvar, None);
    push("READVAR request, MD5", ControlRepr { sequence: 3, ..readvar }, Some(&md5));
    push("READVAR request, SHA1", ControlRepr { sequence: 4, version: Version::V4, ..readvar }, Some(&sha1));
    push("READVAR peer request", ControlRepr { association_id: 40_123, data: b"", ..readvar }, None);
    let values: &'static [u8] = b"stratum=2, offset=-0.125000, rootdisp=1.250\r\n";
    let reply = ControlRepr { opcode: Opcode::ReadVariables, sequence: 2, data: values, ..response };
    push("READVAR response", reply, None);
    push("READVAR response, MD5", ControlRepr { sequence: 3, ..reply }, Some(&md5));
    push("READVAR response, SHA1", ControlRepr { sequence: 4, ..reply }, Some(&sha1));
    let long: &'static [u8] =
        Box::leak((0..1200).map(|i| b"abcdefghijklmnopqrstuvwxyz, "[i % 28]).collect::<Vec<u8>>().into_boxed_slice());
    for (i, fragment) in fragments(long).unwrap().enumerate() {
        let template = ControlRepr { sequence: 5, association_id: 7, ..reply };
        push(&format!("fragment {i}"), fragment.apply(template), None);
    }
    for (i, code) in
        [ErrorCode::Permission, ErrorCode::BadAssociation, ErrorCode::UnknownVariable].into_iter().enumerate()
    {
        let error = ControlRepr::error_response(&readvar, code, LeapIndicator::Unsynchronized);
        push(&format!("error {code}"), error, if i == 2 { Some(&sha1) } else { None });
    }
    push("UNSETTRAP request", ControlRepr { opcode: Opcode::UnsetTrap, sequence: 65_535, ..request }, None);

    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ntp-wire/testdata/ntpsec");
    let mut paths: Vec<_> = std::fs::read_dir(&testdata)
        .expect("ntp-wire/testdata is in the checkout")
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "bin"))
        .collect();
    paths.sort();
    for path in paths {
        let bytes = std::fs::read(&path).expect("readable capture");
        if bytes.first().is_some_and(|first| first & 7 == 6) {
            let name = format!("ntpsec/{}", path.file_name().unwrap().to_string_lossy());
            cases.push(ControlCase { name, bytes, meant: None });
        }
    }
    cases
}

/// What tshark should print for each of `CONTROL_FIELDS`, from our decode.
fn decoded_control_fields(bytes: &[u8]) -> Vec<String> {
    use ntp_wire::control::ControlPacket;
    let packet = ControlPacket::new_checked(bytes).expect("a well-formed control message");
    let flag = |b: bool| u8::from(b).to_string();
    let (key_index, signature) = match packet.mac() {
        // tshark 4.0 dissects the authenticator of requests only.
        Some(mac) if !packet.is_response() => (format!("0x{:08x}", mac.key_id), hex(mac.digest)),
        _ => (String::new(), String::new()),
    };
    // A READSTAT response lists (association id, peer status word) pairs;
    // tshark prints them after the header's own id and status.
    let mut statuses = format!("0x{:04x}", packet.status());
    let mut ids = packet.association_id().to_string();
    if packet.is_response() && !packet.is_error() && packet.opcode() == ntp_wire::control::Opcode::ReadStatus {
        for pair in packet.data().chunks_exact(4) {
            write!(ids, ",{}", u16::from_be_bytes([pair[0], pair[1]])).unwrap();
            write!(statuses, ",0x{:04x}", u16::from_be_bytes([pair[2], pair[3]])).unwrap();
        }
    }
    vec![
        packet.leap().to_bits().to_string(),
        packet.version().to_bits().to_string(),
        packet.mode().to_bits().to_string(),
        flag(packet.is_response()),
        flag(packet.is_error()),
        flag(packet.more()),
        packet.opcode().to_bits().to_string(),
        packet.sequence().to_string(),
        statuses,
        ids,
        packet.offset().to_string(),
        packet.count().to_string(),
        key_index,
        signature,
    ]
}

#[test]
fn tshark_dissects_control_messages_as_meant() {
    use ntp_wire::auth::{Key, KeyEntry, KeyType};
    use ntp_wire::control::{ControlPacket, ControlRepr};
    let Some(tshark) = ntp_tests::tools::require("tshark", "tshark") else { return };

    let keys = [
        KeyEntry::trusted(Key::from_ascii(1, KeyType::Md5, "interop-md5-key").unwrap()),
        KeyEntry::trusted(Key::from_hex(2, KeyType::Sha1, "6e74702d776972652073686131206b6579212121").unwrap()),
    ];
    let cases = control_cases();
    for case in &cases {
        let packet = ControlPacket::new_checked(&case.bytes[..]).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        if let Some((repr, key_id)) = &case.meant {
            assert_eq!(&ControlRepr::parse(&packet), repr, "{}: round trip", case.name);
            assert_eq!(packet.verify(&keys[..]).ok().map(Key::id), *key_id, "{}: MAC", case.name);
        } else if packet.mac().is_some() {
            assert!(packet.verify(&keys[..]).is_ok(), "{}: captured MAC verifies", case.name);
        }
    }

    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("control.pcap");
    let file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create the pcap"));
    let mut pcap = PcapWriter::new(file).expect("write the pcap header");
    let client = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), 40_123);
    let server = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 123);
    for (i, case) in cases.iter().enumerate() {
        let response = case.bytes[1] & 0x80 != 0;
        let (src, dst) = if response { (server, client) } else { (client, server) };
        let time = Duration::from_secs(1_795_273_920) + Duration::from_millis(i as u64);
        pcap.write_udp(time, src, dst, &case.bytes).expect("write a packet");
    }
    pcap.into_inner().expect("flush the pcap");

    let mut command = Command::new(&tshark);
    command.env("HOME", dir.path()).arg("-n").arg("-r").arg(&path).args(["-T", "fields", "-E", "separator=/t"]);
    command.args(["-E", "occurrence=a", "-E", "aggregator=,", "-E", "quote=n", "-e", "frame.number"]);
    for field in CONTROL_FIELDS.iter().chain(&["ntp.ctrl.err_status"]) {
        command.args(["-e", field]);
    }
    let output = command.output().expect("tshark runs");
    assert!(output.status.success(), "tshark failed: {}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).expect("tshark prints UTF-8");
    let rows: Vec<Vec<&str>> = stdout.lines().map(|line| line.split('\t').collect()).collect();
    assert_eq!(rows.len(), cases.len(), "tshark shows one row per message");

    let mut mismatches = Vec::new();
    for (i, (case, row)) in cases.iter().zip(&rows).enumerate() {
        assert_eq!(row.len(), CONTROL_FIELDS.len() + 2, "frame {} ({}): column count", i + 1, case.name);
        let ours = decoded_control_fields(&case.bytes);
        for ((name, theirs), ours) in CONTROL_FIELDS.iter().zip(row.iter().skip(1)).zip(&ours) {
            if theirs != ours {
                mismatches.push(format!(
                    "frame {} ({}): {name}: tshark {theirs:?}, ntp-wire {ours:?}",
                    i + 1,
                    case.name
                ));
            }
        }
        let packet = ControlPacket::new_checked(&case.bytes[..]).unwrap();
        let error_code = packet.error_code().map(|code| code.to_bits().to_string()).unwrap_or_default();
        if row[CONTROL_FIELDS.len() + 1] != error_code {
            mismatches.push(format!(
                "frame {} ({}): ntp.ctrl.err_status: tshark {:?}, ntp-wire {error_code:?}",
                i + 1,
                case.name,
                row[CONTROL_FIELDS.len() + 1]
            ));
        }
    }
    // Every column must have been compared on real values somewhere.
    for (column, name) in CONTROL_FIELDS.iter().enumerate() {
        let printed = rows.iter().filter(|row| row.get(column + 1).is_some_and(|v| !v.is_empty())).count();
        assert!(printed >= 3, "tshark printed {name} for only {printed} messages");
    }
    assert!(
        mismatches.is_empty(),
        "{} fields differ between tshark and ntp-wire:\n{}",
        mismatches.len(),
        mismatches.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}
