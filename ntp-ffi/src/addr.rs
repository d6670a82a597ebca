//! Socket addresses as they cross the ABI.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::result::ntp_result;

/// An IP address and UDP port, independent of the platform's `sockaddr`.
///
/// - `family`: 4 for IPv4 (address in `addr[0..4]`, the rest zero), 6 for
///   IPv6 (all 16 bytes); 0 in outputs means "no address".
/// - `port`: in host byte order.
/// - `addr`: in network byte order (as written in dotted or colon notation).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ntp_sockaddr {
    /// 4 or 6 (0: none, in outputs only).
    pub family: u16,
    /// UDP port, host byte order.
    pub port: u16,
    /// Address bytes, network order; IPv4 uses the first 4.
    pub addr: [u8; 16],
}

impl ntp_sockaddr {
    /// The "no address" value (family 0).
    pub(crate) const NONE: ntp_sockaddr = ntp_sockaddr { family: 0, port: 0, addr: [0; 16] };

    pub(crate) fn to_socket_addr(self) -> Result<SocketAddr, ntp_result> {
        match self.family {
            4 => {
                let [a, b, c, d, ..] = self.addr;
                Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), self.port))
            }
            6 => Ok(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(self.addr)), self.port)),
            _ => Err(ntp_result::InvalidParameter),
        }
    }

    pub(crate) fn from_ip(ip: IpAddr, port: u16) -> ntp_sockaddr {
        let mut addr = [0u8; 16];
        let family = match ip {
            IpAddr::V4(v4) => {
                if let Some(dst) = addr.get_mut(..4) {
                    dst.copy_from_slice(&v4.octets());
                }
                4
            }
            IpAddr::V6(v6) => {
                addr = v6.octets();
                6
            }
        };
        ntp_sockaddr { family, port, addr }
    }

    pub(crate) fn from_socket_addr(sa: SocketAddr) -> ntp_sockaddr {
        ntp_sockaddr::from_ip(sa.ip(), sa.port())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_both_families() {
        for s in ["192.0.2.1:123", "[2001:db8::1]:4123"] {
            let sa: SocketAddr = s.parse().unwrap();
            assert_eq!(ntp_sockaddr::from_socket_addr(sa).to_socket_addr().unwrap(), sa);
        }
        let bad = ntp_sockaddr { family: 5, ..ntp_sockaddr::NONE };
        assert_eq!(bad.to_socket_addr(), Err(ntp_result::InvalidParameter));
    }
}
