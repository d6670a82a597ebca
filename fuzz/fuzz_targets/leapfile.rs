//! Fuzz target `leapfile`: the IERS `leap-seconds.list` (`ntp_algo::leap`).
//!
//! Every input is read as text (UTF-8, invalid sequences replaced) and
//! parsed; an input whose first byte is 0 is also decoded, from its second
//! byte on, as a description of a valid file to write (`Built`).
//!
//! Text:
//! * `parse` and `parse_allow_missing_hash` never panic and agree: the same
//!   result, except that where `parse` says only `MissingHash` the other
//!   accepts the file without a hash. Errors name a line of the text.
//! * A parsed list holds what the format promises (`check_list`): entries
//!   strictly increasing, each at 00:00:00 on the first of a month, each
//!   changing TAI - UTC by exactly one second; `tai_offset` steps at each
//!   entry; `leap_indicator` announces each leap during the month before it
//!   (unless expired) and nothing else; neither it, `tai_offset` nor
//!   `is_expired` panics for any date; `check_leap_command` accepts exactly
//!   a synchronized command for the end of the current month.
//!
//! Built: months, TAI - UTC steps, update and expiry lines, layout choices
//! (order of the special lines, comments, CRLF, hash words with or without
//! leading zeros). The target writes the file with the `#h` hash computed as
//! leap.rs documents (SHA-1 over the ASCII digits of the `#$` and `#@`
//! values and of every data line before its comment, in file order), and
//! checks that it parses back to exactly those entries, dates and hash;
//! then, for a few digits chosen by the input, that changing that digit
//! alone makes the file fail (`HashMismatch` naming both digests when the
//! edited file is otherwise valid), while a digit in a comment changes
//! nothing and one in the `#h` line is a `HashMismatch`.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use ntp_algo::test_api::{check_leap_command, end_of_month};
use ntp_algo::{LeapCommand, LeapEntry, LeapFileError, LeapHash, LeapSecondsList};
use ntp_wire::{LeapIndicator, NtpDate};
use sha1::{Digest, Sha1};

/// One second in `NtpDate::to_fixed` units.
const SECOND: i128 = 1 << 32;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Dates to probe the list with: from the input's first and last bytes.
    let mut probes = Vec::new();
    for chunk in [data.get(..12), data.len().checked_sub(12).and_then(|start| data.get(start..))].into_iter().flatten()
    {
        let era = i32::from_le_bytes(chunk[..4].try_into().unwrap());
        let bits = u64::from_le_bytes(chunk[4..].try_into().unwrap());
        probes.push(NtpDate::new(era, ntp_wire::NtpTimestamp::from_bits(bits)));
        // The same bits in the era of 1900-2036, where real files live.
        probes.push(NtpDate::new(0, ntp_wire::NtpTimestamp::from_bits(bits)));
    }
    if let Some(list) = check_text(&text) {
        check_list(&list, &probes, data.first().is_some_and(|b| b & 1 == 1));
    }

    if let Some((&0, rest)) = data.split_first()
        && let Ok(built) = Built::arbitrary(&mut Unstructured::new(rest))
    {
        check_built(&built);
    }
});

/// Parses `text` both ways; checks they agree and that errors name a line.
fn check_text(text: &str) -> Option<LeapSecondsList> {
    let strict = LeapSecondsList::parse(text);
    let lenient = LeapSecondsList::parse_allow_missing_hash(text);
    match &strict {
        Err(LeapFileError::MissingHash) => {
            let list = lenient.as_ref().expect("MissingHash, yet the lenient parse fails");
            assert_eq!(list.hash(), None);
        }
        _ => assert_eq!(strict, lenient),
    }
    if let Err(error) = &lenient {
        let line = match *error {
            LeapFileError::Malformed { line, .. }
            | LeapFileError::NotMonotonic { line, .. }
            | LeapFileError::BadStep { line, .. }
            | LeapFileError::NotMonthStart { line, .. }
            | LeapFileError::BadHashLine { line } => Some(line),
            _ => None,
        };
        if let Some(line) = line {
            assert!((1..=text.lines().count()).contains(&line), "{error}");
        }
        std::hint::black_box(error.to_string());
    }
    if let Ok(list) = &strict {
        assert!(list.hash().is_some());
    }
    lenient.ok()
}

fn date(fixed: i128) -> Option<NtpDate> {
    NtpDate::from_fixed(fixed)
}

/// Whether `d` is 00:00:00.000 on the first day of a month.
fn is_month_start(d: NtpDate) -> bool {
    d.to_utc().is_some_and(|u| (u.day, u.hour, u.minute, u.second, u.nanosecond) == (1, 0, 0, 0, 0))
}

/// What a parsed list must satisfy, probed at the entries, around them, and
/// at the dates given.
fn check_list(list: &LeapSecondsList, probes: &[NtpDate], synchronized: bool) {
    let entries = list.entries();
    assert!(!entries.is_empty());
    for (i, entry) in entries.iter().enumerate() {
        assert!(is_month_start(entry.at), "entry {i} at {:?}", entry.at.to_utc());
        assert!(entry.tai_offset >= 0);
        assert_eq!(list.tai_offset(entry.at), Some(entry.tai_offset));
        let before = date(entry.at.to_fixed() - 1);
        let second_before = date(entry.at.to_fixed() - SECOND);
        match i.checked_sub(1).map(|p| &entries[p]) {
            None => {
                if let Some(d) = before {
                    assert_eq!(list.tai_offset(d), None, "TAI - UTC before the first entry");
                }
                if let Some(d) = second_before.filter(|d| !list.is_expired(*d)) {
                    assert_eq!(list.leap_indicator(d), LeapIndicator::NoWarning, "the first entry is no leap");
                }
            }
            Some(previous) => {
                assert!(previous.at < entry.at, "entries not increasing");
                assert_eq!(previous.tai_offset.abs_diff(entry.tai_offset), 1);
                assert_eq!(before.and_then(|d| list.tai_offset(d)), Some(previous.tai_offset));
                // The last second of the month before the leap announces it.
                let d = second_before.expect("a month start after another has a second before it");
                let want = if list.is_expired(d) {
                    LeapIndicator::NoWarning
                } else if entry.tai_offset > previous.tai_offset {
                    LeapIndicator::InsertSecond
                } else {
                    LeapIndicator::DeleteSecond
                };
                assert_eq!(list.leap_indicator(d), want, "entry {i}");
            }
        }
    }

    let mut dates: Vec<NtpDate> = probes.to_vec();
    for d in [list.expires()].into_iter().chain(list.last_update()).chain(entries.iter().map(|e| e.at)) {
        dates.extend([-SECOND, -1, 0, 1].into_iter().filter_map(|delta| date(d.to_fixed() + delta)));
    }
    dates.push(NtpDate::new(i32::MIN, ntp_wire::NtpTimestamp::ZERO));
    dates.push(NtpDate::new(i32::MAX, ntp_wire::NtpTimestamp::from_bits(u64::MAX)));
    for d in dates {
        let expired = list.is_expired(d);
        assert_eq!(expired, d >= list.expires());
        let offset = list.tai_offset(d);
        let last_before = entries.iter().rev().find(|e| e.at <= d).map(|e| e.tai_offset);
        assert_eq!(offset, last_before, "tai_offset at {d:?}");
        let indicator = list.leap_indicator(d);
        match indicator {
            LeapIndicator::NoWarning => {}
            LeapIndicator::InsertSecond | LeapIndicator::DeleteSecond => {
                assert!(!expired);
                let next = end_of_month(d);
                let i = entries.iter().position(|e| e.at == next).expect("announced a leap with no entry");
                let up = entries[i].tai_offset > entries[i - 1].tai_offset;
                assert_eq!(indicator == LeapIndicator::InsertSecond, up);
            }
            LeapIndicator::Unsynchronized => panic!("a leap file announced 'unsynchronized' at {d:?}"),
        }
        check_command(d, synchronized);
    }
}

/// `check_leap_command` accepts exactly a synchronized command whose leap is
/// the end of the current month, still ahead.
fn check_command(now: NtpDate, synchronized: bool) {
    let eom = end_of_month(now);
    let later = end_of_month(eom);
    let candidates = [Some(eom), date(eom.to_fixed() - 1), date(eom.to_fixed() + SECOND), Some(later), Some(now)];
    for leap_at in candidates.into_iter().flatten() {
        for command in [LeapCommand::Add, LeapCommand::Delete] {
            let result = check_leap_command(command, leap_at, now, synchronized);
            let expected = synchronized && leap_at == eom && leap_at > now;
            assert_eq!(result.is_ok(), expected, "{command:?} at {leap_at:?}, now {now:?}: {result:?}");
            if let Err(error) = result {
                std::hint::black_box(error.to_string());
            }
        }
    }
}

// ----- writing a valid file -----

/// A valid leap-seconds.list to write.
#[derive(Arbitrary, Debug)]
struct Built {
    /// The first entry, in months after January 1972 (modulo 2400).
    start: u16,
    /// TAI - UTC at the first entry.
    first_tai: u8,
    /// Each later entry: months after the previous (1 + gap % 24) and the
    /// direction. At most `MAX_STEPS`; a deletion at 0 becomes an insertion.
    steps: Vec<(u8, bool)>,
    /// The `#$` line, NTP seconds.
    updated: Option<u32>,
    /// The `#@` line: months after the first entry (modulo 3000) and seconds into that month.
    expires: (u16, u32),
    /// Where the `#$` / `#@` lines go and in which order (see `write`).
    layout: u8,
    /// Comments after the data and the special lines, and comment lines.
    comments: bool,
    /// CRLF line ends.
    crlf: bool,
    /// `#h` words without their leading zeros, as the IERS writes them.
    short_words: bool,
    /// Digits to change, one at a time: an index into the file's digits.
    edits: Vec<u16>,
    /// Added (modulo 9, plus 1) to each digit changed.
    shift: u8,
}

const MAX_STEPS: usize = 40;
const MAX_EDITS: usize = 4;

/// What a line of the written file is, for the hash and for the edits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Comment,
    Updated,
    Expires,
    Data,
    Hash,
}

/// Days from 1900-01-01 to the first of `month` (1-12) of `year` (>= 1900),
/// proleptic Gregorian.
fn days_to_month(year: i64, month: u32) -> i64 {
    const BEFORE_MONTH: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let leap_days_through = |y: i64| y / 4 - y / 100 + y / 400;
    let is_leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let years = year - 1900;
    let leap_days = leap_days_through(year - 1) - leap_days_through(1899);
    years * 365 + leap_days + BEFORE_MONTH[month as usize - 1] + i64::from(is_leap && month > 2)
}

/// NTP seconds at the start of the month `months` after January 1972.
fn month_start_seconds(months: u32) -> u64 {
    let year = 1972 + i64::from(months / 12);
    let days = days_to_month(year, months % 12 + 1);
    u64::try_from(days * 86_400).expect("after 1900")
}

/// SHA-1 of the digits of the hashed part of each line, in file order.
fn file_hash(lines: &[(String, Kind)]) -> [u8; 20] {
    let mut hasher = Sha1::new();
    for (line, kind) in lines {
        if let Some(span) = hashed_span(line, *kind) {
            let digits: Vec<u8> = line[span].bytes().filter(u8::is_ascii_digit).collect();
            hasher.update(&digits);
        }
    }
    hasher.finalize().into()
}

/// The byte range of a line that the hash covers.
fn hashed_span(line: &str, kind: Kind) -> Option<std::ops::Range<usize>> {
    let start = match kind {
        Kind::Updated | Kind::Expires => 2,
        Kind::Data => 0,
        Kind::Comment | Kind::Hash => return None,
    };
    let end = line[start..].find('#').map_or(line.len(), |i| start + i);
    Some(start..end)
}

fn hash_line(digest: &[u8; 20], short_words: bool) -> String {
    let words: Vec<String> = digest
        .chunks(4)
        .map(|w| {
            let value = u32::from_be_bytes(w.try_into().unwrap());
            if short_words { format!("{value:x}") } else { format!("{value:08x}") }
        })
        .collect();
    format!("#h\t{}", words.join(" "))
}

fn join(lines: &[(String, Kind)], crlf: bool) -> String {
    let end = if crlf { "\r\n" } else { "\n" };
    lines.iter().map(|(line, _)| format!("{line}{end}")).collect()
}

fn check_built(built: &Built) {
    // The entries.
    let mut months = u32::from(built.start % 2400);
    let mut tai = i32::from(built.first_tai);
    let mut entries = vec![(month_start_seconds(months), tai)];
    for &(gap, insert) in built.steps.iter().take(MAX_STEPS) {
        months += 1 + u32::from(gap % 24);
        tai += if insert || tai == 0 { 1 } else { -1 };
        entries.push((month_start_seconds(months), tai));
    }
    let first_month = u32::from(built.start % 2400);
    let expires_month = first_month + u32::from(built.expires.0 % 3000);
    let expires = month_start_seconds(expires_month) + u64::from(built.expires.1 % (28 * 86_400));

    // The lines, in the chosen layout.
    let comment = |text: &str| if built.comments { format!("\t# {text}") } else { String::new() };
    let mut specials = Vec::new();
    if let Some(updated) = built.updated {
        specials.push((format!("#$\t{updated}{}", comment("updated 1 Jan 2025")), Kind::Updated));
    }
    specials.push((format!("#@\t{expires}{}", comment("expires 28 June 2026")), Kind::Expires));
    if built.layout & 1 == 1 {
        specials.reverse();
    }
    let data: Vec<(String, Kind)> = entries
        .iter()
        .map(|(seconds, tai)| (format!("{seconds}\t{tai}{}", comment("1 Jan 1972")), Kind::Data))
        .collect();
    let mut lines = Vec::new();
    if built.comments {
        lines.push(("#\tleap-seconds.list, 2 lines of comment".to_owned(), Kind::Comment));
        lines.push(("#".to_owned(), Kind::Comment));
    }
    if built.layout & 2 == 0 {
        lines.extend(specials);
        lines.extend(data);
    } else {
        lines.extend(data);
        lines.extend(specials);
    }
    let digest = file_hash(&lines);
    let hash = (hash_line(&digest, built.short_words), Kind::Hash);
    if built.layout & 4 == 0 {
        lines.push(hash);
    } else {
        lines.insert(0, hash);
    }
    let text = join(&lines, built.crlf);

    // It parses back to what was written.
    let list = LeapSecondsList::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let at = |seconds: u64| date(i128::from(seconds) << 32).expect("in range");
    let want: Vec<LeapEntry> = entries.iter().map(|&(s, tai_offset)| LeapEntry { at: at(s), tai_offset }).collect();
    assert_eq!(list.entries(), &want[..]);
    assert_eq!(list.expires(), at(expires));
    assert_eq!(list.last_update(), built.updated.map(|s| at(u64::from(s))));
    assert_eq!(list.hash(), Some(LeapHash(digest)));
    assert_eq!(LeapSecondsList::parse_allow_missing_hash(&text).as_ref(), Ok(&list));
    check_list(&list, &[at(expires), NtpDate::ERA1_START], built.layout & 8 == 0);

    // Change one digit at a time.
    let digits: Vec<(usize, usize)> = lines
        .iter()
        .enumerate()
        .flat_map(|(l, (line, _))| {
            line.bytes().enumerate().filter(|(_, b)| b.is_ascii_digit()).map(move |(i, _)| (l, i))
        })
        .collect();
    for &edit in built.edits.iter().take(MAX_EDITS) {
        let (l, i) = digits[usize::from(edit) % digits.len()];
        let mut edited = lines.clone();
        let (line, kind) = &mut edited[l];
        let old = line.as_bytes()[i] - b'0';
        let new = (old + 1 + built.shift % 9) % 10;
        line.replace_range(i..i + 1, &new.to_string());
        let kind = *kind;
        let in_hash = hashed_span(line, kind).is_some_and(|span| span.contains(&i));
        let result = LeapSecondsList::parse(&join(&edited, built.crlf));
        match kind {
            Kind::Hash => assert!(
                matches!(result, Err(LeapFileError::HashMismatch { computed, .. }) if computed == LeapHash(digest)),
                "a changed #h digit: {result:?}"
            ),
            _ if !in_hash => assert_eq!(result.as_ref(), Ok(&list), "a digit in a comment changed the list"),
            _ => {
                // Without its #h line, is the edited file still well formed?
                let unhashed: Vec<_> = edited.iter().filter(|(_, k)| *k != Kind::Hash).cloned().collect();
                let valid = LeapSecondsList::parse_allow_missing_hash(&join(&unhashed, built.crlf)).is_ok();
                match result {
                    Err(LeapFileError::HashMismatch { expected, computed }) => {
                        assert!(valid);
                        assert_eq!(expected, LeapHash(digest));
                        assert_eq!(computed, LeapHash(file_hash(&edited)));
                    }
                    Err(_) => assert!(!valid, "an edit in {kind:?} gave {result:?}, not a hash mismatch"),
                    Ok(_) => panic!("changing digit {i} of line {l} ({kind:?}) went unnoticed:\n{}", edited[l].0),
                }
            }
        }
    }
}
