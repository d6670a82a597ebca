//! One UDP socket of the runtime, opened the way both real kernels and
//! clknetsim accept, with batched I/O and a one-datagram fallback.

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};

use socket2::{Domain, SockAddr, Socket, Type};

use crate::sys::net::{self, RecvBatch};

/// Requested receive and send buffer sizes, bytes. Linux's default
/// (about 200 KiB) holds only a few hundred small datagrams, because each
/// is charged with its buffer overhead (near 1 KiB on loopback); a burst of
/// requests larger than that is dropped before the server reads any of it.
/// 4 MiB holds a few thousand, several milliseconds of requests at full
/// load.
const SOCKET_BUFFER: usize = 4 << 20;

/// A bound, non-blocking UDP socket.
#[derive(Debug)]
pub(crate) struct UdpEndpoint {
    socket: UdpSocket,
    local: SocketAddr,
    /// Use recvmmsg/sendmmsg; cleared for good the first time the system
    /// says it has no such call for this descriptor.
    batched: bool,
}

impl UdpEndpoint {
    /// Opens a socket bound to `addr` (port 0: one the kernel picks) with
    /// `SO_BROADCAST` set, so broadcast-server associations can send.
    ///
    /// The socket is created with the plain `SOCK_DGRAM` type, without
    /// `SOCK_CLOEXEC`/`SOCK_NONBLOCK` (which clknetsim's `socket()`
    /// refuses); the flags are set afterwards with `fcntl`. An IPv6 socket
    /// is IPv6-only, so `[::]` and `0.0.0.0` can be listened on together.
    pub(crate) fn bind(addr: SocketAddr, batched: bool) -> io::Result<Self> {
        let domain = if addr.is_ipv4() { Domain::IPV4 } else { Domain::IPV6 };
        let socket = Socket::new_raw(domain, Type::DGRAM, None)?;
        net::set_cloexec_nonblocking(socket.as_raw_fd())?;
        if addr.is_ipv6() {
            socket.set_only_v6(true)?;
        }
        socket.set_broadcast(true)?;
        // Best effort: the kernel caps the sizes at net.core.[rw]mem_max,
        // and a simulator may ignore them; the defaults still work.
        let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
        let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
        socket.bind(&SockAddr::from(addr))?;
        let socket = UdpSocket::from(socket);
        let local = socket.local_addr()?;
        Ok(UdpEndpoint { socket, local, batched })
    }

    /// The address the socket is bound to (with the port the kernel chose).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The descriptor, for `poll`.
    pub(crate) fn raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    /// Whether batched calls are still in use.
    pub(crate) fn is_batched(&self) -> bool {
        self.batched
    }

    /// Receives what is waiting into `batch`; `Ok(0)` when nothing is.
    pub(crate) fn receive(&mut self, batch: &mut RecvBatch) -> io::Result<usize> {
        if self.batched {
            match net::recv_many(self.raw_fd(), batch) {
                Ok(count) => return Ok(count),
                Err(e) if is_unsupported(&e) => self.batched = false,
                Err(e) if is_nothing_waiting(&e) => return Ok(0),
                Err(e) => return Err(e),
            }
        }
        match self.socket.recv_from(batch.first_buffer()) {
            Ok((len, from)) => {
                batch.set_single(len, from);
                Ok(1)
            }
            Err(e) if is_nothing_waiting(&e) => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Sends `datagrams` (each turned into a destination and payload by
    /// `parts`); `failed` hears of each one that could not be sent, with
    /// its destination: one unreachable destination must not stop the
    /// others.
    pub(crate) fn send<'a, D>(
        &mut self,
        datagrams: &'a [D],
        parts: impl Fn(&'a D) -> (SocketAddr, &'a [u8]),
        mut failed: impl FnMut(SocketAddr, io::Error),
    ) {
        let mut rest = datagrams;
        while !rest.is_empty() {
            if self.batched {
                match net::send_many(self.raw_fd(), rest.iter().map(&parts)) {
                    Ok(0) => {}
                    Ok(sent) => {
                        rest = rest.get(sent..).unwrap_or(&[]);
                        continue;
                    }
                    Err(e) if is_unsupported(&e) => self.batched = false,
                    Err(e) => {
                        // The first datagram failed; skip it and go on.
                        if let Some((first, tail)) = rest.split_first() {
                            failed(parts(first).0, e);
                            rest = tail;
                        }
                        continue;
                    }
                }
            }
            let Some((first, tail)) = rest.split_first() else { break };
            let (destination, payload) = parts(first);
            if let Err(e) = self.socket.send_to(payload, destination) {
                failed(destination, e);
            }
            rest = tail;
        }
    }
}

/// Errors that say "this system has no batched call for this descriptor":
/// ENOSYS and EINVAL from kernels and emulators without it, and EBADF or
/// ENOTSOCK from an LD_PRELOAD simulator (clknetsim) whose descriptors are
/// not kernel sockets and which intercepts recvfrom/sendto but not
/// sendmmsg. A real socket gives none of these for a well-formed call.
fn is_unsupported(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EINVAL | libc::EBADF | libc::ENOTSOCK | libc::EOPNOTSUPP))
}

/// No datagram waiting (or the call was interrupted before one came).
fn is_nothing_waiting(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted)
}

/// Errors from a receive that concern one earlier datagram, not the socket.
pub(crate) fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionRefused
            | ErrorKind::ConnectionReset
            | ErrorKind::HostUnreachable
            | ErrorKind::NetworkUnreachable
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(batched: bool) -> (UdpEndpoint, UdpEndpoint) {
        let a = UdpEndpoint::bind("127.0.0.1:0".parse().unwrap(), batched).unwrap();
        let b = UdpEndpoint::bind("127.0.0.1:0".parse().unwrap(), batched).unwrap();
        (a, b)
    }

    fn exchange(batched: bool) {
        let (mut a, mut b) = pair(batched);
        let to = b.local_addr();
        let payloads: Vec<Vec<u8>> = (0u8..40).map(|i| vec![i; 48 + usize::from(i)]).collect();
        let datagrams: Vec<(SocketAddr, &[u8])> = payloads.iter().map(|p| (to, p.as_slice())).collect();
        a.send(&datagrams, |d| *d, |d, e| panic!("send to {d}: {e}"));
        let mut batch = RecvBatch::new();
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while got.len() < payloads.len() && std::time::Instant::now() < deadline {
            let n = b.receive(&mut batch).unwrap();
            assert!(n <= net::BATCH);
            if !batched {
                assert!(n <= 1, "the fallback receives one at a time");
            }
            for (from, bytes) in batch.datagrams() {
                assert_eq!(from, a.local_addr());
                got.push(bytes.to_vec());
            }
        }
        assert_eq!(got, payloads);
        assert_eq!(b.receive(&mut batch).unwrap(), 0, "nothing more waits");
        assert_eq!(a.is_batched(), batched);
    }

    #[test]
    fn test_batched_send_and_receive_keep_order_and_sources() {
        exchange(true);
    }

    #[test]
    fn test_fallback_path_moves_the_same_datagrams() {
        exchange(false);
    }

    #[test]
    fn test_ipv6_loopback_and_ipv4_wildcard_bind_together() {
        let v6 = UdpEndpoint::bind("[::1]:0".parse().unwrap(), true);
        let Ok(mut v6) = v6 else { return }; // no IPv6 on this host
        let v4 = UdpEndpoint::bind("0.0.0.0:0".parse().unwrap(), true).unwrap();
        assert!(v4.local_addr().is_ipv4() && v6.local_addr().is_ipv6());
        let peer = UdpEndpoint::bind("[::1]:0".parse().unwrap(), true).unwrap();
        let mut peer = peer;
        peer.send(&[(v6.local_addr(), &[7u8; 48][..])], |d| *d, |d, e| panic!("{d}: {e}"));
        let mut batch = RecvBatch::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while batch.len() == 0 && std::time::Instant::now() < deadline {
            v6.receive(&mut batch).unwrap();
        }
        let (from, bytes) = batch.datagrams().next().unwrap();
        assert_eq!((from, bytes.len()), (peer.local_addr(), 48));
    }

    #[test]
    fn test_unsupported_errors_are_told_apart() {
        for code in [libc::ENOSYS, libc::EINVAL, libc::EBADF, libc::ENOTSOCK] {
            assert!(is_unsupported(&io::Error::from_raw_os_error(code)));
        }
        assert!(!is_unsupported(&io::Error::from_raw_os_error(libc::EAGAIN)));
        assert!(!is_unsupported(&io::Error::from_raw_os_error(libc::ECONNREFUSED)));
        assert!(is_transient(&io::Error::from_raw_os_error(libc::ECONNREFUSED)));
    }
}
