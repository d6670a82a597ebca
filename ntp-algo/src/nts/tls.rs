//! NTS-KE over TLS 1.3 (RFC 8915 §4), sans-IO: a rustls connection fed
//! with the bytes the caller's TCP socket delivers, and asked for the bytes
//! to send back. No sockets, no threads, no clock: the caller decides when
//! to read, write, time out and close.
//!
//! * [`NtsKeClient`] sends the request as soon as the handshake allows,
//!   reads the answer with [`nts_ke_scan`] and [`nts_ke_read_response`] and
//!   yields an [`NtsKeOutcome`]: the session keys exported from TLS with
//!   [`NTS_EXPORTER_LABEL`] and [`nts_exporter_context`], the cookies, and
//!   where to send NTP.
//! * [`NtsKeServer`] yields the client's complete request with the session
//!   keys ([`NtsKeRequest`]); the caller writes the answer (for instance
//!   with [`nts_ke_answer`](super::nts_ke_answer)), hands it to
//!   [`NtsKeServer::answer`], and the session sends it and closes.
//!
//! Both sides speak only TLS 1.3 with ALPN `ntske/1` (RFC 8915 §4 forbids
//! older versions and requires the protocol id), with the `ring` provider.
//! A message longer than [`nts_ke_limits`] (16 KiB, 64 records) without End
//! of Message fails the session, so a peer cannot make either side buffer
//! without end; a peer that sends nothing at all is the caller's timeout.

use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ntp_wire::nts::AeadKey;
use ntp_wire::nts::ke::MessageScanner;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

use super::ke::{NtsKeError, nts_ke_limits, nts_ke_read_response, nts_ke_scan, nts_ke_write_request};
use super::keys::{NTS_EXPORTER_LABEL, NtsKeyDirection, NtsKeys, nts_exporter_context};

/// The ALPN protocol id of NTS-KE (RFC 8915 §4).
pub const NTS_KE_ALPN: &[u8] = b"ntske/1";

/// The TCP port NTS-KE servers listen on unless told otherwise (RFC 8915
/// §4).
pub const NTS_KE_PORT: u16 = 4460;

/// Why an NTS-KE session over TLS failed, or its TLS configuration could
/// not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NtsTlsError {
    /// TLS refused the peer: a certificate that does not verify, a
    /// protocol version or ALPN id it does not speak, a malformed record.
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// The NTS-KE message is malformed, too long, or a refusal.
    #[error("{0}")]
    Ke(#[from] NtsKeError),
    /// The handshake finished without ALPN `ntske/1` (RFC 8915 §4 requires
    /// it, so a server that is not an NTS-KE server is not mistaken for one).
    #[error("the peer did not negotiate ALPN ntske/1")]
    NoAlpn,
    /// The connection closed before the message was complete.
    #[error("the connection closed before the NTS-KE message was complete")]
    Closed,
    /// A name that is neither a DNS name nor an IP address.
    #[error("{0:?} is not a valid server name")]
    BadServerName(String),
    /// A certificate or key file could not be read.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A certificate or key file is not the PEM it should be.
    #[error("{what}: {reason}")]
    Pem {
        /// The file, or what was being read.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// No trust root could be loaded (none given, and the system store is
    /// empty or unreadable).
    #[error("no trust root: {0}")]
    NoTrustRoots(String),
    /// Moving bytes through TLS failed (a buffer limit of rustls).
    #[error("TLS stream: {0}")]
    Stream(io::Error),
    /// The session was used after it had failed or finished.
    #[error("the NTS-KE session is already over")]
    Over,
}

/// A TLS 1.3-only configuration with the `ring` provider.
fn tls13() -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>, rustls::Error> {
    ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])
}

/// The client configuration of NTS-KE (TLS 1.3, ALPN `ntske/1`) trusting
/// `roots`. Certificates with IP-address subject names are verified against
/// an address given as the server name, so loopback needs no DNS.
pub fn nts_ke_client_config(roots: RootCertStore) -> Result<Arc<ClientConfig>, NtsTlsError> {
    let mut config = tls13()?.with_root_certificates(roots).with_no_client_auth();
    config.alpn_protocols = vec![NTS_KE_ALPN.to_vec()];
    Ok(Arc::new(config))
}

/// Trust roots from PEM files (each may hold several certificates); with
/// no file, the system's trust store.
pub fn nts_ke_trust_roots(files: &[PathBuf]) -> Result<RootCertStore, NtsTlsError> {
    let mut roots = RootCertStore::empty();
    if files.is_empty() {
        let found = rustls_native_certs::load_native_certs();
        let (added, _ignored) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            let why = found.errors.first().map_or_else(|| "the system store is empty".to_owned(), ToString::to_string);
            return Err(NtsTlsError::NoTrustRoots(why));
        }
        return Ok(roots);
    }
    for path in files {
        let pem = read(path)?;
        for cert in certificates_from_pem(&pem, &path.display().to_string())? {
            roots.add(cert).map_err(|e| pem_error(path, e))?;
        }
    }
    Ok(roots)
}

/// Trust roots from PEM text (tests, and callers that keep certificates
/// in memory).
pub fn nts_ke_trust_roots_from_pem(pem: &[u8]) -> Result<RootCertStore, NtsTlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certificates_from_pem(pem, "trust roots")? {
        roots.add(cert).map_err(|e| NtsTlsError::Pem { what: "trust roots".to_owned(), reason: e.to_string() })?;
    }
    Ok(roots)
}

/// The server configuration of NTS-KE (TLS 1.3, ALPN `ntske/1`) from a
/// certificate chain file (PEM, leaf first) and its private key file
/// (PEM: PKCS #8, PKCS #1 or SEC1).
pub fn nts_ke_server_config(cert_chain: &Path, key: &Path) -> Result<Arc<ServerConfig>, NtsTlsError> {
    let chain = certificates_from_pem(&read(cert_chain)?, &cert_chain.display().to_string())?;
    let key_der = PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|e| pem_error(key, e))?;
    server_config(chain, key_der)
}

/// [`nts_ke_server_config`] from PEM text.
pub fn nts_ke_server_config_from_pem(cert_chain: &[u8], key: &[u8]) -> Result<Arc<ServerConfig>, NtsTlsError> {
    let chain = certificates_from_pem(cert_chain, "certificate chain")?;
    let key_der = PrivateKeyDer::from_pem_slice(key)
        .map_err(|e| NtsTlsError::Pem { what: "private key".to_owned(), reason: e.to_string() })?;
    server_config(chain, key_der)
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, NtsTlsError> {
    let mut config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![NTS_KE_ALPN.to_vec()];
    // One connection is one exchange: resumption would only keep state.
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

fn read(path: &Path) -> Result<Vec<u8>, NtsTlsError> {
    std::fs::read(path).map_err(|source| NtsTlsError::File { path: path.to_owned(), source })
}

fn pem_error(path: &Path, e: impl ToString) -> NtsTlsError {
    NtsTlsError::Pem { what: path.display().to_string(), reason: e.to_string() }
}

fn certificates_from_pem(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, NtsTlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| NtsTlsError::Pem { what: what.to_owned(), reason: e.to_string() })?;
    if certs.is_empty() {
        return Err(NtsTlsError::Pem { what: what.to_owned(), reason: "no certificate".to_owned() });
    }
    Ok(certs)
}

/// Refuses a finished handshake without ALPN `ntske/1`, before any
/// application data is looked at.
/// Moves everything rustls has to send into `out`; returns how many bytes.
/// Writing into a `Vec` cannot fail, so an error only ends the loop.
fn drain_tls<D>(tls: &mut rustls::ConnectionCommon<D>, out: &mut Vec<u8>) -> usize {
    let mut total = 0;
    while tls.wants_write() {
        match tls.write_tls(out) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
    total
}

fn check_alpn(tls: &rustls::CommonState) -> Result<(), NtsTlsError> {
    if !tls.is_handshaking() && tls.alpn_protocol() != Some(NTS_KE_ALPN) {
        return Err(NtsTlsError::NoAlpn);
    }
    Ok(())
}

/// The session keys of a finished handshake (RFC 8915 §5.1).
fn export_keys(tls: &rustls::CommonState, conn: &dyn Exporter) -> Result<NtsKeys, NtsTlsError> {
    check_alpn(tls)?;
    let c2s = conn.export(&nts_exporter_context(NtsKeyDirection::ClientToServer))?;
    let s2c = conn.export(&nts_exporter_context(NtsKeyDirection::ServerToClient))?;
    Ok(NtsKeys { c2s: AeadKey::new(c2s), s2c: AeadKey::new(s2c) })
}

/// The exporter of either kind of connection.
trait Exporter {
    fn export(&self, context: &[u8]) -> Result<[u8; 32], rustls::Error>;
}

impl Exporter for ClientConnection {
    fn export(&self, context: &[u8]) -> Result<[u8; 32], rustls::Error> {
        self.export_keying_material([0u8; 32], NTS_EXPORTER_LABEL, Some(context))
    }
}

impl Exporter for ServerConnection {
    fn export(&self, context: &[u8]) -> Result<[u8; 32], rustls::Error> {
        self.export_keying_material([0u8; 32], NTS_EXPORTER_LABEL, Some(context))
    }
}

/// The plaintext side of one message: what arrived, and how far the
/// scanner got.
#[derive(Debug)]
struct Inbox {
    received: Vec<u8>,
    scanner: MessageScanner,
    /// The peer closed the TLS stream (close_notify or EOF).
    closed: bool,
}

impl Inbox {
    fn new() -> Self {
        Inbox { received: Vec::new(), scanner: MessageScanner::new(nts_ke_limits()), closed: false }
    }

    /// Moves what TLS decrypted into the inbox; `Some(len)` once the
    /// message is complete. Bytes after the message are read and dropped,
    /// so they cannot pile up either.
    fn pull(&mut self, reader: &mut rustls::Reader<'_>, complete: bool) -> Result<Option<usize>, NtsTlsError> {
        let mut chunk = [0u8; 4096];
        loop {
            match reader.read(&mut chunk) {
                Ok(0) => {
                    self.closed = true;
                    break;
                }
                Ok(n) if !complete => {
                    self.received.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
                    // The scanner fails as soon as the message passes its
                    // limits, so this buffer stays within them plus a chunk.
                    if let Some(len) = nts_ke_scan(&mut self.scanner, &self.received)? {
                        return Ok(Some(len));
                    }
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // EOF without close_notify: the stream is over either way.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    self.closed = true;
                    break;
                }
                Err(e) => return Err(NtsTlsError::Stream(e)),
            }
        }
        Ok(None)
    }
}

/// Feeds `data` to a connection: TLS records in, plaintext to `inbox`.
/// `eof` also tells it the TCP stream ended.
macro_rules! feed {
    ($tls:expr, $inbox:expr, $data:expr, $complete:expr) => {{
        let mut data: &[u8] = $data;
        let mut found = None;
        let eof = data.is_empty();
        loop {
            let n = $tls.read_tls(&mut data).map_err(NtsTlsError::Stream)?;
            $tls.process_new_packets()?;
            if let Some(len) = $inbox.pull(&mut $tls.reader(), $complete || found.is_some())? {
                found = Some(len);
            }
            if data.is_empty() || (n == 0 && !eof) {
                break;
            }
        }
        found
    }};
}

/// What an NTS-KE client learned: the session keys, the cookies, and where
/// to send NTP (RFC 8915 §4.1.7, §4.1.8: absent means the NTS-KE server's
/// host and port 123).
#[derive(Clone, Debug)]
pub struct NtsKeOutcome {
    /// The session keys exported from TLS (RFC 8915 §5.1).
    pub keys: NtsKeys,
    /// The cookies, in order (one to eight).
    pub cookies: Vec<Vec<u8>>,
    /// The NTP server's name or address, when it is not the NTS-KE server.
    pub server: Option<String>,
    /// The NTP port, when it is not 123.
    pub port: Option<u16>,
}

/// Where a session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Reading the peer's message.
    Reading,
    /// The message was read (client) or the answer queued (server): only
    /// writing what remains, then the caller closes.
    Closing,
    /// Failed; the caller sends what [`wants_write`] still has (an alert)
    /// and closes.
    Failed,
}

/// The client side of one NTS-KE exchange (RFC 8915 §4), sans-IO.
///
/// Connect a TCP socket to the server (port [`NTS_KE_PORT`] unless told
/// otherwise), then until an outcome or an error: send what
/// [`write_tls`](Self::write_tls) gives while [`wants_write`](Self::wants_write),
/// and give what arrives to [`receive_tls`](Self::receive_tls) (an empty
/// slice when the socket reports end of stream).
pub struct NtsKeClient {
    tls: ClientConnection,
    inbox: Inbox,
    phase: Phase,
}

impl std::fmt::Debug for NtsKeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NtsKeClient").field("phase", &self.phase).finish_non_exhaustive()
    }
}

impl NtsKeClient {
    /// Starts a session with the server named `server_name` (a DNS name or
    /// an IP address, checked against its certificate) with `config` from
    /// [`nts_ke_client_config`]. The request (NTPv4, AES-SIV-CMAC-256) is
    /// queued at once and leaves when the handshake allows.
    pub fn new(config: Arc<ClientConfig>, server_name: &str) -> Result<Self, NtsTlsError> {
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|_| NtsTlsError::BadServerName(server_name.to_owned()))?;
        let mut tls = ClientConnection::new(config, name)?;
        let mut request = [0u8; 64];
        let len = nts_ke_write_request(&mut request)?;
        // rustls holds plaintext written before the handshake ends and
        // sends it as application data once it may.
        tls.writer().write_all(request.get(..len).unwrap_or(&[])).map_err(NtsTlsError::Stream)?;
        Ok(NtsKeClient { tls, inbox: Inbox::new(), phase: Phase::Reading })
    }

    /// Whether there are bytes to send.
    pub fn wants_write(&self) -> bool {
        self.tls.wants_write()
    }

    /// Appends the bytes to send to `out`; returns how many.
    pub fn write_tls(&mut self, out: &mut Vec<u8>) -> usize {
        drain_tls(&mut self.tls, out)
    }

    /// Whether the exchange is over (an outcome was given or it failed):
    /// send what [`write_tls`](Self::write_tls) still has, then close.
    pub fn is_over(&self) -> bool {
        self.phase != Phase::Reading
    }

    /// Takes bytes from the server (an empty slice: end of stream).
    /// Returns the outcome once the server's answer is complete, exactly
    /// once; `Ok(None)` while more is needed. After an error the session is
    /// over (send what [`write_tls`](Self::write_tls) has, an alert, and close).
    pub fn receive_tls(&mut self, data: &[u8]) -> Result<Option<NtsKeOutcome>, NtsTlsError> {
        if self.phase != Phase::Reading {
            return if data.is_empty() { Ok(None) } else { Err(NtsTlsError::Over) };
        }
        let result = self.receive_inner(data);
        match &result {
            Ok(Some(_)) => {
                self.phase = Phase::Closing;
                self.tls.send_close_notify();
            }
            Ok(None) => {}
            Err(_) => self.phase = Phase::Failed,
        }
        result
    }

    fn receive_inner(&mut self, data: &[u8]) -> Result<Option<NtsKeOutcome>, NtsTlsError> {
        let found = feed!(self.tls, self.inbox, data, false);
        check_alpn(&self.tls)?;
        let Some(len) = found else {
            return if self.inbox.closed { Err(NtsTlsError::Closed) } else { Ok(None) };
        };
        let keys = export_keys(&self.tls, &self.tls)?;
        let response = nts_ke_read_response(self.inbox.received.get(..len).unwrap_or(&[]))?;
        Ok(Some(NtsKeOutcome { keys, cookies: response.cookies, server: response.server, port: response.port }))
    }
}

/// A client's request as the server read it, with the session keys.
#[derive(Clone, Debug)]
pub struct NtsKeRequest {
    /// The complete request message, End of Message included.
    pub message: Vec<u8>,
    /// The session keys exported from TLS (RFC 8915 §5.1), to seal into
    /// the cookies of the answer.
    pub keys: NtsKeys,
}

/// The server side of one NTS-KE exchange (RFC 8915 §4), sans-IO.
///
/// For each accepted TCP connection: give what arrives to
/// [`receive_tls`](Self::receive_tls) and send what
/// [`write_tls`](Self::write_tls) gives; once a request is complete,
/// answer it with [`answer`](Self::answer), send the rest, and close when
/// [`is_finished`](Self::is_finished).
pub struct NtsKeServer {
    tls: ServerConnection,
    inbox: Inbox,
    phase: Phase,
    /// A request was handed out and not answered yet.
    awaiting_answer: bool,
}

impl std::fmt::Debug for NtsKeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NtsKeServer").field("phase", &self.phase).finish_non_exhaustive()
    }
}

impl NtsKeServer {
    /// Starts a session for a freshly accepted connection with `config`
    /// from [`nts_ke_server_config`].
    pub fn new(config: Arc<ServerConfig>) -> Result<Self, NtsTlsError> {
        Ok(NtsKeServer {
            tls: ServerConnection::new(config)?,
            inbox: Inbox::new(),
            phase: Phase::Reading,
            awaiting_answer: false,
        })
    }

    /// Whether there are bytes to send.
    pub fn wants_write(&self) -> bool {
        self.tls.wants_write()
    }

    /// Appends the bytes to send to `out`; returns how many.
    pub fn write_tls(&mut self, out: &mut Vec<u8>) -> usize {
        drain_tls(&mut self.tls, out)
    }

    /// Takes bytes from the client (an empty slice: end of stream).
    /// Returns the request once it is complete, exactly once; `Ok(None)`
    /// while more is needed. After an error the session is over: send what
    /// [`write_tls`](Self::write_tls) has (an alert) and close.
    pub fn receive_tls(&mut self, data: &[u8]) -> Result<Option<NtsKeRequest>, NtsTlsError> {
        match self.phase {
            Phase::Reading => {}
            // Whatever the client sends after its request (a close_notify)
            // is read and dropped.
            Phase::Closing => {
                feed!(self.tls, self.inbox, data, true);
                return Ok(None);
            }
            Phase::Failed => return if data.is_empty() { Ok(None) } else { Err(NtsTlsError::Over) },
        }
        let result = self.receive_inner(data);
        match &result {
            Ok(Some(_)) => {
                self.phase = Phase::Closing;
                self.awaiting_answer = true;
            }
            Ok(None) => {}
            Err(_) => self.phase = Phase::Failed,
        }
        result
    }

    fn receive_inner(&mut self, data: &[u8]) -> Result<Option<NtsKeRequest>, NtsTlsError> {
        let found = feed!(self.tls, self.inbox, data, false);
        check_alpn(&self.tls)?;
        let Some(len) = found else {
            return if self.inbox.closed { Err(NtsTlsError::Closed) } else { Ok(None) };
        };
        let keys = export_keys(&self.tls, &self.tls)?;
        let message = self.inbox.received.get(..len).unwrap_or(&[]).to_vec();
        Ok(Some(NtsKeRequest { message, keys }))
    }

    /// Queues the answer to the request [`receive_tls`](Self::receive_tls)
    /// gave, and the close that follows it (RFC 8915 §4: the server closes
    /// after its answer).
    pub fn answer(&mut self, bytes: &[u8]) -> Result<(), NtsTlsError> {
        if !self.awaiting_answer {
            return Err(NtsTlsError::Over);
        }
        self.awaiting_answer = false;
        self.tls.writer().write_all(bytes).map_err(NtsTlsError::Stream)?;
        self.tls.send_close_notify();
        Ok(())
    }

    /// Whether the session is done: answered with nothing left to send, or
    /// failed (send what [`write_tls`](Self::write_tls) still gives, an
    /// alert, if the socket takes it). The caller closes the connection.
    pub fn is_finished(&self) -> bool {
        match self.phase {
            Phase::Reading => false,
            Phase::Closing => !self.awaiting_answer && !self.tls.wants_write(),
            // What is left to send (an alert) is best effort.
            Phase::Failed => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::cookie::MasterKeys;
    use super::super::ke::{NtsKeServerConfig, nts_ke_answer};
    use super::super::random::testing::Seeded;
    use super::*;
    use ntp_wire::nts::ke::{KeError, RecordRepr, RecordWriter};

    /// A self-signed certificate for `names` (IP addresses become IP SANs)
    /// and its key, as PEM.
    fn certificate(names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let made = rcgen::generate_simple_self_signed(names).unwrap();
        (made.cert.pem(), made.signing_key.serialize_pem())
    }

    struct Pair {
        client: NtsKeClient,
        server: NtsKeServer,
    }

    fn pair(server_cert: &(String, String), trusted: &str, name: &str) -> Pair {
        let server = NtsKeServer::new(
            nts_ke_server_config_from_pem(server_cert.0.as_bytes(), server_cert.1.as_bytes()).unwrap(),
        )
        .unwrap();
        let roots = nts_ke_trust_roots_from_pem(trusted.as_bytes()).unwrap();
        let client = NtsKeClient::new(nts_ke_client_config(roots).unwrap(), name).unwrap();
        Pair { client, server }
    }

    /// Moves bytes both ways until neither side has any; the server answers
    /// with `answer` when the request is in. Returns the client's outcome.
    fn run(
        p: &mut Pair,
        mut answer: impl FnMut(&NtsKeRequest) -> Vec<u8>,
    ) -> (Result<Option<NtsKeOutcome>, NtsTlsError>, Result<(), NtsTlsError>) {
        let mut client_result = Ok(None);
        let mut server_result = Ok(());
        for _ in 0..20 {
            let mut to_server = Vec::new();
            p.client.write_tls(&mut to_server);
            if !to_server.is_empty() {
                match p.server.receive_tls(&to_server) {
                    Ok(Some(request)) => p.server.answer(&answer(&request)).unwrap(),
                    Ok(None) => {}
                    // The first error is the one that counts.
                    Err(e) if server_result.is_ok() => server_result = Err(e),
                    Err(_) => {}
                }
            }
            let mut to_client = Vec::new();
            p.server.write_tls(&mut to_client);
            if !to_client.is_empty() {
                match p.client.receive_tls(&to_client) {
                    Ok(Some(outcome)) => client_result = Ok(Some(outcome)),
                    Ok(None) => {}
                    Err(e) if client_result.is_ok() => client_result = Err(e),
                    Err(_) => {}
                }
            }
            if to_server.is_empty() && to_client.is_empty() {
                break;
            }
        }
        (client_result, server_result)
    }

    fn standard_answer(request: &NtsKeRequest) -> Vec<u8> {
        let mut rng = Seeded(9);
        let master = MasterKeys::new(&mut rng, 0.0, 3600.0, 7200.0);
        let mut out = vec![0u8; 4096];
        let config = NtsKeServerConfig { ntp_server: Some("127.0.0.1"), ntp_port: Some(11123) };
        let a = nts_ke_answer(&request.message, &master, &request.keys, config, &mut rng, &mut out).unwrap();
        assert_eq!(a.refused, None);
        out.truncate(a.len);
        out
    }

    #[test]
    fn client_and_server_agree_on_keys_and_cookies() {
        let cert = certificate(&["127.0.0.1", "ntp.example"]);
        for name in ["127.0.0.1", "ntp.example"] {
            let mut p = pair(&cert, &cert.0, name);
            let mut server_keys = None;
            let (client, server) = run(&mut p, |request| {
                server_keys = Some(request.keys.clone());
                standard_answer(request)
            });
            server.unwrap();
            let outcome = client.unwrap().expect("an outcome");
            let server_keys = server_keys.unwrap();
            assert_eq!(outcome.keys.c2s.as_bytes(), server_keys.c2s.as_bytes());
            assert_eq!(outcome.keys.s2c.as_bytes(), server_keys.s2c.as_bytes());
            assert_ne!(outcome.keys.c2s.as_bytes(), outcome.keys.s2c.as_bytes());
            assert_eq!(outcome.cookies.len(), 8);
            assert_eq!(outcome.server.as_deref(), Some("127.0.0.1"));
            assert_eq!(outcome.port, Some(11123));
            assert!(p.client.is_over() && p.server.is_finished());
            // Each session has keys of its own.
            let mut again = pair(&cert, &cert.0, name);
            let (second, _) = run(&mut again, standard_answer);
            assert_ne!(second.unwrap().unwrap().keys.c2s.as_bytes(), outcome.keys.c2s.as_bytes());
        }
    }

    #[test]
    fn keys_follow_the_exporter_of_rfc_8915() {
        // The keys are the TLS exporter's output for the RFC's label and
        // contexts, checked against a raw rustls connection's exporter.
        let cert = certificate(&["127.0.0.1"]);
        let roots = nts_ke_trust_roots_from_pem(cert.0.as_bytes()).unwrap();
        let mut raw =
            ClientConnection::new(nts_ke_client_config(roots).unwrap(), ServerName::try_from("127.0.0.1").unwrap())
                .unwrap();
        let mut server =
            NtsKeServer::new(nts_ke_server_config_from_pem(cert.0.as_bytes(), cert.1.as_bytes()).unwrap()).unwrap();
        let mut request = [0u8; 64];
        let len = nts_ke_write_request(&mut request).unwrap();
        raw.writer().write_all(&request[..len]).unwrap();
        let mut got = None;
        for _ in 0..10 {
            let mut buf = Vec::new();
            while raw.wants_write() {
                raw.write_tls(&mut buf).unwrap();
            }
            if let Some(r) = server.receive_tls(&buf).unwrap() {
                got = Some(r);
            }
            let mut back = Vec::new();
            server.write_tls(&mut back);
            raw.read_tls(&mut back.as_slice()).unwrap();
            raw.process_new_packets().unwrap();
        }
        let got = got.unwrap();
        let c2s = raw.export_keying_material([0u8; 32], b"EXPORTER-network-time-security", Some(&[0, 0, 0, 15, 0]));
        let s2c = raw.export_keying_material([0u8; 32], b"EXPORTER-network-time-security", Some(&[0, 0, 0, 15, 1]));
        assert_eq!(got.keys.c2s.as_bytes(), &c2s.unwrap());
        assert_eq!(got.keys.s2c.as_bytes(), &s2c.unwrap());
        assert_eq!(&got.message[..], &request[..len]);
    }

    #[test]
    fn a_refusal_reaches_the_client_as_the_servers_error() {
        let cert = certificate(&["127.0.0.1"]);
        let mut p = pair(&cert, &cert.0, "127.0.0.1");
        let (client, _) = run(&mut p, |_| {
            let mut out = [0u8; 16];
            let len = super::super::ke::nts_ke_write_error(1, &mut out).unwrap();
            out[..len].to_vec()
        });
        assert!(matches!(client, Err(NtsTlsError::Ke(NtsKeError::ServerError(1)))), "{client:?}");
    }

    #[test]
    fn untrusted_or_misnamed_certificates_are_refused() {
        let cert = certificate(&["127.0.0.1"]);
        let other = certificate(&["127.0.0.1"]);
        // Signed by a key the client does not trust.
        let mut p = pair(&cert, &other.0, "127.0.0.1");
        let (client, _) = run(&mut p, standard_answer);
        match client {
            Err(NtsTlsError::Tls(rustls::Error::InvalidCertificate(_))) => {}
            other => panic!("{other:?}"),
        }
        assert!(p.client.is_over());
        // Trusted, but for another address.
        let mut p = pair(&cert, &cert.0, "127.0.0.2");
        let (client, _) = run(&mut p, standard_answer);
        assert!(matches!(client, Err(NtsTlsError::Tls(rustls::Error::InvalidCertificate(_)))), "{client:?}");
        assert!(matches!(
            NtsKeClient::new(nts_ke_client_config(RootCertStore::empty()).unwrap(), "not a name!"),
            Err(NtsTlsError::BadServerName(_))
        ));
    }

    #[test]
    fn wrong_or_missing_alpn_is_refused() {
        let cert = certificate(&["127.0.0.1"]);
        let roots = || nts_ke_trust_roots_from_pem(cert.0.as_bytes()).unwrap();
        // A client that offers only another protocol: the server refuses.
        let mut config = (*nts_ke_client_config(roots()).unwrap()).clone();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let mut p = pair(&cert, &cert.0, "127.0.0.1");
        p.client = NtsKeClient::new(Arc::new(config), "127.0.0.1").unwrap();
        let (client, server) = run(&mut p, standard_answer);
        assert!(matches!(server, Err(NtsTlsError::Tls(rustls::Error::NoApplicationProtocol))), "{server:?}");
        assert!(client.is_err());
        // A client that offers no ALPN at all: the server does not take it
        // for an NTS-KE client.
        let mut config = (*nts_ke_client_config(roots()).unwrap()).clone();
        config.alpn_protocols.clear();
        let mut p = pair(&cert, &cert.0, "127.0.0.1");
        p.client = NtsKeClient::new(Arc::new(config), "127.0.0.1").unwrap();
        let (_, server) = run(&mut p, standard_answer);
        assert!(matches!(server, Err(NtsTlsError::NoAlpn)), "{server:?}");
        // A server without ALPN: the client refuses it.
        let mut p = pair(&cert, &cert.0, "127.0.0.1");
        let mut raw = ServerConnection::new(Arc::new({
            let mut c = (*nts_ke_server_config_from_pem(cert.0.as_bytes(), cert.1.as_bytes()).unwrap()).clone();
            c.alpn_protocols.clear();
            c
        }))
        .unwrap();
        let result = talk_to_raw_server(&mut p.client, &mut raw, |_| {});
        assert!(matches!(result, Err(NtsTlsError::NoAlpn)), "{result:?}");
    }

    /// Runs `client` against a raw rustls server that answers the request
    /// with whatever `answer` writes; returns the client's last result.
    fn talk_to_raw_server(
        client: &mut NtsKeClient,
        raw: &mut ServerConnection,
        mut answer: impl FnMut(&mut ServerConnection),
    ) -> Result<Option<NtsKeOutcome>, NtsTlsError> {
        let mut answered = false;
        let mut last = Ok(None);
        for _ in 0..200 {
            let mut buf = Vec::new();
            client.write_tls(&mut buf);
            if !buf.is_empty() {
                raw.read_tls(&mut buf.as_slice()).unwrap();
                raw.process_new_packets().unwrap();
            }
            let mut plain = Vec::new();
            let _ = raw.reader().read_to_end(&mut plain);
            if !plain.is_empty() && !answered {
                answered = true;
                answer(raw);
            }
            let mut back = Vec::new();
            while raw.wants_write() {
                raw.write_tls(&mut back).unwrap();
            }
            if back.is_empty() && buf.is_empty() {
                break;
            }
            if back.is_empty() {
                continue;
            }
            last = client.receive_tls(&back);
            if last.is_err() {
                break;
            }
        }
        last
    }

    #[test]
    fn an_answer_that_never_ends_is_refused() {
        let cert = certificate(&["127.0.0.1"]);
        let mut p = pair(&cert, &cert.0, "127.0.0.1");
        let mut raw =
            ServerConnection::new(nts_ke_server_config_from_pem(cert.0.as_bytes(), cert.1.as_bytes()).unwrap())
                .unwrap();
        // Warning records, 1 KiB each, for ever: never End of Message.
        let result = talk_to_raw_server(&mut p.client, &mut raw, |raw| {
            let body = [0u8; 1020];
            let mut record = vec![0x00, 0x03, 0x03, 0xfc];
            record.extend_from_slice(&body);
            // 30 KiB: past the 16 KiB limit, within what rustls buffers.
            for _ in 0..30 {
                raw.writer().write_all(&record).unwrap();
            }
        });
        assert!(matches!(result, Err(NtsTlsError::Ke(NtsKeError::Record(KeError::TooLong { .. })))), "{result:?}");
        assert!(p.client.is_over());
        assert!(p.client.inbox.received.len() <= nts_ke_limits().max_len + 4096);
    }

    #[test]
    fn a_request_that_never_ends_is_refused() {
        let cert = certificate(&["127.0.0.1"]);
        let mut server =
            NtsKeServer::new(nts_ke_server_config_from_pem(cert.0.as_bytes(), cert.1.as_bytes()).unwrap()).unwrap();
        let roots = nts_ke_trust_roots_from_pem(cert.0.as_bytes()).unwrap();
        let mut raw =
            ClientConnection::new(nts_ke_client_config(roots).unwrap(), ServerName::try_from("127.0.0.1").unwrap())
                .unwrap();
        // Tiny records, many of them: the record limit trips first.
        let mut buf = vec![0u8; 8];
        let mut w = RecordWriter::new(&mut buf);
        w.push(&RecordRepr::Warning(7)).unwrap();
        let len = w.len();
        let record = buf[..len].to_vec();
        for _ in 0..200 {
            raw.writer().write_all(&record).unwrap();
        }
        let mut result = Ok(None);
        for _ in 0..10 {
            let mut out = Vec::new();
            while raw.wants_write() {
                raw.write_tls(&mut out).unwrap();
            }
            result = server.receive_tls(&out);
            if result.is_err() {
                break;
            }
            let mut back = Vec::new();
            server.write_tls(&mut back);
            raw.read_tls(&mut back.as_slice()).unwrap();
            raw.process_new_packets().unwrap();
        }
        assert!(
            matches!(result, Err(NtsTlsError::Ke(NtsKeError::Record(KeError::TooManyRecords { .. })))),
            "{result:?}"
        );
        assert!(server.is_finished());
    }

    #[test]
    fn a_connection_closed_early_is_an_error() {
        let cert = certificate(&["127.0.0.1"]);
        let mut p = pair(&cert, &cert.0, "127.0.0.1");
        let mut buf = Vec::new();
        p.client.write_tls(&mut buf);
        p.server.receive_tls(&buf).unwrap();
        // The server hangs up in the middle of the handshake.
        let result = p.client.receive_tls(&[]);
        assert!(matches!(result, Err(NtsTlsError::Closed)), "{result:?}");
        assert!(matches!(p.server.receive_tls(&[]), Err(NtsTlsError::Closed)));
        assert!(p.server.is_finished());
    }

    #[test]
    fn pem_errors_name_what_is_wrong() {
        let cert = certificate(&["127.0.0.1"]);
        assert!(matches!(nts_ke_trust_roots_from_pem(b"nothing here"), Err(NtsTlsError::Pem { .. })));
        assert!(matches!(nts_ke_server_config_from_pem(cert.0.as_bytes(), b"no key"), Err(NtsTlsError::Pem { .. })));
        // A key that is not the certificate's.
        let other = certificate(&["127.0.0.1"]);
        assert!(nts_ke_server_config_from_pem(cert.0.as_bytes(), other.1.as_bytes()).is_err());
        let dir = std::env::temp_dir().join(format!("nts-tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&c, &cert.0).unwrap();
        std::fs::write(&k, &cert.1).unwrap();
        assert!(nts_ke_server_config(&c, &k).is_ok());
        assert!(nts_ke_trust_roots(std::slice::from_ref(&c)).is_ok());
        let missing = dir.join("missing.pem");
        let err = nts_ke_trust_roots(std::slice::from_ref(&missing)).unwrap_err();
        assert!(matches!(err, NtsTlsError::File { .. }) && err.to_string().contains("missing.pem"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
