//! Log lines for engine events: one human-readable line each
//! (`2026-12-01T22:10:00.000000Z system peer is now 127.0.0.1:123 (stratum 2)`),
//! or one JSON object per line for machines.

use std::net::SocketAddr;

use ntp_algo::{DemobilizeReason, Engine, Event};
use ntp_wire::NtpTimestamp;
use serde::{Deserialize, Serialize};

use crate::snapshot::utc_text;

/// One event, ready to print.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// When, UTC (RFC 3339) on the node's clock.
    pub time: String,
    /// A stable name for the kind of event (`system_peer`, `clock_step`, ...).
    pub event: String,
    /// The human-readable sentence.
    pub message: String,
    /// The association concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<u32>,
    /// The remote address concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub address: Option<SocketAddr>,
    /// A step or refused offset, seconds.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub offset: Option<f64>,
    /// A stratum the event is about.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stratum: Option<u8>,
}

impl LogRecord {
    /// The human-readable line (without newline).
    pub fn text(&self) -> String {
        format!("{} {}", self.time, self.message)
    }

    /// The JSON line (without newline).
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    fn new(now: NtpTimestamp, event: &str, message: String) -> Self {
        LogRecord {
            time: utc_text(now).unwrap_or_default(),
            event: event.to_owned(),
            message,
            id: None,
            address: None,
            offset: None,
            stratum: None,
        }
    }
}

/// Whether an event is routine enough to leave out unless asked for
/// (`--verbose`): packets rejected by a test, which a flood can make many.
pub fn is_verbose_only(event: &Event) -> bool {
    matches!(event, Event::PacketRejected { .. })
}

/// Describes `event`, looking associations up in `engine` for addresses
/// and strata.
pub fn describe(event: &Event, engine: &Engine, now: NtpTimestamp) -> LogRecord {
    let remote = |id: ntp_algo::AssociationId| engine.association(id).map(|a| (a.config().address, a.stratum()));
    let name = |id: ntp_algo::AssociationId| match remote(id) {
        Some((address, _)) => format!("{address} (association {id})"),
        None => format!("association {id}"),
    };
    let mut record = match *event {
        Event::Mobilized { id, address, mode, ephemeral } => {
            let how = if ephemeral { "mobilized by a packet" } else { "configured" };
            let mut r =
                LogRecord::new(now, "mobilized", format!("association {id} with {address} ({}) {how}", mode.name()));
            r.id = Some(id.0);
            r.address = Some(address);
            r
        }
        Event::Demobilized { id, address, reason } => {
            let why = match reason {
                DemobilizeReason::Removed => "removed".to_owned(),
                DemobilizeReason::Unreachable => "unreachable too long".to_owned(),
                DemobilizeReason::KissOfDeath(code) => format!("kiss-o'-death {code}"),
                #[allow(unreachable_patterns)]
                other => format!("{other:?}"),
            };
            let mut r = LogRecord::new(now, "demobilized", format!("association {id} with {address} ended: {why}"));
            r.id = Some(id.0);
            r.address = Some(address);
            r
        }
        Event::Reachable { id } => {
            let mut r = LogRecord::new(now, "reachable", format!("{} is reachable", name(id)));
            r.id = Some(id.0);
            r.address = remote(id).map(|(a, _)| a);
            r
        }
        Event::Unreachable { id } => {
            let mut r = LogRecord::new(now, "unreachable", format!("{} is unreachable", name(id)));
            r.id = Some(id.0);
            r.address = remote(id).map(|(a, _)| a);
            r
        }
        Event::KissOfDeath { id, code } => {
            let mut r = LogRecord::new(now, "kiss_of_death", format!("{} sent kiss-o'-death {code}", name(id)));
            r.id = Some(id.0);
            r.address = remote(id).map(|(a, _)| a);
            r
        }
        Event::PacketRejected { source, id, test } => {
            let mut r = LogRecord::new(
                now,
                "packet_rejected",
                format!("packet from {source} failed test {} ({test:?})", test.number()),
            );
            r.id = id.map(|id| id.0);
            r.address = Some(source);
            r
        }
        Event::SystemPeerChanged { to: Some(id), .. } => {
            let (message, address, stratum) = match remote(id) {
                Some((address, stratum)) => {
                    (format!("system peer is now {address} (stratum {stratum})"), Some(address), Some(stratum))
                }
                None => (format!("system peer is now association {id}"), None, None),
            };
            let mut r = LogRecord::new(now, "system_peer", message);
            r.id = Some(id.0);
            r.address = address;
            r.stratum = stratum;
            r
        }
        Event::SystemPeerChanged { to: None, .. } => {
            LogRecord::new(now, "system_peer", "no system peer any more".to_owned())
        }
        Event::FalsetickerRejected { id } => {
            let mut r = LogRecord::new(now, "falseticker", format!("{} is a falseticker", name(id)));
            r.id = Some(id.0);
            r.address = remote(id).map(|(a, _)| a);
            r
        }
        Event::SyncGained { stratum } => {
            let mut r = LogRecord::new(now, "sync_gained", format!("clock synchronized at stratum {stratum}"));
            r.stratum = Some(stratum);
            r
        }
        Event::SyncLost => LogRecord::new(now, "sync_lost", "no usable source: the clock runs free".to_owned()),
        Event::LocalReferenceInUse { stratum } => {
            let mut r = LogRecord::new(now, "local_reference", format!("serving the local clock at stratum {stratum}"));
            r.stratum = Some(stratum);
            r
        }
        Event::ClockStepped { offset } => {
            let mut r = LogRecord::new(now, "clock_step", format!("clock stepped by {offset:+.6} s"));
            r.offset = Some(offset);
            r
        }
        Event::PanicOffset { offset } => {
            let mut r = LogRecord::new(
                now,
                "panic_offset",
                format!("offset {offset:+.3} s is beyond the panic threshold; refused"),
            );
            r.offset = Some(offset);
            r
        }
        Event::LeapChanged { leap } => LogRecord::new(now, "leap", format!("leap indicator is now: {leap}")),
        // Events added to the engine after this was written (the enum is
        // open to additions) still get a line, in the engine's own words.
        #[allow(unreachable_patterns)]
        ref other => LogRecord::new(now, "other", format!("{other:?}")),
    };
    // The record's time is the event's, which is when it was drained.
    record.time = utc_text(now).unwrap_or_default();
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use ntp_algo::{AssociationConfig, AssociationId, EngineConfig};
    use ntp_wire::auth::Keyring;

    #[test]
    fn test_lines_read_as_sentences_with_time() {
        let now = NtpTimestamp::from_unix(1_796_162_400, 0); // 2026-12-01T22:00:00Z
        let mut engine = Engine::new(EngineConfig::default(), Keyring::new(), now);
        let server: SocketAddr = "127.0.0.1:123".parse().unwrap();
        engine.add_association(AssociationConfig::client(server), now).unwrap();
        let id = engine.associations().next().unwrap().id();
        let record = describe(&Event::SystemPeerChanged { from: None, to: Some(id) }, &engine, now);
        assert_eq!(record.text(), "2026-12-01T22:00:00.000000Z system peer is now 127.0.0.1:123 (stratum 16)");
        assert_eq!((record.id, record.address), (Some(id.0), Some(server)));
        let step = describe(&Event::ClockStepped { offset: -0.05 }, &engine, now);
        assert_eq!(step.message, "clock stepped by -0.050000 s");
        let json: serde_json::Value = serde_json::from_str(&step.json()).unwrap();
        assert_eq!(json["event"], "clock_step");
        assert_eq!(json["offset"], -0.05);
        assert!(json.get("id").is_none());
        let gone = describe(&Event::Reachable { id: AssociationId(99) }, &engine, now);
        assert_eq!(gone.message, "association 99 is reachable");
        assert!(!gone.text().contains("Reachable {"), "no Rust Debug in log lines");
    }
}
