//! Decodes NTP packets and explains every field.
//!
//! ```text
//! cargo run --release -p ntp-wire --example explain            # the committed captures
//! cargo run --release -p ntp-wire --example explain -- HEX...  # packets given as hex
//! cargo run --release -p ntp-wire --example explain -- FILE... # raw UDP payloads
//! ```
//!
//! With no arguments it walks `ntp-wire/testdata/`, the packets captured from
//! chronyd and NTPsec on loopback (see `testdata/README.md`).
#![allow(clippy::indexing_slicing)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ntp_wire::{Authenticator, Mode, NtpDate, NtpTimestamp, Packet, ReferenceIdMeaning, Repr, StratumClass, Trailer};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let inputs = if args.is_empty() { committed_captures() } else { args.iter().map(|a| parse_arg(a)).collect() };
    if inputs.is_empty() {
        eprintln!("no packets to explain: give hex strings or files");
        return ExitCode::FAILURE;
    }
    let mut failures = 0;
    for input in inputs {
        match input {
            Ok((label, bytes)) => match explain(&bytes) {
                Ok(text) => println!("== {label} ({} bytes)\n{text}", bytes.len()),
                Err(e) => {
                    failures += 1;
                    println!("== {label} ({} bytes)\n  not a valid NTP packet: {e}\n", bytes.len());
                }
            },
            Err(message) => {
                failures += 1;
                eprintln!("{message}");
            }
        }
    }
    if failures == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

type Input = Result<(String, Vec<u8>), String>;

fn committed_captures() -> Vec<Input> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut files = Vec::new();
    collect_bin_files(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let label = path.strip_prefix(&root).unwrap_or(&path).display().to_string();
            std::fs::read(&path).map(|bytes| (label, bytes)).map_err(|e| format!("{}: {e}", path.display()))
        })
        .collect()
}

fn collect_bin_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_bin_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "bin") {
            out.push(path);
        }
    }
}

fn parse_arg(arg: &str) -> Input {
    let path = Path::new(arg);
    if path.is_file() {
        return std::fs::read(path).map(|b| (arg.to_string(), b)).map_err(|e| format!("{arg}: {e}"));
    }
    let digits: String = arg.chars().filter(|c| !c.is_whitespace() && *c != ':').collect();
    if digits.len() % 2 != 0 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("{arg:?} is neither a file nor an even number of hex digits"));
    }
    let bytes = (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|e| e.to_string()))
        .collect::<Result<Vec<u8>, String>>()?;
    Ok(("hex argument".to_string(), bytes))
}

fn explain(bytes: &[u8]) -> Result<String, ntp_wire::Error> {
    let packet = Packet::new_checked(bytes)?;
    let repr = Repr::parse(&packet)?;
    let trailer = packet.trailer()?;
    let mut s = String::new();
    let line = |s: &mut String, name: &str, value: String| {
        let _ = writeln!(s, "  {name:<16} {value}");
    };
    line(&mut s, "leap indicator", format!("{}  {}", repr.leap.to_bits(), repr.leap));
    line(&mut s, "version", format!("{}", repr.version.to_bits()));
    line(&mut s, "mode", format!("{}  {}", repr.mode.to_bits(), repr.mode));
    line(&mut s, "stratum", repr.stratum.to_string());
    line(&mut s, "poll", format!("{}  (2^{} = {} s)", repr.poll, repr.poll, pow2(repr.poll)));
    line(
        &mut s,
        "precision",
        format!("{}  (2^{} s = {})", repr.precision, repr.precision, seconds(pow2(repr.precision))),
    );
    line(
        &mut s,
        "root delay",
        format!("{}  (raw {:#010x})", seconds(repr.root_delay.to_seconds_f64()), repr.root_delay.to_bits()),
    );
    line(
        &mut s,
        "root dispersion",
        format!("{}  (raw {:#010x})", seconds(repr.root_dispersion.to_seconds_f64()), repr.root_dispersion.to_bits()),
    );
    line(&mut s, "reference id", refid(&repr));
    line(&mut s, "reference time", timestamp(repr.reference_time));
    line(&mut s, "origin (T1)", timestamp(repr.origin_time));
    line(&mut s, "receive (T2)", timestamp(repr.receive_time));
    line(&mut s, "transmit (T3)", timestamp(repr.transmit_time));
    explain_trailer(&mut s, &trailer);
    if let Some(code) = repr.kiss_code() {
        let meaning = if code.demands_stop() {
            "the server asks us to stop sending to it"
        } else if code.demands_slower_polling() {
            "the server asks us to poll less often"
        } else {
            "informational"
        };
        line(&mut s, "kiss-o'-death", format!("{code}: {meaning}"));
    }
    line(&mut s, "reading", reading(&repr));
    Ok(s)
}

fn explain_trailer(s: &mut String, trailer: &Trailer<'_>) {
    for field in trailer.extension_fields().flatten() {
        let _ = writeln!(s, "  {:<16} type {:#06x}, {} bytes", "extension field", field.field_type, field.wire_len());
    }
    let auth = match trailer.authenticator() {
        Authenticator::None => "none (unauthenticated)".to_string(),
        Authenticator::CryptoNak => "crypto-NAK: the sender could not authenticate our last packet".to_string(),
        Authenticator::Mac(mac) => {
            let kind = if mac.digest.len() == 16 { "MD5 or AES-CMAC" } else { "SHA1 or truncated SHA-2" };
            format!("MAC with key id {}, {}-byte digest ({kind})", mac.key_id, mac.digest.len())
        }
    };
    let _ = writeln!(s, "  {:<16} {auth}", "authentication");
}

fn pow2(log2: i8) -> f64 {
    2f64.powi(i32::from(log2))
}

fn seconds(v: f64) -> String {
    if v == 0.0 {
        "0 s".into()
    } else if v < 1e-3 {
        format!("{:.3} µs", v * 1e6)
    } else if v < 1.0 {
        format!("{:.3} ms", v * 1e3)
    } else {
        format!("{v:.3} s")
    }
}

fn timestamp(ts: NtpTimestamp) -> String {
    if ts.is_zero() {
        return "0  (unknown / not set)".into();
    }
    let raw = format!("{:#010x}.{:08x}", ts.seconds(), ts.fraction());
    match ts.to_date(NtpDate::ERA1_START).and_then(NtpDate::to_utc) {
        Some(utc) => format!("{utc}  ({raw})"),
        None => raw,
    }
}

fn refid(repr: &Repr) -> String {
    let id = repr.reference_id;
    match id.meaning(repr.stratum) {
        ReferenceIdMeaning::Kiss(code) => format!("{code}  (kiss code)"),
        ReferenceIdMeaning::Source(_) => match id.as_ascii() {
            Some(text) => format!("{text}  (reference source of a primary server)"),
            None => format!("{:02x?}  (primary server, non-ASCII source id)", id.0),
        },
        ReferenceIdMeaning::Upstream(_) => {
            format!("{}  (upstream server's IPv4 address, or hash of its IPv6 address)", id.as_ipv4())
        }
        ReferenceIdMeaning::Opaque(_) => match id.as_ascii() {
            Some(text) => format!("{text}  (no meaning at this stratum)"),
            None => format!("{}  (no meaning at this stratum)", id.as_ipv4()),
        },
    }
}

/// One sentence on what the packet is.
fn reading(repr: &Repr) -> String {
    let sync = match repr.stratum.class() {
        StratumClass::Unspecified => "sends no time (stratum 0)",
        StratumClass::Primary => "is a primary server",
        StratumClass::Secondary(_) => "is synchronized over NTP",
        StratumClass::Unsynchronized | StratumClass::Reserved(_) => "is not synchronized",
    };
    match repr.mode {
        Mode::Client => format!("a client request; the sender {sync}. A server copies T3 into its reply's T1."),
        Mode::Server if repr.kiss_code().is_some() => "a kiss-o'-death reply: its timestamps must not be used.".into(),
        Mode::Server => {
            format!("a server reply; the server {sync}. With our receive time T4, offset = ((T2-T1)+(T3-T4))/2.")
        }
        Mode::SymmetricActive | Mode::SymmetricPassive => format!("a symmetric peer packet; the peer {sync}."),
        Mode::Broadcast => format!("a broadcast; the server {sync}. Clients add the calibrated one-way delay."),
        other => format!("a {other} packet."),
    }
}
