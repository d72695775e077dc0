//! `cargo xtask demo`: builds hub-sim and the hub, starts them, and walks a scripted tour
//! of the hub's API and its behaviour under failure, checking every answer.
//!
//! One hub process per ticketing dialect (a hub speaks one), all over one hub-sim; the
//! generic hub also carries the transaction, outage and recovery steps. Every process
//! writes its output into the run directory under `target/demo/`, and every process is
//! stopped at the end, on failure and on Ctrl-C.

mod tour;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::harness::http::Client;
use crate::harness::{
    Binaries, Harness, HubProc, HubSpec, INTERRUPTED, Tokens, run_dir, secrets_env, watch_interrupts,
};

const USAGE: &str = "\
usage: cargo xtask demo [--serve] [--quick]

Builds hub-sim and hub-server, starts the sim and three hubs (one per ticketing
dialect) on free ports, and walks a scripted tour of the API: tickets, transactions,
drafts, a signed webhook, an outage and the recovery from it, then the metrics.
Exits 0 when every step behaved as expected, 1 naming the step that did not.

  --serve   keep the sim and the hubs running afterwards (until Ctrl-C), printing
            their URLs and tokens to try with curl
  --quick   shorter waits: 20 ms backoff, a 1 s circuit and status TTL
            (through HUB__… environment overrides)
";

/// The options.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Options {
    serve: bool,
    quick: bool,
}

/// `cargo xtask demo [--serve] [--quick]`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut options = Options::default();
    for a in args {
        match a.as_str() {
            "--serve" => options.serve = true,
            "--quick" => options.quick = true,
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown option {other:?}\n\n{USAGE}"),
        }
    }
    watch_interrupts()?;

    let started = Instant::now();
    println!("== Integration Hub demo ==");
    let bins = Binaries::dev()?;
    let built = started.elapsed();
    let run_dir = run_dir::fresh("demo", "run-", 4)?;
    println!("run directory: {}", run_dir.display());

    let mut harness = Harness::new(&bins, &run_dir)?;
    let mut outcome = start_and_tour(&mut harness, options);
    if outcome.is_err() && INTERRUPTED.load(Ordering::SeqCst) {
        // Ctrl-C reaches the sim and the hubs too, so what failed first may be a call to one.
        outcome = Err(anyhow::anyhow!("interrupted"));
    }
    match &outcome {
        Ok(()) => println!(
            "\nbuild {:.0} s, demo {:.1} s; logs in {}",
            built.as_secs_f64(),
            (started.elapsed() - built).as_secs_f64(),
            run_dir.display()
        ),
        Err(_) => {
            println!("\nthe processes' logs:");
            for (name, log) in harness.logs() {
                println!("  {name:<12} {}", log.display());
            }
        }
    }
    println!("stopping the sim and the hubs …");
    harness.stop_all();
    outcome
}

fn start_and_tour(harness: &mut Harness, options: Options) -> Result<()> {
    println!("\nstarting hub-sim …");
    let sim = harness.start_sim(&[])?;
    println!("  hub-sim listens on {sim}");

    let tokens = Tokens::fresh("demo");
    let mut env = secrets_env(&tokens);
    if options.quick {
        env.extend(quick_overrides());
    }

    let mut hubs = Vec::new();
    for dialect in ["generic", "zendesk", "jira"] {
        let name = format!("hub-{dialect}");
        let hub = harness.start_hub(HubSpec {
            name: &name,
            dialect,
            dir: harness.dir.join(dialect),
            env: env.clone(),
            edits: &[],
        })?;
        println!("starting {name:<12} on {}  (config {})", hub.url, hub.config.display());
        hubs.push(hub);
    }
    if options.quick {
        println!(
            "  --quick: environment overrides HUB__ADAPTERS__*__RESILIENCE__BACKOFF_INITIAL_MS=20, \
             …BACKOFF_MAX_MS=80, …BREAKER_OPEN_S=1, HUB__ADAPTERS__TRANSACTION_STATUS__CACHE__STATUS_TTL_S=1"
        );
    }

    harness.wait_ready(&hubs.iter().collect::<Vec<_>>())?;

    tour::Tour::new(Client::new(), sim.clone(), &hubs, &tokens, options.quick, harness).run()?;

    if options.serve {
        serve(harness, &sim, &hubs, &tokens)?;
    }
    Ok(())
}

/// `--quick`: shorter backoff, circuit and status TTL, as environment overrides.
fn quick_overrides() -> Vec<(String, String)> {
    let mut env = vec![(
        "HUB__ADAPTERS__TRANSACTION_STATUS__CACHE__STATUS_TTL_S".to_owned(),
        "1".to_owned(),
    )];
    for adapter in ["TICKETING", "TRANSACTION_STATUS", "TRANSACTION_CREATE"] {
        for (key, value) in [
            ("BACKOFF_INITIAL_MS", "20"),
            ("BACKOFF_MAX_MS", "80"),
            ("BREAKER_OPEN_S", "1"),
        ] {
            env.push((format!("HUB__ADAPTERS__{adapter}__RESILIENCE__{key}"), value.to_owned()));
        }
    }
    env
}

/// `--serve`: prints where everything is and waits for Ctrl-C.
fn serve(harness: &mut Harness, sim: &str, hubs: &[HubProc], tokens: &Tokens) -> Result<()> {
    println!("\n== serving until Ctrl-C ==");
    println!("  hub-sim       {sim}   (GET {sim}/_sim/info: URLs, credentials, seeded ids)");
    for hub in hubs {
        println!(
            "  hub-{:<9} {}   (config {})",
            hub.dialect,
            hub.url,
            hub.config.display()
        );
    }
    println!(
        "  tokens        read {}\n                write {}\n                admin {}",
        tokens.read, tokens.write, tokens.admin
    );
    let generic = hubs.first().map_or("http://127.0.0.1:8080", |h| h.url.as_str());
    println!("\ntry:");
    println!(
        "  curl -si -H 'Authorization: Bearer {}' {generic}/v1/tickets/TCK-1001",
        tokens.read
    );
    println!(
        "  curl -si -H 'Authorization: Bearer {}' {generic}/v1/transactions/TXN-5001",
        tokens.read
    );
    println!(
        "  curl -s  -H 'Authorization: Bearer {}' {generic}/v1/dlq",
        tokens.admin
    );
    println!("  curl -s  {generic}/metrics | grep ^integration_");
    loop {
        if INTERRUPTED.load(Ordering::SeqCst) {
            println!("\nCtrl-C: stopping");
            return Ok(());
        }
        harness.check_alive()?;
        std::thread::sleep(Duration::from_millis(200));
    }
}
