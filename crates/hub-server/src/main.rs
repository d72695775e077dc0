//! The `hub-server` binary: the Integration Hub's command line.
#![allow(clippy::print_stderr, clippy::print_stdout)] // A command line talks to its terminal.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Integration Hub: one resilient path from a support platform to the systems it depends on.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// The configuration file.
    #[arg(long, global = true, default_value = "hub.toml", env = "HUB_CONFIG")]
    config: PathBuf,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the hub's HTTP API (the default).
    Serve,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            // The HTTP API is being built (issue #7); say so rather than pretend to serve.
            eprintln!(
                "hub-server: serving is not available in this build yet (config: {})",
                cli.config.display()
            );
            ExitCode::from(2)
        }
    }
}
