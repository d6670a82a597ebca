//! Configuration files in operators' dialects (ntp.conf, chrony.conf,
//! Cisco IOS, Huawei VRP), read by `ntp-config`: an engine built from one,
//! and `check-config`'s text.
//!
//! Nothing here opens a file or resolves a name: the text is the caller's,
//! and a configuration that names key files or host names is refused with
//! `NTP_RESULT_CONFIG_UNRESOLVED` (build the keyring with
//! `ntp_keyring_from_key_file` and the engine with `ntp_engine_new` then).

use std::ffi::c_char;

use ntp_algo::Engine;
use ntp_config::{Dialect, Host, NodeConfig};
use ntp_wire::NtpTimestamp;
use ntp_wire::auth::Keyring;

use crate::engine::ntp_engine;
use crate::ptr::{self, boundary};
use crate::result::ntp_result;
use crate::time::ntp_timestamp;

/// Detect the dialect from the text (`ntp_engine_new_from_config`).
pub const NTP_DIALECT_DETECT: u32 = 0;
/// ntpd / NTPsec `ntp.conf`.
pub const NTP_DIALECT_NTPCONF: u32 = 1;
/// chronyd's `chrony.conf`.
pub const NTP_DIALECT_CHRONY: u32 = 2;
/// Cisco IOS configuration commands.
pub const NTP_DIALECT_IOS: u32 = 3;
/// Huawei VRP configuration commands.
pub const NTP_DIALECT_VRP: u32 = 4;

fn dialect(code: u32) -> Result<Option<Dialect>, ntp_result> {
    Ok(match code {
        NTP_DIALECT_DETECT => None,
        NTP_DIALECT_NTPCONF => Some(Dialect::NtpConf),
        NTP_DIALECT_CHRONY => Some(Dialect::Chrony),
        NTP_DIALECT_IOS => Some(Dialect::Ios),
        NTP_DIALECT_VRP => Some(Dialect::Vrp),
        _ => return Err(ntp_result::InvalidParameter),
    })
}

fn text<'a>(text: *const c_char, len: usize) -> Result<&'a str, ntp_result> {
    std::str::from_utf8(ptr::slice(text.cast::<u8>(), len)?).map_err(|_| ntp_result::InvalidUtf8)
}

fn parse(text: &str, dialect: Option<Dialect>) -> Result<NodeConfig, ntp_result> {
    ntp_config::parse(text, dialect).map_err(|e| match e.kind {
        ntp_config::ErrorKind::UnknownDialect => ntp_result::ConfigUnknownDialect,
        _ => ntp_result::ConfigSyntax,
    })
}

/// Creates an engine from a configuration text (`len` bytes of UTF-8, no
/// NUL needed) in `dialect` (an `NTP_DIALECT_*`; `NTP_DIALECT_DETECT`
/// guesses), started at `now`, with the file's associations, access rules,
/// local reference, orphan mode and the keys written in it (IOS
/// `ntp authentication-key`, VRP `authentication-keyid`) with their trust.
/// Free it with `ntp_engine_free`.
///
/// Returns `NTP_RESULT_CONFIG_SYNTAX` for a refused line (call
/// `ntp_config_check` for the line and the reason),
/// `NTP_RESULT_CONFIG_UNKNOWN_DIALECT` when detection finds none, and
/// `NTP_RESULT_CONFIG_UNRESOLVED` for a file naming key files or hosts.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_engine_new_from_config(
    config_text: *const c_char,
    len: usize,
    dialect_code: u32,
    now: ntp_timestamp,
    out: *mut *mut ntp_engine,
) -> ntp_result {
    boundary(|| {
        let out = ptr::out(out)?;
        let config = parse(text(config_text, len)?, dialect(dialect_code)?)?;
        if !config.key_files.is_empty() || config.sources.iter().any(|s| matches!(s.host, Host::Name(_))) {
            return Err(ntp_result::ConfigUnresolved);
        }
        let engine_config = config.engine_config().map_err(|_| ntp_result::ConfigUnresolved)?;
        let associations = config.associations().map_err(|_| ntp_result::ConfigOther)?;
        let keys: Keyring =
            ntp_config::load_keyring(&config, |_| Err::<String, std::io::Error>(std::io::ErrorKind::NotFound.into()))
                .map_err(|_| ntp_result::ConfigUnresolved)?;
        let now = NtpTimestamp::from_bits(now);
        let mut engine = Engine::new(engine_config, keys, now);
        for association in associations {
            engine.add_association(association, now)?;
        }
        *out = ptr::to_boxed(ntp_engine { inner: engine });
        Ok(())
    })
}

/// `check-config` for C: what a configuration text (`len` bytes of UTF-8,
/// dialect detected) means, as `ntp-node check-config` prints it (keys by
/// id only, never a secret), written into the caller's `buf` (`buf_len`
/// bytes) as a NUL-terminated string.
///
/// When the text is refused, `buf` receives the error instead (`line N:
/// directive: reason`, never the rest of the line) and the call returns
/// `NTP_RESULT_CONFIG_SYNTAX` (or `NTP_RESULT_CONFIG_UNKNOWN_DIALECT`).
/// `written` always receives the full text's length without the NUL, so
/// after `NTP_RESULT_INSUFFICIENT_SIZE` the caller can retry with
/// `*written + 1` bytes.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_config_check(
    config_text: *const c_char,
    len: usize,
    buf: *mut c_char,
    buf_len: usize,
    written: *mut usize,
) -> ntp_result {
    boundary(|| {
        let written = ptr::out(written)?;
        let buf = ptr::slice_mut(buf.cast::<u8>(), buf_len)?;
        let (report, result) = match ntp_config::parse(text(config_text, len)?, None) {
            Ok(config) => (ntp_config::render(&config), Ok(())),
            Err(e) => {
                let code = match e.kind {
                    ntp_config::ErrorKind::UnknownDialect => ntp_result::ConfigUnknownDialect,
                    _ => ntp_result::ConfigSyntax,
                };
                (e.to_string(), Err(code))
            }
        };
        *written = report.len();
        ptr::write_c_string(buf, &report)?;
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr::null_mut;

    const IOS: &str =
        "ntp authentication-key 1 md5 tulip\nntp trusted-key 1\nntp server 192.0.2.1 key 1\nntp master 3\n";

    #[test]
    fn engine_from_an_ios_text() {
        let mut engine = null_mut();
        let now = NtpTimestamp::from_unix(1_800_000_000, 0).to_bits();
        let r = ntp_engine_new_from_config(IOS.as_ptr().cast(), IOS.len(), NTP_DIALECT_DETECT, now, &mut engine);
        assert_eq!(r, ntp_result::Ok);
        let inner = &unsafe_free_checked(engine);
        assert_eq!(inner.0, 1);
        assert_eq!(inner.1, Some(3));
    }

    /// (association count, local reference stratum), then frees the engine.
    fn unsafe_free_checked(engine: *mut ntp_engine) -> (usize, Option<u8>) {
        let e = ptr::read(engine).unwrap();
        let found = (e.inner.associations().count(), e.inner.config().local_reference_stratum);
        crate::engine::ntp_engine_free(engine);
        found
    }

    #[test]
    fn refusals_have_codes() {
        let mut engine = null_mut();
        let new = |text: &str, d: u32, engine: &mut *mut ntp_engine| {
            ntp_engine_new_from_config(text.as_ptr().cast(), text.len(), d, 0, engine)
        };
        assert_eq!(new("ntp frobnicate\n", NTP_DIALECT_IOS, &mut engine), ntp_result::ConfigSyntax);
        assert_eq!(new("ntp server <I-TS-1>\n", NTP_DIALECT_IOS, &mut engine), ntp_result::ConfigUnresolved);
        assert_eq!(new("keys /etc/ntp.keys\n", NTP_DIALECT_NTPCONF, &mut engine), ntp_result::ConfigUnresolved);
        assert_eq!(new("server x\n", 9, &mut engine), ntp_result::InvalidParameter);
        assert!(engine.is_null());
        let bad = [0xffu8, 0xfe];
        assert_eq!(ntp_engine_new_from_config(bad.as_ptr().cast(), 2, 0, 0, &mut engine), ntp_result::InvalidUtf8);
    }

    #[test]
    fn check_writes_the_meaning_or_the_error() {
        let mut buf = [0u8; 2048];
        let mut n = 0usize;
        let r = ntp_config_check(IOS.as_ptr().cast(), IOS.len(), buf.as_mut_ptr().cast(), buf.len(), &mut n);
        assert_eq!(r, ntp_result::Ok);
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        assert!(text.contains("192.0.2.1") && !text.contains("tulip"), "{text}");
        assert_eq!(buf[n], 0);
        let bad = "ntp authentication-key 1 md5 tulip\nntp bogus\n";
        let r = ntp_config_check(bad.as_ptr().cast(), bad.len(), buf.as_mut_ptr().cast(), buf.len(), &mut n);
        assert_eq!(r, ntp_result::ConfigSyntax);
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        assert!(text.starts_with("line 2") && !text.contains("tulip"), "{text}");
        let mut small = [0u8; 4];
        let r = ntp_config_check(IOS.as_ptr().cast(), IOS.len(), small.as_mut_ptr().cast(), small.len(), &mut n);
        assert_eq!(r, ntp_result::InsufficientSize);
        assert!(n > 4);
    }

    const CHRONY_NTS: &str = "server 127.0.0.1 nts iburst\nntsservercert /etc/chrony/cert.pem\nntsserverkey /etc/chrony/key.pem\nntsrotate 3600\n";

    #[test]
    fn nts_configuration_reaches_the_status_and_events() {
        use crate::engine::*;
        let mut engine = null_mut();
        let now = NtpTimestamp::from_unix(1_800_000_000, 0).to_bits();
        let r = ntp_engine_new_from_config(
            CHRONY_NTS.as_ptr().cast(),
            CHRONY_NTS.len(),
            NTP_DIALECT_DETECT,
            now,
            &mut engine,
        );
        assert_eq!(r, ntp_result::Ok);
        let mut kinds = Vec::new();
        let mut buf = [0u8; crate::NTP_MAX_DATAGRAM];
        loop {
            let mut o = ntp_output::default();
            assert_eq!(ntp_engine_poll_output(engine, &mut o, buf.as_mut_ptr(), buf.len()), ntp_result::Ok);
            if o.kind == ntp_output_kind::Timeout as u32 {
                break;
            }
            kinds.push((o.kind, o.event.kind, o.event.association_id));
        }
        assert!(
            kinds.iter().any(|&(k, e, id)| k == ntp_output_kind::Event as u32
                && e == ntp_event_kind::NtsKeyExchangeNeeded as u32
                && id != 0),
            "{kinds:?}"
        );
        let mut peers = [ntp_peer_status::default(); 2];
        let mut n = 0;
        assert_eq!(ntp_engine_peer_status(engine, now, peers.as_mut_ptr(), 2, &mut n), ntp_result::Ok);
        assert_eq!(n, 1);
        assert!(peers[0].nts);
        assert_eq!(peers[0].nts_cookies, 0);
        let mut system = ntp_system_status::default();
        assert_eq!(ntp_engine_system_status(engine, now, &mut system), ntp_result::Ok);
        assert!(system.nts_server);
        let mut counters = ntp_counters::default();
        assert_eq!(ntp_engine_counters(engine, &mut counters), ntp_result::Ok);
        assert_eq!(counters.nts_replies, 0);
        ntp_engine_free(engine);

        let mut text = [0u8; 4096];
        let r = ntp_config_check(
            CHRONY_NTS.as_ptr().cast(),
            CHRONY_NTS.len(),
            text.as_mut_ptr().cast(),
            text.len(),
            &mut n,
        );
        assert_eq!(r, ntp_result::Ok);
        let text = std::str::from_utf8(&text[..n]).unwrap();
        assert!(text.contains("chrony") && text.contains("nts"), "{text}");
    }
}
