//! Server cookies (RFC 8915 §6, following the format §5.7 suggests) and the
//! master keys that seal them.
//!
//! A cookie is `key id (4) || nonce (16) || SIV tag (16) || AEAD(C2S || S2C)
//! (64)`: 100 bytes, a multiple of 4 so it needs no padding in an extension
//! field. The key id is also the associated data, so a cookie cannot be
//! moved to another key id. The server keeps no per-client state: the
//! cookie carries the session keys to it, sealed with a master key only
//! it knows.
//!
//! Master keys rotate: [`MasterKeys::rotate_if_due`] makes a new current
//! key every `rotation_interval` seconds, and keeps the old ones for
//! `grace` seconds so cookies handed out just before a rotation still open.
//! chrony rotates hourly and keeps the last few keys in the same way.

use ntp_wire::nts::{AEAD_KEY_LEN, AeadKey, SIV_TAG_LEN};

use super::NtsKeys;
use super::random::RandomSource;

/// Length of a key id in a cookie.
const COOKIE_KEY_ID_LEN: usize = 4;
/// Length of a cookie's nonce.
const COOKIE_NONCE_LEN: usize = 16;
/// Length of every cookie this server makes: 100 bytes.
pub const NTS_COOKIE_LEN: usize = COOKIE_KEY_ID_LEN + COOKIE_NONCE_LEN + SIV_TAG_LEN + 2 * AEAD_KEY_LEN;
/// The most master keys kept (the current one and those in their grace
/// period); older ones are dropped even inside their grace period, so a
/// caller that rotates too often cannot grow the list without bound.
pub const NTS_MAX_MASTER_KEYS: usize = 8;

/// Why a cookie did not open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NtsCookieError {
    /// Not the length of our cookies.
    #[error("cookie is {len} bytes; ours are 100")]
    BadLength {
        /// Its length.
        len: usize,
    },
    /// Its key id is not one we hold (another server's, or retired).
    #[error("cookie key id {key_id:#010x} is unknown or retired")]
    UnknownKey {
        /// The key id it names.
        key_id: u32,
    },
    /// The AEAD does not authenticate it.
    #[error("cookie does not authenticate")]
    Forged,
}

struct MasterKey {
    id: u32,
    key: AeadKey,
    /// When it stopped being current (seconds on the caller's timeline);
    /// `None` for the current key.
    retired_at: Option<f64>,
}

/// The server's master keys: one current key that seals new cookies, and
/// retired keys that still open old ones for a grace period.
pub struct MasterKeys {
    keys: Vec<MasterKey>,
    next_id: u32,
    created_at: f64,
    rotation_interval: f64,
    grace: f64,
}

impl core::fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MasterKeys")
            .field("key_ids", &self.keys.iter().map(|k| k.id).collect::<Vec<_>>())
            .field("rotation_interval", &self.rotation_interval)
            .field("grace", &self.grace)
            .finish()
    }
}

impl MasterKeys {
    /// A fresh current key from `rng` at `now` (seconds on the caller's
    /// monotonic timeline). Rotation every `rotation_interval` seconds;
    /// retired keys are accepted for `grace` seconds after they retire.
    pub fn new(rng: &mut dyn RandomSource, now: f64, rotation_interval: f64, grace: f64) -> Self {
        let mut id = [0u8; 4];
        rng.fill(&mut id);
        let mut keys = MasterKeys {
            keys: Vec::with_capacity(NTS_MAX_MASTER_KEYS),
            next_id: u32::from_be_bytes(id),
            created_at: now,
            rotation_interval,
            grace,
        };
        keys.push_new(rng, now);
        keys
    }

    fn push_new(&mut self, rng: &mut dyn RandomSource, now: f64) {
        let mut bytes = [0u8; AEAD_KEY_LEN];
        rng.fill(&mut bytes);
        let key = AeadKey::new(bytes);
        zeroize_array(&mut bytes);
        self.keys.push(MasterKey { id: self.next_id, key, retired_at: None });
        self.next_id = self.next_id.wrapping_add(1);
        self.created_at = now;
    }

    /// Makes a new current key now, whether or not one is due, and drops
    /// keys past their grace period.
    pub fn rotate(&mut self, rng: &mut dyn RandomSource, now: f64) {
        for key in &mut self.keys {
            key.retired_at.get_or_insert(now);
        }
        self.push_new(rng, now);
        let grace = self.grace;
        self.keys.retain(|k| k.retired_at.is_none_or(|t| now - t <= grace));
        let excess = self.keys.len().saturating_sub(NTS_MAX_MASTER_KEYS);
        self.keys.drain(..excess);
    }

    /// Rotates when the current key is `rotation_interval` seconds old (a
    /// non-positive interval never rotates by itself, like chrony's
    /// `ntsrotate 0`), and drops retired keys whose grace period is over;
    /// returns whether it rotated.
    pub fn rotate_if_due(&mut self, rng: &mut dyn RandomSource, now: f64) -> bool {
        if self.rotation_interval <= 0.0 || now - self.created_at < self.rotation_interval {
            self.expire(now);
            return false;
        }
        self.rotate(rng, now);
        true
    }

    /// Drops retired keys whose grace period is over at `now`: cookies
    /// sealed with them no longer open.
    pub fn expire(&mut self, now: f64) {
        let grace = self.grace;
        self.keys.retain(|k| k.retired_at.is_none_or(|t| now - t <= grace));
    }

    /// The id of the key that seals new cookies.
    pub fn current_id(&self) -> u32 {
        self.keys.last().map_or(0, |k| k.id)
    }

    /// How many keys open cookies now.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: there is always a current key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Seals `keys` into a new cookie with the current master key.
    pub fn seal_cookie(&self, keys: &NtsKeys, rng: &mut dyn RandomSource) -> [u8; NTS_COOKIE_LEN] {
        let mut cookie = [0u8; NTS_COOKIE_LEN];
        let Some(master) = self.keys.last() else { return cookie };
        let (id, rest) = cookie.split_at_mut(COOKIE_KEY_ID_LEN);
        id.copy_from_slice(&master.id.to_be_bytes());
        let (nonce, rest) = rest.split_at_mut(COOKIE_NONCE_LEN);
        rng.fill(nonce);
        let (tag_slot, secret) = rest.split_at_mut(SIV_TAG_LEN);
        let (c2s, s2c) = secret.split_at_mut(AEAD_KEY_LEN);
        c2s.copy_from_slice(keys.c2s.as_bytes());
        s2c.copy_from_slice(keys.s2c.as_bytes());
        // Sealing with two header components cannot fail (the limit is
        // far above two); a zero cookie would simply not open later.
        if let Ok(tag) = master.key.seal_detached(nonce, id, secret) {
            tag_slot.copy_from_slice(&tag);
        }
        cookie
    }

    /// Opens a cookie: the session keys it carries, or why not.
    pub fn open_cookie(&self, cookie: &[u8]) -> Result<NtsKeys, NtsCookieError> {
        let mut copy: [u8; NTS_COOKIE_LEN] =
            cookie.try_into().map_err(|_| NtsCookieError::BadLength { len: cookie.len() })?;
        let (id, rest) = copy.split_at_mut(COOKIE_KEY_ID_LEN);
        let key_id =
            u32::from_be_bytes((&*id).try_into().map_err(|_| NtsCookieError::BadLength { len: cookie.len() })?);
        let master = self.keys.iter().find(|k| k.id == key_id).ok_or(NtsCookieError::UnknownKey { key_id })?;
        let (nonce, rest) = rest.split_at_mut(COOKIE_NONCE_LEN);
        let (tag, secret) = rest.split_at_mut(SIV_TAG_LEN);
        let tag: [u8; SIV_TAG_LEN] = (&*tag).try_into().map_err(|_| NtsCookieError::Forged)?;
        master.key.open_detached(nonce, id, secret, &tag).map_err(|_| NtsCookieError::Forged)?;
        let (c2s, s2c) = secret.split_at(AEAD_KEY_LEN);
        let keys = AeadKey::from_slice(c2s)
            .and_then(|c2s| Ok(NtsKeys { c2s, s2c: AeadKey::from_slice(s2c)? }))
            .map_err(|_| NtsCookieError::Forged);
        zeroize_array(&mut copy);
        keys
    }
}

fn zeroize_array(bytes: &mut [u8]) {
    use zeroize::Zeroize;
    bytes.zeroize();
}

/// The client's cookies for one association (RFC 8915 §5.7): each is used
/// once; the server sends a new one with every response, plus one for
/// every placeholder in the request.
#[derive(Debug, Default)]
pub struct CookieJar {
    cookies: std::collections::VecDeque<Vec<u8>>,
}

/// How many cookies a client keeps (RFC 8915 §4.1.6: the server sends
/// eight; chrony and ntpd-rs keep eight).
pub const NTS_JAR_CAPACITY: usize = 8;
/// The longest cookie the jar takes: a cookie must fit one NTP packet with
/// its placeholders, and 1 KiB leaves room for eight of them.
pub const NTS_MAX_COOKIE_LEN: usize = 1024;

impl CookieJar {
    /// An empty jar.
    pub fn new() -> Self {
        CookieJar::default()
    }

    /// Adds a cookie received from NTS-KE or a response. Refuses (returns
    /// false) empty or oversized cookies, and any beyond [`NTS_JAR_CAPACITY`]:
    /// the oldest are kept, since a newer one is no better.
    pub fn push(&mut self, cookie: &[u8]) -> bool {
        if cookie.is_empty() || cookie.len() > NTS_MAX_COOKIE_LEN || self.cookies.len() >= NTS_JAR_CAPACITY {
            return false;
        }
        self.cookies.push_back(cookie.to_vec());
        true
    }

    /// Takes the next cookie for a request.
    pub fn take(&mut self) -> Option<Vec<u8>> {
        self.cookies.pop_front()
    }

    /// How many cookies are held.
    pub fn len(&self) -> usize {
        self.cookies.len()
    }

    /// Whether none are left: time to run NTS-KE again.
    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// How many placeholders a request should carry after one cookie was
    /// taken, so the response fills the jar again: the server returns one
    /// cookie plus one per placeholder.
    pub fn placeholders_wanted(&self) -> usize {
        (NTS_JAR_CAPACITY - 1).saturating_sub(self.cookies.len())
    }

    /// Drops every cookie (after an NTSN kiss, or new keys from NTS-KE).
    pub fn clear(&mut self) {
        self.cookies.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::super::random::testing::Seeded;
    use super::*;

    fn session_keys(seed: u8) -> NtsKeys {
        NtsKeys { c2s: AeadKey::new([seed; 32]), s2c: AeadKey::new([seed ^ 0xff; 32]) }
    }

    #[test]
    fn cookie_round_trip_and_tamper() {
        let mut rng = Seeded(1);
        let master = MasterKeys::new(&mut rng, 0.0, 3600.0, 7200.0);
        let cookie = master.seal_cookie(&session_keys(9), &mut rng);
        let keys = master.open_cookie(&cookie).unwrap();
        assert_eq!(keys.c2s.as_bytes(), &[9; 32]);
        assert_eq!(keys.s2c.as_bytes(), &[9 ^ 0xff; 32]);
        for i in 4..NTS_COOKIE_LEN {
            let mut bad = cookie;
            bad[i] ^= 0x10;
            assert_eq!(master.open_cookie(&bad).err(), Some(NtsCookieError::Forged), "byte {i}");
        }
        let mut other_id = cookie;
        other_id[3] ^= 1;
        assert!(matches!(master.open_cookie(&other_id), Err(NtsCookieError::UnknownKey { .. })));
        assert_eq!(master.open_cookie(&cookie[..99]).err(), Some(NtsCookieError::BadLength { len: 99 }));
    }

    #[test]
    fn another_servers_cookie_does_not_open() {
        let mut rng = Seeded(1);
        let a = MasterKeys::new(&mut rng, 0.0, 3600.0, 7200.0);
        let mut rng2 = Seeded(2);
        let mut b = MasterKeys::new(&mut rng2, 0.0, 3600.0, 7200.0);
        // Even under the same key id, another key does not open it.
        b.keys[0].id = a.current_id();
        let cookie = a.seal_cookie(&session_keys(1), &mut rng);
        assert_eq!(b.open_cookie(&cookie).err(), Some(NtsCookieError::Forged));
    }

    #[test]
    fn rotation_keeps_old_keys_for_the_grace_period() {
        let mut rng = Seeded(3);
        let mut master = MasterKeys::new(&mut rng, 0.0, 100.0, 250.0);
        let old = master.seal_cookie(&session_keys(1), &mut rng);
        assert!(!master.rotate_if_due(&mut rng, 99.0));
        assert!(master.rotate_if_due(&mut rng, 100.0));
        assert!(master.open_cookie(&old).is_ok());
        let newer = master.seal_cookie(&session_keys(2), &mut rng);
        assert_ne!(old[..4], newer[..4]);
        assert!(master.rotate_if_due(&mut rng, 200.0));
        assert!(master.rotate_if_due(&mut rng, 300.0));
        // The first key retired at 100; at 300 it is within 250 s still.
        assert!(master.open_cookie(&old).is_ok());
        assert!(master.rotate_if_due(&mut rng, 400.0));
        assert!(matches!(master.open_cookie(&old), Err(NtsCookieError::UnknownKey { .. })));
        assert!(master.open_cookie(&newer).is_ok());
        for t in 5..100 {
            master.rotate(&mut rng, 400.0 + f64::from(t) * 0.001);
        }
        assert!(master.len() <= NTS_MAX_MASTER_KEYS);
    }

    #[test]
    fn jar_asks_for_enough_placeholders() {
        let mut jar = CookieJar::new();
        for i in 0..10u8 {
            jar.push(&[i; 100]);
        }
        assert_eq!(jar.len(), NTS_JAR_CAPACITY);
        assert_eq!(jar.take().unwrap()[0], 0);
        assert_eq!(jar.placeholders_wanted(), 0);
        for _ in 0..5 {
            jar.take();
        }
        assert_eq!(jar.len(), 2);
        // One cookie back plus five placeholders: 2 + 6 = 8.
        assert_eq!(jar.placeholders_wanted(), 5);
        assert!(!jar.push(&[]));
        assert!(!jar.push(&[0; NTS_MAX_COOKIE_LEN + 1]));
        jar.clear();
        assert!(jar.is_empty());
        assert_eq!(jar.placeholders_wanted(), 7);
    }

    proptest::proptest! {
        #[test]
        fn any_session_keys_round_trip(c2s in proptest::prelude::any::<[u8; 32]>(), s2c in proptest::prelude::any::<[u8; 32]>(), seed in 1u64.., flip in 0usize..NTS_COOKIE_LEN) {
            let mut rng = Seeded(seed);
            let master = MasterKeys::new(&mut rng, 0.0, 3600.0, 7200.0);
            let keys = NtsKeys { c2s: AeadKey::new(c2s), s2c: AeadKey::new(s2c) };
            let cookie = master.seal_cookie(&keys, &mut rng);
            let back = master.open_cookie(&cookie).unwrap();
            proptest::prop_assert_eq!(back.c2s.as_bytes(), &c2s);
            proptest::prop_assert_eq!(back.s2c.as_bytes(), &s2c);
            let mut bad = cookie;
            bad[flip] ^= 1;
            proptest::prop_assert!(master.open_cookie(&bad).is_err());
        }
    }
}
