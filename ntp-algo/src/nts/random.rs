//! Where NTS gets its random bytes: from the caller, so the protocol code
//! stays deterministic under test and needs no operating-system source.

/// A source of cryptographically strong random bytes (unique identifiers,
/// nonces, master keys). The daemon passes one backed by the operating
/// system; tests pass a seeded one.
pub trait RandomSource {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

impl<F: FnMut(&mut [u8])> RandomSource for F {
    fn fill(&mut self, buf: &mut [u8]) {
        self(buf)
    }
}

#[cfg(test)]
pub(crate) mod testing {
    /// A deterministic byte stream for tests (xorshift64*; not for keys).
    pub(crate) struct Seeded(pub(crate) u64);

    impl super::RandomSource for Seeded {
        fn fill(&mut self, buf: &mut [u8]) {
            for b in buf {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                *b = (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8;
            }
        }
    }
}
