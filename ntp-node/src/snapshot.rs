//! A typed, serializable snapshot of a node's status: the system variables
//! and every association, with the fields of the CISCO-NTP-MIB
//! (cntpSys*, cntpPeers*) and the counters. The node writes it as JSON to
//! its status file, prints it at shutdown and on SIGUSR1; tests and the
//! `status` subcommand read it back; the vendor text views
//! ([`crate::views`]) render from it.
//!
//! Units: seconds for times and offsets, ppm for frequencies, log2 seconds
//! for poll intervals and precision. `None` (JSON `null`) where there is
//! no value yet (an association without samples).

use std::net::SocketAddr;

use ntp_algo::{ClockState, Engine, PeerStatus, SyncSource, SystemStatus};
use ntp_wire::{LeapIndicator, NtpDate, NtpTimestamp, ReferenceId};
use serde::{Deserialize, Serialize};

/// Everything `ntp-node status` shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusSnapshot {
    /// When the snapshot was taken, UTC (RFC 3339), on the node's clock.
    pub taken_at: String,
    /// The clock the node disciplines: `software` or `system`.
    pub clock: String,
    /// The addresses the node listens on.
    pub listen: Vec<SocketAddr>,
    /// Seconds since the node started.
    pub uptime: f64,
    /// Whether the sockets use recvmmsg/sendmmsg (false: one datagram per
    /// call, after the system refused the batched calls or by choice).
    #[serde(default)]
    pub batched_io: bool,
    /// The system variables (cntpSys*).
    pub system: SystemSnapshot,
    /// Every association (cntpPeers*), in id order.
    pub associations: Vec<AssociationSnapshot>,
    /// Packet counters of the whole node.
    pub counters: NodeCounters,
    /// NTS-KE (RFC 8915 §4) exchanges of the node's runtime; zero when the
    /// snapshot was captured from an engine alone.
    #[serde(default)]
    pub nts_ke: NtsKeCounters,
}

impl StatusSnapshot {
    /// The association with this remote address, if any.
    pub fn association(&self, address: SocketAddr) -> Option<&AssociationSnapshot> {
        self.associations.iter().find(|a| a.address == address)
    }

    /// Captures `engine`'s status at `now` (the node's clock reading).
    pub fn capture(engine: &Engine, now: NtpTimestamp, clock: &str, listen: &[SocketAddr], uptime: f64) -> Self {
        let system = SystemSnapshot::from_status(&engine.system_status(now));
        let associations = engine
            .peer_status(now)
            .iter()
            .map(|peer| {
                let mut snapshot = AssociationSnapshot::from_status(peer);
                if let Some(association) = engine.association(peer.id) {
                    let c = association.counters();
                    snapshot.counters = AssociationCounters {
                        sent: c.sent,
                        received: c.received,
                        samples: c.samples,
                        rejected: c.rejected_by_test.iter().sum(),
                        rejected_by_test: c.rejected_by_test,
                        kod: c.kod,
                    };
                }
                snapshot
            })
            .collect();
        let c = engine.counters();
        // Requests are counted once, by the responder.
        let r = engine.responder().counters();
        let counters = NodeCounters {
            received: c.received,
            malformed: c.malformed,
            bad_version: c.bad_version,
            discarded: c.discarded,
            access_denied: c.access_denied,
            auth_failed: c.auth_failed,
            rejected_by_test: c.rejected_by_test,
            kod_received: c.kod_received,
            replies_sent: r.replies,
            signed_replies: r.signed_replies,
            kod_sent: r.kod_sent,
            rate_dropped: r.rate_dropped,
            polls_sent: c.polls_sent,
            events_dropped: c.events_dropped,
            nts_rejected: c.nts_rejected,
            nts_naks: c.nts_naks,
            nts_unsent: c.nts_unsent,
            nts_replies: r.nts_replies,
            nts_naks_sent: r.nts_naks,
            nts_dropped: r.nts_dropped,
        };
        StatusSnapshot {
            taken_at: utc_text(now).unwrap_or_default(),
            clock: clock.to_owned(),
            listen: listen.to_vec(),
            uptime,
            batched_io: false,
            system,
            associations,
            counters,
            nts_ke: NtsKeCounters::default(),
        }
    }

    /// Adds the runtime's NTS-KE counters (`Node::nts_ke_server_counters`,
    /// `Node::nts_ke_client_counts`), which the engine does not see.
    pub fn set_nts_ke(&mut self, server: &crate::NtsKeServerCounters, (provisioned, failed): (u64, u64)) {
        self.nts_ke = NtsKeCounters {
            server_accepted: server.accepted,
            server_served: server.served,
            server_refused: server.refused,
            server_failed: server.failed,
            server_timed_out: server.timed_out,
            client_provisioned: provisioned,
            client_failed: failed,
        };
    }

    /// The snapshot as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads a snapshot from JSON.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// The system variables (cntpSys*).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SystemSnapshot {
    /// Synchronized to a source, the local reference or orphan mode.
    pub synchronized: bool,
    /// Where the time comes from: `none`, `peer`, `local` (`--master`) or `orphan`.
    pub source: String,
    /// cntpSysStratum.
    pub stratum: u8,
    /// The leap indicator we announce, 0..=3 (3: unsynchronized).
    pub leap: u8,
    /// cntpSysPrecision, log2 seconds.
    pub precision: i8,
    /// The reference id we announce, as `ntpq` shows it (`.LOCL.` or an address).
    pub refid: String,
    /// cntpSysRootDelay, seconds.
    pub root_delay: f64,
    /// cntpSysRootDispersion, seconds (grown to the snapshot's time).
    pub root_dispersion: f64,
    /// cntpSysRefTime.
    pub reference_time: Timestamp,
    /// cntpSysPeer: the system peer's address.
    pub system_peer: Option<SocketAddr>,
    /// The system peer's association id.
    pub system_peer_id: Option<u32>,
    /// The last combined offset, seconds (positive: our clock is behind).
    pub offset: f64,
    /// The frequency correction, ppm.
    pub frequency_ppm: f64,
    /// System jitter, seconds.
    pub jitter: f64,
    /// The clock discipline's state: `NSET`, `FSET`, `SPIK`, `FREQ` or `SYNC`.
    pub clock_state: String,
    /// The system poll interval, log2 seconds.
    pub poll: i8,
    /// Seconds since the last clock update (`None` before the first).
    pub since_update: Option<f64>,
    /// Whether the node answers NTS requests (RFC 8915 §5).
    #[serde(default)]
    pub nts_server: bool,
    /// The id of the NTS master key sealing new cookies (`None`: no NTS service).
    #[serde(default)]
    pub nts_master_key_id: Option<u32>,
}

impl SystemSnapshot {
    /// From the engine's system status.
    pub fn from_status(s: &SystemStatus) -> Self {
        SystemSnapshot {
            synchronized: s.synchronized,
            source: match s.source {
                SyncSource::None => "none",
                SyncSource::Peer(_) => "peer",
                SyncSource::LocalReference => "local",
                SyncSource::Orphan => "orphan",
                #[allow(unreachable_patterns)]
                _ => "other",
            }
            .to_owned(),
            stratum: s.stratum,
            leap: leap_bits(s.leap),
            precision: s.precision,
            refid: refid_text(s.reference_id, s.stratum),
            root_delay: s.root_delay,
            root_dispersion: s.root_dispersion,
            reference_time: Timestamp::from(s.reference_time),
            system_peer: s.system_peer,
            system_peer_id: s.system_peer_id.map(|id| id.0),
            offset: s.offset,
            frequency_ppm: s.frequency_ppm,
            jitter: s.jitter,
            clock_state: clock_state_name(s.clock_state).to_owned(),
            poll: s.poll,
            since_update: s.since_update,
            nts_server: s.nts_server,
            nts_master_key_id: s.nts_master_key_id,
        }
    }
}

/// One association (cntpPeers*).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AssociationSnapshot {
    /// cntpPeersAssocId.
    pub id: u32,
    /// cntpPeersConfigured: configured rather than created by a packet.
    pub configured: bool,
    /// cntpPeersPeerAddress.
    pub address: SocketAddr,
    /// Our side's mode: `client`, `sym_active`, `sym_passive`,
    /// `bcast_server` or `bcast_client`.
    pub mode: String,
    /// cntpPeersStratum (16 until it answers).
    pub stratum: u8,
    /// The remote's reference id, as `ntpq` shows it.
    pub refid: String,
    /// cntpPeersRootDelay, seconds.
    pub root_delay: f64,
    /// cntpPeersRootDispersion, seconds.
    pub root_dispersion: f64,
    /// cntpPeersRefTime.
    pub reference_time: Timestamp,
    /// cntpPeersReach, the 8-bit reach register.
    pub reach: u8,
    /// The poll interval, log2 seconds.
    pub poll: i8,
    /// cntpPeersOffset, seconds (positive: our clock is behind the remote).
    pub offset: Option<f64>,
    /// cntpPeersDelay, seconds.
    pub delay: Option<f64>,
    /// cntpPeersDispersion, seconds.
    pub dispersion: Option<f64>,
    /// Peer jitter, seconds.
    pub jitter: Option<f64>,
    /// Seconds since the last sample.
    pub since_sample: Option<f64>,
    /// How the selection judged it: `rejected`, `falseticker`, `outlier`,
    /// `candidate` or `sys_peer`.
    pub selection: String,
    /// The tally code `ntpq -p` prints: `*`, `+`, `-`, `x` or a space.
    pub tally: char,
    /// Packet counters.
    pub counters: AssociationCounters,
    /// Whether it authenticates with NTS (RFC 8915).
    #[serde(default)]
    pub nts: bool,
    /// NTS cookies it holds (0 without NTS, or while waiting for NTS-KE).
    #[serde(default)]
    pub nts_cookies: usize,
}

impl AssociationSnapshot {
    /// From the engine's status of one association (counters zero; see
    /// [`StatusSnapshot::capture`]).
    pub fn from_status(p: &PeerStatus) -> Self {
        let tally = p.selection.tally();
        AssociationSnapshot {
            id: p.id.0,
            configured: p.configured,
            address: p.address,
            mode: p.mode.name().to_owned(),
            stratum: p.stratum,
            refid: refid_text(p.reference_id, p.stratum),
            root_delay: p.root_delay,
            root_dispersion: p.root_dispersion,
            reference_time: Timestamp::from(p.reference_time),
            reach: p.reach,
            poll: p.poll,
            offset: p.offset,
            delay: p.delay,
            dispersion: p.dispersion,
            jitter: p.jitter,
            since_sample: p.since_sample,
            selection: selection_name(tally).to_owned(),
            tally,
            counters: AssociationCounters::default(),
            nts: p.nts,
            nts_cookies: p.nts_cookies,
        }
    }
}

/// One association's packet counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssociationCounters {
    /// Packets sent.
    pub sent: u64,
    /// Packets received.
    pub received: u64,
    /// Packets that gave a clock-filter sample.
    pub samples: u64,
    /// Packets rejected by any packet test.
    pub rejected: u64,
    /// Rejections per packet test (RFC 5905 Figure 22), tests 1..=7.
    pub rejected_by_test: [u64; 7],
    /// Kiss-o'-death packets accepted.
    pub kod: u64,
}

/// The node's packet counters (see `ntp_algo::Counters`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeCounters {
    /// Datagrams handed to the engine.
    pub received: u64,
    /// Datagrams that were not well-formed NTP packets.
    pub malformed: u64,
    /// Packets with an unsupported version.
    pub bad_version: u64,
    /// Packets of a mode not handled, or discarded by dispatch.
    pub discarded: u64,
    /// Packets refused by access control.
    pub access_denied: u64,
    /// Packets whose authentication failed or was missing.
    pub auth_failed: u64,
    /// Rejections per packet test, tests 1..=7.
    pub rejected_by_test: [u64; 7],
    /// Kiss-o'-death packets accepted.
    pub kod_received: u64,
    /// Client requests answered.
    pub replies_sent: u64,
    /// Answers signed with a key, among them.
    #[serde(default)]
    pub signed_replies: u64,
    /// Kiss-o'-death RATE replies sent.
    pub kod_sent: u64,
    /// Client requests dropped by the rate limiter.
    pub rate_dropped: u64,
    /// Polls sent by associations.
    pub polls_sent: u64,
    /// Events dropped because nobody drained them.
    pub events_dropped: u64,
    /// Replies to NTS associations refused by NTS (RFC 8915 §5.7); also in
    /// `auth_failed`.
    #[serde(default)]
    pub nts_rejected: u64,
    /// NTSN kisses received and honoured.
    #[serde(default)]
    pub nts_naks: u64,
    /// NTS polls not sent for want of a cookie.
    #[serde(default)]
    pub nts_unsent: u64,
    /// NTS requests answered (also in `replies_sent`).
    #[serde(default)]
    pub nts_replies: u64,
    /// NTSN kisses sent: a request's cookie no master key opens.
    #[serde(default)]
    pub nts_naks_sent: u64,
    /// NTS requests dropped: malformed, unauthenticated, or NTS service off.
    #[serde(default)]
    pub nts_dropped: u64,
}

/// The runtime's NTS-KE exchanges (RFC 8915 §4), server and client side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NtsKeCounters {
    /// Server: connections accepted.
    pub server_accepted: u64,
    /// Server: requests answered with cookies.
    pub server_served: u64,
    /// Server: requests answered with an Error record.
    pub server_refused: u64,
    /// Server: sessions that failed (TLS, malformed messages, early close).
    pub server_failed: u64,
    /// Server: connections closed for taking too long.
    pub server_timed_out: u64,
    /// Client: exchanges whose keys and cookies the engine took.
    pub client_provisioned: u64,
    /// Client: exchanges that failed.
    pub client_failed: u64,
}

/// An NTP timestamp as the raw 64-bit value in ntpq's hex notation and
/// as UTC (era 1 from 2036 on), `None`/`never` for zero.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timestamp {
    /// `SSSSSSSS.FFFFFFFF` (seconds and fraction, hex), as ntpq prints it.
    pub ntp: String,
    /// RFC 3339 UTC, `None` for the zero timestamp ("never").
    pub utc: Option<String>,
}

impl From<NtpTimestamp> for Timestamp {
    fn from(ts: NtpTimestamp) -> Self {
        Timestamp {
            ntp: format!("{:08X}.{:08X}", ts.seconds(), ts.fraction()),
            utc: if ts.is_zero() { None } else { utc_text(ts) },
        }
    }
}

/// `ts` as RFC 3339 UTC, read in the era that holds 1968..2104
/// (the pivot ntpd uses for timestamps it shows).
pub(crate) fn utc_text(ts: NtpTimestamp) -> Option<String> {
    let utc = ts.to_date(NtpDate::ERA1_START).and_then(NtpDate::to_utc)?;
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        utc.year,
        utc.month,
        utc.day,
        utc.hour,
        utc.minute,
        utc.second,
        utc.nanosecond / 1000
    ))
}

/// How ntpq shows a reference id: the four characters of a kiss code or
/// reference clock (`.LOCL.`) at stratum 0, 1 or 16, an address otherwise.
pub(crate) fn refid_text(id: ReferenceId, stratum: u8) -> String {
    if (stratum <= 1 || stratum >= 16)
        && let Some(text) = id.as_ascii()
    {
        return format!(".{text}.");
    }
    id.as_ipv4().to_string()
}

// The `_` arms below: the engine's and the wire crate's enums may be
// `#[non_exhaustive]`, and a value added later must still show.

fn leap_bits(leap: LeapIndicator) -> u8 {
    match leap {
        LeapIndicator::NoWarning => 0,
        LeapIndicator::InsertSecond => 1,
        LeapIndicator::DeleteSecond => 2,
        LeapIndicator::Unsynchronized => 3,
        #[allow(unreachable_patterns)]
        _ => 3,
    }
}

fn clock_state_name(state: ClockState) -> &'static str {
    match state {
        ClockState::Nset => "NSET",
        ClockState::Fset => "FSET",
        ClockState::Spik => "SPIK",
        ClockState::Freq => "FREQ",
        ClockState::Sync => "SYNC",
        #[allow(unreachable_patterns)]
        _ => "UNKN",
    }
}

/// The selection status's name, from its tally code (the one spelling
/// the engine guarantees).
fn selection_name(tally: char) -> &'static str {
    match tally {
        '*' => "sys_peer",
        '+' => "candidate",
        '-' => "outlier",
        'x' => "falseticker",
        _ => "rejected",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ntp_algo::{AssociationConfig, EngineConfig, Output};
    use ntp_wire::NtpDuration;
    use ntp_wire::auth::Keyring;

    /// A client synchronized to a stratum-1 server, exchanging datagrams
    /// directly (no sockets), and both snapshots.
    pub(crate) fn synchronized_pair() -> (StatusSnapshot, StatusSnapshot) {
        let now = NtpTimestamp::from_unix(1_795_219_200, 0);
        let server_addr: SocketAddr = "192.0.2.1:123".parse().unwrap();
        let client_addr: SocketAddr = "192.0.2.2:123".parse().unwrap();
        let mut config = EngineConfig::default();
        config.local_reference_stratum = Some(1);
        let mut server = Engine::new(config, Keyring::new(), now);
        let mut client = Engine::new(EngineConfig::default(), Keyring::new(), now);
        let mut association = AssociationConfig::client(server_addr);
        association.iburst = true;
        client.add_association(association, now).unwrap();
        let mut t = now;
        for _ in 0..40 {
            client.handle_timeout(t);
            server.handle_timeout(t);
            while let Output::Transmit(request) = client.poll_output() {
                server.handle_datagram(t, client_addr, request.payload());
                while let Output::Transmit(reply) = server.poll_output() {
                    client.handle_datagram(t, server_addr, reply.payload());
                }
            }
            t += NtpDuration::from_seconds_f64(0.5);
        }
        let listen = [client_addr];
        (
            StatusSnapshot::capture(&client, t, "software", &listen, 20.0),
            StatusSnapshot::capture(&server, t, "software", &[server_addr], 20.0),
        )
    }

    #[test]
    fn test_capture_covers_the_mib_and_round_trips_through_json() {
        let (client, server) = synchronized_pair();
        let s = &client.system;
        assert!(s.synchronized, "{client:#?}");
        assert_eq!((s.stratum, s.leap, s.source.as_str()), (2, 0, "peer"));
        assert_eq!(s.system_peer, Some("192.0.2.1:123".parse().unwrap()));
        assert_eq!(s.refid, "192.0.2.1");
        assert!(s.reference_time.utc.as_deref().unwrap().starts_with("2026-"));
        let a = client.association("192.0.2.1:123".parse().unwrap()).unwrap();
        assert_eq!((a.mode.as_str(), a.stratum, a.tally, a.selection.as_str()), ("client", 1, '*', "sys_peer"));
        assert!(a.configured && a.reach != 0 && a.offset.is_some() && a.delay.is_some());
        assert!(a.counters.samples >= 4 && a.counters.sent >= a.counters.samples, "{:?}", a.counters);
        assert_eq!(server.system.refid, ".LOCL.");
        assert_eq!(server.system.source, "local");
        assert!(server.counters.replies_sent >= 4);

        let json = client.to_json();
        assert_eq!(StatusSnapshot::from_json(&json).unwrap(), client);
        assert!(json.contains("\"frequency_ppm\""));
        assert!(StatusSnapshot::from_json("{\"system\": 1}").is_err());
    }

    #[test]
    fn test_capture_shows_nts_associations_service_and_counters() {
        let now = NtpTimestamp::from_unix(1_795_219_200, 0);
        let config = EngineConfig::default().with_nts_server(ntp_algo::NtsServerConfig::default());
        let mut engine = Engine::new(config, Keyring::new(), now);
        let nts_source: SocketAddr = "192.0.2.7:123".parse().unwrap();
        engine.add_association(AssociationConfig::client(nts_source).with_nts(true), now).unwrap();
        engine.add_association(AssociationConfig::client("192.0.2.8:123".parse().unwrap()), now).unwrap();
        let mut t = now;
        for _ in 0..4 {
            engine.handle_timeout(t);
            while !matches!(engine.poll_output(), Output::Timeout(_)) {}
            t += NtpDuration::from_seconds_f64(1.0);
        }
        let mut snapshot = StatusSnapshot::capture(&engine, t, "software", &[], 4.0);
        assert!(snapshot.system.nts_server);
        assert_eq!(snapshot.system.nts_master_key_id, engine.nts_master_keys().map(|k| k.current_id()));
        let nts = snapshot.association(nts_source).unwrap();
        assert!(nts.nts && nts.nts_cookies == 0 && nts.counters.sent == 0, "{nts:?}");
        assert!(!snapshot.association("192.0.2.8:123".parse().unwrap()).unwrap().nts);
        assert_eq!(snapshot.counters.nts_unsent, engine.counters().nts_unsent);
        assert_eq!(snapshot.nts_ke, NtsKeCounters::default());
        let server = crate::NtsKeServerCounters { accepted: 3, served: 2, refused: 1, ..Default::default() };
        snapshot.set_nts_ke(&server, (5, 1));
        assert_eq!((snapshot.nts_ke.server_served, snapshot.nts_ke.client_provisioned), (2, 5));
        let json = snapshot.to_json();
        assert!(json.contains("\"nts_cookies\"") && json.contains("\"server_refused\": 1"), "{json}");
        assert_eq!(StatusSnapshot::from_json(&json).unwrap(), snapshot);
    }

    #[test]
    fn test_status_files_without_nts_fields_still_read() {
        let (client, _) = synchronized_pair();
        let mut value: serde_json::Value = serde_json::from_str(&client.to_json()).unwrap();
        value.as_object_mut().unwrap().remove("nts_ke");
        for key in ["nts_server", "nts_master_key_id"] {
            value["system"].as_object_mut().unwrap().remove(key);
        }
        for key in ["nts", "nts_cookies"] {
            value["associations"][0].as_object_mut().unwrap().remove(key);
        }
        value["counters"].as_object_mut().unwrap().remove("nts_replies");
        assert_eq!(StatusSnapshot::from_json(&value.to_string()).unwrap(), client);
    }

    #[test]
    fn test_zero_timestamp_is_never() {
        let t = Timestamp::from(NtpTimestamp::from_bits(0));
        assert_eq!((t.ntp.as_str(), t.utc), ("00000000.00000000", None));
        let t = Timestamp::from(NtpTimestamp::from_unix(0, 500_000_000));
        assert_eq!(t.utc.as_deref(), Some("1970-01-01T00:00:00.500000Z"));
    }
}
