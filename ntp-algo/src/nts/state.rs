//! The engine's NTS state: one [`NtsClient`] per NTS association, the
//! server's [`MasterKeys`], and the random source both draw from. The
//! engine calls in here around its packets; nothing here sees a socket or
//! a clock (times are seconds on the engine's timeline).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ntp_wire::nts::field_type;
use ntp_wire::{HEADER_LEN, Trailer};

use super::client::{NtsClient, NtsResponseCheck};
use super::cookie::{MasterKeys, NTS_MAX_COOKIE_LEN};
use super::ke::{NtsKeAnswer, NtsKeError, NtsKeServerConfig, nts_ke_answer};
use super::random::RandomSource;
use super::server::{NtsRequestCheck, nts_check_request, nts_write_nak, nts_write_response};
use super::{NtsError, NtsKeys};
use crate::ids::AssociationId;

/// How an NTS server rotates the master keys that seal its cookies.
///
/// The defaults follow chrony: a new key every week (`ntsrotate 604800`),
/// and the two before it still accepted, so a retired key opens cookies
/// for two more weeks. A client renews a cookie on every exchange, so only
/// one that stayed silent that long needs NTS-KE again (it gets an NTSN).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NtsServerConfig {
    /// Seconds between master-key rotations; 0 never rotates by itself
    /// (`Engine::rotate_nts_master_key` still does).
    pub rotation_interval: u32,
    /// Seconds a retired master key still opens cookies.
    pub grace: u32,
}

impl Default for NtsServerConfig {
    fn default() -> Self {
        NtsServerConfig { rotation_interval: 604_800, grace: 2 * 604_800 }
    }
}

impl NtsServerConfig {
    /// Rotate the master key every `seconds` (0: never by itself).
    #[must_use]
    pub const fn with_rotation_interval(mut self, seconds: u32) -> Self {
        self.rotation_interval = seconds;
        self
    }

    /// Accept cookies of a retired master key for `seconds` after it retired.
    #[must_use]
    pub const fn with_grace(mut self, seconds: u32) -> Self {
        self.grace = seconds;
        self
    }
}

/// Random bytes from the operating system's CSPRNG (`getrandom(2)` on
/// Linux, through the `getrandom` crate): the engine's default source.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        // The OS source fails only when the system cannot give randomness
        // at all (no getrandom, no /dev/urandom). Keys, nonces and unique
        // identifiers from anything else would be guessable, and this
        // method cannot report an error: retry briefly, then stop the
        // process rather than run NTS on predictable bytes.
        for _ in 0..8 {
            if getrandom::fill(buf).is_ok() {
                return;
            }
        }
        std::process::abort();
    }
}

/// A random source placed in an [`EngineConfig`](crate::EngineConfig),
/// which is `Clone`: the engine built from it takes the source out; an
/// engine built from a clone whose source was taken uses [`OsRandom`].
#[derive(Clone, Default)]
pub(crate) struct RandomSlot(Arc<Mutex<Option<Box<dyn RandomSource + Send>>>>);

impl RandomSlot {
    pub(crate) fn new(source: Box<dyn RandomSource + Send>) -> Self {
        RandomSlot(Arc::new(Mutex::new(Some(source))))
    }

    fn take(&self) -> Box<dyn RandomSource + Send> {
        let taken = match self.0.lock() {
            Ok(mut slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        taken.unwrap_or_else(|| Box::new(OsRandom))
    }
}

impl core::fmt::Debug for RandomSlot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RandomSlot")
    }
}

/// One NTS association's client state.
#[derive(Debug)]
struct ClientSlot {
    /// `None` until the first provisioning.
    client: Option<NtsClient>,
    /// An `NtsKeyExchangeNeeded` event is out and not yet answered.
    ke_requested: bool,
}

/// What became of a reply to an NTS association.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReplyCheck {
    /// It authenticated and answers the outstanding request.
    Authentic,
    /// A NTSN kiss that echoes our outstanding request's unique id: the
    /// cookies are dropped; NTS-KE must run again.
    Nak,
    /// Refused (unauthenticated, forged, replayed, not ours).
    Refused(NtsError),
}

/// What to do about an NTS association's due poll.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RequestSeal {
    /// The request is `len` bytes.
    Sealed(usize),
    /// No cookie: send nothing; `true` when the runtime must be told
    /// (once per exhaustion).
    NoCookie(bool),
    /// The fields could not be written (a buffer too small for the cookie).
    Failed,
}

/// What the server made of an NTS request whose reply header is written.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Sealed {
    /// An authenticated reply of this length.
    Reply(usize),
    /// An NTSN kiss of this length (the cookie did not open).
    Nak(usize),
}

/// The engine's NTS state.
pub(crate) struct NtsState {
    clients: HashMap<AssociationId, ClientSlot>,
    server: Option<MasterKeys>,
    /// In a mutex only so the engine stays `Sync` (the source need only
    /// be `Send`); reached through `&mut self` (`Mutex::get_mut`), so it
    /// is never locked.
    rng: Mutex<Box<dyn RandomSource + Send>>,
}

/// The random source, from the engine's exclusive borrow.
fn rng(slot: &mut Mutex<Box<dyn RandomSource + Send>>) -> &mut dyn RandomSource {
    match slot.get_mut() {
        Ok(source) => &mut **source,
        Err(poisoned) => &mut **poisoned.into_inner(),
    }
}

impl core::fmt::Debug for NtsState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NtsState").field("clients", &self.clients).field("server", &self.server).finish()
    }
}

impl NtsState {
    /// The state at the engine's start (`now` = 0 s on its timeline).
    pub(crate) fn new(server: Option<NtsServerConfig>, random: &RandomSlot) -> Self {
        let mut source = random.take();
        let server = server.map(|config| {
            MasterKeys::new(&mut *source, 0.0, f64::from(config.rotation_interval), f64::from(config.grace))
        });
        NtsState { clients: HashMap::new(), server, rng: Mutex::new(source) }
    }

    // ----- client -----

    /// A new NTS association, unprovisioned: the runtime must run NTS-KE.
    pub(crate) fn add_client(&mut self, id: AssociationId) {
        self.clients.insert(id, ClientSlot { client: None, ke_requested: true });
    }

    pub(crate) fn remove_client(&mut self, id: AssociationId) {
        self.clients.remove(&id);
    }

    pub(crate) fn is_client(&self, id: AssociationId) -> bool {
        self.clients.contains_key(&id)
    }

    /// Cookies association `id` holds (`None`: not an NTS association).
    pub(crate) fn cookies(&self, id: AssociationId) -> Option<usize> {
        self.clients.get(&id).map(|slot| slot.client.as_ref().map_or(0, NtsClient::cookies))
    }

    /// Keys and cookies from NTS-KE; false when no cookie is usable.
    pub(crate) fn provision(&mut self, id: AssociationId, keys: NtsKeys, cookies: &[Vec<u8>]) -> bool {
        let Some(slot) = self.clients.get_mut(&id) else { return false };
        let usable = cookies.iter().filter(|c| !c.is_empty() && c.len() <= NTS_MAX_COOKIE_LEN).map(Vec::as_slice);
        let client = NtsClient::new(keys, usable);
        if client.needs_key_exchange() {
            return false;
        }
        slot.client = Some(client);
        slot.ke_requested = false;
        true
    }

    /// Adds the NTS fields to the request whose header is `buf[..48]`.
    pub(crate) fn seal_request(&mut self, id: AssociationId, buf: &mut [u8]) -> RequestSeal {
        let Some(slot) = self.clients.get_mut(&id) else { return RequestSeal::Failed };
        match slot.client.as_mut().filter(|c| !c.needs_key_exchange()) {
            Some(client) => match client.write_request(buf, rng(&mut self.rng)) {
                Ok(len) => RequestSeal::Sealed(len),
                Err(_) => RequestSeal::Failed,
            },
            None => {
                let tell = !slot.ke_requested;
                slot.ke_requested = true;
                RequestSeal::NoCookie(tell)
            }
        }
    }

    /// Checks a reply (mode 4) to NTS association `id`.
    pub(crate) fn check_reply(&mut self, id: AssociationId, packet: &[u8]) -> ReplyCheck {
        let Some(slot) = self.clients.get_mut(&id) else { return ReplyCheck::Refused(NtsError::UniqueIdMismatch) };
        let Some(client) = slot.client.as_mut() else { return ReplyCheck::Refused(NtsError::UniqueIdMismatch) };
        match client.check_response(packet) {
            Ok(NtsResponseCheck::Authentic { .. }) => ReplyCheck::Authentic,
            Ok(NtsResponseCheck::Nak) => {
                slot.ke_requested = true;
                ReplyCheck::Nak
            }
            Err(error) => ReplyCheck::Refused(error),
        }
    }

    // ----- server -----

    pub(crate) fn serves(&self) -> bool {
        self.server.is_some()
    }

    pub(crate) fn master_keys(&self) -> Option<&MasterKeys> {
        self.server.as_ref()
    }

    /// Rotates the master key if due at `now`, and retires expired keys.
    pub(crate) fn rotate_if_due(&mut self, now: f64) {
        if let Some(master) = self.server.as_mut() {
            master.rotate_if_due(rng(&mut self.rng), now);
        }
    }

    /// Rotates the master key now.
    pub(crate) fn rotate(&mut self, now: f64) {
        if let Some(master) = self.server.as_mut() {
            master.rotate(rng(&mut self.rng), now);
        }
    }

    /// Checks the NTS request `request` and finishes the reply whose header
    /// is `out[..48]`: authenticated with fresh cookies, or an NTSN kiss.
    /// An error means: send nothing.
    pub(crate) fn seal_reply(&mut self, request: &[u8], out: &mut [u8]) -> Result<Sealed, NtsError> {
        let Some(master) = self.server.as_ref() else { return Err(NtsError::Unauthenticated) };
        match nts_check_request(master, request)? {
            NtsRequestCheck::Authentic(checked) => {
                nts_write_response(master, &checked, out, rng(&mut self.rng)).map(Sealed::Reply)
            }
            NtsRequestCheck::CookieRejected { unique_id } => nts_write_nak(unique_id, out).map(Sealed::Nak),
        }
    }

    /// The NTS-KE server's answer (see [`nts_ke_answer`]).
    pub(crate) fn ke_answer(
        &mut self,
        request: &[u8],
        keys: &NtsKeys,
        config: NtsKeServerConfig<'_>,
        out: &mut [u8],
    ) -> Result<NtsKeAnswer, NtsKeError> {
        let Some(master) = self.server.as_ref() else { return Err(NtsKeError::NotEnabled) };
        nts_ke_answer(request, master, keys, config, rng(&mut self.rng), out)
    }
}

/// Whether a datagram carries NTS extension fields (RFC 8915 §5): then it
/// is an NTS request, or an attempt at one, never a plain one.
pub(crate) fn has_nts_fields(packet: &[u8]) -> bool {
    if packet.len() <= HEADER_LEN {
        return false;
    }
    let Ok(trailer) = Trailer::split(packet) else { return false };
    trailer.extension_fields().any(|field| {
        field.is_ok_and(|f| {
            matches!(
                f.field_type,
                field_type::UNIQUE_IDENTIFIER
                    | field_type::COOKIE
                    | field_type::COOKIE_PLACEHOLDER
                    | field_type::AUTHENTICATOR
            )
        })
    })
}
