//! A growable set of keys with trust flags (needs the `alloc` feature).

use alloc::vec::Vec;

use super::key::Key;
use super::keyfile::{
    KeyFileError, KeyFileErrorKind, TrustedKeysError, parse_chrony_keys, parse_ntp_keys, parse_trusted_keys,
};
use super::lookup::{KeyEntry, KeyLookup};

/// Keys by id, each trusted or not (RFC 5905 §7.3; ntpd's `keys` plus
/// `trustedkey`).
///
/// Entries are kept sorted by id, so a lookup is a binary search; nothing
/// on the per-packet path allocates.
///
/// ```
/// use ntp_wire::auth::{KeyLookup, Keyring};
/// let mut ring = Keyring::from_ntp_keys("1 MD5 tulip\n2 MD5 crocus\n3 SHA1 hyacinth\n")?;
/// assert!(!ring.is_trusted(1)); // ntp.keys alone trusts nothing
/// ring.trust_list("1 3")?;
/// assert_eq!(ring.lookup(1).map(|(key, trusted)| (key.id(), trusted)), Some((1, true)));
/// assert_eq!(ring.lookup(2).map(|(_, trusted)| trusted), Some(false));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Keyring {
    entries: Vec<KeyEntry>,
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Keyring {
        Keyring::default()
    }

    /// Reads an `ntp.keys` file (see [`parse_ntp_keys`]). No key is trusted
    /// yet: apply the `trustedkey` list with [`Keyring::trust_list`]. Fails
    /// on the first bad line, or on a key id defined twice.
    pub fn from_ntp_keys(text: &str) -> Result<Keyring, KeyFileError> {
        Keyring::collect(parse_ntp_keys(text), false)
    }

    /// Reads a `chrony.keys` file (see [`parse_chrony_keys`]). Every key is
    /// trusted, as chronyd uses all keys in its file. Fails on the first bad
    /// line, or on a key id defined twice.
    pub fn from_chrony_keys(text: &str) -> Result<Keyring, KeyFileError> {
        Keyring::collect(parse_chrony_keys(text), true)
    }

    fn collect(
        keys: impl Iterator<Item = Result<(usize, Key), KeyFileError>>,
        trusted: bool,
    ) -> Result<Keyring, KeyFileError> {
        let mut ring = Keyring::new();
        // Remember where each id came from, to name both lines of a duplicate.
        let mut lines: Vec<(u32, usize)> = Vec::new();
        for item in keys {
            let (line, key) = item?;
            let key_id = key.id();
            if let Some(&(_, first_line)) = lines.iter().find(|(id, _)| *id == key_id) {
                return Err(KeyFileError { line, kind: KeyFileErrorKind::DuplicateKeyId { key_id, first_line } });
            }
            lines.push((key_id, line));
            ring.insert(key, trusted);
        }
        Ok(ring)
    }

    /// Adds a key, or replaces the key with the same id (returning the old one).
    pub fn insert(&mut self, key: Key, trusted: bool) -> Option<Key> {
        let entry = KeyEntry { key, trusted };
        match self.position(entry.key.id()) {
            Ok(index) => self.entries.get_mut(index).map(|slot| core::mem::replace(slot, entry).key),
            Err(index) => {
                self.entries.insert(index, entry);
                None
            }
        }
    }

    /// Removes and returns the key with this id.
    pub fn remove(&mut self, key_id: u32) -> Option<Key> {
        let index = self.position(key_id).ok()?;
        Some(self.entries.remove(index).key)
    }

    /// The key with this id, trusted or not.
    pub fn get(&self, key_id: u32) -> Option<&Key> {
        self.entry(key_id).map(|entry| &entry.key)
    }

    /// Whether a key with this id exists and is trusted.
    pub fn is_trusted(&self, key_id: u32) -> bool {
        self.entry(key_id).is_some_and(|entry| entry.trusted)
    }

    /// Marks a key trusted or not; returns false when there is no such key.
    pub fn set_trusted(&mut self, key_id: u32, trusted: bool) -> bool {
        match self.position(key_id).ok().and_then(|index| self.entries.get_mut(index)) {
            Some(entry) => {
                entry.trusted = trusted;
                true
            }
            None => false,
        }
    }

    /// Trusts every key whose id is in a `trustedkey`-style list such as
    /// `"1 2 5-7"` (see [`parse_trusted_keys`]) and returns how many keys
    /// that covered. Ids without a key are ignored, as ntpd does. The list
    /// is checked whole first: on an error nothing changes.
    pub fn trust_list(&mut self, list: &str) -> Result<usize, TrustedKeysError> {
        for range in parse_trusted_keys(list) {
            range?;
        }
        let mut count = 0;
        for range in parse_trusted_keys(list).flatten() {
            for entry in self.entries.iter_mut().filter(|entry| range.contains(&entry.key.id())) {
                entry.trusted = true;
                count += 1;
            }
        }
        Ok(count)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The keys in id order, each with its trust flag.
    pub fn iter(&self) -> impl Iterator<Item = (&Key, bool)> {
        self.entries.iter().map(|entry| (&entry.key, entry.trusted))
    }

    fn position(&self, key_id: u32) -> Result<usize, usize> {
        self.entries.binary_search_by_key(&key_id, |entry| entry.key.id())
    }

    fn entry(&self, key_id: u32) -> Option<&KeyEntry> {
        self.position(key_id).ok().and_then(|index| self.entries.get(index))
    }
}

impl KeyLookup for Keyring {
    fn lookup(&self, key_id: u32) -> Option<(&Key, bool)> {
        self.entry(key_id).map(|entry| (&entry.key, entry.trusted))
    }
}

impl Extend<KeyEntry> for Keyring {
    fn extend<I: IntoIterator<Item = KeyEntry>>(&mut self, entries: I) {
        for entry in entries {
            self.insert(entry.key, entry.trusted);
        }
    }
}

impl FromIterator<KeyEntry> for Keyring {
    fn from_iter<I: IntoIterator<Item = KeyEntry>>(entries: I) -> Keyring {
        let mut ring = Keyring::new();
        ring.extend(entries);
        ring
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::KeyType;
    use crate::auth::keyfile::TrustedKeysErrorKind;

    fn key(id: u32, secret: &[u8]) -> Key {
        Key::new(id, KeyType::Sha1, secret).unwrap()
    }

    #[test]
    fn test_insert_lookup_remove() {
        let mut ring = Keyring::new();
        assert!(ring.is_empty());
        assert_eq!(ring.insert(key(9, b"a"), true), None);
        assert_eq!(ring.insert(key(2, b"b"), false), None);
        assert_eq!(ring.insert(key(5, b"c"), true), None);
        assert_eq!(ring.iter().map(|(k, _)| k.id()).collect::<Vec<_>>(), [2, 5, 9]);
        assert_eq!(ring.insert(key(5, b"d"), false), Some(key(5, b"c")));
        assert_eq!(ring.len(), 3);
        assert_eq!(ring.lookup(5).map(|(k, t)| (k.expose_secret(), t)), Some((&b"d"[..], false)));
        assert!(ring.lookup(4).is_none());
        assert_eq!(ring.remove(2), Some(key(2, b"b")));
        assert_eq!(ring.remove(2), None);
        assert_eq!(ring.get(9), Some(&key(9, b"a")));
    }

    #[test]
    fn test_trust() {
        let mut ring: Keyring = (1..=8).map(|id| KeyEntry::untrusted(key(id, b"s"))).collect();
        assert!(!ring.is_trusted(3));
        assert!(ring.set_trusted(3, true));
        assert!(ring.is_trusted(3));
        assert!(!ring.set_trusted(30, true));
        assert_eq!(ring.trust_list("1 5-6 (8 ... 100)"), Ok(4));
        let trusted: Vec<_> = ring.iter().filter(|(_, t)| *t).map(|(k, _)| k.id()).collect();
        assert_eq!(trusted, [1, 3, 5, 6, 8]);
        // A bad list changes nothing.
        let before = ring.clone();
        assert_eq!(ring.trust_list("2 x").unwrap_err().kind, TrustedKeysErrorKind::ExpectedKeyId);
        assert_eq!(ring, before);
    }

    #[test]
    fn test_from_files() {
        let chrony = Keyring::from_chrony_keys("1 MD5 HEX:00ff\n2 SHA1 ASCII:x\n").unwrap();
        assert!(chrony.is_trusted(1) && chrony.is_trusted(2));
        let ntp = Keyring::from_ntp_keys("1 MD5 x\n").unwrap();
        assert!(!ntp.is_trusted(1));
        assert_eq!(
            Keyring::from_chrony_keys("# keys\n1 a\n2 b\n1 c\n"),
            Err(KeyFileError { line: 4, kind: KeyFileErrorKind::DuplicateKeyId { key_id: 1, first_line: 2 } })
        );
        assert_eq!(Keyring::from_ntp_keys("1 MD5 x\n2 SHA9 y\n").unwrap_err().line, 2);
    }
}
