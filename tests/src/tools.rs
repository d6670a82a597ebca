//! Finding external programs, and the rule for when one is missing.

use std::net::UdpSocket;
use std::path::PathBuf;

/// Whether we run in CI (`CI=true`), where a suite that cannot run must fail.
pub fn in_ci() -> bool {
    std::env::var("CI").map(|v| v == "true" || v == "1").unwrap_or(false)
}

/// The full path of `program`, searched in `PATH` and the sbin directories
/// (chronyd lives in `/usr/sbin`).
pub fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].iter().map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// The path of a program a test needs. When it is missing: under CI the test
/// fails with a message that says what to install; elsewhere it prints a loud
/// `SKIPPED` line and returns `None`, and the test returns early.
///
/// ```ignore
/// let Some(tshark) = ntp_tests::tools::require("tshark", "tshark") else { return };
/// ```
pub fn require(program: &str, debian_package: &str) -> Option<PathBuf> {
    match find(program) {
        Some(path) => Some(path),
        None if in_ci() => {
            panic!(
                "`{program}` is not installed and CI=true: install the Debian package `{debian_package}` (the test command does)"
            )
        }
        None => {
            eprintln!("SKIPPED: `{program}` not found; install the Debian package `{debian_package}` to run this test");
            None
        }
    }
}

/// A UDP port on 127.0.0.1 that was free a moment ago.
pub fn free_udp_port() -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind an ephemeral UDP port on loopback");
    socket.local_addr().expect("local address of a bound socket").port()
}
