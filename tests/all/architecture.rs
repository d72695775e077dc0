//! The Architecture Invariants of ARCHITECTURE.md, checked against `cargo metadata`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// Package name → names of its normal (non-dev, non-build) dependencies in the resolved graph.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| {
            let deps = node["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"].is_null()))
                .map(|d| names[d["pkg"].as_str().unwrap()].to_owned())
                .collect();
            (names[node["id"].as_str().unwrap()].to_owned(), deps)
        })
        .collect()
}

fn closure(graph: &BTreeMap<String, BTreeSet<String>>, root: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![root.to_owned()];
    while let Some(p) = stack.pop() {
        for d in graph.get(&p).into_iter().flatten() {
            if seen.insert(d.clone()) {
                stack.push(d.clone());
            }
        }
    }
    seen
}

#[test]
fn hub_core_does_no_io() {
    let g = graph();
    let deps = closure(&g, "hub-core");
    for io in [
        "hyper",
        "hyper-util",
        "reqwest",
        "sqlx",
        "redis",
        "tokio",
        "mio",
        "axum",
    ] {
        assert!(!deps.contains(io), "hub-core depends on {io} (through {deps:?})");
    }
}

#[test]
fn hub_resilience_knows_no_protocol() {
    let deps = closure(&graph(), "hub-resilience");
    for protocol in ["http", "httpdate", "hyper", "hyper-util", "h2", "reqwest", "axum"] {
        assert!(
            !deps.contains(protocol),
            "hub-resilience depends on {protocol}: header parsing belongs to hub-upstream"
        );
    }
}

#[test]
fn adapters_never_depend_on_each_other_or_the_server() {
    let g = graph();
    for (crate_name, forbidden) in [
        ("hub-ticketing", ["hub-transactions", "hub-server", "hub-store"]),
        ("hub-transactions", ["hub-ticketing", "hub-server", "hub-store"]),
        ("hub-resilience", ["hub-ticketing", "hub-transactions", "hub-server"]),
        ("hub-store", ["hub-ticketing", "hub-transactions", "hub-server"]),
    ] {
        let deps = closure(&g, crate_name);
        for f in forbidden {
            assert!(!deps.contains(f), "{crate_name} depends on {f}");
        }
    }
}

#[test]
fn only_the_server_knows_the_hub_wire_format() {
    let g = graph();
    for (name, deps) in &g {
        if name.starts_with("hub-") && name != "hub-server" && name != "hub-tests" && name != "hub-sim" {
            assert!(
                !deps.contains("axum"),
                "{name} depends on axum: only hub-server serves the hub's API"
            );
        }
    }
}
