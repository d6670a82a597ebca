"""NTP for Python, backed by the ntp-wire and ntp-algo Rust crates.

* :class:`Packet` and :class:`NtpTimestamp`: decode and build packets;
  fields are read from the bytes only when asked for.
* :class:`Key`, :class:`Keyring`, :func:`sign`, :func:`verify`: symmetric-key
  authentication (MD5, SHA1, SHA-2, AES-CMAC), key files of ntpd and chrony.
* :func:`query`, :func:`aquery`, :func:`query_many`, :func:`aquery_many`:
  a validated client exchange (origin, mode, kiss-o'-death, leap, MAC).
* :class:`Engine`: the sans-IO NTP engine; :mod:`ntp_py.aio` drives it.

Every error raised on purpose derives from :class:`NtpError`.
"""

from ntp_py._ntp_py import (
    CONFIG_AVAILABLE,
    AuthenticationError,
    BadMac,
    ClientRequest,
    ConfigUnavailable,
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
    Mode,
    NoMac,
    NotSynchronized,
    NtpError,
    NtpTimestamp,
    OriginMismatch,
    Packet,
    ParseError,
    Reply,
    SetFrequency,
    Step,
    SystemInfo,
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

__all__ = [
    "CONFIG_AVAILABLE",
    "AuthenticationError",
    "BadMac",
    "ClientRequest",
    "ConfigUnavailable",
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
    "Mode",
    "NoMac",
    "NotSynchronized",
    "NtpError",
    "NtpTimestamp",
    "OriginMismatch",
    "Packet",
    "ParseError",
    "Reply",
    "SetFrequency",
    "Step",
    "SystemInfo",
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
