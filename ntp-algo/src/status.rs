//! Status views: the monitoring data operators read, as plain data and as
//! text in the style of the tools they already know.
//!
//! The plain data ([`SystemStatus`], [`PeerStatus`]) is re-exported at the
//! crate root. The text views are public here until they move to the
//! runtime crate, where a daemon's output belongs.
//!
//! The fields cover the white paper's MIB list (CISCO-NTP-MIB): for the
//! system cntpSysStratum, Precision, RootDelay, RootDispersion, RefTime,
//! Peer and Clock; for each association cntpPeersAssocId, Configured,
//! PeerAddress, Mode, Stratum, RootDelay, RootDispersion, RefTime, Reach,
//! Offset, Delay and Dispersion; plus offset, frequency, jitter and the
//! synchronization state.
//!
//! Text views: [`cisco_show_ntp_status`], [`cisco_show_ntp_associations`],
//! [`huawei_display_ntp_status`] and [`ntpq_peers`].

use core::fmt::Write as _;
use core::net::SocketAddr;

use ntp_wire::{LeapIndicator, NtpDate, NtpTimestamp, ReferenceId};

use crate::discipline::ClockState;
use crate::engine::Engine;
use crate::ids::{AssociationId, AssociationMode};
use crate::system::{SelectionStatus, SyncSource};

/// The system's status (cntpSys*), from [`Engine::system_status`].
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
#[must_use]
pub struct SystemStatus {
    /// Whether the clock is synchronized.
    pub synchronized: bool,
    /// Where the time comes from.
    pub source: SyncSource,
    /// cntpSysStratum.
    pub stratum: u8,
    /// cntpSysPrecision, log2 seconds.
    pub precision: i8,
    /// cntpSysRootDelay, seconds.
    pub root_delay: f64,
    /// cntpSysRootDispersion, seconds (grown to now).
    pub root_dispersion: f64,
    /// cntpSysRefTime.
    pub reference_time: NtpTimestamp,
    /// Reference id we announce.
    pub reference_id: ReferenceId,
    /// cntpSysPeer: the system peer's address.
    pub system_peer: Option<SocketAddr>,
    /// The system peer's association id.
    pub system_peer_id: Option<AssociationId>,
    /// cntpSysClock: the clock reading this status was taken at.
    pub clock: NtpTimestamp,
    /// Leap indicator we announce.
    pub leap: LeapIndicator,
    /// Last combined offset, seconds.
    pub offset: f64,
    /// Frequency correction, ppm.
    pub frequency_ppm: f64,
    /// System jitter, seconds.
    pub jitter: f64,
    /// Clock discipline state.
    pub clock_state: ClockState,
    /// System poll interval, log2 seconds.
    pub poll: i8,
    /// Seconds since the last clock update (None before the first).
    pub since_update: Option<f64>,
}

/// One association's status (cntpPeers*), from [`Engine::peer_status`].
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
#[must_use]
pub struct PeerStatus {
    /// cntpPeersAssocId.
    pub id: AssociationId,
    /// cntpPeersConfigured: configured rather than created by a packet.
    pub configured: bool,
    /// cntpPeersPeerAddress.
    pub address: SocketAddr,
    /// cntpPeersMode (our side's mode).
    pub mode: AssociationMode,
    /// cntpPeersStratum (16 until it answers).
    pub stratum: u8,
    /// cntpPeersRootDelay, seconds.
    pub root_delay: f64,
    /// cntpPeersRootDispersion, seconds.
    pub root_dispersion: f64,
    /// cntpPeersRefTime.
    pub reference_time: NtpTimestamp,
    /// The peer's reference id.
    pub reference_id: ReferenceId,
    /// cntpPeersReach, the 8-bit register.
    pub reach: u8,
    /// cntpPeersOffset, seconds (None before the first sample).
    pub offset: Option<f64>,
    /// cntpPeersDelay, seconds.
    pub delay: Option<f64>,
    /// cntpPeersDispersion, seconds (grown to now).
    pub dispersion: Option<f64>,
    /// Peer jitter, seconds.
    pub jitter: Option<f64>,
    /// Poll interval, log2 seconds.
    pub poll: i8,
    /// Seconds since the last sample.
    pub since_sample: Option<f64>,
    /// How the selection judged it.
    pub selection: SelectionStatus,
}

/// The system status at `now` ([`Engine::system_status`]).
pub(crate) fn system_status(engine: &Engine, now: NtpTimestamp) -> SystemStatus {
    let t = engine.seconds(now);
    let system = engine.system();
    let peer = system.system_peer().and_then(|id| engine.association(id));
    let discipline = engine.discipline();
    SystemStatus {
        synchronized: system.is_synchronized(),
        source: system.source,
        stratum: system.stratum,
        precision: system.precision,
        root_delay: system.root_delay,
        root_dispersion: system.root_dispersion_at(t),
        reference_time: system.reference_time,
        reference_id: system.reference_id,
        system_peer: peer.map(|p| p.config().address),
        system_peer_id: peer.map(|p| p.id()),
        clock: now,
        leap: system.leap,
        offset: system.offset,
        frequency_ppm: discipline.frequency_ppm(),
        jitter: system.jitter,
        clock_state: discipline.state(),
        poll: system.poll,
        since_update: system.is_synchronized().then_some(t - system.update_time),
    }
}

/// Every association's status at `now` ([`Engine::peer_status`]).
pub(crate) fn peer_status(engine: &Engine, now: NtpTimestamp) -> Vec<PeerStatus> {
    let t = engine.seconds(now);
    let phase = engine.phase();
    engine
        .associations()
        .map(|a| {
            let out = a.filter_output();
            PeerStatus {
                id: a.id(),
                configured: !a.is_ephemeral(),
                address: a.config().address,
                mode: a.config().mode,
                stratum: a.stratum(),
                root_delay: a.root_delay(),
                root_dispersion: a.root_dispersion(),
                reference_time: a.reference_time(),
                reference_id: a.reference_id(),
                reach: a.reach(),
                offset: a.offset_now(phase),
                delay: out.map(|o| o.delay),
                dispersion: out.map(|_| a.filter().dispersion_at(t)),
                jitter: out.map(|o| o.jitter),
                poll: a.poll_log2(),
                since_sample: out.map(|o| t - o.time),
                selection: a.selection(),
            }
        })
        .collect()
}

fn refid_text(id: ReferenceId, stratum: u8) -> String {
    if stratum <= 1 || stratum >= 16 {
        if let Some(text) = id.as_ascii() {
            return format!(".{text}.");
        }
    }
    id.as_ipv4().to_string()
}

fn date_text(ts: NtpTimestamp) -> String {
    if ts.is_zero() {
        return "00000000.00000000 (never)".into();
    }
    let raw = format!("{:08X}.{:08X}", ts.seconds(), ts.fraction());
    match ts.to_date(NtpDate::ERA1_START).and_then(NtpDate::to_utc) {
        Some(u) => format!(
            "{raw} ({:02}:{:02}:{:02}.{:03} UTC {}-{:02}-{:02})",
            u.hour,
            u.minute,
            u.second,
            u.nanosecond / 1_000_000,
            u.year,
            u.month,
            u.day
        ),
        None => raw,
    }
}

fn state_text(state: ClockState) -> &'static str {
    match state {
        ClockState::Nset => "'NSET' (never set)",
        ClockState::Fset => "'FSET' (frequency set from file)",
        ClockState::Spik => "'SPIK' (spike detected)",
        ClockState::Freq => "'FREQ' (measuring frequency)",
        ClockState::Sync => "'CTRL' (normal controlled loop)",
    }
}

/// Cisco IOS `show ntp status`.
pub fn cisco_show_ntp_status(s: &SystemStatus) -> String {
    let mut out = String::new();
    let reference = match (s.source, s.system_peer) {
        (_, Some(addr)) => addr.ip().to_string(),
        (SyncSource::LocalReference | SyncSource::Orphan, None) => refid_text(s.reference_id, s.stratum),
        _ => "none".to_string(),
    };
    let sync = if s.synchronized { "synchronized" } else { "unsynchronized" };
    let _ = writeln!(out, "Clock is {sync}, stratum {}, reference is {reference}", s.stratum);
    let _ = writeln!(out, "frequency correction is {:+.4} ppm, precision is 2**{}", s.frequency_ppm, s.precision);
    let _ = writeln!(out, "reference time is {}", date_text(s.reference_time));
    let _ = writeln!(out, "clock offset is {:.4} msec, root delay is {:.2} msec", s.offset * 1e3, s.root_delay * 1e3);
    let _ = writeln!(
        out,
        "root dispersion is {:.2} msec, system jitter is {:.4} msec",
        s.root_dispersion * 1e3,
        s.jitter * 1e3
    );
    let _ =
        writeln!(out, "loopfilter state is {}, drift is {:.9} s/s", state_text(s.clock_state), s.frequency_ppm * 1e-6);
    let since = s.since_update.map_or("never".to_string(), |d| format!("{d:.0} sec ago"));
    let _ = writeln!(out, "system poll interval is {}, last update was {since}.", 1u64 << s.poll.clamp(0, 17));
    out
}

/// Cisco IOS `show ntp associations`.
pub fn cisco_show_ntp_associations(peers: &[PeerStatus]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "  address                 ref clock       st   when   poll reach  delay  offset    disp");
    for p in peers {
        let configured = if p.configured { '~' } else { ' ' };
        let when = p.since_sample.map_or("-".to_string(), |d| format!("{d:.0}"));
        let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.3}", v * 1e3));
        let _ = writeln!(
            out,
            "{}{}{:<22} {:<15} {:>2} {:>6} {:>6} {:>5o} {:>6} {:>7} {:>7}",
            p.selection.tally(),
            configured,
            p.address.to_string(),
            refid_text(p.reference_id, p.stratum),
            p.stratum,
            when,
            1u64 << p.poll.clamp(0, 17),
            p.reach,
            ms(p.delay),
            ms(p.offset),
            ms(p.dispersion),
        );
    }
    let _ = writeln!(out, " * sys.peer, # selected, + candidate, - outlyer, x falseticker, ~ configured");
    out
}

/// Huawei VRP `display ntp-service status` (the fields in the seed document).
pub fn huawei_display_ntp_status(s: &SystemStatus, peer_dispersion: Option<f64>) -> String {
    let mut out = String::new();
    let status = if s.synchronized { "synchronized" } else { "unsynchronized" };
    let reference = match s.system_peer {
        Some(addr) => addr.ip().to_string(),
        None if s.source == SyncSource::LocalReference => "LOCAL(0)".to_string(),
        None => "none".to_string(),
    };
    let _ = writeln!(out, " clock status: {status}");
    let _ = writeln!(out, " clock stratum: {}", s.stratum);
    let _ = writeln!(out, " reference clock ID: {reference}");
    let _ = writeln!(out, " frequency correction: {:+.4} ppm", s.frequency_ppm);
    let _ = writeln!(out, " clock precision: 2^{}", s.precision);
    let _ = writeln!(out, " clock offset: {:.4} ms", s.offset * 1e3);
    let _ = writeln!(out, " root delay: {:.2} ms", s.root_delay * 1e3);
    let _ = writeln!(out, " root dispersion: {:.2} ms", s.root_dispersion * 1e3);
    let _ = writeln!(out, " peer dispersion: {:.2} ms", peer_dispersion.unwrap_or(0.0) * 1e3);
    let _ = writeln!(out, " reference time: {}", date_text(s.reference_time));
    let state = if s.synchronized { "clock synchronized" } else { "clock not synchronized" };
    let _ = writeln!(out, " synchronization state: {state}");
    out
}

/// `ntpq -p` style peer table.
pub fn ntpq_peers(peers: &[PeerStatus]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "     remote              refid       st t  when poll reach   delay   offset   jitter");
    let _ = writeln!(out, "{}", "=".repeat(86));
    for p in peers {
        let kind = match p.mode {
            AssociationMode::Client => 'u',
            AssociationMode::SymmetricActive | AssociationMode::SymmetricPassive => 's',
            AssociationMode::BroadcastServer | AssociationMode::BroadcastClient => 'b',
        };
        let when = p.since_sample.map_or("-".to_string(), |d| format!("{d:.0}"));
        let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.3}", v * 1e3));
        let _ = writeln!(
            out,
            "{}{:<21} {:<15} {:>2} {} {:>5} {:>4} {:>5o} {:>7} {:>8} {:>8}",
            p.selection.tally(),
            p.address.to_string(),
            refid_text(p.reference_id, p.stratum),
            p.stratum,
            kind,
            when,
            1u64 << p.poll.clamp(0, 17),
            p.reach,
            ms(p.delay),
            ms(p.offset),
            ms(p.jitter),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use ntp_wire::NtpDuration;
    use ntp_wire::auth::Keyring;

    use super::*;
    use crate::{AccessClass, AssociationConfig, EngineConfig, Output, Prefix};

    const C: &str = "10.0.1.31:123";
    const D: &str = "10.0.2.1:123";
    const E: &str = "10.0.2.2:123";

    /// Seed 001's chain in miniature: DeviceC serves its clock at stratum 2,
    /// DeviceD is its client, DeviceE a symmetric peer of DeviceD. Every
    /// datagram takes 1 ms; clocks are perfect (clock actions are ignored).
    struct Chain {
        nodes: Vec<(SocketAddr, Engine)>,
        now: NtpTimestamp,
    }

    impl Chain {
        fn new() -> Self {
            let now = NtpTimestamp::from_unix(1_795_219_200, 0);
            let node = |config: EngineConfig, at: &str| -> (SocketAddr, Engine) {
                let address: SocketAddr = at.parse().unwrap();
                (address, Engine::new(config.with_local_address(address.ip()), Keyring::new(), now))
            };
            let mut d_config = EngineConfig::default();
            d_config.access.add(Prefix::host(E.parse::<SocketAddr>().unwrap().ip()), AccessClass::Peer);
            let mut nodes = vec![
                node(EngineConfig::default().with_local_reference(2), C),
                node(d_config, D),
                node(EngineConfig::default(), E),
            ];
            nodes[1].1.add_association(AssociationConfig::client(C.parse().unwrap()).with_iburst(true), now).unwrap();
            nodes[2]
                .1
                .add_association(AssociationConfig::symmetric_active(D.parse().unwrap()).with_iburst(true), now)
                .unwrap();
            Chain { nodes, now }
        }

        /// Runs every deadline up to `seconds` after the start.
        fn run(&mut self, seconds: f64) {
            let end = self.now + NtpDuration::from_seconds_f64(seconds);
            loop {
                let next = self.nodes.iter().map(|(_, e)| e.next_deadline()).min().unwrap();
                if (next - end).to_bits() > 0 {
                    return;
                }
                self.now = if (next - self.now).to_bits() > 0 { next } else { self.now };
                for i in 0..self.nodes.len() {
                    let now = self.now;
                    self.nodes[i].1.handle_timeout(now);
                    self.flush(i, now);
                }
            }
        }

        /// Delivers node `from`'s datagrams (and the answers they cause), 1 ms each.
        fn flush(&mut self, from: usize, now: NtpTimestamp) {
            let source = self.nodes[from].0;
            let arrival = now + NtpDuration::from_seconds_f64(0.001);
            loop {
                match self.nodes[from].1.poll_output() {
                    Output::Transmit(t) => {
                        if let Some(to) = self.nodes.iter().position(|(a, _)| *a == t.destination) {
                            self.nodes[to].1.handle_datagram(arrival, source, t.payload());
                            self.flush(to, arrival);
                        }
                    }
                    Output::Timeout(_) => return,
                    _ => {}
                }
            }
        }

        fn status(&self, node: usize) -> (SystemStatus, Vec<PeerStatus>) {
            let engine = &self.nodes[node].1;
            (engine.system_status(self.now), engine.peer_status(self.now))
        }
    }

    /// After an hour: DeviceD is a stratum-3 client of DeviceC.
    fn device_d() -> (SystemStatus, Vec<PeerStatus>) {
        let mut chain = Chain::new();
        chain.run(3600.0);
        chain.status(1)
    }

    #[test]
    fn test_plain_data_covers_the_mib() {
        let (system, peers) = device_d();
        assert!(system.synchronized);
        assert_eq!(system.stratum, 3);
        assert_eq!(system.system_peer, Some(C.parse().unwrap()));
        assert!(system.root_delay > 0.0 && system.root_dispersion > 0.0);
        assert!(!system.reference_time.is_zero());
        assert_eq!(system.leap, LeapIndicator::NoWarning);
        let c = peers.iter().find(|p| p.address.port() == 123 && p.configured).unwrap();
        assert_eq!((c.stratum, c.reach, c.mode), (2, 0o377, AssociationMode::Client));
        assert!(c.offset.is_some() && c.delay.is_some() && c.dispersion.is_some() && c.jitter.is_some());
        assert_eq!(c.selection, SelectionStatus::SystemPeer);
        let e = peers.iter().find(|p| !p.configured).unwrap();
        assert_eq!(e.mode, AssociationMode::SymmetricPassive);
    }

    #[test]
    fn test_text_views() {
        let (system, peers) = device_d();
        let status = cisco_show_ntp_status(&system);
        assert!(status.starts_with("Clock is synchronized, stratum 3, reference is 10.0.1.31\n"), "{status}");
        assert!(status.contains("precision is 2**-20"));
        assert!(status.contains("loopfilter state is 'CTRL'"));
        let associations = cisco_show_ntp_associations(&peers);
        assert!(
            associations.lines().any(|l| l.starts_with("*~10.0.1.31:123") && l.contains(" 377 ")),
            "{associations}"
        );
        assert!(associations.contains("x falseticker"));
        let huawei = huawei_display_ntp_status(&system, peers.first().and_then(|p| p.dispersion));
        for line in [" clock status: synchronized", " clock stratum: 3", " reference clock ID: 10.0.1.31"] {
            assert!(huawei.lines().any(|l| l == line), "{line:?} missing in\n{huawei}");
        }
        assert!(huawei.contains(" synchronization state: clock synchronized"));
        let ntpq = ntpq_peers(&peers);
        assert!(ntpq.lines().any(|l| l.starts_with("*10.0.1.31:123") && l.contains(" u ")), "{ntpq}");
    }

    #[test]
    fn test_unsynchronized_views() {
        // DeviceE before anything was exchanged: nothing to show yet.
        let chain = Chain::new();
        let (system, peers) = chain.status(2);
        let status = cisco_show_ntp_status(&system);
        assert!(status.starts_with("Clock is unsynchronized, stratum 16, reference is none"), "{status}");
        assert!(status.contains("last update was never"));
        let huawei = huawei_display_ntp_status(&system, None);
        assert!(huawei.contains(" clock status: unsynchronized"));
        assert!(huawei.contains(" clock stratum: 16"));
        // One configured peer, never heard: no tally, stratum 16, reach 0, no numbers.
        let associations = cisco_show_ntp_associations(&peers);
        let row = associations.lines().nth(1).unwrap();
        assert!(row.starts_with(" ~10.0.2.1:123"), "{associations}");
        assert!(row.split_whitespace().any(|f| f == "16") && row.contains(" 0 "), "{row}");
        assert!(row.trim_end().ends_with('-'), "no dispersion before a sample: {row}");
    }
}
