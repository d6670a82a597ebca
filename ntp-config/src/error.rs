//! Errors, each with the line it is about and never a secret.

use ntp_wire::auth::KeyError;

/// A line the parser refused. The message names the line (from 1) and the
/// directive (its command words, e.g. `ntp authentication-key`), never the
/// rest of the line, so a key line's secret cannot leak into logs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {directive}: {kind}")]
pub struct ParseError {
    /// The line number, counting from 1.
    pub line: usize,
    /// The directive's command words.
    pub directive: String,
    /// What is wrong.
    pub kind: ErrorKind,
}

/// What is wrong with a line. Values quoted in messages are ids, numbers,
/// addresses and option names; no variant holds a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Not a directive of this dialect.
    #[error("unknown directive")]
    UnknownDirective,
    /// A directive or option we understand but do not implement: refused so
    /// that the file never means less than it says.
    #[error("{what} is not supported: {why}")]
    NotSupported {
        /// The directive or option.
        what: String,
        /// Why, and what to do instead.
        why: &'static str,
    },
    /// An option this directive does not have.
    #[error("unknown option {option:?}")]
    UnknownOption {
        /// The option as written.
        option: String,
    },
    /// A required argument is missing.
    #[error("missing {expected}")]
    MissingArgument {
        /// What was expected.
        expected: &'static str,
    },
    /// More arguments than the directive takes.
    #[error("unexpected argument {argument:?}")]
    ExtraArgument {
        /// The first argument too many.
        argument: String,
    },
    /// An argument that is not what it should be.
    #[error("{what} {value:?} is invalid: expected {expected}")]
    BadValue {
        /// What the argument is (`stratum`, `key id`, `address`...).
        what: &'static str,
        /// The argument as written (never a secret).
        value: String,
        /// What is allowed.
        expected: &'static str,
    },
    /// A key definition the key type rejects (length, emptiness...). The
    /// key's id is given, its secret never.
    #[error("key {key_id}: {source}")]
    BadKey {
        /// The key id.
        key_id: u32,
        /// Why the key was refused.
        source: KeyError,
    },
    /// A key line that cannot be read (a bad id or type, a bad type-7
    /// encoding, a VRP irreversible cipher). Key lines quote nothing of
    /// what was written: a misplaced word there may be the secret.
    #[error("{}{reason}", key_id.map(|id| format!("key {id}: ")).unwrap_or_default())]
    BadKeyLine {
        /// The key id, when it could be read.
        key_id: Option<u32>,
        /// Why.
        reason: &'static str,
    },
    /// The same key id defined twice.
    #[error("key {key_id} is already defined at line {first_line}")]
    DuplicateKey {
        /// The key id.
        key_id: u32,
        /// Where it was first defined.
        first_line: usize,
    },
    /// A command in the wrong place (an interface command outside `interface`).
    #[error("{why}")]
    OutOfContext {
        /// Where it belongs.
        why: &'static str,
    },
    /// `ntp access-group` naming an access list the file does not define.
    #[error("access list {acl} is not defined")]
    UndefinedAccessList {
        /// The list's number or name.
        acl: String,
    },
    /// `fudge` for a clock no `server` line configured.
    #[error("no `server` line configures reference clock {clock}")]
    UnconfiguredClock {
        /// The clock's pseudo-address.
        clock: String,
    },
    /// The text is not in any dialect this crate reads.
    #[error("cannot tell the dialect; give it explicitly (ntp.conf, chrony, ios or vrp)")]
    UnknownDialect,
}

impl ParseError {
    pub(crate) fn new(line: usize, directive: &str, kind: ErrorKind) -> ParseError {
        ParseError { line, directive: directive.to_owned(), kind }
    }
}

/// Why the engine's values could not be built from a [`crate::NodeConfig`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A host name not yet resolved (see [`crate::NodeConfig::resolve_names`]).
    #[error("line {line}: {name} is a name, not an address; resolve it first")]
    Unresolved {
        /// The line naming it.
        line: usize,
        /// The name.
        name: String,
    },
    /// The resolver found no address for a name.
    #[error("line {line}: {name} could not be resolved")]
    NotFound {
        /// The line naming it.
        line: usize,
        /// The name.
        name: String,
    },
    /// `ntp broadcast` on an interface without an IPv4 address, so there is
    /// no subnet to broadcast to.
    #[error("line {line}: interface {interface} has `ntp broadcast` but no `ip address`")]
    BroadcastWithoutAddress {
        /// The `ntp broadcast` line.
        line: usize,
        /// The interface.
        interface: String,
    },
    /// The engine refused an association's settings (poll range, key id 0).
    #[error("line {line}: {source}")]
    Association {
        /// The source's line.
        line: usize,
        /// The engine's reason.
        source: ntp_algo::ConfigError,
    },
}

/// Why the keyring could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyLoadError<E: std::error::Error + 'static> {
    /// The reader failed to read a key file.
    #[error("line {line}: cannot read key file {path}: {source}")]
    Read {
        /// The line naming the file.
        line: usize,
        /// The path.
        path: String,
        /// The reader's error.
        source: E,
    },
    /// A key file line is bad (its own line number inside the file; the
    /// message never quotes the secret).
    #[error("key file {path} (named at line {line}): {source}")]
    KeyFile {
        /// The configuration line naming the file.
        line: usize,
        /// The path.
        path: String,
        /// What is wrong, with the key file's line number.
        source: ntp_wire::auth::KeyFileError,
    },
    /// A key id defined twice, in the file and a key file or in two files.
    #[error("key {key_id} is defined twice (key file {path})")]
    DuplicateKey {
        /// The key id.
        key_id: u32,
        /// The key file holding the second definition.
        path: String,
    },
}
