//! `cargo run --release --manifest-path bench/Cargo.toml [area...]`
//!
//! Prints one `RATIO` line per metric: ours against a peer crate or a raw
//! primitive, measured in the same run. Areas: `codec`, `auth`, `server`,
//! `nts` (default: all).

mod auth;
mod codec;
mod harness;
mod nts;
mod server;

fn main() {
    let areas: Vec<String> = std::env::args().skip(1).collect();
    let wants = |area: &str| areas.is_empty() || areas.iter().any(|a| a == area);
    if wants("codec") {
        codec::run();
    }
    if wants("auth") {
        auth::run();
    }
    if wants("server") {
        server::run();
    }
    if wants("nts") {
        nts::run();
    }
    let _ = wants;
}
