//! chronyd on loopback (filled in with the authentication interop test).
