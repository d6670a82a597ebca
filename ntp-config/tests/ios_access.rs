//! IOS access groups, resolved into the engine's longest-prefix list, give
//! every address the class IOS itself would: groups scanned peer, serve,
//! serve-only, query-only; each list read top-down, first match wins; a
//! source no group permits is denied; no group at all allows everything.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

use std::net::{IpAddr, Ipv4Addr};

use ntp_algo::AccessClass;
use ntp_config::{Dialect, parse};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Target {
    Any,
    Host(Ipv4Addr),
    Net(Ipv4Addr, u8),
}

#[derive(Clone, Debug)]
struct Entry {
    permit: bool,
    target: Target,
}

/// Addresses from a small space, so entries overlap often.
fn addr() -> impl Strategy<Value = Ipv4Addr> {
    let octet = prop::sample::select(vec![0u8, 1, 2, 128, 255]);
    (octet.clone(), octet.clone(), octet).prop_map(|(b, c, d)| Ipv4Addr::new(10, b, c, d))
}

fn entry() -> impl Strategy<Value = Entry> {
    let target = prop_oneof![
        1 => Just(Target::Any),
        3 => addr().prop_map(Target::Host),
        4 => (addr(), prop::sample::select(vec![0u8, 8, 16, 24, 25, 31, 32])).prop_map(|(a, l)| Target::Net(a, l)),
    ];
    (any::<bool>(), target).prop_map(|(permit, target)| Entry { permit, target })
}

fn mask(len: u8) -> u32 {
    if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) }
}

fn matches(target: &Target, addr: Ipv4Addr) -> bool {
    match *target {
        Target::Any => true,
        Target::Host(host) => host == addr,
        Target::Net(net, len) => u32::from(net) & mask(len) == u32::from(addr) & mask(len),
    }
}

const ORDER: [(AccessClass, &str); 4] = [
    (AccessClass::Peer, "peer"),
    (AccessClass::Serve, "serve"),
    (AccessClass::ServeOnly, "serve-only"),
    (AccessClass::QueryOnly, "query-only"),
];

/// IOS's own decision, straight from the lists.
fn ios_class(lists: &[Vec<Entry>], groups: &[Option<usize>; 4], addr: Ipv4Addr) -> AccessClass {
    if groups.iter().all(Option::is_none) {
        return AccessClass::Peer;
    }
    for ((class, _), group) in ORDER.iter().zip(groups) {
        let Some(list) = group else { continue };
        if lists[*list].iter().find(|e| matches(&e.target, addr)).is_some_and(|e| e.permit) {
            return *class;
        }
    }
    AccessClass::Ignore
}

fn text(lists: &[Vec<Entry>], groups: &[Option<usize>; 4]) -> String {
    let mut out = String::new();
    for (number, list) in lists.iter().enumerate() {
        for entry in list {
            let action = if entry.permit { "permit" } else { "deny" };
            let target = match entry.target {
                Target::Any => "any".to_owned(),
                Target::Host(a) => format!("host {a}"),
                Target::Net(a, 32) => a.to_string(),
                Target::Net(a, l) => format!("{a} {}", Ipv4Addr::from(!mask(l))),
            };
            out.push_str(&format!("access-list {} {action} {target}\n", number + 1));
        }
    }
    for ((_, name), group) in ORDER.iter().zip(groups) {
        if let Some(list) = group {
            out.push_str(&format!("ntp access-group {name} {}\n", list + 1));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn resolution_agrees_with_ios(
        lists in proptest::collection::vec(proptest::collection::vec(entry(), 1..6), 1..4),
        raw_groups in proptest::array::uniform4(proptest::option::of(0usize..4)),
        probes in proptest::collection::vec(addr(), 1..24),
    ) {
        let groups = raw_groups.map(|g| g.map(|i| i % lists.len()));
        let text = text(&lists, &groups);
        let config = parse(&text, Some(Dialect::Ios)).unwrap();
        let access = config.engine_config().unwrap().access;
        let mut addresses = probes;
        for list in &lists {
            for entry in list {
                match entry.target {
                    Target::Host(a) | Target::Net(a, _) => addresses.push(a),
                    Target::Any => {}
                }
            }
        }
        for addr in addresses {
            prop_assert_eq!(access.classify(IpAddr::V4(addr)), ios_class(&lists, &groups, addr), "{}\n{}", addr, text);
        }
    }
}
