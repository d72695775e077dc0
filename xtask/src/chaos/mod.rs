//! `cargo xtask chaos [--quick]`: the hub under faults, crashes, two instances and hostile
//! callers, each scenario checking its invariants against hub-sim's ledger and printing
//! its figures (issue #11).
//!
//! Every scenario is a function `run(quick) -> Result<()>`: `Ok` when all its invariants
//! held, an error naming the first that broke. All scenarios run, one after the other,
//! even when one fails; the command exits non-zero naming every failed scenario.

use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::demo::INTERRUPTED;

const USAGE: &str = "\
usage: cargo xtask chaos [--quick]

Builds hub-sim and hub-server and runs the chaos scenarios of issue #11 against them,
each printing its figures and checking its invariants:

  --quick   the CI size: fewer requests and shorter fault windows (a few minutes)
";

/// One scenario: its name and what runs it.
type Scenario = (&'static str, fn(bool) -> Result<()>);

/// The scenarios, in the order they run.
fn scenarios() -> Vec<Scenario> {
    vec![]
}

/// `cargo xtask chaos [--quick]`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut quick = false;
    for a in args {
        match a.as_str() {
            "--quick" => quick = true,
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown option {other:?}\n\n{USAGE}"),
        }
    }
    ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst)).context("installing the Ctrl-C handler")?;
    println!(
        "== Integration Hub chaos ({}) ==",
        if quick { "--quick" } else { "full" }
    );
    let mut results = Vec::new();
    for (name, scenario) in scenarios() {
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
