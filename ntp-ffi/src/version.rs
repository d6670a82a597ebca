//! The library's version, as defines in the header and at run time.

use std::ffi::c_char;

/// Major version of this library (the crate's semver major).
pub const NTP_FFI_VERSION_MAJOR: u32 = 0;
/// Minor version of this library (the crate's semver minor).
pub const NTP_FFI_VERSION_MINOR: u32 = 1;
/// Patch version of this library (the crate's semver patch).
pub const NTP_FFI_VERSION_PATCH: u32 = 0;

/// The version the library was built as, NUL-terminated ("0.1.0").
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library's version as a NUL-terminated string such as "0.1.0".
///
/// Compare it with the header's `NTP_FFI_VERSION_*` defines to detect a
/// header and library from different releases.
///
/// Ownership: the string is static; never free or modify it.
#[unsafe(no_mangle)]
pub extern "C" fn ntp_version() -> *const c_char {
    VERSION.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defines_match_cargo_version() {
        assert_eq!(NTP_FFI_VERSION_MAJOR.to_string(), env!("CARGO_PKG_VERSION_MAJOR"));
        assert_eq!(NTP_FFI_VERSION_MINOR.to_string(), env!("CARGO_PKG_VERSION_MINOR"));
        assert_eq!(NTP_FFI_VERSION_PATCH.to_string(), env!("CARGO_PKG_VERSION_PATCH"));
    }

    #[test]
    fn version_string_is_nul_terminated() {
        // SAFETY: ntp_version returns a pointer to a static NUL-terminated string.
        let s = unsafe { std::ffi::CStr::from_ptr(ntp_version()) };
        assert_eq!(s.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
