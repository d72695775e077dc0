//! `cargo xtask chaos [--quick]`: the hub under faults, crashes, two instances, hostile
//! callers and failing stores, each scenario checking its invariants against hub-sim's
//! ledger and printing its figures.
//!
//! Every scenario is a function `run(quick) -> Result<()>`: `Ok` when all its invariants
//! held, an error naming the first that broke. All scenarios run, one after the other,
//! even when one fails; the command exits non-zero naming every failed scenario.

pub(crate) mod access;
mod crash;
mod db_proxy;
mod events;
mod held_lock;
pub(crate) mod hostile;
mod load;
mod pair;
mod rate_budget;
mod rig;
mod secrets;
mod store_faults;
mod under_load;

use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::harness::INTERRUPTED;

const USAGE: &str = "\
usage: cargo xtask chaos [--quick] [--only N]

Builds hub-sim and hub-server and runs the chaos scenarios against them,
each printing its figures and checking its invariants:

  --quick   the CI size: fewer requests and shorter fault windows (a few minutes)
  --only N  run only the scenarios whose name starts with N (e.g. 3)
";

/// One scenario: its name and what runs it.
type Scenario = (&'static str, fn(bool) -> Result<()>);

/// The scenarios, in the order they run.
fn scenarios() -> Vec<Scenario> {
    vec![
        ("1 chaos under load (+5 secrets)", under_load::run),
        ("2 crash (+5 secrets)", crash::run),
        ("3 two instances (+5 secrets)", pair::run),
        ("4 hostile input", hostile::run),
        ("6 access", access::run),
        ("7 store faults (+5 secrets)", store_faults::run),
        ("8 shared rate budget", rate_budget::run),
    ]
}

/// `cargo xtask chaos [--quick]`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut quick = false;
    let mut only: Option<String> = None;
    let mut args = args.iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--only" => only = Some(args.next().context("--only needs a scenario number")?.clone()),
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown option {other:?}\n\n{USAGE}"),
        }
    }
    crate::harness::watch_interrupts()?;
    println!(
        "== Integration Hub chaos ({}) ==",
        if quick { "--quick" } else { "full" }
    );
    let mut results = Vec::new();
    let chosen = scenarios()
        .into_iter()
        .filter(|(name, _)| only.as_deref().is_none_or(|o| name.starts_with(o)));
    for (name, scenario) in chosen {
        if INTERRUPTED.load(Ordering::SeqCst) {
            bail!("interrupted");
        }
        println!("\n=== scenario: {name} ===");
        let started = Instant::now();
        let outcome = scenario(quick);
        let secs = started.elapsed().as_secs_f64();
        match &outcome {
            Ok(()) => println!("✓ {name}: every invariant held ({secs:.1} s)"),
            Err(e) => println!("✗ {name}: {e:#} ({secs:.1} s)"),
        }
        results.push((name, outcome.is_ok(), secs));
    }
    println!("\n== chaos summary ==");
    for (name, ok, secs) in &results {
        println!("  {} {name:<28} {secs:>7.1} s", if *ok { "✓" } else { "✗" });
    }
    let failed: Vec<&str> = results.iter().filter(|r| !r.1).map(|r| r.0).collect();
    if !failed.is_empty() {
        bail!("chaos: an invariant broke in {}", failed.join(", "));
    }
    Ok(())
}
