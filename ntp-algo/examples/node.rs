//! A real NTP node on a UDP socket, driven by the sans-IO engine.
//!
//! It disciplines a software clock that starts from the system clock's
//! reading; the system clock itself is never touched, so it is safe to run
//! beside chronyd or ntpd.
//!
//! ```text
//! cargo run --release -p ntp-algo --example node -- --listen 127.0.0.1:11123 \
//!     --server 127.0.0.1:123,iburst,minpoll=0,maxpoll=2 --status-every 5
//! ```
//!
//! Options (each may repeat where it makes sense):
//!
//! | option | meaning |
//! |---|---|
//! | `--listen IP:PORT` | local address (required); also our address for loop detection |
//! | `--server IP:PORT[,key=N][,minpoll=N][,maxpoll=N][,iburst][,burst][,prefer]` | a client association |
//! | `--peer IP:PORT[,...]` | a symmetric active association |
//! | `--broadcast IP:PORT[,key=N][,minpoll=N]` | send broadcasts there |
//! | `--broadcast-client` | accept broadcast servers |
//! | `--keyfile PATH` | ntp.keys or chrony.keys (told apart by `ASCII:`/`HEX:`) |
//! | `--trusted "1 2 5-7"` | trusted keys (default: all keys in the file) |
//! | `--authenticate` | use only authenticated sources (`ntp authenticate`) |
//! | `--access PREFIX=CLASS` | access rule; CLASS is peer, serve, serve-only, query-only or ignore |
//! | `--access-default CLASS` | class of sources no rule matches (default peer) |
//! | `--master N` | serve the local clock at stratum N when nothing better is reachable |
//! | `--rate-limit` | rate-limit clients, answering with KoD RATE |
//! | `--duration SECONDS` | stop after this long, printing the final status |
//! | `--status-every SECONDS` | print the association table this often |
//! | `--clock-offset SECONDS`, `--clock-error-ppm PPM` | start the software clock off, or let it drift |
//! | `--quiet` | no event lines |

mod support;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: node --listen IP:PORT [--server IP:PORT[,options]]... (see the source's doc for all options)");
        return std::process::ExitCode::SUCCESS;
    }
    let result = support::parse_node_args(&args).and_then(|opts| support::run(&opts, "node"));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("node: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
