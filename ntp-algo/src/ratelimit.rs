//! Per-source rate limiting with bounded state, answered with KoD RATE or dropped.
