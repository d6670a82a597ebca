//! Fuzz target `control_reassembly`: a response payload cut by
//! `ntp_wire::control::fragments`, delivered to a `Reassembler` in an order
//! the input picks, with duplicates, altered copies and raw datagrams
//! mixed in (`arbitrary`).
//!
//! What must hold for every input:
//!
//! * No panic; `fragments` gives at most 32 pieces of at most 468 bytes that
//!   tile the payload, with M set on all but the last.
//! * A refused datagram changes nothing (fragment count, completeness).
//! * At most 32 fragments are ever held; a complete reassembler hands out a
//!   payload of the length the last fragment set, an incomplete one names a
//!   missing offset below that length (or at the end of what is held).
//! * A genuine fragment delivered a second time is refused as a duplicate.
//! * When no altered or raw datagram was accepted, delivering every genuine
//!   fragment completes the response with exactly the original payload.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ntp_wire::control::{
    ControlPacket, ControlRepr, MAX_DATA_LEN, MAX_FRAGMENTS, Opcode, Reassembler, ReassemblyError, fragments,
};

#[derive(Arbitrary, Debug)]
enum Step {
    /// Deliver genuine fragment `n % count`.
    Genuine(u8),
    /// Deliver fragment `n % count` with one header field changed.
    Altered { n: u8, field: u8, value: u16 },
    /// Deliver raw bytes (if they pass `new_checked`).
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    payload: Vec<u8>,
    sequence: u16,
    steps: Vec<Step>,
}

fn emit(repr: ControlRepr<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; 480];
    let len = repr.emit(&mut buf).expect("a fragment fits 480 bytes");
    buf.truncate(len);
    buf
}

fuzz_target!(|input: Input| {
    let payload = &input.payload[..input.payload.len().min(MAX_FRAGMENTS * MAX_DATA_LEN)];
    let template = ControlRepr {
        response: true,
        opcode: Opcode::ReadVariables,
        sequence: input.sequence,
        ..ControlRepr::default()
    };
    let pieces: Vec<_> = fragments(payload).expect("payload within the limit").collect();
    assert!(!pieces.is_empty() && pieces.len() <= MAX_FRAGMENTS);
    let mut next = 0usize;
    for (i, piece) in pieces.iter().enumerate() {
        assert_eq!(piece.offset as usize, next);
        assert!(piece.data.len() <= MAX_DATA_LEN);
        assert_eq!(piece.more, i + 1 < pieces.len());
        next += piece.data.len();
    }
    assert_eq!(next, payload.len());
    let genuine: Vec<Vec<u8>> = pieces.iter().map(|p| emit(p.apply(template))).collect();

    let mut store = vec![0u8; MAX_FRAGMENTS * MAX_DATA_LEN];
    let mut r = Reassembler::new(&mut store, input.sequence, Opcode::ReadVariables);
    let mut delivered = vec![false; genuine.len()];
    let mut foreign_accepted = false;
    for step in input.steps.iter().take(128) {
        let (bytes, genuine_index) = match step {
            Step::Genuine(n) => {
                let i = *n as usize % genuine.len();
                (genuine[i].clone(), Some(i))
            }
            Step::Altered { n, field, value } => {
                let i = *n as usize % genuine.len();
                let mut bytes = genuine[i].clone();
                let at = 2 * (1 + *field as usize % 5);
                bytes[at..at + 2].copy_from_slice(&value.to_be_bytes());
                if bytes[at..at + 2] == genuine[i][at..at + 2] { (bytes, Some(i)) } else { (bytes, None) }
            }
            Step::Raw(raw) => (raw.clone(), None),
        };
        let Ok(packet) = ControlPacket::new_checked(&bytes[..]) else { continue };
        let before = (r.fragment_count(), r.is_complete());
        match r.push(&packet) {
            Ok(complete) => {
                assert_eq!(complete, r.is_complete());
                match genuine_index {
                    Some(i) => {
                        assert!(!delivered[i], "a genuine fragment was accepted twice");
                        delivered[i] = true;
                    }
                    None => foreign_accepted = true,
                }
            }
            Err(e) => {
                assert_eq!((r.fragment_count(), r.is_complete()), before, "a refusal changed state");
                if let Some(i) = genuine_index.filter(|&i| delivered[i]) {
                    assert_eq!(e, ReassemblyError::Duplicate { offset: pieces[i].offset as usize });
                }
            }
        }
        assert!(r.fragment_count() <= MAX_FRAGMENTS);
        match r.payload() {
            Ok(whole) => assert!(r.is_complete() && whole.len() <= MAX_FRAGMENTS * MAX_DATA_LEN),
            Err(ReassemblyError::Incomplete { .. }) => assert!(!r.is_complete()),
            Err(other) => panic!("payload() failed with {other:?}"),
        }
    }

    if foreign_accepted {
        return;
    }
    for (i, bytes) in genuine.iter().enumerate() {
        let packet = ControlPacket::new_checked(&bytes[..]).expect("we emitted it");
        let result = r.push(&packet);
        if delivered[i] {
            assert_eq!(result, Err(ReassemblyError::Duplicate { offset: pieces[i].offset as usize }));
        } else {
            result.expect("a genuine fragment not yet delivered is accepted");
        }
    }
    assert_eq!(r.payload(), Ok(payload));
});
