//! Selection (intersection of correctness intervals), clustering and combining (RFC 5905 §11.2).
