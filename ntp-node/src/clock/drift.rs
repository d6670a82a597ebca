//! The drift file: the frequency correction saved across restarts, so a
//! restarted node starts near the right frequency (RFC 5905 §11.3's FSET
//! state) instead of measuring it again for minutes.
//!
//! The format is ntpd's: one number, ppm. chronyd's file (`ppm skew`) is
//! read too: the first number is the frequency. The file is replaced
//! atomically (written to `NAME.tmp`, synced, renamed), so a crash leaves
//! the old value or the new one, never half a line.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use super::system::KERNEL_MAX_PPM;

/// Why a drift file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DriftFileError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The file holds no frequency we can use.
    #[error("{path}: line 1: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// A drift file at a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriftFile {
    path: PathBuf,
}

impl DriftFile {
    /// The drift file at `path` (nothing is read yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        DriftFile { path: path.into() }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved frequency, ppm; `Ok(None)` when there is no file yet (a
    /// first start). A file that exists but holds no finite number within
    /// ±500 ppm is an error, not silently ignored.
    pub fn read(&self) -> Result<Option<f64>, DriftFileError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(DriftFileError::Io { path: self.path.clone(), source }),
        };
        let invalid = |reason: String| DriftFileError::Invalid { path: self.path.clone(), reason };
        let first = text.lines().next().unwrap_or("").split_whitespace().next();
        let word = first.ok_or_else(|| invalid("empty, expected a frequency in ppm".into()))?;
        let ppm: f64 = word.parse().map_err(|_| invalid(format!("{word:?} is not a number")))?;
        if !ppm.is_finite() || ppm.abs() > KERNEL_MAX_PPM {
            return Err(invalid(format!("{ppm} ppm is outside ±{KERNEL_MAX_PPM} ppm")));
        }
        Ok(Some(ppm))
    }

    /// Saves `ppm` (atomically replacing the file).
    pub fn write(&self, ppm: f64) -> Result<(), DriftFileError> {
        let io_error = |source| DriftFileError::Io { path: self.path.clone(), source };
        if !ppm.is_finite() {
            return Err(DriftFileError::Invalid { path: self.path.clone(), reason: format!("{ppm} is not finite") });
        }
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".tmp");
        let temporary = self.path.with_file_name(name);
        let mut file = fs::File::create(&temporary).map_err(io_error)?;
        writeln!(file, "{ppm:.3}").map_err(io_error)?;
        file.sync_all().map_err(io_error)?;
        drop(file);
        fs::rename(&temporary, &self.path).map_err(io_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_write_then_read_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let drift = DriftFile::new(dir.path().join("ntp.drift"));
        assert_eq!(drift.read().unwrap(), None, "no file yet");
        drift.write(-12.3456).unwrap();
        assert_eq!(drift.read().unwrap(), Some(-12.346));
        drift.write(7.0).unwrap();
        assert_eq!(drift.read().unwrap(), Some(7.0));
        assert_eq!(fs::read_to_string(drift.path()).unwrap(), "7.000\n");
        // Only the file remains, no temporary beside it.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(drift.write(f64::NAN).is_err());
    }

    #[test]
    fn test_reads_chronys_two_number_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chrony.drift");
        fs::write(&path, "          -1.234567             0.052144\n").unwrap();
        assert_eq!(DriftFile::new(&path).read().unwrap(), Some(-1.234567));
    }

    #[test]
    fn test_corrupt_files_are_errors_that_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.drift");
        for (content, expect) in [
            ("", "empty"),
            ("\n", "empty"),
            ("abc\n", "\"abc\" is not a number"),
            ("NaN\n", "outside"),
            ("501\n", "outside"),
            ("-1e9", "outside"),
        ] {
            fs::write(&path, content).unwrap();
            let error = DriftFile::new(&path).read().unwrap_err().to_string();
            assert!(error.contains("bad.drift") && error.contains(expect), "{content:?}: {error}");
        }
        // A directory where the file should be is an I/O error.
        let error = DriftFile::new(dir.path()).read().unwrap_err();
        assert!(matches!(error, DriftFileError::Io { .. }), "{error}");
    }
}
