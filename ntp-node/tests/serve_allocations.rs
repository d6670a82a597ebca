//! The server path allocates nothing per request.
//!
//! A real `Node` answers client requests on loopback, batched
//! (`recvmmsg`/`sendmmsg`), with and without a MAC. A counting global
//! allocator counts every allocation made on this thread while
//! `Node::turn` runs; once the first rounds have sized the runtime's
//! queues, a round of 256 requests from 16 source ports must cost none.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use ntp_node::{LogFormat, Node, NodeConfig, SoftwareClock};
use ntp_wire::auth::{self, Key, KeyType, Keyring};
use ntp_wire::{Mode, NtpTimestamp, Repr};

/// Counts the allocations (and reallocations) of threads that opted in.
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with`: the allocator also runs while thread-locals are torn down.
    let counting = COUNTING.try_with(Cell::get).unwrap_or(false);
    if counting {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: every call is passed on to the system allocator unchanged; the
// counting touches only const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: as in alloc.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: as in alloc.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as in alloc.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations this thread made while `f` ran.
fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get) - before
}

const PORTS: usize = 16;
const PER_PORT: usize = 16;

struct Bench {
    node: Node<SoftwareClock>,
    server: SocketAddr,
    clients: Vec<UdpSocket>,
    request: Vec<u8>,
}

impl Bench {
    fn new(signed: bool) -> Self {
        let mut keys = Keyring::new();
        keys.insert(Key::new(3, KeyType::Md5, b"allocation-test").unwrap(), true);
        let repr = Repr {
            mode: Mode::Client,
            poll: 6,
            transmit_time: NtpTimestamp::from_unix(1_795_219_200, 0),
            ..Repr::default()
        };
        let mut bytes = [0u8; 68];
        repr.emit_into(&mut bytes).unwrap();
        let request = if signed {
            auth::sign(&mut bytes, 48, keys.get(3).unwrap()).unwrap();
            bytes.to_vec()
        } else {
            bytes[..48].to_vec()
        };
        let mut config = NodeConfig::default();
        config.listen = vec!["127.0.0.1:0".parse().unwrap()];
        config.engine.local_reference_stratum = Some(1);
        config.keys = keys;
        config.log = LogFormat::Off;
        config.batched_io = true;
        let node = Node::new(config, SoftwareClock::new(0.0, 0.0)).unwrap();
        assert!(node.is_batched(), "this kernel has no recvmmsg/sendmmsg");
        let server = node.local_addrs()[0];
        let clients = (0..PORTS)
            .map(|_| {
                let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
                socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                socket
            })
            .collect();
        Bench { node, server, clients, request }
    }

    /// Sends a round of requests, turns the node until all are answered
    /// and reads the replies; returns the allocations made inside `turn`.
    fn round(&mut self) -> u64 {
        for client in &self.clients {
            for _ in 0..PER_PORT {
                client.send_to(&self.request, self.server).unwrap();
            }
        }
        let before = self.node.engine().responder().counters().replies;
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut allocations = 0;
        while self.node.engine().responder().counters().replies < before + (PORTS * PER_PORT) as u64 {
            assert!(Instant::now() < deadline, "the node did not answer every request");
            let node = &mut self.node;
            allocations += allocations_in(|| node.turn(Duration::from_millis(50)).unwrap());
        }
        let mut reply = [0u8; 128];
        for client in &self.clients {
            for _ in 0..PER_PORT {
                let (len, _) = client.recv_from(&mut reply).unwrap();
                assert!(len >= 48 && reply[0] & 7 == 4, "not a server reply");
                assert_eq!(&reply[24..32], &self.request[40..48], "origin is the request's transmit time");
            }
        }
        allocations
    }
}

fn check(signed: bool) {
    let mut bench = Bench::new(signed);
    // The first rounds may size the runtime's queues and the engine's tables.
    for _ in 0..3 {
        bench.round();
    }
    let allocations: u64 = (0..10).map(|_| bench.round()).sum();
    assert_eq!(allocations, 0, "allocations in 10 rounds of {} requests", PORTS * PER_PORT);
}

#[test]
fn test_serving_unsigned_requests_allocates_nothing() {
    check(false);
}

#[test]
fn test_serving_md5_requests_allocates_nothing() {
    check(true);
}

#[test]
fn test_the_counter_sees_an_allocation() {
    // The check above cannot pass by counting nothing.
    let n = allocations_in(|| drop(std::hint::black_box(vec![1u8; 64])));
    assert_eq!(n, 1);
}
