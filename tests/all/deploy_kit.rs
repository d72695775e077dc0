//! The operating kit in `deploy/`: the Prometheus alert rules pass promtool's checks and
//! unit tests, every metric they and the Grafana dashboard name is one a real hub serves
//! on `/metrics`, and the example deployments pass `hub-server check-config`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use hub_sim::{FaultKind, FaultRule, System};
use hub_tests::{Hub, Options, READ_TOKEN, WRITE_TOKEN};

/// Series Prometheus makes itself rather than scraping them from the hub.
const SYNTHETIC: &[&str] = &["up"];

fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// Every `expr` of the Grafana dashboard's panels (rows included) and of its variables'
/// queries, with Grafana's `$__rate_interval`-style variables left in (they sit inside
/// `[…]` and `{…}`, which `series_names` skips).
fn dashboard_exprs(dashboard: &serde_json::Value) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("expr" | "definition", serde_json::Value::String(e)) => out.push(e.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(dashboard, &mut out);
    // `label_values(metric{…}, label)`: the metric is the series.
    out.iter()
        .map(|e| match e.strip_prefix("label_values(") {
            Some(rest) => rest.split([',', '{']).next().unwrap_or_default().to_owned(),
            None => e.clone(),
        })
        .collect()
}

#[test]
fn the_dashboard_is_json_with_a_datasource_variable_and_queries() {
    let text = std::fs::read_to_string(deploy_dir().join("grafana/integration-hub.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    assert!(
        variables
            .iter()
            .any(|v| v["type"] == "datasource" && v["name"] == "datasource"),
        "no datasource variable"
    );
    let exprs = dashboard_exprs(&dashboard);
    assert!(exprs.len() >= 15, "{exprs:?}");
    let names: BTreeSet<String> = exprs.iter().flat_map(|e| series_names(e)).collect();
    assert!(
        names.contains("integration_dlq_pending") && names.contains("http_server_requests_total"),
        "{names:?}"
    );
    // Every panel query goes through the datasource variable.
    for panel in dashboard["panels"].as_array().unwrap() {
        if panel["type"] != "row" {
            assert_eq!(panel["datasource"]["uid"], "${datasource}", "{}", panel["title"]);
        }
    }
}

fn prometheus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/prometheus")
}

/// Runs promtool with `args` and fails with its output unless it succeeds.
///
/// promtool must be there: `cargo xtask test` installs it (Debian's `prometheus`) and sets
/// `HUB_PROMTOOL`; without it this panics saying how to install it, never skips.
fn promtool(args: &[&str]) {
    let promtool = hub_tests::promtool_bin();
    let out = Command::new(&promtool)
        .args(args)
        .current_dir(prometheus_dir())
        .output()
        .unwrap_or_else(|e| hub_tests::promtool_missing(&promtool, &e));
    assert!(
        out.status.success(),
        "promtool {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_alert_rules_pass_promtool_check_and_their_unit_tests() {
    promtool(&["check", "rules", "hub-alerts.yml"]);
    promtool(&["test", "rules", "hub-alerts.test.yml"]);
}

/// The `expr:` values of a rules file, inline or as a folded/literal block.
fn exprs(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let Some(rest) = trimmed.strip_prefix("expr:") else {
            continue;
        };
        let rest = rest.trim();
        if !rest.is_empty() && !rest.starts_with('|') && !rest.starts_with('>') {
            found.push(rest.trim_matches(|c| c == '\'' || c == '"').to_owned());
            continue;
        }
        let indent = line.len() - trimmed.len();
        let block: Vec<&str> = lines[i + 1..]
            .iter()
            .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
            .map(|l| l.trim())
            .collect();
        found.push(block.join(" "));
    }
    found
}

/// Words of PromQL that are not series names when not followed by `(`.
const KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
];

/// PromQL's aggregation operators, which may be followed by `by (…)` rather than `(`.
const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
];

/// The series names a PromQL expression selects: identifiers outside label matchers,
/// ranges and strings that are neither functions, aggregations nor keywords (a
/// series named like an aggregation operator is not supported).
fn series_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    // Skips from an opening delimiter at `i` to just past its closing one, over strings.
    let skip_group = |mut i: usize, close: char| -> usize {
        let mut quote = None;
        while i < chars.len() {
            let c = chars[i];
            match quote {
                Some(_) if c == '\\' => i += 1,
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == '"' || c == '\'' || c == '`' => quote = Some(c),
                None if c == close => return i + 1,
                None => {}
            }
            i += 1;
        }
        i
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '{' {
            i = skip_group(i + 1, '}');
        } else if c == '[' {
            i = skip_group(i + 1, ']');
        } else if c == '"' || c == '\'' || c == '`' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.' || chars[i] == '_') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            let called = chars.get(next) == Some(&'(');
            if KEYWORDS.contains(&word.as_str()) {
                if called {
                    // `by (adapter)`: label names, not series.
                    i = skip_group(next + 1, ')');
                }
            } else if !called && !AGGREGATIONS.contains(&word.as_str()) {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

#[test]
fn series_names_are_read_out_of_promql() {
    let expr = "sum by (job, adapter) (rate(a_total{status!~\"x|y\", route=\"/r{1}\"}[5m])) \
                / on (job) group_left sum without (instance) (b_total offset 5m) > 0.1 and c == 1e3";
    let got: Vec<String> = series_names(expr).into_iter().collect();
    assert_eq!(got, ["a_total", "b_total", "c"]);
    assert_eq!(
        series_names("max by (job) (delta(d_pending[1h])) >= 10")
            .into_iter()
            .collect::<Vec<_>>(),
        ["d_pending"]
    );
}

#[test]
fn exprs_are_read_inline_and_as_blocks() {
    let yaml = "rules:\n  - alert: A\n    expr: up == 0\n    for: 1m\n  - alert: B\n    expr: >-\n      \
                sum(x)\n      / sum(y)\n    for: 2m\n";
    assert_eq!(exprs(yaml), ["up == 0", "sum(x) / sum(y)"]);
}

/// The sample names of a Prometheus text exposition.
fn exposed(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

/// A real hub, driven so that every metric the rules and the dashboard use has been
/// recorded at least once (one retried read gives `integration_retries_total`, a repeated
/// idempotency key `integration_idempotent_replays_total`; the dead-letter gauge is set by
/// a background task as the hub starts), must expose every series they name.
/// Checking against `METRICS`' help texts would not do: the exporter only renders a
/// metric once it has a sample, so a name there can still be absent from `/metrics`.
#[tokio::test]
async fn every_metric_the_alert_rules_and_the_dashboard_use_is_on_a_real_hubs_metrics() {
    let rules = std::fs::read_to_string(prometheus_dir().join("hub-alerts.yml")).unwrap();
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(deploy_dir().join("grafana/integration-hub.json")).unwrap())
            .unwrap();
    let wanted: BTreeSet<String> = exprs(&rules)
        .into_iter()
        .chain(dashboard_exprs(&dashboard))
        .flat_map(|e| series_names(&e))
        .filter(|n| !SYNTHETIC.contains(&n.as_str()))
        .collect();
    assert!(
        wanted.contains("integration_requests_total") && wanted.contains("integration_dlq_pending"),
        "the rules' metrics were not read out of them: {wanted:?}"
    );

    let hub = Hub::start(Options::default()).await;
    hub.sim
        .control()
        .add_fault(
            FaultRule::new(FaultKind::Error)
                .system(System::Status)
                .status(503)
                .times(1),
        )
        .unwrap();
    assert_eq!(hub.get("/v1/transactions/TXN-5001", READ_TOKEN).await.status, 200);
    assert_eq!(hub.get("/readyz", READ_TOKEN).await.status, 200);
    let key = [("idempotency-key", "deploy-kit-metrics-1")];
    let ticket = serde_json::json!({"customer_id": "CUST-1001", "subject": "metrics", "description": "d"});
    assert_eq!(
        hub.post("/v1/tickets", WRITE_TOKEN, ticket.clone(), &key).await.status,
        201
    );
    assert_eq!(hub.post("/v1/tickets", WRITE_TOKEN, ticket, &key).await.status, 201);

    // The dead-letter gauge comes from a task of its own (at start, then every 5 s): give
    // it the turns it needs, up to two of its periods on a loaded machine.
    let mut text = String::new();
    for _ in 0..400 {
        let metrics = hub.send(http::Method::GET, "/metrics", None, None, &[]).await;
        text = String::from_utf8_lossy(&metrics.body).into_owned();
        if wanted.is_subset(&exposed(&text)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let seen = exposed(&text);
    let missing: Vec<&String> = wanted.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "named in hub-alerts.yml or the dashboard, absent from /metrics: {missing:?}\n{text}"
    );
    // HubNotReady selects the readiness route by its label.
    assert!(
        text.lines()
            .any(|l| l.starts_with("http_server_requests_total{") && l.contains("route=\"/readyz\"")),
        "no http_server_requests_total sample for route=\"/readyz\":\n{text}"
    );
    hub.stop().await;
}

/// The `hub-server` binary of this build: next to the test binary's `deps/` directory,
/// where `cargo test --workspace` puts it; built first when only this package was built.
fn hub_server_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap().to_path_buf();
    let bin = profile_dir.join(format!("hub-server{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args(["build", "-p", "hub-server", "--bin", "hub-server"])
            .status()
            .unwrap();
        assert!(status.success(), "building hub-server for check-config failed");
    }
    assert!(bin.exists(), "no hub-server binary at {}", bin.display());
    bin
}

/// The example deployments in `deploy/examples/` are complete files the real binary accepts.
#[test]
fn the_example_deployments_pass_check_config() {
    let bin = hub_server_bin();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples");
    for (name, dialect) in [("zendesk.toml", "ticketing=zendesk"), ("jira.toml", "ticketing=jira")] {
        let out = Command::new(&bin)
            .args(["check-config", "--config"])
            .arg(dir.join(name))
            .env_remove("HUB__SERVER__LISTEN")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(dialect),
            "check-config {name}: {}\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
