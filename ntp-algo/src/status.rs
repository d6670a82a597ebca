//! Status snapshots: the monitoring data operators read, as plain data.
//! Rendering it as text in the style of vendor tools is presentation, and
//! lives in the runtime crate (`ntp-node`), as ntpd-rs keeps its protocol
//! crate free of output formats.
//!
//! The fields cover the white paper's MIB list (CISCO-NTP-MIB): for the
//! system cntpSysStratum, Precision, RootDelay, RootDispersion, RefTime,
//! Peer and Clock; for each association cntpPeersAssocId, Configured,
//! PeerAddress, Mode, Stratum, RootDelay, RootDispersion, RefTime, Reach,
//! Offset, Delay and Dispersion; plus offset, frequency, jitter and the
//! synchronization state.

use core::net::SocketAddr;

use ntp_wire::{LeapIndicator, NtpTimestamp, ReferenceId};

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
    /// Whether the engine answers NTS requests (RFC 8915).
    pub nts_server: bool,
    /// The id of the NTS master key that seals new cookies (None when NTS
    /// service is off).
    pub nts_master_key_id: Option<u32>,
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
    /// Whether it authenticates with NTS (RFC 8915).
    pub nts: bool,
    /// NTS cookies it holds (0 for an association without NTS, or one
    /// waiting for NTS-KE).
    pub nts_cookies: usize,
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
        nts_server: engine.nts_master_keys().is_some(),
        nts_master_key_id: engine.nts_master_keys().map(crate::nts::MasterKeys::current_id),
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
                nts: a.config().nts,
                nts_cookies: engine.nts_cookies(a.id()).unwrap_or(0),
            }
        })
        .collect()
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
}
