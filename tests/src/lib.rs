//! Shared helpers for the cross-crate and interop tests: finding and running
//! external tools (tshark, chronyd), pcap writing, and the rule for what to
//! do when a tool is missing (skip loudly locally, fail under `CI=true`).
