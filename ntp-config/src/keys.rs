//! Keys: the ones written in the configuration, and the keyring built from
//! them and the key files it names, read through the caller's closure so
//! this crate itself opens no file.

use ntp_wire::auth::{Key, KeyType, Keyring};

use crate::error::{ErrorKind, KeyLoadError, ParseError};
use crate::model::{InlineKey, KeyFile, KeyFileFormat, NodeConfig};
use crate::text::At;

/// Adds a key defined on a configuration line; errors name the id only.
pub(crate) fn add_inline_key(
    config: &mut NodeConfig,
    at: &At<'_>,
    key_id: u32,
    key_type: KeyType,
    secret: &[u8],
) -> Result<(), ParseError> {
    if let Some(first) = config.inline_keys.iter().find(|k| k.key.id() == key_id) {
        return Err(at.err(ErrorKind::DuplicateKey { key_id, first_line: first.line }));
    }
    let key = Key::new(key_id, key_type, secret).map_err(|source| at.err(ErrorKind::BadKey { key_id, source }))?;
    config.inline_keys.push(InlineKey { line: at.line, key });
    Ok(())
}

/// Builds the keyring a configuration describes: its inline keys, then the
/// key files it names, each read by `read` (given the path as written;
/// resolve relative paths as the daemon would). A key is trusted when the
/// configuration lists its id as trusted, or when it comes from a
/// `chrony.keys` file (chronyd trusts every key of its file).
///
/// ```
/// use ntp_config::{Dialect, load_keyring, parse};
/// let config = parse("keys /etc/ntp.keys\ntrustedkey 1\nserver 192.0.2.1 key 1\n", Some(Dialect::NtpConf))?;
/// let ring = load_keyring(&config, |path| {
///     assert_eq!(path, "/etc/ntp.keys");
///     Ok::<_, std::io::Error>("1 MD5 tulip\n2 MD5 crocus\n".to_owned())
/// })?;
/// assert!(ring.is_trusted(1) && !ring.is_trusted(2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load_keyring<E, F>(config: &NodeConfig, mut read: F) -> Result<Keyring, KeyLoadError<E>>
where
    E: std::error::Error + 'static,
    F: FnMut(&str) -> Result<String, E>,
{
    let mut ring = Keyring::new();
    for inline in &config.inline_keys {
        ring.insert(inline.key.clone(), false);
    }
    for KeyFile { line, path, format } in &config.key_files {
        let text = read(path).map_err(|source| KeyLoadError::Read { line: *line, path: path.clone(), source })?;
        let (file_ring, trusted) = match format {
            KeyFileFormat::NtpKeys => (Keyring::from_ntp_keys(&text), false),
            KeyFileFormat::ChronyKeys => (Keyring::from_chrony_keys(&text), true),
        };
        let file_ring =
            file_ring.map_err(|source| KeyLoadError::KeyFile { line: *line, path: path.clone(), source })?;
        for (key, _) in file_ring.iter() {
            if ring.get(key.id()).is_some() {
                return Err(KeyLoadError::DuplicateKey { key_id: key.id(), path: path.clone() });
            }
            ring.insert(key.clone(), trusted);
        }
    }
    for &id in &config.trusted_keys {
        ring.set_trusted(id, true);
    }
    Ok(ring)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dialect, parse};

    #[derive(Debug, thiserror::Error)]
    #[error("no such file")]
    struct Missing;

    #[test]
    fn inline_keys_are_trusted_only_when_listed() {
        let text = "ntp authentication-key 1 md5 tulip\nntp authentication-key 2 md5 crocus\nntp trusted-key 1\n";
        let config = parse(text, Some(Dialect::Ios)).unwrap();
        let ring = load_keyring(&config, |_| Err::<String, _>(Missing)).unwrap();
        assert_eq!(ring.len(), 2);
        assert!(ring.is_trusted(1));
        assert!(!ring.is_trusted(2));
    }

    #[test]
    fn chrony_files_are_trusted_and_read_errors_name_the_line() {
        let config = parse("keyfile /etc/chrony.keys\nserver 192.0.2.1 key 5\n", Some(Dialect::Chrony)).unwrap();
        let ring =
            load_keyring(&config, |_| Ok::<_, Missing>("5 SHA1 HEX:933F62BE1D604E68A81B557F18CFA200483F5B70\n".into()))
                .unwrap();
        assert!(ring.is_trusted(5));
        let err = load_keyring(&config, |_| Err::<String, _>(Missing)).unwrap_err();
        assert!(matches!(err, KeyLoadError::Read { line: 1, .. }), "{err}");
    }

    #[test]
    fn bad_key_file_lines_do_not_leak() {
        let config = parse("keys /etc/ntp.keys\n", Some(Dialect::NtpConf)).unwrap();
        let err = load_keyring(&config, |_| Ok::<_, Missing>("1 NOPE verysecretvalue\n".into())).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("line 1"), "{message}");
        assert!(!message.contains("verysecretvalue"), "{message}");
    }

    #[test]
    fn duplicate_ids_across_sources_are_refused() {
        let config = parse("ntp authentication-key 1 md5 tulip\n", Some(Dialect::Ios)).unwrap();
        let mut config = config;
        config.key_files.push(KeyFile { line: 9, path: "k".into(), format: KeyFileFormat::NtpKeys });
        let err = load_keyring(&config, |_| Ok::<_, Missing>("1 MD5 crocus\n".into())).unwrap_err();
        assert!(matches!(err, KeyLoadError::DuplicateKey { key_id: 1, .. }));
    }
}
