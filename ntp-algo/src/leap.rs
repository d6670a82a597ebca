//! Leap seconds: the IERS leap-seconds.list file, the survivors' vote, manual add/delete rules.
