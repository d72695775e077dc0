//! Workspace automation: the CI gate, the test suite and the services it needs, and the demo.
#![allow(clippy::print_stdout, clippy::print_stderr)] // A command line talks to its terminal.

mod bench;
mod chaos;
mod demo;
mod harness;
mod kit;
mod services;

use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci        what CI runs (.ci/run): cargo fmt --check, clippy (-D warnings), `test`,
            every criterion benchmark once as a test, `kit`, `demo`, then `chaos --quick`
  test      the whole test suite; starts PostgreSQL and Redis first when they do
            not answer, and installs Chromium and chromedriver for the browser
            test (Debian packages, when missing)
  kit       the crates on their own: build every example and run those that need only
            hub-sim or SQLite, build the README's path-dependency project
            (examples/consumer), `cargo package` the published crates, `cargo hack check
            --each-feature`, `cargo doc` with -D warnings, `cargo deny check licenses bans
            sources` (installs cargo-hack and cargo-deny when missing)
  services  only make sure PostgreSQL and Redis answer
  demo      build and start hub-sim and the hub, then walk a scripted tour of it
            (--serve: keep them running afterwards; --quick: shorter waits)
  chaos     hub-sim and hubs under faults, a crash and two instances, checking the
            invariants against the sim's ledger (--quick: the CI size)
  bench     release builds of hub-sim and the hub against nginx and a bare hyper server
            on loopback, measured with wrk, plus the hub's own figures (cold reads,
            token expiry, open circuit, memory, commits); a table of every figure
            against its target (--quick: 3 s per measurement)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("test") => test(&args[1..]),
        Some("kit") => kit::run_kit(),
        Some("services") => services::ensure().map(|_| ()),
        Some("demo") => demo::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("chaos") => chaos::run(&args[1..]),
        Some("help" | "-h" | "--help") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => {
            eprint!("unknown command {other:?}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a command from the workspace root, echoing it, and fails when it fails.
pub(crate) fn run(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result<()> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("could not start {program}"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

fn workspace_root() -> std::path::PathBuf {
    let manifest_dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or(manifest_dir)
}

fn ci() -> Result<()> {
    run("cargo", &["fmt", "--all", "--check"], &[])?;
    run(
        "cargo",
        &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"],
        &[],
    )?;
    test(&[])?;
    run("cargo", &["test", "--workspace", "--bench", "*", "--", "--test"], &[])?;
    kit::run_kit()?;
    demo::run(&[])?;
    chaos::run(&["--quick".to_owned()])
}

fn test(extra: &[String]) -> Result<()> {
    let mut env = services::ensure()?;
    env.extend(services::browser()?);
    env.extend(services::promtool()?);
    services::sqlite3()?;
    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut args = vec!["test", "--workspace", "--no-fail-fast"];
    args.extend(extra.iter().map(String::as_str));
    run("cargo", &args, &envs)
}
