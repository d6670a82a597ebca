//! The hybrid PLL/FLL clock discipline (RFC 5905 §11.3).
