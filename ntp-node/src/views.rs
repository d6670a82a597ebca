//! Text views of a [`StatusSnapshot`] in the formats operators know:
//! Cisco IOS `show ntp status` / `show ntp associations`, Huawei VRP
//! `display ntp-service status`, and `ntpq -p`.
//!
//! The layouts follow the vendors' documented output; the values are
//! ours, so a field the vendor shows and we do not have is left out rather
//! than invented.

use std::fmt::Write as _;

use crate::snapshot::{AssociationSnapshot, StatusSnapshot, SystemSnapshot, Timestamp};

/// Which view to render (the `status --view` option).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum View {
    /// The snapshot as JSON.
    Json,
    /// Cisco IOS `show ntp status`.
    CiscoStatus,
    /// Cisco IOS `show ntp associations`.
    CiscoAssociations,
    /// Huawei VRP `display ntp-service status`.
    HuaweiStatus,
    /// `ntpq -p`.
    Ntpq,
}

/// Renders `snapshot` as `view`.
pub fn render(snapshot: &StatusSnapshot, view: View) -> String {
    match view {
        View::Json => {
            let mut json = snapshot.to_json();
            json.push('\n');
            json
        }
        View::CiscoStatus => cisco_show_ntp_status(&snapshot.system),
        View::CiscoAssociations => cisco_show_ntp_associations(&snapshot.associations),
        View::HuaweiStatus => {
            let peer = snapshot.system.system_peer_id.and_then(|id| snapshot.associations.iter().find(|a| a.id == id));
            huawei_display_ntp_status(&snapshot.system, peer.and_then(|p| p.dispersion))
        }
        View::Ntpq => ntpq_peers(&snapshot.associations),
    }
}

/// `SSSSSSSS.FFFFFFFF (hh:mm:ss.mmm UTC yyyy-mm-dd)`, as Cisco prints a reference time.
fn date_text(ts: &Timestamp) -> String {
    let Some(utc) = &ts.utc else { return format!("{} (never)", ts.ntp) };
    // utc is `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    match (utc.get(..10), utc.get(11..23)) {
        (Some(date), Some(time)) => format!("{} ({time} UTC {date})", ts.ntp),
        _ => ts.ntp.clone(),
    }
}

fn state_text(state: &str) -> &'static str {
    match state {
        "NSET" => "'NSET' (never set)",
        "FSET" => "'FSET' (frequency set from file)",
        "SPIK" => "'SPIK' (spike detected)",
        "FREQ" => "'FREQ' (measuring frequency)",
        "SYNC" => "'CTRL' (normal controlled loop)",
        _ => "'UNKN' (unknown)",
    }
}

fn poll_seconds(poll: i8) -> u64 {
    1u64 << poll.clamp(0, 17)
}

fn milliseconds(value: Option<f64>) -> String {
    value.map_or("-".to_owned(), |v| format!("{:.3}", v * 1e3))
}

/// Cisco IOS `show ntp status`.
pub fn cisco_show_ntp_status(s: &SystemSnapshot) -> String {
    let mut out = String::new();
    let reference = match (s.system_peer, s.source.as_str()) {
        (Some(addr), _) => addr.ip().to_string(),
        (None, "local" | "orphan") => s.refid.clone(),
        _ => "none".to_owned(),
    };
    let sync = if s.synchronized { "synchronized" } else { "unsynchronized" };
    let _ = writeln!(out, "Clock is {sync}, stratum {}, reference is {reference}", s.stratum);
    let _ = writeln!(out, "frequency correction is {:+.4} ppm, precision is 2**{}", s.frequency_ppm, s.precision);
    let _ = writeln!(out, "reference time is {}", date_text(&s.reference_time));
    let _ = writeln!(out, "clock offset is {:.4} msec, root delay is {:.2} msec", s.offset * 1e3, s.root_delay * 1e3);
    let _ = writeln!(
        out,
        "root dispersion is {:.2} msec, system jitter is {:.4} msec",
        s.root_dispersion * 1e3,
        s.jitter * 1e3
    );
    let _ =
        writeln!(out, "loopfilter state is {}, drift is {:.9} s/s", state_text(&s.clock_state), s.frequency_ppm * 1e-6);
    let since = s.since_update.map_or("never".to_owned(), |d| format!("{d:.0} sec ago"));
    let _ = writeln!(out, "system poll interval is {}, last update was {since}.", poll_seconds(s.poll));
    out
}

/// The `auth` column the association tables grow when an association uses
/// NTS (RFC 8915): `nts/N` with N the cookies it holds, `none` otherwise.
/// Without NTS associations the tables keep the vendors' layout exactly.
struct AuthColumn {
    header: &'static str,
}

impl AuthColumn {
    fn cell(&self, p: &AssociationSnapshot) -> String {
        match (self.header.is_empty(), p.nts) {
            (true, _) => String::new(),
            (false, true) => format!(" {:>7}", format!("nts/{}", p.nts_cookies)),
            (false, false) => format!(" {:>7}", "none"),
        }
    }
}

fn auth_column(peers: &[AssociationSnapshot]) -> AuthColumn {
    AuthColumn { header: if peers.iter().any(|p| p.nts) { "    auth" } else { "" } }
}

/// Cisco IOS `show ntp associations`.
pub fn cisco_show_ntp_associations(peers: &[AssociationSnapshot]) -> String {
    let mut out = String::new();
    let auth = auth_column(peers);
    let _ = writeln!(
        out,
        "  address                 ref clock       st   when   poll reach  delay  offset    disp{}",
        auth.header
    );
    for p in peers {
        let configured = if p.configured { '~' } else { ' ' };
        let when = p.since_sample.map_or("-".to_owned(), |d| format!("{d:.0}"));
        let _ = writeln!(
            out,
            "{}{}{:<22} {:<15} {:>2} {:>6} {:>6} {:>5o} {:>6} {:>7} {:>7}{}",
            p.tally,
            configured,
            p.address.to_string(),
            p.refid,
            p.stratum,
            when,
            poll_seconds(p.poll),
            p.reach,
            milliseconds(p.delay),
            milliseconds(p.offset),
            milliseconds(p.dispersion),
            auth.cell(p),
        );
    }
    let _ = writeln!(out, " * sys.peer, # selected, + candidate, - outlyer, x falseticker, ~ configured");
    out
}

/// Huawei VRP `display ntp-service status`; `peer_dispersion` is the
/// system peer's dispersion, seconds.
pub fn huawei_display_ntp_status(s: &SystemSnapshot, peer_dispersion: Option<f64>) -> String {
    let mut out = String::new();
    let status = if s.synchronized { "synchronized" } else { "unsynchronized" };
    let reference = match (s.system_peer, s.source.as_str()) {
        (Some(addr), _) => addr.ip().to_string(),
        (None, "local") => "LOCAL(0)".to_owned(),
        _ => "none".to_owned(),
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
    let _ = writeln!(out, " reference time: {}", date_text(&s.reference_time));
    let state = if s.synchronized { "clock synchronized" } else { "clock not synchronized" };
    let _ = writeln!(out, " synchronization state: {state}");
    out
}

/// An `ntpq -p` peer table.
pub fn ntpq_peers(peers: &[AssociationSnapshot]) -> String {
    let mut out = String::new();
    let auth = auth_column(peers);
    let _ = writeln!(
        out,
        "     remote              refid       st t  when poll reach   delay   offset   jitter{}",
        auth.header
    );
    let _ = writeln!(out, "{}", "=".repeat(86 + auth.header.len()));
    for p in peers {
        let kind = match p.mode.as_str() {
            "sym_active" | "sym_passive" => 's',
            "bcast_server" | "bcast_client" => 'b',
            _ => 'u',
        };
        let when = p.since_sample.map_or("-".to_owned(), |d| format!("{d:.0}"));
        let _ = writeln!(
            out,
            "{}{:<21} {:<15} {:>2} {} {:>5} {:>4} {:>5o} {:>7} {:>8} {:>8}{}",
            p.tally,
            p.address.to_string(),
            p.refid,
            p.stratum,
            kind,
            when,
            poll_seconds(p.poll),
            p.reach,
            milliseconds(p.delay),
            milliseconds(p.offset),
            milliseconds(p.jitter),
            auth.cell(p),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::tests::synchronized_pair;

    #[test]
    fn test_synchronized_views() {
        let (client, server) = synchronized_pair();
        let status = render(&client, View::CiscoStatus);
        assert!(status.starts_with("Clock is synchronized, stratum 2, reference is 192.0.2.1\n"), "{status}");
        assert!(status.contains("precision is 2**-20"));
        assert!(status.contains(" UTC 2026-"), "{status}");
        let associations = render(&client, View::CiscoAssociations);
        assert!(
            associations.lines().any(|l| l.starts_with("*~192.0.2.1:123") && l.contains(".LOCL.")),
            "{associations}"
        );
        let huawei = render(&client, View::HuaweiStatus);
        for line in [" clock status: synchronized", " clock stratum: 2", " reference clock ID: 192.0.2.1"] {
            assert!(huawei.lines().any(|l| l == line), "{line:?} missing in\n{huawei}");
        }
        let ntpq = render(&client, View::Ntpq);
        assert!(ntpq.lines().any(|l| l.starts_with("*192.0.2.1:123") && l.contains(" u ")), "{ntpq}");
        let local = render(&server, View::CiscoStatus);
        assert!(local.starts_with("Clock is synchronized, stratum 1, reference is .LOCL.\n"), "{local}");
        assert!(render(&server, View::HuaweiStatus).contains(" reference clock ID: LOCAL(0)"));
        assert_eq!(StatusSnapshot::from_json(&render(&client, View::Json)).unwrap(), client);
    }

    #[test]
    fn test_unsynchronized_views() {
        let (mut client, _) = synchronized_pair();
        client.system.synchronized = false;
        client.system.system_peer = None;
        client.system.source = "none".into();
        client.system.since_update = None;
        client.system.reference_time = Timestamp { ntp: "00000000.00000000".into(), utc: None };
        let status = cisco_show_ntp_status(&client.system);
        assert!(status.starts_with("Clock is unsynchronized, stratum 2, reference is none"), "{status}");
        assert!(status.contains("last update was never") && status.contains("(never)"), "{status}");
        assert!(huawei_display_ntp_status(&client.system, None).contains(" clock status: unsynchronized"));
        let association = client.associations.first_mut().unwrap();
        association.offset = None;
        assert!(cisco_show_ntp_associations(&client.associations).lines().nth(1).unwrap().contains(" - "));
    }

    #[test]
    fn test_nts_associations_get_an_auth_column() {
        let (mut client, _) = synchronized_pair();
        let plain = render(&client, View::Ntpq);
        assert!(!plain.contains("auth") && !plain.contains("nts"), "{plain}");
        let mut second = client.associations.first().unwrap().clone();
        second.address = "192.0.2.9:123".parse().unwrap();
        second.nts = true;
        second.nts_cookies = 7;
        client.associations.push(second);
        for view in [View::Ntpq, View::CiscoAssociations] {
            let text = render(&client, view);
            assert!(text.lines().next().unwrap().ends_with("    auth"), "{text}");
            assert!(text.lines().any(|l| l.contains("192.0.2.9:123") && l.ends_with("  nts/7")), "{text}");
            assert!(text.lines().any(|l| l.contains("192.0.2.1:123") && l.ends_with("   none")), "{text}");
        }
        let ntpq = render(&client, View::Ntpq);
        // The rule under the header grows with it.
        assert_eq!(ntpq.lines().nth(1).unwrap().len(), 86 + "    auth".len(), "{ntpq}");
    }
}
