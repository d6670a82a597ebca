//! The operating system boundary: every `unsafe` call of this crate lives
//! under this module, each with a `// SAFETY:` note, so the rest of the
//! crate stays safe code.
//!
//! * [`clock`]: reading and disciplining the Linux system clock
//!   (`clock_gettime`, `clock_adjtime`).
//! * [`net`]: what std does not offer for UDP: `poll(2)`, `fcntl(2)` flags,
//!   and the batched `recvmmsg(2)`/`sendmmsg(2)`.
#![allow(unsafe_code)]

pub(crate) mod clock;
pub(crate) mod net;
