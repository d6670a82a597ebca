//! Fuzz target `control_varlist`: hostile `name=value` text through
//! `ntp_wire::control::parse_var_list`, and what it accepts back through
//! `VarListWriter`.
//!
//! What must hold for every input:
//!
//! * No panic; the iterator ends after its first error, whose offset lies
//!   within the text.
//! * Every accepted variable keeps the documented limits: a non-empty name
//!   of at most `MAX_NAME_LEN` bytes of printable ASCII without space, `=`,
//!   `,` or `"`; a value of at most `MAX_VALUE_LEN` printable ASCII bytes,
//!   with no `"` unless it was quoted, and no surrounding space unless quoted.
//! * Writing the accepted variables with `VarListWriter` (quoted, bare, or
//!   raw as they came) and parsing that gives the same variables back, and
//!   no line the writer makes with two items reaches 72 characters (the
//!   comma before a line break not counted).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ntp_wire::control::{MAX_NAME_LEN, MAX_VALUE_LEN, VarListError, VarListWriter, Variable, parse_var_list};

fuzz_target!(|data: &[u8]| {
    let mut accepted: Vec<Variable<'_>> = Vec::new();
    let mut iter = parse_var_list(data);
    for item in iter.by_ref() {
        match item {
            Ok(v) => accepted.push(v),
            Err(e) => {
                assert!(error_offset(&e) <= data.len(), "{e:?} points outside {} bytes", data.len());
                break;
            }
        }
    }
    assert!(iter.next().is_none(), "the iterator must end after an error");

    for v in &accepted {
        assert!(!v.name.is_empty() && v.name.len() <= MAX_NAME_LEN);
        assert!(v.name.bytes().all(|b| (0x21..=0x7e).contains(&b) && !b"=,\"".contains(&b)));
        assert!(v.value.len() <= MAX_VALUE_LEN);
        assert!(v.value.bytes().all(|b| (0x20..=0x7e).contains(&b)));
        if !v.quoted {
            assert!(!v.value.contains('"'));
            assert_eq!(v.value.trim(), v.value);
        }
    }

    let mut buf = vec![0u8; data.len() * 2 + 64];
    let mut writer = VarListWriter::new(&mut buf);
    for v in &accepted {
        let result = if v.quoted {
            writer.push_quoted(v.name, v.value)
        } else if v.value.is_empty() {
            writer.push_name(v.name)
        } else if v.value.contains(',') {
            // An unquoted value never holds a comma: the parser splits there.
            unreachable!("unquoted value with a comma: {v:?}")
        } else {
            writer.push_raw(v.name, v.value)
        };
        result.expect("whatever the parser accepts, the writer can write");
    }
    let len = writer.finish().expect("the buffer is large enough");
    let text = &buf[..len];
    let again: Vec<Variable<'_>> = parse_var_list(text).collect::<Result<_, _>>().expect("the writer's output parses");
    assert_eq!(again, accepted);
    for line in std::str::from_utf8(text).expect("ASCII").split("\r\n") {
        // A line (without the comma that ends it before a break) may reach
        // the limit only when a single item does.
        let line = line.strip_suffix(',').unwrap_or(line);
        if line.len() >= 72 {
            let items = parse_var_list(line.as_bytes()).count();
            assert!(items <= 1, "{line:?}");
        }
    }
});

fn error_offset(e: &VarListError) -> usize {
    match *e {
        VarListError::EmptyName { offset }
        | VarListError::NameTooLong { offset, .. }
        | VarListError::ValueTooLong { offset, .. }
        | VarListError::BadNameByte { offset, .. }
        | VarListError::BadValueByte { offset, .. }
        | VarListError::UnterminatedQuote { offset }
        | VarListError::AfterQuote { offset } => offset,
        _ => 0,
    }
}
