//! Network Time Security (RFC 8915), sans-IO: the client's cookie jar and
//! request/response checks, and the server's cookies, request checks and
//! replies. The bytes are `ntp_wire::nts`; randomness comes from the
//! caller ([`RandomSource`]), so every test is reproducible.
//!
//! The [`Engine`](crate::Engine) uses these through `state.rs`: an
//! association configured `with_nts(true)` seals each request with its
//! [`NtsClient`] and uses only replies that authenticate; with
//! `EngineConfig::with_nts_server` the engine answers NTS requests with
//! [`nts_check_request`] and [`nts_write_response`] (or an NTSN kiss) and
//! owns the [`MasterKeys`]. The pieces stay public for callers that drive
//! NTS without the engine.

mod client;
mod cookie;
mod ke;
mod keys;
mod random;
mod scan;
mod server;
mod state;
#[cfg(feature = "tls")]
mod tls;

pub use client::{NtsClient, NtsResponseCheck};
pub use cookie::{
    CookieJar, MasterKeys, NTS_COOKIE_LEN, NTS_JAR_CAPACITY, NTS_MAX_COOKIE_LEN, NTS_MAX_MASTER_KEYS, NtsCookieError,
};
pub use ke::{
    NtsKeAnswer, NtsKeError, NtsKeResponse, NtsKeServerConfig, nts_ke_answer, nts_ke_limits, nts_ke_read_response,
    nts_ke_scan, nts_ke_write_error, nts_ke_write_request,
};
pub use keys::{NTS_EXPORTER_LABEL, NtsKeyDirection, NtsKeys, nts_exporter_context};
pub use random::RandomSource;
pub use server::{NtsRequest, NtsRequestCheck, nts_check_request, nts_write_nak, nts_write_response};
pub use state::{NtsServerConfig, OsRandom};
pub(crate) use state::{NtsState, RandomSlot, ReplyCheck, RequestSeal, Sealed, has_nts_fields};
#[cfg(feature = "tls")]
pub use tls::{
    NTS_KE_ALPN, NTS_KE_PORT, NtsKeClient, NtsKeOutcome, NtsKeRequest, NtsKeServer, NtsTlsError, nts_ke_client_config,
    nts_ke_server_config, nts_ke_server_config_from_pem, nts_ke_trust_roots, nts_ke_trust_roots_from_pem,
};

/// The kiss code a server sends when it cannot open a request's cookie
/// (RFC 8915 §5.7).
pub const NTS_KISS_NTSN: [u8; 4] = *b"NTSN";
/// Length of the unique identifiers and nonces this crate makes (RFC 8915
/// §5.3 asks for at least 32 bytes of identifier; 16 bytes of nonce is
/// AES-SIV's natural size).
pub const NTS_UNIQUE_ID_LEN: usize = 32;
/// Length of the nonces this crate makes.
pub const NTS_NONCE_LEN: usize = 16;

/// Why an NTS packet was refused or could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NtsError {
    /// The packet is not well-formed NTP.
    #[error("malformed NTP packet: {0}")]
    Wire(ntp_wire::Error),
    /// An NTS field is malformed, or could not be written.
    #[error("NTS field: {0}")]
    Field(ntp_wire::nts::NtsError),
    /// A field that may appear once appears twice.
    #[error("NTS packet holds more than one {0}")]
    Duplicate(&'static str),
    /// No Unique Identifier before the authenticator.
    #[error("NTS packet has no unique identifier")]
    NoUniqueId,
    /// A request without a cookie.
    #[error("NTS request has no cookie")]
    NoCookie,
    /// No authenticator where one is required.
    #[error("NTS packet is not authenticated")]
    Unauthenticated,
    /// The authenticator does not verify.
    #[error("NTS authenticator does not verify")]
    AuthenticationFailed,
    /// A response whose unique identifier is not that of our request (a
    /// replay, or a reply to an older request).
    #[error("NTS response does not answer the outstanding request")]
    UniqueIdMismatch,
    /// The client has no cookie left: run NTS-KE again.
    #[error("no NTS cookie left; key exchange needed")]
    NoCookieLeft,
    /// The request's encrypted fields are longer than a request can need.
    #[error("NTS request plaintext of {len} bytes is too long")]
    PlaintextTooLong {
        /// Its length.
        len: usize,
    },
}

#[cfg(test)]
mod engine_tests;
