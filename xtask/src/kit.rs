//! `cargo xtask kit`: what makes the crates usable on their own — examples built and run,
//! the published crates packaged, every feature checked alone, docs without warnings,
//! licences, bans and sources checked, and the README's path-dependency project built.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{run, workspace_root};

/// The crates published to a registry, in dependency order (docs/decisions.md).
pub(crate) const PUBLISHED: &[&str] = &[
    "hub-core",
    "hub-resilience",
    "hub-secrets",
    "hub-telemetry",
    "hub-config",
    "hub-upstream",
    "hub-store",
    "hub-ticketing",
    "hub-transactions",
    "hub-app",
];

/// Examples that need nothing beyond hub-sim (started in-process) and SQLite:
/// `(package, example, features)`.
const RUNNABLE_EXAMPLES: &[(&str, &str, &str)] = &[
    ("hub-resilience", "resilient_call", ""),
    ("hub-resilience", "tower_layers", "tower"),
    ("hub-upstream", "oauth2_hmac_call", "test-util"),
    ("hub-store", "audit_and_dlq", ""),
    ("hub-ticketing", "create_tickets", ""),
];

/// Cargo subcommands the kit needs, installed with `cargo install --locked` when missing.
const TOOLS: &[(&str, &str)] = &[("cargo-hack", "hack"), ("cargo-deny", "deny")];

pub(crate) fn run_kit() -> Result<()> {
    let started = Instant::now();
    for (krate, subcommand) in TOOLS {
        ensure_tool(krate, subcommand)?;
    }
    // Examples behind a feature (`required-features`) are built by the run below.
    step("examples built", || {
        run("cargo", &["build", "--workspace", "--examples"], &[])
    })?;
    step("examples run", || {
        for (package, example, features) in RUNNABLE_EXAMPLES {
            let mut args = vec!["run", "-q", "-p", package, "--example", example];
            if !features.is_empty() {
                args.extend(["--features", features]);
            }
            run("cargo", &args, &[])?;
        }
        Ok(())
    })?;
    step("README project with path dependencies", || {
        run(
            "cargo",
            &["run", "-q", "--manifest-path", "examples/consumer/Cargo.toml"],
            &[],
        )
    })?;
    step("published crates packaged", || {
        let mut args = vec!["package", "--no-verify", "--allow-dirty"];
        for krate in PUBLISHED {
            args.extend(["-p", krate]);
        }
        run("cargo", &args, &[])
    })?;
    step("each feature alone", || {
        run(
            "cargo",
            &["hack", "check", "--each-feature", "--no-dev-deps", "--workspace"],
            &[],
        )
    })?;
    step("docs without warnings", || {
        run(
            "cargo",
            &["doc", "--workspace", "--no-deps"],
            &[("RUSTDOCFLAGS", "-D warnings")],
        )
    })?;
    step("licences, bans and sources", || {
        run("cargo", &["deny", "check", "licenses", "bans", "sources"], &[])
    })?;
    eprintln!("xtask kit: passed in {} s", started.elapsed().as_secs());
    Ok(())
}

/// Runs one step, saying how long it took.
fn step(name: &str, body: impl FnOnce() -> Result<()>) -> Result<()> {
    let started = Instant::now();
    body().with_context(|| format!("xtask kit: {name}"))?;
    eprintln!("xtask kit: {name}: {} s", started.elapsed().as_secs());
    Ok(())
}

/// Installs `cargo <subcommand>` from crates.io when it does not run; never skips.
fn ensure_tool(krate: &str, subcommand: &str) -> Result<()> {
    let present = Command::new("cargo")
        .args([subcommand, "--version"])
        .current_dir(workspace_root())
        .output()
        .is_ok_and(|o| o.status.success());
    if present {
        return Ok(());
    }
    eprintln!("xtask: cargo {subcommand} is missing; installing {krate}");
    run("cargo", &["install", "--locked", krate], &[])?;
    let works = Command::new("cargo")
        .args([subcommand, "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !works {
        bail!("`cargo install --locked {krate}` finished but `cargo {subcommand}` does not run");
    }
    Ok(())
}
