//! Finding the NTS fields of a packet, once, for the client and server
//! checks.

use ntp_wire::nts::{AuthenticatorField, NtsField};
use ntp_wire::{HEADER_LEN, Packet, Trailer};

use super::NtsError;

/// The NTS fields of a packet that precede its authenticator (and so are
/// covered by it), and the authenticator. Fields after the authenticator
/// are not authenticated, so they are not looked at at all (RFC 8915 §5.6
/// has receivers discard them).
#[derive(Debug)]
pub(crate) struct Scanned<'a> {
    pub(crate) unique_id: Option<&'a [u8]>,
    pub(crate) cookie: Option<&'a [u8]>,
    /// Lengths of the placeholder bodies, in order (at most eight kept).
    pub(crate) placeholder_lens: [usize; 8],
    pub(crate) placeholders: usize,
    /// The authenticator and where its field starts (the end of the
    /// associated data).
    pub(crate) auth: Option<(usize, AuthenticatorField<'a>)>,
}

pub(crate) fn scan(packet: &[u8]) -> Result<Scanned<'_>, NtsError> {
    Packet::new_checked(packet).map_err(NtsError::Wire)?;
    let trailer = Trailer::split(packet).map_err(NtsError::Wire)?;
    let mut found = Scanned { unique_id: None, cookie: None, placeholder_lens: [0; 8], placeholders: 0, auth: None };
    let mut offset = HEADER_LEN;
    for field in trailer.extension_fields() {
        let field = field.map_err(NtsError::Wire)?;
        let start = offset;
        offset += field.wire_len();
        match NtsField::parse(&field).map_err(NtsError::Field)? {
            NtsField::UniqueIdentifier(id) => {
                if found.unique_id.replace(id).is_some() {
                    return Err(NtsError::Duplicate("unique identifier"));
                }
            }
            NtsField::Cookie(cookie) => {
                if found.cookie.replace(cookie).is_some() {
                    return Err(NtsError::Duplicate("cookie"));
                }
            }
            NtsField::CookiePlaceholder { len } => {
                if let Some(slot) = found.placeholder_lens.get_mut(found.placeholders) {
                    *slot = len;
                }
                found.placeholders += 1;
            }
            NtsField::Authenticator(auth) => {
                found.auth = Some((start, auth));
                break;
            }
            NtsField::Other(_) => {}
        }
    }
    Ok(found)
}
