//! `ntp-node`: run an NTP node, or show a running node's status.
//! `ntp-node --help` and `ntp-node run --help` list every option.

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    ntp_node::cli::main_with(ntp_node::cli::Cli::parse())
}
