//! Finding a key by the id a packet names, and whether it is trusted.
//!
//! [`verify`](super::verify) only needs this trait, so it works without an
//! allocator: a static `[Key; N]` (every key trusted) or `[KeyEntry; N]`
//! (trust per key) serves as well as the heap-backed
//! `Keyring` (feature `alloc`).

use super::key::Key;

/// A set of keys that can be searched by key id.
///
/// Trust follows ntpd's model (the `trustedkey` directive): a key may be
/// configured, and so recognised, without being trusted to authenticate a
/// time source. [`verify`](super::verify) reports the two cases apart.
pub trait KeyLookup {
    /// The key with this id and whether it is trusted, or `None` if there is
    /// no such key.
    fn lookup(&self, key_id: u32) -> Option<(&Key, bool)>;
}

/// A key and its trust flag, for keyrings kept in plain slices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEntry {
    /// The key.
    pub key: Key,
    /// Whether packets signed with it are accepted.
    pub trusted: bool,
}

impl KeyEntry {
    /// A trusted entry.
    pub fn trusted(key: Key) -> KeyEntry {
        KeyEntry { key, trusted: true }
    }

    /// An entry that is known but not trusted.
    pub fn untrusted(key: Key) -> KeyEntry {
        KeyEntry { key, trusted: false }
    }
}

/// A plain slice of keys: every key is trusted; the first with a matching
/// id wins. Linear search, which beats hashing for the handful of keys a
/// host has.
impl KeyLookup for [Key] {
    fn lookup(&self, key_id: u32) -> Option<(&Key, bool)> {
        self.iter().find(|key| key.id() == key_id).map(|key| (key, true))
    }
}

/// A slice of entries with their own trust flags; the first matching id wins.
impl KeyLookup for [KeyEntry] {
    fn lookup(&self, key_id: u32) -> Option<(&Key, bool)> {
        self.iter().find(|entry| entry.key.id() == key_id).map(|entry| (&entry.key, entry.trusted))
    }
}

impl<const N: usize> KeyLookup for [Key; N] {
    fn lookup(&self, key_id: u32) -> Option<(&Key, bool)> {
        self.as_slice().lookup(key_id)
    }
}

impl<const N: usize> KeyLookup for [KeyEntry; N] {
    fn lookup(&self, key_id: u32) -> Option<(&Key, bool)> {
        self.as_slice().lookup(key_id)
    }
}

/// A single key, trusted: for a client association that expects exactly one.
impl KeyLookup for Key {
    fn lookup(&self, key_id: u32) -> Option<(&Key, bool)> {
        (self.id() == key_id).then_some((self, true))
    }
}

impl<T: KeyLookup + ?Sized> KeyLookup for &T {
    fn lookup(&self, key_id: u32) -> Option<(&Key, bool)> {
        (**self).lookup(key_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::KeyType;

    fn key(id: u32) -> Key {
        Key::new(id, KeyType::Md5, b"secret").unwrap()
    }

    #[test]
    fn test_slices() {
        let keys = [key(1), key(5)];
        assert_eq!(keys.lookup(5).map(|(k, t)| (k.id(), t)), Some((5, true)));
        assert!(keys.lookup(2).is_none());
        assert!(keys[..].lookup(1).is_some());

        let entries = [KeyEntry::trusted(key(1)), KeyEntry::untrusted(key(2))];
        assert_eq!(entries.lookup(1).map(|(_, t)| t), Some(true));
        assert_eq!(entries.lookup(2).map(|(_, t)| t), Some(false));
        assert!(entries.lookup(0).is_none());
    }

    #[test]
    fn test_single_key_and_reference() {
        let one = key(7);
        assert!(one.lookup(7).is_some());
        assert!(one.lookup(8).is_none());
        let by_ref: &dyn KeyLookup = &one;
        assert!((&by_ref).lookup(7).is_some());
    }
}
