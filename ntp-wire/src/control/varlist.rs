//! `name=value` lists, the text READVAR, READSTAT of a clock and READ_MRU
//! carry (RFC 9327 §3), written and read the way ntpd and `ntpq` do.
//!
//! # The format
//!
//! Items are `name=value` or a bare `name`, separated by a comma and one
//! space. ntpd starts a new line (`,` then CR LF instead of `, `) before an
//! item that would take the line to 72 characters or more, and ends the
//! whole list with CR LF. A value is either text up to the next comma
//! (numbers, `0x`-prefixed hex, addresses) or a string in double quotes,
//! which may hold commas; there are no escapes, so a quoted string cannot
//! hold a `"`.
//!
//! # Reading hostile text
//!
//! [`parse_var_list`] borrows names and values from the text and never
//! allocates. Names are at most [`MAX_NAME_LEN`] bytes of printable ASCII
//! without space, `=`, `,` or `"`; values at most [`MAX_VALUE_LEN`] bytes of
//! printable ASCII (spaces allowed; control characters, bytes above 0x7e
//! and a `"` inside an unquoted value refused). Every refusal is a [`VarListError`] naming the byte offset,
//! and the iterator ends after the first one.

use core::fmt::{self, Write};

use super::error::VarListError;
use crate::time::NtpTimestamp;

/// The longest variable name the parser and the writer accept, in bytes.
/// ntpd's longest names (`sys_var_list`, `mru.newest...`) are under 20.
pub const MAX_NAME_LEN: usize = 64;

/// The longest value the parser accepts, in bytes. ntpd's longest values
/// are the variable-name lists (`sys_var_list`), a few hundred bytes.
pub const MAX_VALUE_LEN: usize = 1024;

/// Where ntpd breaks lines: before an item that would make the line this
/// long or longer (`MAXDATALINELEN`).
const LINE_LIMIT: usize = 72;

/// One variable of a list, borrowed from the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Variable<'a> {
    /// The name.
    pub name: &'a str,
    /// The value: for a quoted value, what is between the quotes; for an
    /// unquoted one, the text up to the comma with surrounding whitespace
    /// removed; empty for a bare name.
    pub value: &'a str,
    /// Whether the value was in double quotes.
    pub quoted: bool,
}

/// Reads a `name=value` list (see the module docs for the rules).
///
/// ```
/// use ntp_wire::control::parse_var_list;
/// let text = b"version=\"ntpd 4.2, NTPsec\", leap=0,\r\nstratum=2\r\n";
/// let vars: Vec<_> = parse_var_list(text).map(|v| v.map(|v| (v.name, v.value))).collect::<Result<_, _>>()?;
/// assert_eq!(vars, [("version", "ntpd 4.2, NTPsec"), ("leap", "0"), ("stratum", "2")]);
/// # Ok::<(), ntp_wire::control::VarListError>(())
/// ```
pub fn parse_var_list(text: &[u8]) -> VarList<'_> {
    VarList { text, pos: 0 }
}

/// Iterator over the variables of a list; ends after the first error.
#[derive(Clone, Debug)]
pub struct VarList<'a> {
    text: &'a [u8],
    pos: usize,
}

#[inline]
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

#[inline]
fn is_name_byte(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && !matches!(b, b'=' | b',' | b'"')
}

#[inline]
fn is_value_byte(b: u8) -> bool {
    (0x20..=0x7e).contains(&b)
}

/// The text of `bytes`, which the caller has checked is ASCII.
fn ascii(bytes: &[u8], offset: usize) -> Result<&str, VarListError> {
    core::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        VarListError::BadValueByte { offset: offset + at, byte: bytes.get(at).copied().unwrap_or(0) }
    })
}

impl<'a> VarList<'a> {
    fn byte(&self, at: usize) -> Option<u8> {
        self.text.get(at).copied()
    }

    fn skip(&mut self, pred: fn(u8) -> bool) {
        while self.byte(self.pos).is_some_and(pred) {
            self.pos += 1;
        }
    }

    fn item(&mut self) -> Result<Option<Variable<'a>>, VarListError> {
        self.skip(is_space);
        let start = self.pos;
        let Some(first) = self.byte(start) else { return Ok(None) };
        if matches!(first, b'=' | b',') {
            return Err(VarListError::EmptyName { offset: start });
        }
        self.skip(is_name_byte);
        let name_end = self.pos;
        let name_len = name_end - start;
        if name_len == 0 {
            return Err(VarListError::BadNameByte { offset: start, byte: first });
        }
        if name_len > MAX_NAME_LEN {
            return Err(VarListError::NameTooLong { offset: start, len: name_len, max: MAX_NAME_LEN });
        }
        let name = ascii(self.text.get(start..name_end).unwrap_or(&[]), start)?;
        self.skip(|b| b == b' ' || b == b'\t');
        match self.byte(self.pos) {
            None => return Ok(Some(Variable { name, value: "", quoted: false })),
            Some(b',') => {
                self.pos += 1;
                return Ok(Some(Variable { name, value: "", quoted: false }));
            }
            Some(b'=') => self.pos += 1,
            Some(b) if is_space(b) => {
                // A bare name at the end of a line: only the end or a comma may follow.
                self.skip(is_space);
                return match self.byte(self.pos) {
                    None => Ok(Some(Variable { name, value: "", quoted: false })),
                    Some(b',') => {
                        self.pos += 1;
                        Ok(Some(Variable { name, value: "", quoted: false }))
                    }
                    Some(byte) => Err(VarListError::BadNameByte { offset: self.pos, byte }),
                };
            }
            Some(byte) => return Err(VarListError::BadNameByte { offset: self.pos, byte }),
        }
        self.skip(|b| b == b' ' || b == b'\t');
        if self.byte(self.pos) == Some(b'"') { self.quoted(name) } else { self.unquoted(name) }
    }

    fn quoted(&mut self, name: &'a str) -> Result<Option<Variable<'a>>, VarListError> {
        let quote = self.pos;
        let body = quote + 1;
        let rest = self.text.get(body..).unwrap_or(&[]);
        let Some(len) = rest.iter().position(|&b| b == b'"') else {
            return Err(VarListError::UnterminatedQuote { offset: quote });
        };
        let content = rest.get(..len).unwrap_or(&[]);
        if let Some(at) = content.iter().position(|&b| !is_value_byte(b)) {
            return Err(VarListError::BadValueByte { offset: body + at, byte: content.get(at).copied().unwrap_or(0) });
        }
        if len > MAX_VALUE_LEN {
            return Err(VarListError::ValueTooLong { offset: body, len, max: MAX_VALUE_LEN });
        }
        let value = ascii(content, body)?;
        self.pos = body + len + 1;
        self.skip(is_space);
        match self.byte(self.pos) {
            None => {}
            Some(b',') => self.pos += 1,
            Some(_) => return Err(VarListError::AfterQuote { offset: self.pos }),
        }
        Ok(Some(Variable { name, value, quoted: true }))
    }

    fn unquoted(&mut self, name: &'a str) -> Result<Option<Variable<'a>>, VarListError> {
        let start = self.pos;
        let rest = self.text.get(start..).unwrap_or(&[]);
        let len = rest.iter().position(|&b| b == b',').unwrap_or(rest.len());
        let raw = rest.get(..len).unwrap_or(&[]);
        // Trailing whitespace (the CR LF that ends the list) is not part of it.
        let trimmed_len = raw.iter().rposition(|&b| !is_space(b)).map_or(0, |at| at + 1);
        let value = raw.get(..trimmed_len).unwrap_or(&[]);
        // A quote inside an unquoted value is refused: no writer produces
        // one, and reading it as text would let `a=x",b="y` mean two things.
        if let Some(at) = value.iter().position(|&b| !is_value_byte(b) || b == b'"') {
            return Err(VarListError::BadValueByte { offset: start + at, byte: value.get(at).copied().unwrap_or(0) });
        }
        if trimmed_len > MAX_VALUE_LEN {
            return Err(VarListError::ValueTooLong { offset: start, len: trimmed_len, max: MAX_VALUE_LEN });
        }
        let value = ascii(value, start)?;
        // Past the comma, if there is one.
        self.pos = start + len + usize::from(len < rest.len());
        Ok(Some(Variable { name, value, quoted: false }))
    }
}

impl<'a> Iterator for VarList<'a> {
    type Item = Result<Variable<'a>, VarListError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.item() {
            Ok(Some(variable)) => Some(Ok(variable)),
            Ok(None) => None,
            Err(e) => {
                self.pos = self.text.len();
                Some(Err(e))
            }
        }
    }
}

/// Writes a `name=value` list into a caller's buffer with ntpd's
/// separators and line breaks (see the module docs). Nothing allocates;
/// numbers are formatted straight into the buffer.
///
/// ```
/// use ntp_wire::NtpTimestamp;
/// use ntp_wire::control::VarListWriter;
/// let mut buf = [0u8; 128];
/// let mut w = VarListWriter::new(&mut buf);
/// w.push_quoted("version", "ntp-rs 0.1")?;
/// w.push_uint("stratum", 2)?;
/// w.push_decimal("offset", -0.0123456, 6)?;
/// w.push_timestamp("reftime", NtpTimestamp::from_parts(0xeca5_5e7d, 0x3419_7c1e))?;
/// let len = w.finish()?;
/// assert_eq!(&buf[..len], &b"version=\"ntp-rs 0.1\", stratum=2, offset=-0.012346,\r\nreftime=0xeca55e7d.34197c1e\r\n"[..]);
/// # Ok::<(), ntp_wire::control::VarListError>(())
/// ```
#[derive(Debug)]
pub struct VarListWriter<'b> {
    buf: &'b mut [u8],
    pos: usize,
    line_len: usize,
    items: usize,
}

/// A `fmt::Write` into a slice. Once something does not fit it stops
/// writing but keeps counting, so the error can say how much was needed.
struct Cursor<'c> {
    buf: &'c mut [u8],
    pos: usize,
    wanted: usize,
    overflowed: bool,
}

impl Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.wanted += s.len();
        if self.overflowed {
            return Ok(());
        }
        let end = self.pos + s.len();
        match self.buf.get_mut(self.pos..end) {
            Some(slot) => {
                slot.copy_from_slice(s.as_bytes());
                self.pos = end;
            }
            None => self.overflowed = true,
        }
        Ok(())
    }
}

impl<'b> VarListWriter<'b> {
    /// Starts a list at the beginning of `buf`.
    pub fn new(buf: &'b mut [u8]) -> VarListWriter<'b> {
        VarListWriter { buf, pos: 0, line_len: 0, items: 0 }
    }

    /// Bytes written so far.
    #[inline]
    pub fn len(&self) -> usize {
        self.pos
    }

    /// Whether nothing has been written.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }

    fn check_name(&self, name: &str) -> Result<(), VarListError> {
        let offset = self.pos;
        if name.is_empty() {
            return Err(VarListError::EmptyName { offset });
        }
        if name.len() > MAX_NAME_LEN {
            return Err(VarListError::NameTooLong { offset, len: name.len(), max: MAX_NAME_LEN });
        }
        match name.bytes().enumerate().find(|&(_, b)| !is_name_byte(b)) {
            Some((at, byte)) => Err(VarListError::BadNameByte { offset: offset + at, byte }),
            None => Ok(()),
        }
    }

    /// Writes one item: the separator ntpd would put before it, then what
    /// `write` produces. The item is written three bytes ahead (room for
    /// `,\r\n`) and moved back one byte when `, ` is the separator, because
    /// which separator goes first depends on the item's length.
    fn push_item(&mut self, write: impl FnOnce(&mut Cursor<'_>) -> fmt::Result) -> Result<(), VarListError> {
        let gap = if self.items == 0 { 0 } else { 3 };
        let start = self.pos + gap;
        let len = self.buf.len();
        let mut cursor = Cursor { buf: &mut *self.buf, pos: start, wanted: 0, overflowed: false };
        // The cursor itself never fails; an error could only come from a
        // `Display` impl, and the ones used here (integers, floats, str) have none.
        let _ = write(&mut cursor);
        if cursor.overflowed || start > len {
            return Err(VarListError::BufferTooSmall { len, needed: start + cursor.wanted });
        }
        let item_len = cursor.pos - start;
        if self.items == 0 {
            self.pos = start + item_len;
            self.line_len = item_len;
            self.items = 1;
            return Ok(());
        }
        self.line_len += 1;
        let separator: &[u8] = if item_len + self.line_len + 1 >= LINE_LIMIT { b",\r\n" } else { b", " };
        if separator.len() == 2 {
            self.buf.copy_within(start..start + item_len, start - 1);
            self.line_len += 1;
        } else {
            self.line_len = 0;
        }
        if let Some(slot) = self.buf.get_mut(self.pos..self.pos + separator.len()) {
            slot.copy_from_slice(separator);
        }
        self.pos += separator.len() + item_len;
        self.line_len += item_len;
        self.items += 1;
        Ok(())
    }

    fn push_fmt(&mut self, name: &str, value: fmt::Arguments<'_>) -> Result<(), VarListError> {
        self.check_name(name)?;
        self.push_item(|c| {
            c.write_str(name)?;
            c.write_char('=')?;
            c.write_fmt(value)
        })
    }

    /// `name=value` with the value as given. It must be printable ASCII
    /// without `,` or `"` (the parser would split or misread it).
    pub fn push_raw(&mut self, name: &str, value: &str) -> Result<(), VarListError> {
        if let Some((at, byte)) = value.bytes().enumerate().find(|&(_, b)| !is_value_byte(b) || b == b',' || b == b'"')
        {
            return Err(VarListError::BadValueByte { offset: self.pos + name.len() + 1 + at, byte });
        }
        self.push_fmt(name, format_args!("{value}"))
    }

    /// A bare `name`, without `=` (ntpd writes empty strings this way).
    pub fn push_name(&mut self, name: &str) -> Result<(), VarListError> {
        self.check_name(name)?;
        self.push_item(|c| c.write_str(name))
    }

    /// `name="text"`. The text may hold commas and spaces, but no `"` and
    /// no control characters: the format has no escapes.
    pub fn push_quoted(&mut self, name: &str, text: &str) -> Result<(), VarListError> {
        if let Some(byte) = text.bytes().find(|&b| !is_value_byte(b) || b == b'"') {
            return Err(VarListError::Unquotable { byte });
        }
        self.push_fmt(name, format_args!("\"{text}\""))
    }

    /// `name=123` (ntpd's `%u`).
    pub fn push_uint(&mut self, name: &str, value: u64) -> Result<(), VarListError> {
        self.push_fmt(name, format_args!("{value}"))
    }

    /// `name=-12` (ntpd's `%d`).
    pub fn push_int(&mut self, name: &str, value: i64) -> Result<(), VarListError> {
        self.push_fmt(name, format_args!("{value}"))
    }

    /// `name=0x1a2b` (ntpd's `0x%x`, lower case, no padding).
    pub fn push_hex(&mut self, name: &str, value: u64) -> Result<(), VarListError> {
        self.push_fmt(name, format_args!("{value:#x}"))
    }

    /// `name=0xeca55e7d.34197c1e`: an NTP timestamp as ntpd writes it
    /// (`0x%08x.%08x`, seconds and fraction).
    pub fn push_timestamp(&mut self, name: &str, value: NtpTimestamp) -> Result<(), VarListError> {
        self.push_fmt(name, format_args!("{:#010x}.{:08x}", value.seconds(), value.fraction()))
    }

    /// `name=-1.234` with `places` decimals (ntpd writes milliseconds with
    /// `%.3f` and ppm or finer milliseconds with `%.6f`). Rounding is to
    /// nearest on the exact binary value, as C's `printf` does.
    pub fn push_decimal(&mut self, name: &str, value: f64, places: usize) -> Result<(), VarListError> {
        self.push_fmt(name, format_args!("{value:.places$}"))
    }

    /// Ends the list with CR LF, as ntpd does (nothing for an empty list),
    /// and returns its length.
    pub fn finish(self) -> Result<usize, VarListError> {
        if self.items == 0 {
            return Ok(0);
        }
        let needed = self.pos + 2;
        let len = self.buf.len();
        let slot = self.buf.get_mut(self.pos..needed).ok_or(VarListError::BufferTooSmall { len, needed })?;
        slot.copy_from_slice(b"\r\n");
        Ok(needed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The data of NTPsec ntpd's READVAR response in the captures.
    fn captured_list() -> &'static [u8] {
        const PACKET: &[u8] = include_bytes!("../../testdata/ntpsec/ntpd-readvar-response.bin");
        &PACKET[12..12 + 345]
    }

    fn collect(text: &[u8]) -> Result<Vec<(String, String, bool)>, VarListError> {
        parse_var_list(text).map(|v| v.map(|v| (v.name.to_owned(), v.value.to_owned(), v.quoted))).collect()
    }

    #[test]
    fn test_parses_the_captured_ntpd_list() {
        let vars = collect(captured_list()).unwrap();
        let names: Vec<_> = vars.iter().map(|v| v.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "leap",
                "stratum",
                "precision",
                "rootdelay",
                "rootdisp",
                "refid",
                "reftime",
                "tc",
                "peer",
                "offset",
                "frequency",
                "sys_jitter",
                "clk_jitter",
                "clock",
                "processor",
                "system",
                "version",
                "clk_wander",
                "mintc"
            ]
        );
        assert_eq!(vars[0], ("leap".into(), "3".into(), false));
        assert_eq!(vars[5], ("refid".into(), "INIT".into(), false));
        assert_eq!(vars[13], ("clock".into(), "0xeeac35b1.26dd38e2".into(), false));
        assert_eq!(vars[16], ("version".into(), "ntpd ntpsec-1.2.2".into(), true));
        assert_eq!(vars[18], ("mintc".into(), "0".into(), false));
    }

    #[test]
    fn test_writer_reproduces_ntpds_bytes_and_line_breaks() {
        let mut buf = [0u8; 400];
        let mut w = VarListWriter::new(&mut buf);
        w.push_uint("leap", 3).unwrap();
        w.push_uint("stratum", 16).unwrap();
        w.push_int("precision", -23).unwrap();
        w.push_decimal("rootdelay", 0.0, 3).unwrap();
        w.push_decimal("rootdisp", 0.045, 3).unwrap();
        w.push_raw("refid", "INIT").unwrap();
        w.push_timestamp("reftime", NtpTimestamp::ZERO).unwrap();
        w.push_uint("tc", 0).unwrap();
        w.push_uint("peer", 0).unwrap();
        w.push_decimal("offset", 0.0, 6).unwrap();
        w.push_decimal("frequency", 0.0, 6).unwrap();
        w.push_decimal("sys_jitter", 0.0, 6).unwrap();
        w.push_decimal("clk_jitter", 0.000119, 6).unwrap();
        w.push_timestamp("clock", NtpTimestamp::from_parts(0xeeac_35b1, 0x26dd_38e2)).unwrap();
        w.push_quoted("processor", "x86_64").unwrap();
        w.push_quoted("system", "Linux/6.18.44-fc-v445").unwrap();
        w.push_quoted("version", "ntpd ntpsec-1.2.2").unwrap();
        w.push_decimal("clk_wander", 0.0, 6).unwrap();
        w.push_uint("mintc", 0).unwrap();
        let len = w.finish().unwrap();
        assert_eq!(core::str::from_utf8(&buf[..len]).unwrap(), core::str::from_utf8(captured_list()).unwrap());
    }

    #[test]
    fn test_quoted_values_keep_commas_and_spaces() {
        let vars = collect(b"a=\"x, y\" , b = 2,c=\" \"").unwrap();
        assert_eq!(
            vars,
            [("a".into(), "x, y".into(), true), ("b".into(), "2".into(), false), ("c".into(), " ".into(), true)]
        );
        // Bare names, and a trailing comma.
        assert_eq!(
            collect(b"flag, other=1,").unwrap(),
            [("flag".into(), "".into(), false), ("other".into(), "1".into(), false)]
        );
        assert_eq!(collect(b"").unwrap(), []);
        assert_eq!(collect(b" \r\n").unwrap(), []);
        // ntpd's filter arrays: an unquoted value with inner spaces.
        assert_eq!(collect(b"filtdelay= 0.12 0.34").unwrap(), [("filtdelay".into(), "0.12 0.34".into(), false)]);
    }

    #[test]
    fn test_hostile_lists_get_exact_errors() {
        let first_err = |t: &[u8]| parse_var_list(t).find_map(Result::err);
        assert_eq!(first_err(b"=1"), Some(VarListError::EmptyName { offset: 0 }));
        assert_eq!(first_err(b"a=1,,b=2"), Some(VarListError::EmptyName { offset: 4 }));
        assert_eq!(first_err(b"a=\"open"), Some(VarListError::UnterminatedQuote { offset: 2 }));
        assert_eq!(first_err(b"a=\"x\"y"), Some(VarListError::AfterQuote { offset: 5 }));
        assert_eq!(first_err(b"a=1\x00"), Some(VarListError::BadValueByte { offset: 3, byte: 0 }));
        assert_eq!(first_err(b"a=\"\x1b[31m\""), Some(VarListError::BadValueByte { offset: 3, byte: 0x1b }));
        assert_eq!(first_err(b"a=1\r\nb=2"), Some(VarListError::BadValueByte { offset: 3, byte: b'\r' }));
        assert_eq!(first_err("a=\u{e9}".as_bytes()), Some(VarListError::BadValueByte { offset: 2, byte: 0xc3 }));
        assert_eq!(first_err(b"\"a\"=1"), Some(VarListError::BadNameByte { offset: 0, byte: b'"' }));
        assert_eq!(first_err(b"a b=1"), Some(VarListError::BadNameByte { offset: 2, byte: b'b' }));
        assert_eq!(first_err(b"a=x\"y"), Some(VarListError::BadValueByte { offset: 3, byte: b'"' }));
        let long_name = [b'n'; MAX_NAME_LEN + 1];
        assert_eq!(
            first_err(&long_name),
            Some(VarListError::NameTooLong { offset: 0, len: MAX_NAME_LEN + 1, max: MAX_NAME_LEN })
        );
        let mut long_value = b"v=".to_vec();
        long_value.resize(2 + MAX_VALUE_LEN + 1, b'9');
        assert_eq!(
            first_err(&long_value),
            Some(VarListError::ValueTooLong { offset: 2, len: MAX_VALUE_LEN + 1, max: MAX_VALUE_LEN })
        );
        // The iterator stops after an error.
        let mut it = parse_var_list(b"ok=1, =2, fine=3");
        assert!(it.next().unwrap().is_ok());
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }

    #[test]
    fn test_writer_refusals() {
        let mut buf = [0u8; 32];
        let mut w = VarListWriter::new(&mut buf);
        assert_eq!(w.push_quoted("s", "say \"hi\""), Err(VarListError::Unquotable { byte: b'"' }));
        assert_eq!(w.push_quoted("s", "a\nb"), Err(VarListError::Unquotable { byte: b'\n' }));
        assert_eq!(w.push_raw("s", "1,2"), Err(VarListError::BadValueByte { offset: 3, byte: b',' }));
        assert_eq!(w.push_uint("", 1), Err(VarListError::EmptyName { offset: 0 }));
        assert_eq!(w.push_uint("a=b", 1), Err(VarListError::BadNameByte { offset: 1, byte: b'=' }));
        assert!(w.is_empty());
        w.push_hex("flags", 0x1a2b).unwrap();
        assert_eq!(w.len(), 12);
        assert_eq!(
            w.push_quoted("long", "0123456789abcdef"),
            Err(VarListError::BufferTooSmall { len: 32, needed: 38 })
        );
        // A failed push leaves the list as it was.
        assert_eq!(w.len(), 12);
        let len = w.finish().unwrap();
        assert_eq!(&buf[..len], b"flags=0x1a2b\r\n");
        let mut empty = [0u8; 0];
        assert_eq!(VarListWriter::new(&mut empty).finish(), Ok(0));
    }

    #[test]
    fn test_no_line_exceeds_ntpds_limit() {
        let mut buf = [0u8; 2000];
        let mut w = VarListWriter::new(&mut buf);
        for i in 0..60 {
            w.push_uint("v", i * 1_000_003).unwrap();
        }
        let len = w.finish().unwrap();
        let text = core::str::from_utf8(&buf[..len]).unwrap();
        for line in text.split("\r\n") {
            // The comma that ends a line before a break is not counted, as in ntpd.
            let line = line.strip_suffix(',').unwrap_or(line);
            assert!(line.len() < LINE_LIMIT, "{line:?}");
        }
        assert!(text.split("\r\n").count() > 5);
    }

    #[derive(Clone, Debug)]
    enum Value {
        Uint(u64),
        Int(i64),
        Hex(u64),
        Timestamp(u64),
        Decimal(f64, usize),
        Quoted(String),
        Bare,
    }

    fn any_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<u64>().prop_map(Value::Uint),
            any::<i64>().prop_map(Value::Int),
            any::<u64>().prop_map(Value::Hex),
            any::<u64>().prop_map(Value::Timestamp),
            (-1e6f64..1e6, 0usize..9).prop_map(|(v, p)| Value::Decimal(v, p)),
            "[ -!#-~]{0,40}".prop_map(Value::Quoted),
            Just(Value::Bare),
        ]
    }

    proptest! {
        #[test]
        fn prop_writer_then_parser_gives_the_items_back(
            items in proptest::collection::vec(("[a-z_][a-z0-9_.]{0,20}", any_value()), 0..40)
        ) {
            let mut buf = vec![0u8; 8192];
            let mut w = VarListWriter::new(&mut buf);
            let mut expected = Vec::new();
            for (name, value) in &items {
                let (text, quoted) = match value {
                    Value::Uint(v) => { w.push_uint(name, *v).unwrap(); (v.to_string(), false) }
                    Value::Int(v) => { w.push_int(name, *v).unwrap(); (v.to_string(), false) }
                    Value::Hex(v) => { w.push_hex(name, *v).unwrap(); (format!("{v:#x}"), false) }
                    Value::Timestamp(v) => {
                        w.push_timestamp(name, NtpTimestamp::from_bits(*v)).unwrap();
                        (format!("0x{:08x}.{:08x}", v >> 32, v & 0xffff_ffff), false)
                    }
                    Value::Decimal(v, p) => { w.push_decimal(name, *v, *p).unwrap(); (format!("{v:.p$}"), false) }
                    Value::Quoted(s) => { w.push_quoted(name, s).unwrap(); (s.clone(), true) }
                    Value::Bare => { w.push_name(name).unwrap(); (String::new(), false) }
                };
                expected.push((name.clone(), text, quoted));
            }
            let len = w.finish().unwrap();
            prop_assert_eq!(collect(&buf[..len]).unwrap(), expected);
        }

        #[test]
        fn prop_parser_never_panics(text in proptest::collection::vec(any::<u8>(), 0..600)) {
            for v in parse_var_list(&text).flatten() {
                prop_assert!(v.name.len() <= MAX_NAME_LEN && v.value.len() <= MAX_VALUE_LEN);
                prop_assert!(!v.name.is_empty());
            }
        }

        #[test]
        fn prop_parser_on_list_like_text(text in "[a-c=,\" \r\n]{0,80}") {
            let _ = collect(text.as_bytes());
        }
    }
}
