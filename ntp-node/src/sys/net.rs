//! `poll(2)`, descriptor flags and batched UDP I/O.
//!
//! Buffers are owned by the caller ([`RecvBatch`]) and reused across
//! calls; the `mmsghdr`/`iovec`/`sockaddr_storage` arrays a call needs sit
//! on the stack, so no call allocates.

use std::io;
use std::mem::size_of;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// Most datagrams one batched call moves.
pub(crate) const BATCH: usize = 32;
/// Receive buffer per datagram, bytes: larger than any NTP packet with a
/// MAC and the extension fields we accept (a longer datagram is truncated
/// and then fails to parse).
pub(crate) const RECV_BUFFER: usize = 1536;

/// Sets `FD_CLOEXEC` and `O_NONBLOCK` with `fcntl`, the calls an LD_PRELOAD
/// network simulator (clknetsim) intercepts; `SOCK_CLOEXEC` in the socket
/// type or `ioctl(FIONBIO)` it does not.
pub(crate) fn set_cloexec_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl with F_GETFD/F_SETFD/F_GETFL/F_SETFL takes and returns
    // plain integers; `fd` is a descriptor the caller owns (an invalid one
    // gives EBADF, no undefined behaviour).
    unsafe {
        let fd_flags = libc::fcntl(fd, libc::F_GETFD);
        if fd_flags < 0 || libc::fcntl(fd, libc::F_SETFD, fd_flags | libc::FD_CLOEXEC) < 0 {
            return Err(io::Error::last_os_error());
        }
        let fl_flags = libc::fcntl(fd, libc::F_GETFL);
        if fl_flags < 0 || libc::fcntl(fd, libc::F_SETFL, fl_flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Waits until one of `fds` is readable or `timeout_ms` milliseconds pass
/// (`poll(2)`); returns how many descriptors have events. A signal makes it
/// return [`io::ErrorKind::Interrupted`].
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> io::Result<usize> {
    let count = libc::nfds_t::try_from(fds.len()).map_err(|_| io::Error::other("too many descriptors to poll"))?;
    // SAFETY: `fds` is a valid, exclusively borrowed array of `count`
    // pollfd structs; the kernel writes only their `revents` fields.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), count, timeout_ms) };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(usize::try_from(rc).unwrap_or(0)) }
}

/// Receive buffers for one batch, reused for every call.
pub(crate) struct RecvBatch {
    buffers: Box<[[u8; RECV_BUFFER]; BATCH]>,
    lengths: [usize; BATCH],
    sources: [Option<SocketAddr>; BATCH],
    count: usize,
}

impl RecvBatch {
    /// Empty buffers for [`BATCH`] datagrams.
    pub(crate) fn new() -> Self {
        RecvBatch {
            buffers: Box::new([[0; RECV_BUFFER]; BATCH]),
            lengths: [0; BATCH],
            sources: [None; BATCH],
            count: 0,
        }
    }

    /// The datagrams of the last call, with their sources.
    pub(crate) fn datagrams(&self) -> impl Iterator<Item = (SocketAddr, &[u8])> {
        self.buffers
            .iter()
            .zip(self.lengths.iter().zip(self.sources.iter()))
            .take(self.count)
            .filter_map(|(buffer, (len, source))| Some(((*source)?, buffer.get(..*len)?)))
    }

    /// The first buffer, for a one-datagram receive (the fallback path).
    pub(crate) fn first_buffer(&mut self) -> &mut [u8] {
        self.count = 0;
        let [first, ..] = &mut *self.buffers;
        first
    }

    /// Records that the first buffer holds `len` bytes from `source`.
    pub(crate) fn set_single(&mut self, len: usize, source: SocketAddr) {
        let ([length, ..], [from, ..]) = (&mut self.lengths, &mut self.sources);
        *length = len.min(RECV_BUFFER);
        *from = Some(source);
        self.count = 1;
    }

    /// How many datagrams the last call received.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.count
    }
}

/// `recvmmsg(2)` without blocking: fills `batch` with up to [`BATCH`]
/// datagrams. `Ok(0)` is never returned: no datagram is `WouldBlock`.
pub(crate) fn recv_many(fd: RawFd, batch: &mut RecvBatch) -> io::Result<usize> {
    batch.count = 0;
    let mut names = [empty_storage(); BATCH];
    let mut iovecs: [libc::iovec; BATCH] = [libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }; BATCH];
    // SAFETY: mmsghdr is a plain C struct of integers and pointers; all
    // zeroes (null pointers, zero lengths) is a valid value of it.
    let mut headers: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    for ((header, iovec), (name, buffer)) in
        headers.iter_mut().zip(iovecs.iter_mut()).zip(names.iter_mut().zip(batch.buffers.iter_mut()))
    {
        iovec.iov_base = buffer.as_mut_ptr().cast();
        iovec.iov_len = buffer.len();
        header.msg_hdr.msg_name = std::ptr::from_mut(name).cast();
        header.msg_hdr.msg_namelen = storage_len();
        header.msg_hdr.msg_iov = std::ptr::from_mut(iovec);
        header.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: every header points at its own iovec and sockaddr_storage,
    // and every iovec at its own buffer of the stated length; all of them
    // live (on this stack frame or in `batch`) until the call returns, and
    // nothing else borrows them meanwhile. BATCH fits in a c_uint.
    let rc = unsafe {
        libc::recvmmsg(fd, headers.as_mut_ptr(), BATCH as libc::c_uint, libc::MSG_DONTWAIT, std::ptr::null_mut())
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let received = usize::try_from(rc).unwrap_or(0).min(BATCH);
    let slots = batch.lengths.iter_mut().zip(batch.sources.iter_mut());
    for ((header, name), (length, source)) in headers.iter().zip(names.iter()).zip(slots).take(received) {
        *length = usize::try_from(header.msg_len).unwrap_or(0).min(RECV_BUFFER);
        *source = socket_addr(name, header.msg_hdr.msg_namelen);
    }
    batch.count = received;
    Ok(received)
}

/// `sendmmsg(2)`: sends the datagrams in order, as many as one call takes;
/// returns how many were sent. An error means the first one failed.
pub(crate) fn send_many<'a>(fd: RawFd, datagrams: impl Iterator<Item = (SocketAddr, &'a [u8])>) -> io::Result<usize> {
    let mut names = [empty_storage(); BATCH];
    let mut name_lengths = [0 as libc::socklen_t; BATCH];
    let mut iovecs: [libc::iovec; BATCH] = [libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }; BATCH];
    let mut count = 0;
    let slots = names.iter_mut().zip(name_lengths.iter_mut()).zip(iovecs.iter_mut());
    for (((name, name_length), iovec), (destination, payload)) in slots.zip(datagrams) {
        *name_length = write_socket_addr(destination, name);
        // sendmmsg only reads through iov_base; the pointer is mutable in
        // the C declaration only.
        *iovec = libc::iovec { iov_base: payload.as_ptr().cast_mut().cast(), iov_len: payload.len() };
        count += 1;
    }
    if count == 0 {
        return Ok(0);
    }
    // SAFETY: as in `recv_many`: all zeroes is a valid mmsghdr.
    let mut headers: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    let slots = names.iter_mut().zip(name_lengths.iter()).zip(iovecs.iter_mut());
    for (header, ((name, name_length), iovec)) in headers.iter_mut().zip(slots).take(count) {
        header.msg_hdr.msg_name = std::ptr::from_mut(name).cast();
        header.msg_hdr.msg_namelen = *name_length;
        header.msg_hdr.msg_iov = std::ptr::from_mut(iovec);
        header.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: the first `count` headers point at initialized addresses of
    // the stated lengths and at iovecs over payloads borrowed for `'a`,
    // all alive until the call returns; the kernel only reads them (and
    // writes `msg_len`). `count` <= BATCH fits in a c_uint.
    let rc = unsafe { libc::sendmmsg(fd, headers.as_mut_ptr(), count as libc::c_uint, libc::MSG_DONTWAIT) };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(usize::try_from(rc).unwrap_or(0)) }
}

fn empty_storage() -> libc::sockaddr_storage {
    // SAFETY: sockaddr_storage is a plain C struct of integers; all zeroes
    // (family AF_UNSPEC) is a valid value of it.
    unsafe { std::mem::zeroed() }
}

fn storage_len() -> libc::socklen_t {
    size_of::<libc::sockaddr_storage>() as libc::socklen_t
}

/// Reads the address the kernel wrote into `storage`.
fn socket_addr(storage: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = usize::try_from(len).ok()?;
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in, the
            // length says all of it was written, and sockaddr_storage is
            // large enough and suitably aligned for every sockaddr type.
            let sin = unsafe { &*std::ptr::from_ref(storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(sin.sin_port))))
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { &*std::ptr::from_ref(storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Writes `addr` into `storage`; returns the length to pass with it.
fn write_socket_addr(addr: SocketAddr, storage: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match addr {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is large enough and aligned for a
            // sockaddr_in; we hold the only reference to it.
            let sin = unsafe { &mut *std::ptr::from_mut(storage).cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = v4.port().to_be();
            sin.sin_addr = libc::in_addr { s_addr: u32::from(*v4.ip()).to_be() };
            size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(v6) => {
            // SAFETY: as above, for a sockaddr_in6.
            let sin6 = unsafe { &mut *std::ptr::from_mut(storage).cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = v6.port().to_be();
            sin6.sin6_flowinfo = v6.flowinfo();
            sin6.sin6_addr = libc::in6_addr { s6_addr: v6.ip().octets() };
            sin6.sin6_scope_id = v6.scope_id();
            size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_socket_addr_round_trips_through_storage() {
        for addr in ["192.0.2.7:123", "[2001:db8::1]:4123", "[fe80::1%3]:123"] {
            let addr: SocketAddr = addr.parse().unwrap();
            let mut storage = empty_storage();
            let len = write_socket_addr(addr, &mut storage);
            assert_eq!(socket_addr(&storage, len), Some(addr));
            // A length shorter than the family's struct is not trusted.
            assert_eq!(socket_addr(&storage, 4), None);
        }
        assert_eq!(socket_addr(&empty_storage(), storage_len()), None);
    }
}
