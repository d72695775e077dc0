//! The `hub-server` binary: serve the hub's API, check a configuration file, migrate the
//! store, and review the dead-letter queue.
#![allow(clippy::print_stderr, clippy::print_stdout)] // A command line talks to its terminal.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};
use hub_config::Loaded;
use hub_runtime::traces;
use hub_secrets::Secrets;
use hub_server::wiring;

mod cli;

/// The process's allocator (docs/decisions.md: "The server's allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Integration Hub: one resilient path from a support platform to the systems it depends on.
///
/// Each subcommand has its own `--help`, with examples.
#[derive(Debug, Parser)]
#[command(version, after_help = cli::help::TOP)]
struct Cli {
    /// The configuration file (see config/hub.example.toml); HUB__SECTION__KEY variables override it.
    #[arg(long, global = true, default_value = "hub.toml", env = "HUB_CONFIG")]
    config: PathBuf,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the hub's HTTP API (the default).
    #[command(after_help = cli::help::SERVE)]
    Serve,
    /// Validate the configuration and say precisely what is wrong (file, key, reason).
    #[command(after_help = cli::help::CHECK_CONFIG)]
    CheckConfig {
        /// Also resolve every credential reference (values are never printed).
        #[arg(long)]
        resolve_secrets: bool,
    },
    /// Create the database if needed and apply the versioned migrations of `[store]`.
    ///
    /// Exit codes: 0 migrated; 1 configuration error; 2 the store could not be opened.
    #[command(after_help = cli::help::MIGRATE)]
    Migrate,
    /// Review, replay and discard dead-lettered writes (through a running hub or the store).
    ///
    /// Two modes. With `--url` (e.g. `--url http://127.0.0.1:8080`) the command talks to a
    /// running hub's `/v1/dlq` API with the admin token read from the environment variable
    /// named by `--token-env` (default `HUB_ADMIN_TOKEN`; a token is never taken on the
    /// command line). Without `--url` it works directly against the store of `--config`:
    /// `list`, `show` and `discard` open only the store; `replay` assembles the hub from the
    /// configuration (adapters and credentials included) and runs the write once, as the
    /// API's replay does.
    ///
    /// Exit codes: 0 success; 1 usage or configuration error (also an invalid id, or a token
    /// the hub refuses); 2 runtime failure (store, network, the hub, or a replay that failed
    /// again); 3 no such entry; 4 conflict: the entry is not pending, or is being replayed.
    #[command(after_help = cli::help::DLQ)]
    Dlq(cli::DlqArgs),
    /// Ask an upstream whether the configuration fits it (reads only; not audited).
    #[command(subcommand, after_help = cli::help::PROBE)]
    Probe(Probe),
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell).
    #[command(after_help = cli::help::COMPLETIONS)]
    Completions {
        /// The shell to complete in.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), generated from the same definitions as `--help`.
    #[command(after_help = cli::help::MAN)]
    Man {
        /// Write `hub-server.1` and a page per subcommand into this directory instead.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum Probe {
    /// Read the Jira project's create screen for the configured issue type
    /// (`GET /rest/api/3/issue/createmeta/{project}/issuetypes/{issueTypeId}`) and say which
    /// fields a create would send that the screen lacks (Jira refuses every such create),
    /// and which required fields without a default it does not send.
    ///
    /// Exit codes: 0 the configuration fits the screen; 1 it does not, or the configuration
    /// is invalid (not the jira dialect, unknown issue type, missing credentials); 2 Jira
    /// could not be read.
    #[command(after_help = cli::help::JIRA_FIELDS)]
    JiraFields,
}

fn load(cli: &Cli) -> Result<Loaded, ExitCode> {
    hub_config::load(&cli.config, std::env::vars()).map_err(|errors| {
        for e in &errors.0 {
            eprintln!("error: {e}");
        }
        eprintln!("{}: {} problem(s) found", cli.config.display(), errors.0.len());
        ExitCode::from(1)
    })
}

/// Says what in the configuration's environment is wrong; exit status 1.
fn config_error(cli: &Cli, e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {}: {e}", cli.config.display());
    ExitCode::from(1)
}

async fn check_config(cli: &Cli, resolve_secrets: bool) -> ExitCode {
    let loaded = match load(cli) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let c = &loaded.config;
    if c.auth.tokens.is_empty() {
        eprintln!(
            "warning: {}: auth.tokens: no tokens; every /v1 route will answer 401",
            cli.config.display()
        );
    }
    if resolve_secrets {
        let secrets = match Secrets::from_process_env() {
            Ok(s) => s,
            Err(e) => return config_error(cli, &e),
        };
        let failures = hub_runtime::check_secrets(c, &secrets).await;
        for f in &failures {
            eprintln!("error: {}: {f}", cli.config.display());
        }
        if !failures.is_empty() {
            return ExitCode::from(1);
        }
    }
    let adapters: Vec<String> = c
        .adapters
        .iter()
        .iter()
        .map(|(name, a)| format!("{name}={}", a.dialect.as_str()))
        .collect();
    println!(
        "{}: ok (listen {}, {} token(s), adapters {}{})",
        cli.config.display(),
        c.server.listen,
        c.auth.tokens.len(),
        adapters.join(" "),
        if loaded.overridden.is_empty() {
            String::new()
        } else {
            format!(", overridden by the environment: {}", loaded.overridden.join(" "))
        }
    );
    ExitCode::SUCCESS
}

async fn probe_jira_fields(cli: &Cli) -> ExitCode {
    use hub_runtime::probe;
    let loaded = match load(cli) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let secrets = match Secrets::from_process_env() {
        Ok(s) => s,
        Err(e) => return config_error(cli, &e),
    };
    match probe::jira_fields(&loaded.config, Arc::new(secrets)).await {
        Ok(report) => {
            print!("{report}");
            ExitCode::from(u8::from(!report.findings.is_ok()))
        }
        Err(e) => {
            eprintln!("error: {}: {e}", cli.config.display());
            ExitCode::from(if e.is_configuration() { 1 } else { 2 })
        }
    }
}

async fn serve(loaded: Loaded, secrets: Secrets, traces: Option<traces::Tracing>) -> anyhow::Result<()> {
    let c = &loaded.config;
    let hub = wiring::assemble(c, loaded.store_section(), Arc::new(secrets))
        .await
        .context("assembling the hub")?;
    if hub.state.auth.is_empty() {
        tracing::warn!("no auth tokens configured: every /v1 route answers 401");
    }
    let listener = tokio::net::TcpListener::bind(c.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", c.server.listen))?;
    tracing::info!(listen = %c.server.listen, config = %loaded.file.display(), "serving");
    let stopped = hub_server::shutdown::serve_with(
        listener,
        hub.state.clone(),
        hub_server::shutdown::signal(),
        hub_server::settings::serve_settings(&c.server),
    )
    .await;
    hub.shutdown().await;
    traces::flush(traces, std::time::Duration::from_secs(c.server.shutdown_grace_s)).await;
    tracing::info!(?stopped, "stopped");
    stopped?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version print to stdout and succeed; a usage error exits 1, not clap's 2,
            // so that 2 always means a runtime failure.
            let code = u8::from(e.use_stderr());
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match &cli.command {
        Some(Command::Migrate) => cli::migrate(&cli.config).await,
        Some(Command::Dlq(args)) => cli::run_dlq(&cli.config, args).await,
        Some(Command::CheckConfig { resolve_secrets }) => check_config(&cli, *resolve_secrets).await,
        Some(Command::Probe(Probe::JiraFields)) => probe_jira_fields(&cli).await,
        Some(Command::Completions { shell }) => cli::completions(Cli::command(), *shell),
        Some(Command::Man { out_dir }) => cli::man(Cli::command(), out_dir.as_deref()),
        None | Some(Command::Serve) => {
            let loaded = match load(&cli) {
                Ok(l) => l,
                Err(code) => return code,
            };
            let (traces, secrets) = match (traces::start(&loaded.config.telemetry), Secrets::from_process_env()) {
                (Ok(traces), Ok(secrets)) => (traces, secrets),
                (Err(e), _) => return config_error(&cli, &e),
                (_, Err(e)) => return config_error(&cli, &e),
            };
            // Held to the end: dropping it flushes the queued log lines.
            let _logs = hub_telemetry::logging::init_with_traces(&loaded.config.log, traces.as_ref());
            match serve(loaded, secrets, traces).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "hub-server failed");
                    eprintln!("error: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command and subcommand, with its path (`hub-server dlq list`).
    fn every_command(cmd: &clap::Command, path: &str, out: &mut Vec<(String, clap::Command)>) {
        out.push((path.to_owned(), cmd.clone()));
        for sub in cmd.get_subcommands() {
            every_command(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    /// An example's words: `NAME=value` settings before the command dropped, quotes removed.
    fn words(line: &str) -> Vec<String> {
        let mut words = Vec::new();
        let (mut word, mut quoted) = (String::new(), false);
        for c in line.chars() {
            match c {
                '"' => quoted = !quoted,
                ' ' if !quoted => words.extend((!word.is_empty()).then(|| std::mem::take(&mut word))),
                _ => word.push(c),
            }
        }
        words.extend((!word.is_empty()).then_some(word));
        let settings = words
            .iter()
            .take_while(|w| w.contains('=') && !w.starts_with('-'))
            .count();
        words.split_off(settings)
    }

    #[test]
    fn every_command_has_examples_that_parse() {
        let mut commands = Vec::new();
        every_command(&Cli::command(), "hub-server", &mut commands);
        assert!(commands.len() >= 12, "{} commands", commands.len());
        for (path, cmd) in commands {
            let help = cmd.get_after_help().map(ToString::to_string).unwrap_or_default();
            let examples: Vec<&str> = help
                .lines()
                .skip_while(|l| *l != "Examples:")
                .skip(1)
                .take_while(|l| l.starts_with("  "))
                .collect();
            assert!(!examples.is_empty(), "`{path} --help` shows no examples:\n{help}");
            for example in examples {
                // What a shell does after the command (pipes, redirections) is not its arguments.
                let command = example.split(['|', '>', '&']).next().unwrap_or_default();
                let args = words(command);
                assert!(
                    args.first().is_some_and(|a| a == "hub-server"),
                    "`{path}`: the example does not run hub-server: {example}"
                );
                if let Err(e) = Cli::try_parse_from(&args) {
                    panic!("`{path}`: the example {example:?} does not parse:\n{e}");
                }
                let mut rest = args.iter();
                assert!(
                    path.split(' ').all(|name| rest.any(|a| a == name)),
                    "`{path}` shows an example of another command: {example}"
                );
            }
        }
    }

    #[test]
    fn example_words() {
        assert_eq!(
            words(r#"A=1 B=x hub-server dlq discard id --reason "dup of T-42""#),
            ["hub-server", "dlq", "discard", "id", "--reason", "dup of T-42"]
        );
    }
}
