//! `cargo run -p ntp-config --example check_config -- FILE [DIALECT]`:
//! prints what a configuration file means, as `ntp-node check-config` will.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: check_config FILE [ntp.conf|chrony|ios|vrp]");
        return ExitCode::from(2);
    };
    let dialect = match args.next().map(|name| name.parse::<ntp_config::Dialect>()) {
        None => None,
        Some(Ok(dialect)) => Some(dialect),
        Some(Err(e)) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match ntp_config::parse(&text, dialect) {
        Ok(config) => {
            print!("{}", ntp_config::render(&config));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            ExitCode::FAILURE
        }
    }
}
