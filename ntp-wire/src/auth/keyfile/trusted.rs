//! Lists of trusted key ids, as in ntpd's `trustedkey` directive.
//!
//! ```text
//! 1 2 5-7 (10 ... 12)
//! ```
//!
//! Items are separated by blanks or commas. Each is a key id, a range
//! `first-last`, or classic ntpd's range form `(first ... last)`; ranges
//! include both ends. Ids are 1..=2^32-1.

use core::ops::RangeInclusive;

/// A trusted-key list that could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("trusted key list, column {column}: {kind}")]
pub struct TrustedKeysError {
    /// Column (in bytes, from 1) where the problem starts.
    pub column: usize,
    /// What is wrong there.
    pub kind: TrustedKeysErrorKind,
}

/// What is wrong with a trusted-key list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustedKeysErrorKind {
    /// Something other than a key id, `-`, `(`, `...` or `)` where one was expected.
    #[error("expected a key id in 1..=4294967295")]
    ExpectedKeyId,
    /// Key id 0 is reserved.
    #[error("key id 0 is reserved")]
    ZeroKeyId,
    /// A range whose end is below its start.
    #[error("range {first}-{last} ends before it starts")]
    ReversedRange {
        /// The first id given.
        first: u32,
        /// The last id given.
        last: u32,
    },
    /// A `(first ... last)` range that is not written out in full.
    #[error("expected `(first ... last)`")]
    BadParenthesizedRange,
}

/// Reads a trusted-key list: an iterator over inclusive ranges of key ids
/// (a single id is a range of one).
///
/// ```
/// use ntp_wire::auth::parse_trusted_keys;
/// let ranges: Vec<_> = parse_trusted_keys("1 2, 5-7 (10 ... 12)").collect::<Result<_, _>>()?;
/// assert_eq!(ranges, [1..=1, 2..=2, 5..=7, 10..=12]);
/// # Ok::<(), ntp_wire::auth::TrustedKeysError>(())
/// ```
pub fn parse_trusted_keys(list: &str) -> TrustedKeyIds<'_> {
    TrustedKeyIds { lexer: Lexer { text: list, pos: 0 }, failed: false }
}

/// Iterator returned by [`parse_trusted_keys`]. It ends after the first error.
#[derive(Clone, Debug)]
pub struct TrustedKeyIds<'a> {
    lexer: Lexer<'a>,
    failed: bool,
}

impl TrustedKeyIds<'_> {
    /// Whether `key_id` is in the list. Fails on the list's first error.
    pub fn contains(self, key_id: u32) -> Result<bool, TrustedKeysError> {
        let mut found = false;
        for range in self {
            found |= range?.contains(&key_id);
        }
        Ok(found)
    }

    fn item(&mut self) -> Option<Result<RangeInclusive<u32>, TrustedKeysError>> {
        let (column, token) = self.lexer.next()?;
        let error = |kind| Some(Err(TrustedKeysError { column, kind }));
        match token {
            Token::Number(first) => {
                let first = match key_id(first) {
                    Ok(id) => id,
                    Err(kind) => return error(kind),
                };
                if self.lexer.peek() != Some(Token::Dash) {
                    return Some(Ok(first..=first));
                }
                self.lexer.next();
                match self.lexer.next() {
                    Some((column, Token::Number(last))) => Some(range(first, last, column)),
                    Some((column, _)) => {
                        Some(Err(TrustedKeysError { column, kind: TrustedKeysErrorKind::ExpectedKeyId }))
                    }
                    None => Some(Err(TrustedKeysError {
                        column: self.lexer.end_column(),
                        kind: TrustedKeysErrorKind::ExpectedKeyId,
                    })),
                }
            }
            Token::Open => {
                let parts = (self.lexer.next(), self.lexer.next(), self.lexer.next(), self.lexer.next());
                match parts {
                    (
                        Some((first_column, Token::Number(first))),
                        Some((_, Token::Ellipsis)),
                        Some((last_column, Token::Number(last))),
                        Some((_, Token::Close)),
                    ) => match key_id(first) {
                        Ok(first) => Some(range(first, last, last_column)),
                        Err(kind) => Some(Err(TrustedKeysError { column: first_column, kind })),
                    },
                    _ => error(TrustedKeysErrorKind::BadParenthesizedRange),
                }
            }
            _ => error(TrustedKeysErrorKind::ExpectedKeyId),
        }
    }
}

impl Iterator for TrustedKeyIds<'_> {
    type Item = Result<RangeInclusive<u32>, TrustedKeysError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.item();
        self.failed = matches!(item, Some(Err(_)));
        item
    }
}

fn key_id(value: Option<u32>) -> Result<u32, TrustedKeysErrorKind> {
    match value {
        Some(0) => Err(TrustedKeysErrorKind::ZeroKeyId),
        Some(id) => Ok(id),
        None => Err(TrustedKeysErrorKind::ExpectedKeyId),
    }
}

fn range(first: u32, last: Option<u32>, column: usize) -> Result<RangeInclusive<u32>, TrustedKeysError> {
    let last = key_id(last).map_err(|kind| TrustedKeysError { column, kind })?;
    if last < first {
        return Err(TrustedKeysError { column, kind: TrustedKeysErrorKind::ReversedRange { first, last } });
    }
    Ok(first..=last)
}

/// A token; `Number(None)` is a run of digits too large for a key id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Number(Option<u32>),
    Dash,
    Ellipsis,
    Open,
    Close,
    Other,
}

#[derive(Clone, Debug)]
struct Lexer<'a> {
    text: &'a str,
    pos: usize,
}

impl Lexer<'_> {
    fn end_column(&self) -> usize {
        self.text.len() + 1
    }

    fn peek(&self) -> Option<Token> {
        self.clone().next().map(|(_, token)| token)
    }

    /// The next token and its column (from 1).
    fn next(&mut self) -> Option<(usize, Token)> {
        let rest = self.text.get(self.pos..)?;
        let skipped = rest.len() - rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',').len();
        self.pos += skipped;
        let rest = self.text.get(self.pos..)?;
        let column = self.pos + 1;
        let (token, len) = if rest.starts_with("...") {
            (Token::Ellipsis, 3)
        } else {
            match rest.chars().next()? {
                '-' => (Token::Dash, 1),
                '(' => (Token::Open, 1),
                ')' => (Token::Close, 1),
                c if c.is_ascii_digit() => {
                    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                    let value = rest.get(..digits).and_then(|d| d.parse::<u32>().ok());
                    (Token::Number(value), digits)
                }
                c => (Token::Other, c.len_utf8()),
            }
        };
        self.pos += len;
        Some((column, token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(list: &str) -> Result<Vec<RangeInclusive<u32>>, TrustedKeysError> {
        parse_trusted_keys(list).collect()
    }

    #[test]
    fn test_forms() {
        assert_eq!(parse(""), Ok(vec![]));
        assert_eq!(parse("  "), Ok(vec![]));
        assert_eq!(parse("1 2 5-7"), Ok(vec![1..=1, 2..=2, 5..=7]));
        assert_eq!(parse("1,2,,3"), Ok(vec![1..=1, 2..=2, 3..=3]));
        assert_eq!(parse("5 - 7"), Ok(vec![5..=7]));
        assert_eq!(parse("(10 ... 12)"), Ok(vec![10..=12]));
        assert_eq!(parse("( 10 ... 12 ) 4"), Ok(vec![10..=12, 4..=4]));
        assert_eq!(parse("(10...12)"), Ok(vec![10..=12]));
        assert_eq!(parse("4294967295 7-7"), Ok(vec![u32::MAX..=u32::MAX, 7..=7]));
    }

    #[test]
    fn test_errors() {
        let err = |column, kind| Err(TrustedKeysError { column, kind });
        assert_eq!(parse("1 x"), err(3, TrustedKeysErrorKind::ExpectedKeyId));
        assert_eq!(parse("0"), err(1, TrustedKeysErrorKind::ZeroKeyId));
        assert_eq!(parse("1-0"), err(3, TrustedKeysErrorKind::ZeroKeyId));
        assert_eq!(parse("4294967296"), err(1, TrustedKeysErrorKind::ExpectedKeyId));
        assert_eq!(parse("7-5"), err(3, TrustedKeysErrorKind::ReversedRange { first: 7, last: 5 }));
        assert_eq!(parse("5-"), err(3, TrustedKeysErrorKind::ExpectedKeyId));
        assert_eq!(parse("5-)"), err(3, TrustedKeysErrorKind::ExpectedKeyId));
        assert_eq!(parse("(5 7)"), err(1, TrustedKeysErrorKind::BadParenthesizedRange));
        assert_eq!(parse("(5 ... 7"), err(1, TrustedKeysErrorKind::BadParenthesizedRange));
        assert_eq!(parse("(0 ... 7)"), err(2, TrustedKeysErrorKind::ZeroKeyId));
        assert_eq!(parse("-5"), err(1, TrustedKeysErrorKind::ExpectedKeyId));
        assert_eq!(parse("\u{e9}"), err(1, TrustedKeysErrorKind::ExpectedKeyId));
    }

    #[test]
    fn test_stops_after_error_and_contains() {
        let mut it = parse_trusted_keys("1 x 3");
        assert_eq!(it.next(), Some(Ok(1..=1)));
        assert!(matches!(it.next(), Some(Err(_))));
        assert_eq!(it.next(), None);
        assert_eq!(parse_trusted_keys("1 5-7").contains(6), Ok(true));
        assert_eq!(parse_trusted_keys("1 5-7").contains(8), Ok(false));
        assert!(parse_trusted_keys("1 5-").contains(1).is_err());
    }
}
