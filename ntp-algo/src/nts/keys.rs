//! The two session keys NTS-KE exports from TLS (RFC 8915 §5.1).

use ntp_wire::nts::AeadKey;
use ntp_wire::nts::ke::{AEAD_AES_SIV_CMAC_256, PROTOCOL_NTPV4};

/// The TLS exporter label of NTS-KE (RFC 8915 §5.1).
pub const NTS_EXPORTER_LABEL: &[u8] = b"EXPORTER-network-time-security";

/// Which way a key protects packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NtsKeyDirection {
    /// Client to server: requests.
    ClientToServer,
    /// Server to client: responses.
    ServerToClient,
}

/// The TLS exporter context for NTPv4 with AEAD_AES_SIV_CMAC_256 (RFC 8915
/// §5.1): the protocol id and the AEAD id as big-endian 16-bit words, then
/// 0x00 for the client-to-server key or 0x01 for the server-to-client key.
pub fn nts_exporter_context(direction: NtsKeyDirection) -> [u8; 5] {
    let [p0, p1] = PROTOCOL_NTPV4.to_be_bytes();
    let [a0, a1] = AEAD_AES_SIV_CMAC_256.to_be_bytes();
    let d = match direction {
        NtsKeyDirection::ClientToServer => 0,
        NtsKeyDirection::ServerToClient => 1,
    };
    [p0, p1, a0, a1, d]
}

/// The session keys of one NTS association.
#[derive(Clone, Debug)]
pub struct NtsKeys {
    /// Seals requests (client) and opens them (server).
    pub c2s: AeadKey,
    /// Seals responses (server) and opens them (client).
    pub s2c: AeadKey,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_follow_the_rfc() {
        assert_eq!(nts_exporter_context(NtsKeyDirection::ClientToServer), [0, 0, 0, 15, 0]);
        assert_eq!(nts_exporter_context(NtsKeyDirection::ServerToClient), [0, 0, 0, 15, 1]);
    }
}
