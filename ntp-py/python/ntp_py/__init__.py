"""NTP for Python, backed by the ntp-wire and ntp-algo Rust crates.

* :class:`Packet` and :class:`NtpTimestamp`: decode and build packets;
  fields are read from the bytes only when asked for.
* :class:`Key`, :class:`Keyring`, :func:`sign`, :func:`verify`: symmetric-key
  authentication (MD5, SHA1, SHA-2, AES-CMAC), key files of ntpd and chrony.
* :func:`query`, :func:`aquery`, :func:`query_many`, :func:`aquery_many`:
  a validated client exchange (origin, mode, kiss-o'-death, leap, MAC).
* :class:`Engine`: the sans-IO NTP engine; :mod:`ntp_py.aio` drives it.
* :class:`ControlClient`, :class:`AsyncControlClient`: mode 6 (ntpq) --
  system variables, peers, the MRU list.

Every error raised on purpose derives from :class:`NtpError`.
"""

from ntp_py._ntp_py import (
    CONFIG_AVAILABLE,
    AssociationInfo,
    AuthenticationError,
    BadMac,
    ClientRequest,
    ConfigUnavailable,
    ControlError,
    ControlSession,
    CryptoNak,
    Engine,
    EngineEvent,
    InvalidKey,
    InvalidReply,
    Key,
    KeyFileError,
    Keyring,
    KissOfDeath,
    Leap,
    MalformedResponse,
    Mode,
    MruEntry,
    NoMac,
    NotSynchronized,
    NtpError,
    NtpTimestamp,
    OriginMismatch,
    Packet,
    ParseError,
    PeerVariables,
    Reply,
    ServerError,
    SetFrequency,
    Step,
    SystemInfo,
    SystemVariables,
    Timeout,
    TimeoutAt,
    Transmit,
    UnknownKey,
    UntrustedKey,
    check_config,
    sign,
    verify,
)
from ntp_py.client import aquery, aquery_many, query, query_many
from ntp_py.control import AsyncControlClient, ControlClient

__all__ = [
    "CONFIG_AVAILABLE",
    "AssociationInfo",
    "AsyncControlClient",
    "AuthenticationError",
    "BadMac",
    "ClientRequest",
    "ConfigUnavailable",
    "ControlClient",
    "ControlError",
    "ControlSession",
    "CryptoNak",
    "Engine",
    "EngineEvent",
    "InvalidKey",
    "InvalidReply",
    "Key",
    "KeyFileError",
    "Keyring",
    "KissOfDeath",
    "Leap",
    "MalformedResponse",
    "Mode",
    "MruEntry",
    "NoMac",
    "NotSynchronized",
    "NtpError",
    "NtpTimestamp",
    "OriginMismatch",
    "Packet",
    "ParseError",
    "PeerVariables",
    "Reply",
    "ServerError",
    "SetFrequency",
    "Step",
    "SystemInfo",
    "SystemVariables",
    "Timeout",
    "TimeoutAt",
    "Transmit",
    "UnknownKey",
    "UntrustedKey",
    "aquery",
    "aquery_many",
    "check_config",
    "query",
    "query_many",
    "sign",
    "verify",
]
