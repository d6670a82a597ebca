//! Criterion benchmark of the server's cost of one NTS request (RFC 8915):
//! open the cookie with the master key, verify the request's authenticator
//! with the client-to-server key, and seal the reply's fresh cookies with
//! the server-to-client key.
//!
//! `cargo bench -p ntp-algo --bench nts`
//!
//! * `nts_server/1_cookie`: a request with no placeholder (the client's
//!   jar is full): one new cookie in the reply.
//! * `nts_server/8_cookies`: a request with seven placeholders (the jar is
//!   down to one cookie): eight new cookies.
//!
//! Only the NTS work is timed; the NTP header of the reply is written once
//! outside the loop (the plain responder's cost is `engine`'s
//! `responder/none`, to be added to these figures).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ntp_algo::{
    MasterKeys, NTS_COOKIE_LEN, NtsClient, NtsKeys, NtsRequestCheck, nts_check_request, nts_write_response,
};
use ntp_wire::nts::AeadKey;
use ntp_wire::{Mode, Repr};

/// Not random at all: the benchmark measures cost, not secrecy.
fn counter_rng() -> impl FnMut(&mut [u8]) {
    let mut n = 0u8;
    move |buf: &mut [u8]| {
        for b in buf {
            n = n.wrapping_add(151);
            *b = n;
        }
    }
}

fn bench_nts_server(c: &mut Criterion) {
    let mut rng = counter_rng();
    let master = MasterKeys::new(&mut rng, 0.0, 3600.0, 7200.0);
    let keys = || NtsKeys { c2s: AeadKey::new([1; 32]), s2c: AeadKey::new([2; 32]) };
    let mut group = c.benchmark_group("nts_server");
    for (name, cookies) in [("1_cookie", 8usize), ("8_cookies", 1)] {
        let jar: Vec<[u8; NTS_COOKIE_LEN]> = (0..cookies).map(|_| master.seal_cookie(&keys(), &mut rng)).collect();
        let mut client = NtsClient::new(keys(), jar.iter().map(|c| &c[..]));
        let mut request = vec![0u8; 1500];
        Repr { mode: Mode::Client, ..Repr::default() }.emit_into(&mut request).unwrap();
        let len = client.write_request(&mut request, &mut rng).unwrap();
        request.truncate(len);
        let mut reply = vec![0u8; 1500];
        Repr { mode: Mode::Server, ..Repr::default() }.emit_into(&mut reply).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| {
                let Ok(NtsRequestCheck::Authentic(req)) = nts_check_request(&master, black_box(&request)) else {
                    panic!("request must authenticate")
                };
                black_box(nts_write_response(&master, &req, &mut reply, &mut rng).unwrap())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_nts_server);
criterion_main!(benches);
