//! Criterion benchmarks for mode 6 (`ntp_wire::control`):
//!
//! * `control/readvar_system_build`: writing the 19 system variables of
//!   NTPsec's captured READVAR response with `VarListWriter` (integers,
//!   `%.3f`/`%.6f` decimals, timestamps, quoted strings, ntpd's line breaks)
//!   and emitting the one-fragment response;
//! * `control/reassemble_parse_4_fragments`: a 1700-byte peer variable list
//!   cut into 4 fragments, checked with `ControlPacket::new_checked`, put
//!   back together by `Reassembler` in reverse order, and parsed with
//!   `parse_var_list` (every name and value visited);
//! * `control/verify_signed_md5`: checking a signed READVAR request.
//!
//! `cargo bench -p ntp-wire --bench control`. Inputs and outputs go through
//! `black_box`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ntp_wire::NtpTimestamp;
use ntp_wire::auth::{Key, KeyType};
use ntp_wire::control::{
    ControlPacket, ControlRepr, MAX_PAYLOAD_LEN, Opcode, Reassembler, VarListWriter, fragments, parse_var_list,
};

fn system_list(buf: &mut [u8]) -> usize {
    let mut w = VarListWriter::new(buf);
    w.push_uint("leap", 0).unwrap();
    w.push_uint("stratum", 2).unwrap();
    w.push_int("precision", -23).unwrap();
    w.push_decimal("rootdelay", 12.345, 3).unwrap();
    w.push_decimal("rootdisp", 45.678, 3).unwrap();
    w.push_raw("refid", "192.0.2.1").unwrap();
    w.push_timestamp("reftime", NtpTimestamp::from_parts(0xeeac_35b1, 0x26dd_38e2)).unwrap();
    w.push_uint("tc", 6).unwrap();
    w.push_uint("peer", 40_123).unwrap();
    w.push_decimal("offset", -0.123_456, 6).unwrap();
    w.push_decimal("frequency", 12.345_678, 6).unwrap();
    w.push_decimal("sys_jitter", 0.012_345, 6).unwrap();
    w.push_decimal("clk_jitter", 0.000_119, 6).unwrap();
    w.push_timestamp("clock", NtpTimestamp::from_parts(0xeeac_35b2, 0x1234_5678)).unwrap();
    w.push_quoted("processor", "x86_64").unwrap();
    w.push_quoted("system", "Linux/6.18.44").unwrap();
    w.push_quoted("version", "ntp-node 0.1.0").unwrap();
    w.push_decimal("clk_wander", 0.001, 6).unwrap();
    w.push_uint("mintc", 0).unwrap();
    w.finish().unwrap()
}

fn bench_build(c: &mut Criterion) {
    let request = ControlRepr { opcode: Opcode::ReadVariables, sequence: 7, ..ControlRepr::default() };
    c.bench_function("control/readvar_system_build", |b| {
        let mut text = [0u8; 468];
        let mut out = [0u8; 480];
        b.iter(|| {
            let len = system_list(black_box(&mut text));
            let response = ControlRepr { response: true, status: 0x0615, data: &text[..len], ..black_box(request) };
            black_box(response.emit(&mut out).unwrap());
        });
    });
}

fn bench_reassemble(c: &mut Criterion) {
    let mut payload = Vec::new();
    let mut i = 0;
    while payload.len() < 1700 {
        payload.extend_from_slice(
            format!("filtdelay{i}=\"0.123 0.234 0.345\", reach=0x377, offset=-0.0{i},\r\n").as_bytes(),
        );
        i += 1;
    }
    payload.truncate(1700);
    while payload.last() != Some(&b',') {
        payload.pop();
    }
    payload.pop();
    let template = ControlRepr {
        response: true,
        opcode: Opcode::ReadVariables,
        sequence: 9,
        association_id: 3,
        ..ControlRepr::default()
    };
    let datagrams: Vec<Vec<u8>> = fragments(&payload)
        .unwrap()
        .map(|f| {
            let mut buf = vec![0u8; 480];
            let len = f.apply(template).emit(&mut buf).unwrap();
            buf.truncate(len);
            buf
        })
        .collect();
    assert_eq!(datagrams.len(), 4);
    let mut store = vec![0u8; MAX_PAYLOAD_LEN];
    c.bench_function("control/reassemble_parse_4_fragments", |b| {
        b.iter(|| {
            let mut r = Reassembler::new(&mut store, 9, Opcode::ReadVariables);
            for datagram in datagrams.iter().rev() {
                let packet = ControlPacket::new_checked(black_box(&datagram[..])).unwrap();
                r.push(&packet).unwrap();
            }
            let mut count = 0usize;
            for variable in parse_var_list(r.payload().unwrap()) {
                let variable = variable.unwrap();
                count += variable.name.len() + variable.value.len();
            }
            black_box(count)
        });
    });
}

fn bench_verify(c: &mut Criterion) {
    let key = Key::new(1, KeyType::Md5, b"interop-md5-key").unwrap();
    let request =
        ControlRepr { opcode: Opcode::ReadVariables, sequence: 5, data: b"stratum,offset", ..ControlRepr::default() };
    let mut buf = [0u8; 64];
    let len = request.emit_signed(&mut buf, &key).unwrap();
    c.bench_function("control/verify_signed_md5", |b| {
        b.iter(|| {
            let packet = ControlPacket::new_checked(black_box(&buf[..len])).unwrap();
            black_box(packet.verify(&key).unwrap().id())
        });
    });
}

criterion_group!(benches, bench_build, bench_reassemble, bench_verify);
criterion_main!(benches);
