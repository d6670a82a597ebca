//! Where the fields of the 48-byte NTP header sit (RFC 5905 §7.3, Figure 8).
//!
//! A leaf module: [`packet`](crate::packet) reads the header through these
//! offsets and [`trailer`](crate::trailer) starts its walk at
//! [`HEADER_LEN`], so both depend on this file and neither on the other.

/// Byte offsets of the header fields.
#[allow(missing_docs)]
pub mod field {
    /// A half-open byte range.
    pub type Field = core::ops::Range<usize>;

    pub const LI_VN_MODE: usize = 0;
    pub const STRATUM: usize = 1;
    pub const POLL: usize = 2;
    pub const PRECISION: usize = 3;
    pub const ROOT_DELAY: Field = 4..8;
    pub const ROOT_DISPERSION: Field = 8..12;
    pub const REFERENCE_ID: Field = 12..16;
    pub const REFERENCE_TIME: Field = 16..24;
    pub const ORIGIN_TIME: Field = 24..32;
    pub const RECEIVE_TIME: Field = 32..40;
    pub const TRANSMIT_TIME: Field = 40..48;
}

/// Length of the NTP header in bytes (48).
pub const HEADER_LEN: usize = field::TRANSMIT_TIME.end;
