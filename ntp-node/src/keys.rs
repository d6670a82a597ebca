//! Symmetric keys from the two key-file dialects operators have:
//! ntpd/NTPsec `ntp.keys` and chronyd `chrony.keys`, parsed by
//! `ntp_wire::auth`, plus the trusted-key list.

use std::path::{Path, PathBuf};

use ntp_wire::auth::{KeyFileError, Keyring, TrustedKeysError};

/// Which syntax a key file is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyFileDialect {
    /// ntpd/NTPsec `ntp.keys`: `ID TYPE SECRET`, the secret text (up to 20
    /// characters) or hex (longer).
    Ntp,
    /// chronyd `chrony.keys`: `ID [TYPE] HEX:...` or `ASCII:...`.
    Chrony,
}

impl KeyFileDialect {
    /// Tells the dialects apart by content: only chrony writes `HEX:` or
    /// `ASCII:` before a secret. A chrony file without either prefix is
    /// also valid ntp.keys with the same meaning for text secrets up to 20
    /// characters; pass the dialect explicitly for anything else.
    pub fn detect(text: &str) -> Self {
        let chrony = text
            .lines()
            .map(|line| line.split('#').next().unwrap_or(""))
            .flat_map(str::split_whitespace)
            .any(|word| word.starts_with("HEX:") || word.starts_with("ASCII:"));
        if chrony { KeyFileDialect::Chrony } else { KeyFileDialect::Ntp }
    }
}

/// Why keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A line of the file is wrong (the error names the line).
    #[error("{path}: {source}")]
    Parse {
        /// The file (or `--key` for a key given on the command line).
        path: PathBuf,
        /// The error, with its line number.
        source: KeyFileError,
    },
    /// The trusted-key list is wrong.
    #[error("trusted keys {list:?}: {source}")]
    Trusted {
        /// The list given.
        list: String,
        /// The error, with its column.
        source: TrustedKeysError,
    },
}

/// Reads a key file. `dialect` `None` detects it ([`KeyFileDialect::detect`]).
pub fn read_key_file(path: &Path, dialect: Option<KeyFileDialect>) -> Result<Keyring, KeysError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeysError::Read { path: path.into(), source })?;
    let dialect = dialect.unwrap_or_else(|| KeyFileDialect::detect(&text));
    let parsed = match dialect {
        KeyFileDialect::Ntp => Keyring::from_ntp_keys(&text),
        KeyFileDialect::Chrony => Keyring::from_chrony_keys(&text),
    };
    parsed.map_err(|source| KeysError::Parse { path: path.into(), source })
}

/// Adds keys written as ntp.keys lines (`ID TYPE SECRET`, the `--key`
/// option) to `ring`.
pub fn add_key_lines(ring: &mut Keyring, lines: &[String]) -> Result<(), KeysError> {
    for line in lines {
        let parsed =
            Keyring::from_ntp_keys(line).map_err(|source| KeysError::Parse { path: "--key".into(), source })?;
        for (key, _) in parsed.iter() {
            ring.insert(key.clone(), false);
        }
    }
    Ok(())
}

/// Marks the trusted keys. Without a list every key is trusted (a key
/// configured on the command line is meant to be used); with one, exactly
/// the listed keys are (ntpd's `trustedkey`).
pub fn apply_trusted(ring: &mut Keyring, trusted: Option<&str>) -> Result<(), KeysError> {
    let ids: Vec<u32> = ring.iter().map(|(key, _)| key.id()).collect();
    for id in ids {
        ring.set_trusted(id, trusted.is_none());
    }
    if let Some(list) = trusted {
        ring.trust_list(list).map_err(|source| KeysError::Trusted { list: list.to_owned(), source })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_dialect_detection() {
        assert_eq!(KeyFileDialect::detect("1 MD5 HEX:0102\n"), KeyFileDialect::Chrony);
        assert_eq!(KeyFileDialect::detect("# c\n2 SHA1 ASCII:secret\n"), KeyFileDialect::Chrony);
        assert_eq!(KeyFileDialect::detect("5 md5 interop-md5-text\n"), KeyFileDialect::Ntp);
        // A prefix inside a comment does not count.
        assert_eq!(KeyFileDialect::detect("5 md5 text # not HEX:00\n"), KeyFileDialect::Ntp);
    }

    #[test]
    fn test_both_dialects_load_and_trust() {
        let dir = tempfile::tempdir().unwrap();
        let chrony = dir.path().join("chrony.keys");
        std::fs::write(
            &chrony,
            "1 MD5 HEX:fa1ac5e97ab9aca3b2f03903e26a6af4\n3 AES128 HEX:62a6cf422dcdc5588164a320e51922bc\n",
        )
        .unwrap();
        let mut ring = read_key_file(&chrony, None).unwrap();
        assert_eq!(ring.len(), 2);
        apply_trusted(&mut ring, None).unwrap();
        assert!(ring.is_trusted(1) && ring.is_trusted(3));
        apply_trusted(&mut ring, Some("3")).unwrap();
        assert!(!ring.is_trusted(1) && ring.is_trusted(3));

        let ntp = dir.path().join("ntp.keys");
        std::fs::write(&ntp, "5 md5 interop-md5-text\n").unwrap();
        let mut ring = read_key_file(&ntp, None).unwrap();
        add_key_lines(&mut ring, &["9 sha1 another-secret".to_owned()]).unwrap();
        apply_trusted(&mut ring, None).unwrap();
        assert!(ring.is_trusted(5) && ring.is_trusted(9));
    }

    #[test]
    fn test_errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.keys");
        std::fs::write(&path, "1 MD5 HEX:0102\n2 NOPE HEX:0102\n").unwrap();
        let error = read_key_file(&path, None).unwrap_err().to_string();
        assert!(error.contains("bad.keys") && error.contains("line 2"), "{error}");
        let error = read_key_file(&dir.path().join("missing"), None).unwrap_err();
        assert!(matches!(error, KeysError::Read { .. }));
        let mut ring = Keyring::new();
        assert!(add_key_lines(&mut ring, &["1 md5".to_owned()]).unwrap_err().to_string().starts_with("--key: line 1"));
        assert!(matches!(apply_trusted(&mut ring, Some("0")), Err(KeysError::Trusted { .. })));
    }
}
