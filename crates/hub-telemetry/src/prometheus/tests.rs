use std::path::{Path, PathBuf};

use super::METRICS;

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The metric names `text` records through `metrics::counter!`, `gauge!` and `histogram!`
/// (not `describe_*!`); a call whose name is not a string literal is an error, since this
/// test could not see it.
fn recorded(text: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for mac in ["counter!(", "gauge!(", "histogram!("] {
        for (at, _) in text.match_indices(mac) {
            if text[..at].ends_with("describe_") {
                continue;
            }
            let rest = text[at + mac.len()..].trim_start();
            let name = rest
                .strip_prefix('"')
                .and_then(|r| r.split_once('"'))
                .map(|(name, _)| name.to_owned())
                .ok_or_else(|| format!("{mac} without a literal name: {}", &rest[..rest.len().min(60)]))?;
            names.push(name);
        }
    }
    Ok(names)
}

#[test]
fn the_scanner_finds_names_and_refuses_what_it_cannot_read() {
    let text = r#"metrics::counter!("a_total", "x" => y).increment(1); metrics::describe_gauge!("b", "help");
        metrics::histogram!(
            "c_seconds").record(1.0);"#;
    assert_eq!(recorded(text).unwrap(), ["a_total", "c_seconds"]);
    assert!(recorded("metrics::gauge!(NAME).set(1.0)").is_err());
}

#[test]
fn every_metric_recorded_anywhere_in_the_workspace_has_help() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for krate in std::fs::read_dir(&crates).unwrap() {
        let src = krate.unwrap().path().join("src");
        if src.is_dir() {
            sources(&src, &mut files);
        }
    }
    assert!(
        files.len() > 50,
        "found only {} source files under {}",
        files.len(),
        crates.display()
    );
    let mut missing = Vec::new();
    let mut seen = 0;
    // This file's samples are not the hub's metrics.
    for file in files
        .iter()
        .filter(|f| !f.ends_with("hub-telemetry/src/prometheus/tests.rs"))
    {
        let text = std::fs::read_to_string(file).unwrap();
        for name in recorded(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display())) {
            seen += 1;
            if !METRICS.iter().any(|(known, help)| *known == name && !help.is_empty()) {
                missing.push(format!("{name} ({})", file.display()));
            }
        }
    }
    assert!(seen > 10, "found only {seen} metrics");
    assert!(
        missing.is_empty(),
        "metrics without a # HELP text in prometheus::METRICS: {missing:?}"
    );
}
