//! The Architecture Invariants of ARCHITECTURE.md, checked against `cargo metadata`: an
//! allow-list of the edges between workspace crates, and what no crate's closure may hold.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::process::Command;

use serde_json::Value;

/// Which section of a manifest a dependency comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Normal,
    Dev,
    Build,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Normal => "normal",
            Kind::Dev => "dev",
            Kind::Build => "build",
        }
    }
}

/// An allowed edge: the workspace crate depended on, and why.
type Allowed = (&'static str, &'static str);

/// One workspace crate's place in the layering.
struct Layer {
    krate: &'static str,
    /// The crate's layering rule, as its manifest states it.
    rule: &'static str,
    /// The workspace crates it may have as `[dependencies]`.
    normal: &'static [Allowed],
    /// The workspace crates it may have as `[dev-dependencies]`.
    dev: &'static [Allowed],
}

/// Every workspace crate and the workspace crates it may depend on. No workspace crate
/// may be another's build-dependency. An entry whose crate is not in the workspace (yet)
/// is ignored; a workspace crate without an entry fails.
const LAYERS: &[Layer] = &[
    Layer {
        krate: "hub-core",
        rule: "the domain and its ports: depends on no other hub crate and does no I/O",
        normal: &[],
        dev: &[],
    },
    Layer {
        krate: "hub-resilience",
        rule: "retry, breaker and cache pieces: hub-core only, and no transport",
        normal: &[("hub-core", "hub_core::Error's classification and the Cache port")],
        dev: &[],
    },
    Layer {
        krate: "hub-upstream",
        rule: "the adapters' HTTP client and authentication: hub-core and hub-resilience only, no vendor's wire format",
        normal: &[
            ("hub-core", "the ports and domain types its calls report into"),
            (
                "hub-resilience",
                "every upstream call runs through the resilience pipeline",
            ),
            (
                "hub-telemetry",
                "each attempt's client span and the traceparent it sends (feature `otel`)",
            ),
        ],
        dev: &[
            ("hub-core", "mock ports (feature `mock`) in unit tests"),
            ("hub-sim", "the example's OAuth2 and HMAC upstream"),
        ],
    },
    Layer {
        krate: "hub-ticketing",
        rule: "an adapter: hub-core, hub-resilience and hub-upstream, never another adapter, a store or the server",
        normal: &[
            ("hub-core", "implements the ticketing port over its domain types"),
            ("hub-resilience", "classifies its calls for retry and the breaker"),
            ("hub-upstream", "its HTTP client and authentication"),
        ],
        dev: &[
            ("hub-core", "mock ports (feature `mock`) in unit tests"),
            ("hub-sim", "tests against the simulated vendor APIs, started in-process"),
            ("hub-upstream", "in-memory secrets and audit log (feature `test-util`)"),
        ],
    },
    Layer {
        krate: "hub-transactions",
        rule: "an adapter: hub-core, hub-resilience and hub-upstream, never another adapter, a store or the server",
        normal: &[
            ("hub-core", "implements the transaction ports over its domain types"),
            ("hub-resilience", "classifies its calls for retry and the breaker"),
            ("hub-upstream", "its HTTP client and authentication"),
        ],
        dev: &[
            ("hub-core", "mock ports (feature `mock`) in unit tests"),
            (
                "hub-sim",
                "tests against the simulated status and sales systems, started in-process",
            ),
            ("hub-upstream", "in-memory secrets and audit log (feature `test-util`)"),
        ],
    },
    Layer {
        krate: "hub-store",
        rule: "implements hub-core's service ports on SQLite, PostgreSQL and Redis: hub-core, and hub-resilience for the rate budget",
        normal: &[
            ("hub-core", "the service ports it implements"),
            (
                "hub-resilience",
                "the rate budget's port and GCRA, which the shared budget runs on Redis and falls back to in process",
            ),
        ],
        dev: &[],
    },
    Layer {
        krate: "hub-app",
        rule: "the use cases over hub-core's ports: never axum, hyper, sqlx, redis or an adapter",
        normal: &[(
            "hub-core",
            "use cases over ports; never axum/hyper/sqlx/redis or an adapter",
        )],
        dev: &[
            ("hub-core", "unit-test fakes of the ports"),
            ("hub-resilience", "the example that wires real adapters"),
            ("hub-upstream", "the example that wires real adapters"),
            ("hub-transactions", "the example that wires real adapters"),
            ("hub-store", "the example that wires real adapters"),
            ("hub-sim", "the example's upstreams, started in-process"),
        ],
    },
    Layer {
        krate: "hub-telemetry",
        rule: "logging and the metrics recorder for any binary: no hub crate, no HTTP framework, store or adapter",
        normal: &[],
        dev: &[],
    },
    Layer {
        krate: "hub-secrets",
        rule: "the sources behind hub-core's SecretSource port: hub-core only among hub crates",
        normal: &[(
            "hub-core",
            "the SecretSource port, SecretRef and SecretError it implements",
        )],
        dev: &[],
    },
    Layer {
        krate: "hub-config",
        rule: "the configuration file for any binary embedding the hub's crates: never axum, hyper, sqlx, redis, a store, hub-app or the server",
        normal: &[
            ("hub-core", "currencies and secret references are domain types"),
            ("hub-resilience", "`[adapters.*.resilience] jitter` is its Jitter"),
            (
                "hub-telemetry",
                "`[log]` is its LogConfig, and its filter check validates the level",
            ),
            (
                "hub-ticketing",
                "the Jira fields the hub sets and the Zendesk requester template, checked as the adapter uses them",
            ),
        ],
        dev: &[],
    },
    Layer {
        krate: "hub-sim",
        rule: "serves the upstreams' wire formats: no hub crate but hub-core, and only ever another crate's dev-dependency",
        normal: &[(
            "hub-core",
            "its exact Amount parser, shared rather than copied; the cost is that a parser bug is the same in the sim and the hub, so tests against the sim cannot find it",
        )],
        dev: &[],
    },
    Layer {
        krate: "hub-admin",
        rule: "the supervisor's page, a router the server mounts: hub-app and hub-core only, never the server, a store or an adapter",
        normal: &[
            (
                "hub-app",
                "the dead-letter use cases, sessions, the sign-in throttle and the callers it runs over",
            ),
            (
                "hub-core",
                "the dead-letter, audit and call-context types it shows and passes on",
            ),
        ],
        dev: &[],
    },
    Layer {
        krate: "hub-runtime",
        rule: "composes a hub_app::Hub from the configuration for any binary: every crate that builds a piece of the hub, never the server, the supervisor's page or an HTTP server framework",
        normal: &[
            ("hub-app", "the use cases it composes over the ports"),
            ("hub-config", "the configuration it composes from"),
            ("hub-core", "the ports the stores and adapters are held as"),
            ("hub-resilience", "each adapter's retry, breaker and read cache"),
            ("hub-store", "the stores the configuration names"),
            (
                "hub-telemetry",
                "the metrics recorder is set up before the first circuit gauge",
            ),
            ("hub-ticketing", "the configured ticketing adapter"),
            ("hub-transactions", "the transaction adapters"),
            (
                "hub-upstream",
                "the adapters' HTTP client, authentication and endpoints, and the alert webhook's client",
            ),
        ],
        dev: &[],
    },
    Layer {
        krate: "hub-server",
        rule: "the only crate that knows the hub's HTTP wire format: composes every hub crate; none depends on it but hub-tests",
        normal: &[
            (
                "hub-app",
                "a handler parses the request, calls one use case and maps its result",
            ),
            (
                "hub-config",
                "main loads the configuration and turns its [server] and [events] into the API's settings",
            ),
            ("hub-runtime", "main, the CLI and the wiring compose the hub through it"),
            (
                "hub-listener",
                "the API is served on its connections (timeouts, connection limit, drain)",
            ),
            (
                "hub-admin",
                "it mounts the supervisor's page beside the API, and reads its route table for 405 answers and metrics labels",
            ),
            ("hub-core", "the domain types the handlers parse into and answer from"),
            ("hub-telemetry", "main sets up logging and the metrics recorder"),
            ("hub-secrets", "main resolves the configuration's secret references"),
            (
                "hub-store",
                "the CLI's migrate and direct dlq commands open the stores; the wiring gives the page the shared sessions",
            ),
            (
                "hub-ticketing",
                "`probe jira-fields` compares Jira's create screen with the configured fields",
            ),
            (
                "hub-upstream",
                "the CLI's --url mode and the Jira probe call over its HTTP client; the wiring hands endpoints to tests",
            ),
        ],
        dev: &[
            ("hub-core", "mock ports (feature `mock`) in route tests"),
            ("hub-resilience", "the webhook tests watch a read cache's invalidation"),
            (
                "hub-sim",
                "its own tests check the webhooks and alerts against the sim's signing and the assembled hub against its secret: end-to-end checks that could live in hub-tests",
            ),
        ],
    },
    Layer {
        krate: "hub-listener",
        rule: "serves any axum router over TCP with timeouts and a drain: knows HTTP and nothing of the hub, so no hub crate",
        normal: &[],
        dev: &[],
    },
    Layer {
        krate: "hub-bench-bare",
        rule: "a benchmark contestant, not part of the hub: no hub crate",
        normal: &[],
        dev: &[],
    },
    Layer {
        krate: "hub-tests",
        rule: "the end-to-end tests: the composed hub against hub-sim; nothing depends on it",
        normal: &[
            (
                "hub-app",
                "write operations and their fingerprints, to plant the records an interrupted write leaves",
            ),
            (
                "hub-config",
                "the hub under test loads its configuration file as the binary does",
            ),
            ("hub-core", "domain types the tests build requests from"),
            (
                "hub-secrets",
                "the hub under test resolves its secrets from a fixed environment",
            ),
            (
                "hub-runtime",
                "the trace exporter the binary starts, pointed at the in-test collector",
            ),
            ("hub-server", "the hub under test, assembled as the binary assembles it"),
            ("hub-sim", "the upstreams, started in-process"),
            (
                "hub-telemetry",
                "the hubs' log lines, captured in the binary's own format for the redaction checks",
            ),
            ("hub-upstream", "the HTTP client the tests call upstreams with"),
        ],
        dev: &[],
    },
    Layer {
        krate: "xtask",
        rule: "automation only: runs the hub's binaries as processes and depends on no hub crate",
        normal: &[],
        dev: &[],
    },
];

/// The workspace as `cargo metadata` resolves it.
struct Workspace {
    /// The workspace members' names.
    members: BTreeSet<String>,
    /// Every package → its normal dependencies.
    normal: BTreeMap<String, BTreeSet<String>>,
    /// Every edge between two workspace members, once per kind.
    edges: BTreeSet<(String, String, Kind)>,
}

fn workspace() -> Workspace {
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
    let member_ids: BTreeSet<&str> = meta["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap())
        .collect();
    let mut ws = Workspace {
        members: member_ids.iter().map(|id| names[id].to_owned()).collect(),
        normal: BTreeMap::new(),
        edges: BTreeSet::new(),
    };
    for node in meta["resolve"]["nodes"].as_array().unwrap() {
        let from_id = node["id"].as_str().unwrap();
        let from = names[from_id].to_owned();
        let normal = ws.normal.entry(from.clone()).or_default();
        for dep in node["deps"].as_array().unwrap() {
            let to_id = dep["pkg"].as_str().unwrap();
            let to = names[to_id].to_owned();
            for kind in dep["dep_kinds"].as_array().unwrap() {
                let kind = match kind["kind"].as_str() {
                    None => Kind::Normal,
                    Some("dev") => Kind::Dev,
                    Some("build") => Kind::Build,
                    Some(other) => panic!("unknown dependency kind {other:?} of {from} → {to}"),
                };
                if kind == Kind::Normal {
                    normal.insert(to.clone());
                }
                if member_ids.contains(from_id) && member_ids.contains(to_id) {
                    ws.edges.insert((from.clone(), to.clone(), kind));
                }
            }
        }
    }
    ws
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

/// Every way `members` and `edges` break [`LAYERS`], one line each.
fn layering_problems(members: &BTreeSet<String>, edges: &BTreeSet<(String, String, Kind)>) -> Vec<String> {
    let layers: BTreeMap<&str, &Layer> = LAYERS.iter().map(|l| (l.krate, l)).collect();
    let mut problems: Vec<String> = members
        .iter()
        .filter(|m| !layers.contains_key(m.as_str()))
        .map(|m| {
            format!("workspace crate {m} has no entry in LAYERS (tests/all/architecture.rs): say what it may depend on")
        })
        .collect();
    for (from, to, kind) in edges {
        let Some(layer) = layers.get(from.as_str()) else {
            continue; // reported above
        };
        let allowed = match kind {
            Kind::Normal => layer.normal,
            Kind::Dev => layer.dev,
            Kind::Build => &[],
        };
        if allowed.iter().any(|(name, _)| name == to) {
            continue;
        }
        let mut line = format!(
            "{from} → {to} ({} dependency) is not allowed: {from}'s rule is \"{}\"; it may have as {} dependencies: ",
            kind.as_str(),
            layer.rule,
            kind.as_str()
        );
        if allowed.is_empty() {
            line.push_str("no workspace crate");
        }
        for (i, (name, why)) in allowed.iter().enumerate() {
            let sep = if i == 0 { "" } else { "; " };
            let _ = write!(line, "{sep}{name} ({why})");
        }
        problems.push(line);
    }
    problems
}

#[test]
fn every_edge_between_workspace_crates_is_allowed() {
    let ws = workspace();
    let problems = layering_problems(&ws.members, &ws.edges);
    assert!(
        problems.is_empty(),
        "the workspace breaks its layering:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_allow_list_names_only_crates_it_describes() {
    let described: BTreeSet<&str> = LAYERS.iter().map(|l| l.krate).collect();
    assert_eq!(described.len(), LAYERS.len(), "a crate has two entries in LAYERS");
    for layer in LAYERS {
        for (name, why) in layer.normal.iter().chain(layer.dev) {
            assert!(
                described.contains(name),
                "{} may depend on {name}, which LAYERS does not describe",
                layer.krate
            );
            assert!(!why.trim().is_empty(), "{} → {name} has no reason", layer.krate);
        }
    }
}

#[test]
fn the_allow_list_refuses_what_it_does_not_list() {
    let members: BTreeSet<String> = ["hub-core", "hub-ticketing", "hub-store", "hub-mystery"]
        .map(str::to_owned)
        .into();
    let edge = |from: &str, to: &str, kind| (from.to_owned(), to.to_owned(), kind);
    let edges = BTreeSet::from([
        edge("hub-ticketing", "hub-core", Kind::Normal),
        edge("hub-ticketing", "hub-store", Kind::Normal),
        edge("hub-ticketing", "hub-sim", Kind::Dev),
        edge("hub-store", "hub-core", Kind::Dev),
        edge("hub-core", "hub-store", Kind::Build),
    ]);
    let problems = layering_problems(&members, &edges);
    assert_eq!(problems.len(), 4, "{problems:#?}");
    assert!(problems[0].starts_with("workspace crate hub-mystery has no entry"));
    assert!(problems[1].starts_with("hub-core → hub-store (build dependency) is not allowed"));
    assert!(problems[2].starts_with("hub-store → hub-core (dev dependency) is not allowed"));
    assert!(problems[2].ends_with("no workspace crate"));
    assert!(problems[3].starts_with("hub-ticketing → hub-store (normal dependency) is not allowed"));
    assert!(problems[3].contains("never another adapter, a store or the server"));
}

/// Fails when `root`'s normal closure holds any of `forbidden`, saying why it must not.
fn assert_closure_excludes(ws: &Workspace, root: &str, forbidden: &[&str], why: &str) {
    let deps = closure(&ws.normal, root);
    let found: Vec<&str> = forbidden.iter().copied().filter(|f| deps.contains(*f)).collect();
    assert!(
        found.is_empty(),
        "{root} depends on {} (directly or through another crate): {why}",
        found.join(", ")
    );
}

#[test]
fn hub_core_does_no_io() {
    assert_closure_excludes(
        &workspace(),
        "hub-core",
        &[
            "hyper",
            "hyper-util",
            "reqwest",
            "sqlx",
            "redis",
            "tokio",
            "mio",
            "axum",
        ],
        "hub-core does no I/O",
    );
}

#[test]
fn hub_app_reaches_no_transport_store_or_adapter() {
    let ws = workspace();
    assert!(ws.members.contains("hub-app"), "hub-app is a workspace member");
    assert_closure_excludes(
        &ws,
        "hub-app",
        &[
            "axum",
            "hyper",
            "sqlx",
            "redis",
            "hub-store",
            "hub-ticketing",
            "hub-transactions",
            "hub-upstream",
            "hub-sim",
        ],
        "use cases see the outside world only through hub-core's ports",
    );
}

#[test]
fn hub_resilience_knows_no_protocol() {
    assert_closure_excludes(
        &workspace(),
        "hub-resilience",
        &["http", "httpdate", "hyper", "hyper-util", "h2", "reqwest", "axum"],
        "header parsing belongs to hub-upstream",
    );
}

#[test]
fn adapters_never_depend_on_each_other_or_the_server() {
    let ws = workspace();
    for (crate_name, forbidden) in [
        ("hub-ticketing", ["hub-transactions", "hub-server", "hub-store"]),
        ("hub-transactions", ["hub-ticketing", "hub-server", "hub-store"]),
        ("hub-resilience", ["hub-ticketing", "hub-transactions", "hub-server"]),
        ("hub-store", ["hub-ticketing", "hub-transactions", "hub-server"]),
    ] {
        assert_closure_excludes(
            &ws,
            crate_name,
            &forbidden,
            "adapters never depend on each other, on the stores or on the server",
        );
    }
}

#[test]
fn only_the_server_knows_the_hub_wire_format() {
    let ws = workspace();
    for name in &ws.members {
        // hub-admin serves the supervisor's HTML page, never the API's JSON; hub-listener
        // serves whatever router it is given and names no hub type.
        if !["hub-server", "hub-admin", "hub-listener", "hub-tests", "hub-sim"].contains(&name.as_str()) {
            assert!(
                !ws.normal[name].contains("axum"),
                "{name} depends on axum: only hub-server serves the hub's API"
            );
        }
    }
}

#[test]
fn the_composition_serves_nothing_and_the_page_composes_nothing() {
    let ws = workspace();
    assert_closure_excludes(
        &ws,
        "hub-runtime",
        &["axum", "hub-server", "hub-admin"],
        "hub-runtime composes the hub for any binary; serving it is the server's",
    );
    assert_closure_excludes(
        &ws,
        "hub-admin",
        &[
            "hub-server",
            "hub-runtime",
            "hub-store",
            "hub-ticketing",
            "hub-transactions",
            "hub-upstream",
            "sqlx",
            "redis",
        ],
        "the supervisor's page runs over hub-app; the server composes what it is given",
    );
}

#[test]
fn telemetry_knows_no_http_framework_store_or_adapter() {
    assert_closure_excludes(
        &workspace(),
        "hub-telemetry",
        &[
            "axum",
            "hyper",
            "sqlx",
            "redis",
            "hub-server",
            "hub-store",
            "hub-upstream",
            "hub-ticketing",
            "hub-transactions",
        ],
        "observability is set up the same by any binary embedding the hub's crates",
    );
}

#[test]
fn the_configuration_reaches_no_server_store_or_use_case() {
    let ws = workspace();
    assert!(ws.members.contains("hub-config"), "hub-config is a workspace member");
    assert_closure_excludes(
        &ws,
        "hub-config",
        &["axum", "sqlx", "redis", "hub-server", "hub-store", "hub-app"],
        "any binary embedding the hub's crates loads the configuration without the server, the stores or the use cases",
    );
    assert!(
        !ws.normal["hub-config"].contains("hyper"),
        "hub-config depends on hyper: reading a file needs no HTTP stack"
    );
}
