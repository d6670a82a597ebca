//! Criterion benchmark of the runtime's server path, sockets included.
//!
//! `cargo bench -p ntp-node --bench serve`
//!
//! * `serve_batch/{none,md5}`: one batch of 32 client requests through a
//!   real `Node` on loopback: a client socket sends them (32 `send_to`),
//!   one `Node::turn` reads them with `recvmmsg`, has the engine answer
//!   each and sends the answers with `sendmmsg`, and the client reads the
//!   32 replies. The client's system calls are timed too, so the figure is
//!   an upper bound of the server's cost; divide by 32 for one request.
//!   The load generator in `bench/loadgen` measures the same path under
//!   flood, beside chronyd.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::UdpSocket;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ntp_node::{LogFormat, Node, NodeConfig, SoftwareClock};
use ntp_wire::auth::{self, Key, KeyType, Keyring};
use ntp_wire::{Mode, NtpTimestamp, Repr};

const BATCH: usize = 32;

fn bench_serve_batch(c: &mut Criterion) {
    let mut group = c.benchmark_group("serve_batch");
    group.throughput(Throughput::Elements(BATCH as u64));
    for signed in [false, true] {
        let mut keys = Keyring::new();
        keys.insert(Key::new(1, KeyType::Md5, b"benchmark-key").unwrap(), true);
        let request = Repr {
            mode: Mode::Client,
            poll: 6,
            transmit_time: NtpTimestamp::from_unix(1_795_219_200, 0),
            ..Repr::default()
        };
        let mut bytes = [0u8; 68];
        request.emit_into(&mut bytes).unwrap();
        let len = if signed {
            auth::sign(&mut bytes, 48, keys.get(1).unwrap()).unwrap();
            68
        } else {
            48
        };
        let mut config = NodeConfig::default();
        config.listen = vec!["127.0.0.1:0".parse().unwrap()];
        config.engine.local_reference_stratum = Some(1);
        config.keys = keys;
        config.log = LogFormat::Off;
        let mut node = Node::new(config, SoftwareClock::new(0.0, 0.0)).unwrap();
        let server = node.local_addrs()[0];
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        let mut reply = [0u8; 128];
        group.bench_function(if signed { "md5" } else { "none" }, |b| {
            b.iter(|| {
                for _ in 0..BATCH {
                    client.send_to(&bytes[..len], server).unwrap();
                }
                node.turn(Duration::from_millis(100)).unwrap();
                for _ in 0..BATCH {
                    let (got, _) = client.recv_from(&mut reply).unwrap();
                    assert!(got >= 48 && reply[0] & 7 == 4);
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_serve_batch);
criterion_main!(benches);
