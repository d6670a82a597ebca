//! The clock filter (RFC 5905 §10): eight stages, lowest-delay sample, popcorn spike suppressor.
