//! The system and peer variables of mode 6, named and formatted as ntpd
//! writes them (`ntp_control.c`): delays and dispersions in milliseconds,
//! frequencies in ppm, timestamps as `0x%08x.%08x`, reach and flash in
//! hex, the reference id as a dotted quad at strata 2–15 and as text
//! otherwise. The numbers are the engine's own, the same as
//! [`Engine::system_status`] and [`Engine::peer_status`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ntp_wire::control::{
    PeerSelection, PeerStatus as PeerWord, SystemStatus as SystemWord, VarListError, VarListWriter,
};
use ntp_wire::{NtpTimestamp, ReferenceId};

use crate::association::Association;
use crate::control::mode6_id;
use crate::engine::Engine;
use crate::ids::{AssociationId, AssociationMode};
use crate::system::{SelectionStatus, SyncSource};

/// ntpd's default system variable list (what `ntpq -c rv` shows).
pub(crate) const SYSTEM_DEFAULTS: &[&str] = &[
    "version",
    "processor",
    "system",
    "leap",
    "stratum",
    "precision",
    "rootdelay",
    "rootdisp",
    "refid",
    "reftime",
    "clock",
    "peer",
    "tc",
    "mintc",
    "offset",
    "frequency",
    "sys_jitter",
    "clk_jitter",
    "clk_wander",
];

/// ntpd's default peer variable list (what `ntpq -c "rv &1"` shows).
pub(crate) const PEER_DEFAULTS: &[&str] = &[
    "srcadr",
    "srcport",
    "dstadr",
    "dstport",
    "leap",
    "stratum",
    "precision",
    "rootdelay",
    "rootdisp",
    "refid",
    "reftime",
    "rec",
    "reach",
    "unreach",
    "hmode",
    "pmode",
    "hpoll",
    "ppoll",
    "headway",
    "flash",
    "keyid",
    "offset",
    "delay",
    "dispersion",
    "jitter",
    "filtdelay",
    "filtoffset",
    "filtdisp",
];

/// Milliseconds in a second.
const MS: f64 = 1e3;

/// The system status word (RFC 9327 §2.1): leap, clock source (6 NTP, 5
/// local clock, 0 none), no events.
pub(crate) fn system_status_word(engine: &Engine) -> u16 {
    let system = engine.system();
    let clock_source = match system.source {
        SyncSource::None => 0,
        SyncSource::Peer(_) => 6,
        SyncSource::LocalReference | SyncSource::Orphan => 5,
    };
    SystemWord { leap: system.leap, clock_source, event_count: 0, last_event: 0 }.to_bits()
}

/// The selection's verdict as the peer status word's select field.
pub(crate) fn selection_code(selection: SelectionStatus) -> PeerSelection {
    match selection {
        SelectionStatus::Rejected => PeerSelection::Reject,
        SelectionStatus::Falseticker => PeerSelection::Falsetick,
        SelectionStatus::Outlier => PeerSelection::Outlier,
        SelectionStatus::Candidate => PeerSelection::Candidate,
        SelectionStatus::SystemPeer => PeerSelection::SystemPeer,
    }
}

/// An association's peer status word (RFC 9327 §2.2): configured, key
/// configured (and then authentic once reached), reachable, the selection.
pub(crate) fn peer_status_word(engine: &Engine, id: AssociationId) -> u16 {
    let Some(a) = engine.association(id) else { return 0 };
    let keyed = a.config().key_id.is_some();
    PeerWord {
        configured: !a.is_ephemeral(),
        auth_enabled: keyed,
        // Packets from a keyed association are used only when they verify,
        // so a keyed association that reaches us is authentic.
        authentic: keyed && a.reach() != 0,
        reachable: a.reach() != 0,
        broadcast: a.config().mode == AssociationMode::BroadcastClient,
        selection: selection_code(a.selection()),
        event_count: 0,
        last_event: 0,
    }
    .to_bits()
}

/// ntpd's reference id rule: an address at strata 2–15, text otherwise
/// (non-printing bytes as `.`).
fn push_refid(w: &mut VarListWriter<'_>, name: &str, id: ReferenceId, stratum: u8) -> Result<(), VarListError> {
    if (2..=15).contains(&stratum) {
        return w.push_raw(name, &id.as_ipv4().to_string());
    }
    let text: String = id
        .to_u32()
        .to_be_bytes()
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| if b.is_ascii_graphic() && b != b',' && b != b'"' { char::from(b) } else { '.' })
        .collect();
    if text.is_empty() { w.push_name(name) } else { w.push_raw(name, &text) }
}

fn ms3(w: &mut VarListWriter<'_>, name: &str, seconds: f64) -> Result<(), VarListError> {
    w.push_decimal(name, seconds * MS, 3)
}

fn ms6(w: &mut VarListWriter<'_>, name: &str, seconds: f64) -> Result<(), VarListError> {
    w.push_decimal(name, seconds * MS, 6)
}

/// Writes system variable `name`; false when there is none of that name.
pub(crate) fn system_var(
    engine: &Engine,
    now: NtpTimestamp,
    name: &str,
    w: &mut VarListWriter<'_>,
) -> Result<bool, VarListError> {
    let status = engine.system_status(now);
    let discipline = engine.discipline();
    match name {
        "version" => w.push_quoted(name, concat!("ntp-algo ", env!("CARGO_PKG_VERSION")))?,
        "processor" => w.push_quoted(name, std::env::consts::ARCH)?,
        "system" => w.push_quoted(name, std::env::consts::OS)?,
        "leap" => w.push_uint(name, u64::from(status.leap.to_bits()))?,
        "stratum" => w.push_uint(name, u64::from(status.stratum))?,
        "precision" => w.push_int(name, i64::from(status.precision))?,
        "rootdelay" => ms3(w, name, status.root_delay)?,
        "rootdisp" => ms3(w, name, status.root_dispersion)?,
        "refid" => push_refid(w, name, status.reference_id, status.stratum)?,
        "reftime" => w.push_timestamp(name, status.reference_time)?,
        "clock" => w.push_timestamp(name, now)?,
        "peer" => w.push_uint(name, status.system_peer_id.and_then(mode6_id).map_or(0, u64::from))?,
        "tc" => w.push_int(name, i64::from(status.poll))?,
        "mintc" => w.push_int(name, i64::from(discipline.config().min_poll))?,
        "offset" => ms6(w, name, status.offset)?,
        "frequency" => w.push_decimal(name, status.frequency_ppm, 3)?,
        "sys_jitter" => ms6(w, name, status.jitter)?,
        "clk_jitter" => ms6(w, name, discipline.jitter())?,
        "clk_wander" => w.push_decimal(name, discipline.wander_ppm(), 3)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// The mode number ntpd reports for our side of an association (`hmode`)
/// and for the peer's side (`pmode`).
fn modes(mode: AssociationMode) -> (u8, u8) {
    match mode {
        AssociationMode::Client => (3, 4),
        AssociationMode::SymmetricActive => (1, 2),
        AssociationMode::SymmetricPassive => (2, 1),
        AssociationMode::BroadcastServer => (5, 0),
        AssociationMode::BroadcastClient => (3, 5),
    }
}

/// The local address a reply to `peer` leaves from, as far as the engine
/// knows it (its configured local addresses), else the unspecified address.
fn local_address(engine: &Engine, peer: IpAddr) -> IpAddr {
    let same_family = |a: &&IpAddr| a.is_ipv4() == peer.is_ipv4();
    engine.config().local_addresses.iter().find(same_family).copied().unwrap_or(match peer {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    })
}

/// The eight filter stages as ntpd's arrays (newest first, ` %.2f` ms each;
/// empty stages as ntpd's unset values: delay and offset 0, dispersion 16 s).
fn filter_array(a: &Association, pick: impl Fn(&crate::filter::FilterSample) -> f64, empty: f64) -> String {
    let mut text = String::with_capacity(64);
    let samples: Vec<f64> = a.filter().samples().map(pick).collect();
    for i in 0..8 {
        let value = samples.get(i).copied().unwrap_or(empty);
        text.push_str(&format!(" {:.2}", value * MS));
    }
    text
}

/// Writes peer variable `name` of `a`; false when there is none of that name.
pub(crate) fn peer_var(
    engine: &Engine,
    a: &Association,
    now: NtpTimestamp,
    name: &str,
    w: &mut VarListWriter<'_>,
) -> Result<bool, VarListError> {
    let t = engine.seconds(now);
    let out = a.filter_output();
    let address = a.config().address;
    let (hmode, pmode) = modes(a.config().mode);
    match name {
        "srcadr" => w.push_raw(name, &address.ip().to_string())?,
        "srcport" => w.push_uint(name, u64::from(address.port()))?,
        "dstadr" => w.push_raw(name, &local_address(engine, address.ip()).to_string())?,
        "dstport" => w.push_uint(name, 123)?,
        "leap" => w.push_uint(name, u64::from(a.leap().to_bits()))?,
        "stratum" => w.push_uint(name, u64::from(a.stratum()))?,
        "precision" => w.push_int(name, i64::from(a.precision()))?,
        "rootdelay" => ms3(w, name, a.root_delay())?,
        "rootdisp" => ms3(w, name, a.root_dispersion())?,
        "refid" => push_refid(w, name, a.reference_id(), a.stratum())?,
        "reftime" => w.push_timestamp(name, a.reference_time())?,
        "rec" => w.push_timestamp(name, out.map_or(NtpTimestamp::ZERO, |o| engine.timestamp_at(o.time)))?,
        "reach" => w.push_hex(name, u64::from(a.reach()))?,
        "unreach" => w.push_uint(name, u64::from(a.unreached_polls()))?,
        "hmode" => w.push_uint(name, u64::from(hmode))?,
        "pmode" => w.push_uint(name, u64::from(pmode))?,
        "hpoll" => w.push_int(name, i64::from(a.poll_log2()))?,
        "ppoll" => w.push_int(name, i64::from(a.peer_poll_log2()))?,
        "headway" => w.push_uint(name, 0)?,
        "flash" => w.push_hex(name, 0)?,
        "keyid" => w.push_uint(name, u64::from(a.config().key_id.unwrap_or(0)))?,
        "offset" => ms6(w, name, a.offset_now(engine.phase()).unwrap_or(0.0))?,
        "delay" => ms6(w, name, out.map_or(0.0, |o| o.delay))?,
        "dispersion" => ms6(w, name, out.map_or(crate::constants::MAXDISP, |_| a.filter().dispersion_at(t)))?,
        "jitter" => ms6(w, name, out.map_or(0.0, |o| o.jitter))?,
        "filtdelay" => w.push_raw(name, &filter_array(a, |s| s.delay, 0.0))?,
        "filtoffset" => w.push_raw(name, &filter_array(a, |s| s.offset, 0.0))?,
        "filtdisp" => {
            let aged = |s: &crate::filter::FilterSample| {
                (s.dispersion + crate::constants::PHI * (t - s.time).max(0.0)).min(crate::constants::MAXDISP)
            };
            w.push_raw(name, &filter_array(a, aged, crate::constants::MAXDISP))?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}
