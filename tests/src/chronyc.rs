//! chronyc against a chronyd of [`crate::chrony`]: a command socket of its
//! own and bounded queries.
//!
//! A Unix socket, not `cmdport`, so that parallel daemons cannot collide on
//! a UDP port. chronyd creates the socket's directory (as its user, with the
//! permissions it insists on) inside a temporary directory of ours.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::chrony::Chronyd;

/// How long one chronyc call may take: it answers a local socket at once,
/// so this only covers a chronyd that is gone.
const CHRONYC_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between queries in [`CommandSocket::wait_for`].
const CHRONYC_RETRY: Duration = Duration::from_millis(500);

/// A chronyd command socket that chronyc can reach. Declare it before the
/// [`Chronyd`] it serves, so that it is dropped after chronyd is stopped.
pub struct CommandSocket {
    chronyc: PathBuf,
    // Holds `cmd/chronyd.sock`.
    dir: TempDir,
}

impl CommandSocket {
    /// A socket for `chronyc`, the program found by [`crate::tools::require`].
    pub fn new(chronyc: PathBuf) -> CommandSocket {
        let dir = tempfile::Builder::new().prefix("ntp-tests-chronyc-").tempdir().unwrap();
        // chronyd, which may run as `_chrony`, must reach the socket chronyc binds beside its own.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        CommandSocket { chronyc, dir }
    }

    /// Where the socket is.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("cmd").join("chronyd.sock")
    }

    /// The chronyd directive that opens this socket.
    pub fn directive(&self) -> String {
        format!("bindcmdaddress {}", self.path().display())
    }

    /// `chronyc -n ARGS` against this socket: its stdout, or `Err` with why not.
    pub fn run(&self, args: &[&str]) -> Result<String, String> {
        let mut child = Command::new(&self.chronyc)
            .arg("-h")
            .arg(self.path())
            .arg("-n")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let deadline = Instant::now() + CHRONYC_TIMEOUT;
        while child.try_wait().map_err(|e| e.to_string())?.is_none() {
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("chronyc {args:?} hung"));
            }
            thread::sleep(Duration::from_millis(10));
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "chronyc {args:?}: {} {}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&out.stdout)
            ))
        }
    }

    /// Asks chronyc `args` until `check` finds what it wants in the output,
    /// and returns that; panics after `timeout` with the last output and
    /// chronyd's log.
    pub fn wait_for<T>(
        &self,
        args: &[&str],
        timeout: Duration,
        what: &str,
        daemon: &Chronyd,
        check: impl Fn(&str) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            let output = self.run(args);
            if let Some(found) = output.as_deref().ok().and_then(&check) {
                return found;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{what}: not within {timeout:?}; last `chronyc {args:?}`:\n{output:?}\nchronyd's log:\n{}",
                    daemon.log()
                );
            }
            thread::sleep(CHRONYC_RETRY);
        }
    }
}
