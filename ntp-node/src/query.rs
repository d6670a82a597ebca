//! `ntp-node status --host H`: reads a running server's status over mode 6,
//! as `ntpq -p` and `ntpq -c rv` do, with [`ntp_algo::ControlClient`] on a
//! UDP socket. Works against ntp-node and against ntpd/NTPsec. With
//! `--mru`, walks the server's list of recent clients instead (`ntpq -c
//! mrulist`, [`ntp_algo::MruWalk`]).

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use ntp_algo::{
    ClientError, ClientEvent, ControlClient, ControlResponse, MruEntry, MruStep, MruWalk, PeerVars, SystemVars,
    parse_association_list,
};
use ntp_wire::auth::Key;
use ntp_wire::control::Opcode;
use serde_json::{Value, json};

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The socket failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The protocol failed (timeout, error response, bad variables).
    #[error("{what}: {error}")]
    Control {
        /// Which request.
        what: String,
        /// What went wrong.
        error: ClientError,
    },
}

/// What the server said.
#[derive(Clone, Debug)]
pub struct RemoteStatus {
    /// Its system variables.
    pub system: SystemVars,
    /// Its associations' variables, by id.
    pub peers: Vec<PeerVars>,
}

/// A mode 6 session over one UDP socket.
struct Session {
    socket: UdpSocket,
    client: ControlClient,
    start: Instant,
}

impl Session {
    fn new(server: SocketAddr, key: Option<Key>) -> Result<Self, QueryError> {
        let local: SocketAddr = if server.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }
            .parse()
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "unspecified address"))?;
        let socket = UdpSocket::bind(local)?;
        socket.connect(server)?;
        Ok(Session { socket, client: ControlClient::new(key), start: Instant::now() })
    }

    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn ask(&mut self, opcode: Opcode, association_id: u16, data: &[u8]) -> Result<ControlResponse, QueryError> {
        let what = format!("{opcode} (association {association_id})");
        let fail = |error| QueryError::Control { what: what.clone(), error };
        let request = self.client.request(opcode, association_id, data, self.now()).map_err(fail)?;
        self.socket.send(&request)?;
        self.wait(&what)
    }

    /// Waits for the response to the request in flight (resending it once
    /// when the client says so).
    fn wait(&mut self, what: &str) -> Result<ControlResponse, QueryError> {
        let fail = |error| QueryError::Control { what: what.to_owned(), error };
        let mut buf = [0u8; 2048];
        loop {
            let Some(deadline) = self.client.deadline() else { return Err(fail(ClientError::Timeout)) };
            let wait = (deadline - self.now()).max(0.001);
            self.socket.set_read_timeout(Some(Duration::from_secs_f64(wait)))?;
            match self.socket.recv(&mut buf) {
                Ok(len) => {
                    let bytes = buf.get(..len).unwrap_or(&[]);
                    if let ClientEvent::Complete(response) =
                        self.client.handle_datagram(bytes, self.now()).map_err(fail)?
                    {
                        return Ok(response);
                    }
                }
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    if let Some(again) = self.client.handle_timeout(self.now()).map_err(fail)? {
                        self.socket.send(&again)?;
                    }
                }
                // A port-unreachable from an earlier datagram: keep waiting
                // until the deadline decides.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    std::thread::sleep(Duration::from_millis(50));
                    if let Some(again) = self.client.handle_timeout(self.now()).map_err(fail)? {
                        self.socket.send(&again)?;
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Reads the system variables and every association's variables from `server`.
pub fn query(server: SocketAddr, key: Option<Key>) -> Result<RemoteStatus, QueryError> {
    let mut session = Session::new(server, key)?;
    let list = session.ask(Opcode::ReadStatus, 0, b"")?;
    let rv = session.ask(Opcode::ReadVariables, 0, b"")?;
    let system =
        SystemVars::parse(&rv.data).map_err(|error| QueryError::Control { what: "system variables".into(), error })?;
    let mut peers = Vec::new();
    for (id, _) in parse_association_list(&list.data) {
        let response = session.ask(Opcode::ReadVariables, id, b"")?;
        let peer = PeerVars::parse(id, response.status, &response.data)
            .map_err(|error| QueryError::Control { what: format!("association {id}"), error })?;
        peers.push(peer);
    }
    Ok(RemoteStatus { system, peers })
}

/// Walks `server`'s MRU list (`ntpq -c mrulist`): its recent clients,
/// oldest first.
pub fn mru_list(server: SocketAddr, key: Option<Key>) -> Result<Vec<MruEntry>, QueryError> {
    const WHAT: &str = "MRU list";
    let fail = |error| QueryError::Control { what: WHAT.into(), error };
    let mut session = Session::new(server, key)?;
    let mut walk = MruWalk::new();
    let now = session.now();
    let mut request = walk.start(&mut session.client, now).map_err(fail)?;
    loop {
        session.socket.send(&request)?;
        let answer = session.wait(WHAT);
        let now = session.now();
        let step = match answer {
            Ok(response) => walk.handle_response(&mut session.client, &response, now),
            Err(QueryError::Control { error, .. }) => {
                walk.handle_error(&mut session.client, error, now).map(MruStep::Send)
            }
            Err(e) => return Err(e),
        };
        match step.map_err(fail)? {
            MruStep::Send(next) => request = next,
            MruStep::Done(rows) => return Ok(rows),
        }
    }
}

fn mru_address(e: &MruEntry) -> String {
    match (e.address, e.port) {
        (std::net::IpAddr::V6(ip), port) if port != 0 => format!("[{ip}]:{port}"),
        (ip, 0) => ip.to_string(),
        (ip, port) => format!("{ip}:{port}"),
    }
}

/// The MRU list as a table like `ntpq -c mrulist`'s: seconds since the
/// client was last and first heard from (relative to the newest row, as
/// the server's clock is not known here), packets, mode, version,
/// restriction flags and the address; newest first, as ntpq prints it.
pub fn mru_table(rows: &[MruEntry]) -> String {
    let mut out = String::from(
        "lstint fstint   count m v  rstr address
======================================================
",
    );
    let newest = rows.iter().map(|r| r.last).max();
    let ago = |t: ntp_wire::NtpTimestamp| newest.map_or(0.0, |n| (n - t).to_seconds_f64().max(0.0));
    for r in rows.iter().rev() {
        out.push_str(&format!(
            "{:>6.0} {:>6.0} {:>7} {} {} {:>5x} {}\n",
            ago(r.last),
            ago(r.first),
            r.count,
            r.mode,
            r.version,
            r.restrictions,
            mru_address(r)
        ));
    }
    out
}

/// The MRU list as JSON, oldest first (timestamps in ntpd's hex form).
pub fn mru_json(rows: &[MruEntry]) -> Value {
    let ts = |t: ntp_wire::NtpTimestamp| format!("{:#010x}.{:08x}", t.seconds(), t.fraction());
    Value::Array(
        rows.iter()
            .map(|r| {
                json!({
                    "address": r.address.to_string(),
                    "port": r.port,
                    "first": ts(r.first),
                    "last": ts(r.last),
                    "count": r.count,
                    "mode": r.mode,
                    "version": r.version,
                    "restrictions": r.restrictions,
                })
            })
            .collect(),
    )
}

fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// The type column of `ntpq -p`: u unicast, s symmetric, b broadcast.
fn kind(hmode: Option<u8>) -> char {
    match hmode {
        Some(1 | 2) => 's',
        Some(5 | 6) => 'b',
        _ => 'u',
    }
}

/// The `ntpq -p` table: tally, remote, refid, st, t, when, poll, reach
/// (octal), delay, offset, jitter (ms).
pub fn peers_table(status: &RemoteStatus) -> String {
    let mut out = String::from(
        "     remote           refid      st t when poll reach   delay   offset   jitter\n\
         ==============================================================================\n",
    );
    let clock = status.system.clock;
    for p in &status.peers {
        let when = match (clock, p.rec) {
            (Some(c), Some(r)) if r.to_bits() != 0 => {
                let d = (c - r).to_seconds_f64();
                if d >= 0.0 { format!("{}", d.round() as i64) } else { "-".into() }
            }
            _ => "-".into(),
        };
        let poll = p.hpoll.map_or_else(|| "-".to_owned(), |h| (1u64 << h.clamp(0, 17)).to_string());
        let ms = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{:.3}", v * 1e3));
        out.push_str(&format!(
            "{}{:<15} {:<15} {:>2} {} {:>4} {:>4} {:>5o} {:>7} {:>8} {:>8}\n",
            p.status.selection.tally(),
            or_dash(p.address),
            p.refid.clone().unwrap_or_else(|| "-".into()),
            or_dash(p.stratum),
            kind(p.hmode),
            when,
            poll,
            p.reach.unwrap_or(0),
            ms(p.delay),
            ms(p.offset),
            ms(p.jitter),
        ));
    }
    out
}

/// The system variables as `name=value` lines.
pub fn system_text(status: &RemoteStatus) -> String {
    status.system.raw.iter().map(|(n, v)| format!("{n}={v}\n")).collect()
}

/// The status as JSON: typed system and peer values (seconds, ppm), plus
/// each association's tally character.
pub fn to_json(status: &RemoteStatus) -> Value {
    let s = &status.system;
    let ts = |t: Option<ntp_wire::NtpTimestamp>| t.map(|t| format!("{:#010x}.{:08x}", t.seconds(), t.fraction()));
    let peers: Vec<Value> = status
        .peers
        .iter()
        .map(|p| {
            json!({
                "association_id": p.association_id,
                "tally": p.status.selection.tally().to_string(),
                "address": p.address.map(|a| a.to_string()),
                "port": p.port,
                "stratum": p.stratum,
                "refid": p.refid,
                "reach": p.reach,
                "hmode": p.hmode,
                "hpoll": p.hpoll,
                "ppoll": p.ppoll,
                "delay": p.delay,
                "offset": p.offset,
                "jitter": p.jitter,
                "dispersion": p.dispersion,
                "filter_delay": p.filter_delay,
                "filter_offset": p.filter_offset,
                "filter_dispersion": p.filter_dispersion,
            })
        })
        .collect();
    json!({
        "system": {
            "version": s.version,
            "leap": s.leap,
            "stratum": s.stratum,
            "precision": s.precision,
            "root_delay": s.root_delay,
            "root_dispersion": s.root_dispersion,
            "refid": s.refid,
            "reference_time": ts(s.reference_time),
            "clock": ts(s.clock),
            "peer": s.peer,
            "poll": s.poll,
            "offset": s.offset,
            "frequency_ppm": s.frequency_ppm,
            "sys_jitter": s.sys_jitter,
            "clk_jitter": s.clk_jitter,
            "clk_wander_ppm": s.clk_wander_ppm,
        },
        "peers": peers,
    })
}

/// `ntp-node status --host`: queries `host` and prints the peers table and
/// the system variables, or JSON.
pub fn status_command(
    host: &str,
    key_id: Option<u32>,
    keyfile: Option<&std::path::Path>,
    as_json: bool,
    mru: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let server = crate::cli::parse_remote(host).map_err(|e| format!("--host {host:?}: {e}"))?;
    let key = match (key_id, keyfile) {
        (Some(id), Some(path)) => {
            let ring = crate::keys::read_key_file(path, None)?;
            Some(ring.get(id).cloned().ok_or_else(|| format!("--key {id}: not in {}", path.display()))?)
        }
        _ => None,
    };
    if mru {
        let rows = mru_list(server, key)?;
        if as_json {
            println!("{}", serde_json::to_string_pretty(&mru_json(&rows))?);
        } else {
            print!("{}", mru_table(&rows));
        }
        return Ok(());
    }
    let status = query(server, key)?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&to_json(&status))?);
    } else {
        print!("{}", peers_table(&status));
        println!();
        print!("{}", system_text(&status));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;
    use ntp_algo::{Engine, EngineConfig, Output};
    use ntp_wire::NtpTimestamp;
    use ntp_wire::auth::Keyring;

    /// A real UDP exchange with an engine on loopback, served by a thread.
    #[test]
    fn test_query_over_udp_against_an_engine() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let server = socket.local_addr().unwrap();
        let handle = std::thread::spawn(move || {
            let mut now = NtpTimestamp::from_unix(1_795_219_200, 0);
            let mut engine = Engine::new(EngineConfig::default().with_local_reference(3), Keyring::new(), now);
            socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 1024];
            // READSTAT and READVAR; no associations to ask about.
            for _ in 0..2 {
                let (len, from) = socket.recv_from(&mut buf).unwrap();
                now += ntp_wire::NtpDuration::from_seconds_f64(0.001);
                engine.handle_datagram(now, from, &buf[..len]);
                while let Output::Transmit(t) = engine.poll_output() {
                    socket.send_to(t.payload(), t.destination).unwrap();
                }
            }
        });
        let status = query(server, None).unwrap();
        handle.join().unwrap();
        assert_eq!(status.system.stratum, Some(3));
        assert!(status.peers.is_empty());
        let json = to_json(&status);
        assert_eq!(json["system"]["stratum"], 3);
        assert!(peers_table(&status).starts_with("     remote"));
        assert!(system_text(&status).contains("stratum=3\n"));
    }

    /// The MRU walk over UDP: an engine whose time service heard from 60
    /// clients, so the walk takes several READ_MRU answers.
    #[test]
    fn test_mru_list_over_udp_against_an_engine() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let server = socket.local_addr().unwrap();
        let handle = std::thread::spawn(move || {
            let mut now = NtpTimestamp::from_unix(1_795_219_200, 0);
            let mut config = EngineConfig::default().with_local_reference(3);
            config.responder.rate_limit = Some(ntp_algo::RateLimitConfig::default());
            let mut engine = Engine::new(config, Keyring::new(), now);
            for i in 0..60u8 {
                let mut packet = [0u8; 48];
                packet[0] = 0x23;
                now += ntp_wire::NtpDuration::from_seconds_f64(0.01);
                engine.handle_datagram(now, format!("192.0.2.{i}:123").parse().unwrap(), &packet);
                while let Output::Transmit(_) = engine.poll_output() {}
            }
            socket.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
            let mut buf = [0u8; 1024];
            while let Ok((len, from)) = socket.recv_from(&mut buf) {
                now += ntp_wire::NtpDuration::from_seconds_f64(0.001);
                engine.handle_datagram(now, from, &buf[..len]);
                while let Output::Transmit(t) = engine.poll_output() {
                    socket.send_to(t.payload(), t.destination).unwrap();
                }
            }
        });
        let rows = mru_list(server, None).unwrap();
        handle.join().unwrap();
        assert_eq!(rows.len(), 61, "60 time clients and ourselves");
        assert_eq!(rows.iter().filter(|r| r.mode == 3 && r.version == 4 && r.count == 1).count(), 60);
        let table = mru_table(&rows);
        assert_eq!(table.lines().count(), 63);
        assert!(table.lines().nth(2).unwrap().ends_with(&format!("127.0.0.1:{}", rows[60].port)), "newest first");
        assert_eq!(mru_json(&rows)[0]["address"], "192.0.2.0");
    }

    #[test]
    fn test_silent_server_times_out_after_the_retry() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let server = socket.local_addr().unwrap();
        let mut session = Session::new(server, None).unwrap();
        let started = Instant::now();
        let err = session.ask(Opcode::ReadVariables, 0, b"");
        assert!(matches!(err, Err(QueryError::Control { error: ClientError::Timeout, .. })), "{err:?}");
        let waited = started.elapsed().as_secs_f64();
        assert!((9.5..12.0).contains(&waited), "5 s, one retry, 5 s: {waited}");
        drop(socket);
    }
}
