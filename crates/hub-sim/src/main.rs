//! The `hub-sim` binary: serves the simulated systems until interrupted.

// A command-line program talks on stdout (the bound address) and stderr (usage errors).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use hub_sim::{Credentials, Settings, Sim, SimConfig};

/// Simulated external systems for Integration Hub: ticketing (generic, Zendesk, Jira),
/// transaction status, sales, Vault and a notification sink, with faults on demand.
#[derive(Debug, Parser)]
#[command(name = "hub-sim", version)]
struct Args {
    /// Address to listen on; port 0 picks a free port. The first line printed is the bound URL.
    #[arg(long, default_value = "127.0.0.1:8900", env = "HUB_SIM_LISTEN")]
    listen: SocketAddr,
    /// Seed of the fault dice, for reproducible fault sequences.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// `expires_in` of issued OAuth2 tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    token_ttl_s: u64,
    /// How long a sales draft stays committable, in seconds.
    #[arg(long, default_value_t = 900)]
    draft_ttl_s: u64,
    /// A JSON file of the credentials the systems accept (`hub_sim::Credentials` field
    /// names; those left out keep their published defaults), e.g. to run with canary values.
    #[arg(long, value_name = "FILE")]
    credentials: Option<std::path::PathBuf>,
    /// Base URL written into answers (`url`, `self`, `Location`) when clients come through a proxy.
    #[arg(long)]
    public_url: Option<String>,
    /// Log requests and faults to stderr (-v: info, -vv: debug).
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.verbose > 0 {
        let level = if args.verbose > 1 { "debug" } else { "info" };
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_env_filter(tracing_subscriber::EnvFilter::new(format!("hub_sim={level}")))
            .init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hub-sim: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let credentials = match &args.credentials {
        None => Credentials::default(),
        Some(path) => match read_credentials(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("hub-sim: --credentials {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        },
    };
    let config = SimConfig {
        credentials,
        listen: args.listen,
        seed: args.seed,
        settings: Settings {
            token_ttl_s: args.token_ttl_s.max(1),
            draft_ttl_s: args.draft_ttl_s,
            ..Settings::default()
        },
        public_url: args.public_url,
        ..SimConfig::default()
    };
    let sim = match Sim::start(config).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("hub-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", sim.base_url());
    let _ = std::io::stdout().flush();
    wait_for_signal().await;
    sim.shutdown().await;
    ExitCode::SUCCESS
}

fn read_credentials(path: &std::path::Path) -> Result<Credentials, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    // The error names the field and position, never a value.
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
