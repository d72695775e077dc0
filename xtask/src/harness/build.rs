//! `cargo build` of the binaries a run starts, with cargo's progress on the terminal.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};

use crate::workspace_root;

/// hub-sim's and hub-server's executables.
#[derive(Debug, Clone)]
pub(crate) struct Binaries {
    pub(crate) sim: PathBuf,
    pub(crate) hub: PathBuf,
}

impl Binaries {
    /// `cargo build -p hub-sim -p hub-server` (dev profile), once per run of `cargo xtask`
    /// (`ci` runs the demo and then chaos on the same build).
    pub(crate) fn dev() -> Result<Self> {
        static BUILT: OnceLock<Binaries> = OnceLock::new();
        if let Some(b) = BUILT.get() {
            return Ok(b.clone());
        }
        let [sim, hub] = executables(["hub-sim", "hub-server"], false)?;
        Ok(BUILT.get_or_init(|| Self { sim, hub }).clone())
    }
}

/// `cargo build` of `packages` (each with a binary of its own name), cargo's progress on
/// the terminal; the binaries' paths, in the order of `packages`.
pub(crate) fn executables<const N: usize>(packages: [&str; N], release: bool) -> Result<[PathBuf; N]> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut args = vec!["build"];
    for p in packages {
        args.extend(["-p", p]);
    }
    args.push("--message-format=json-render-diagnostics");
    if release {
        args.push("--release");
    }
    println!(
        "\nbuilding {} ({} profile) …",
        packages.join(", "),
        if release { "release" } else { "dev" }
    );
    eprintln!("$ cargo {}", args.join(" "));
    let mut child = Command::new(&cargo)
        .args(&args)
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting cargo")?;
    let stdout = child.stdout.take().context("cargo's stdout")?;
    let mut found: [Option<PathBuf>; N] = std::array::from_fn(|_| None);
    for line in BufReader::new(stdout).lines() {
        let msg: serde_json::Value = serde_json::from_str(&line?).unwrap_or_default();
        let Some(exe) = msg["executable"]
            .as_str()
            .filter(|_| msg["reason"] == "compiler-artifact")
        else {
            continue;
        };
        let name = msg["target"]["name"].as_str();
        if let Some(i) = packages.iter().position(|p| Some(*p) == name) {
            found[i] = Some(PathBuf::from(exe));
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    let mut exes: [PathBuf; N] = std::array::from_fn(|_| PathBuf::new());
    for (i, exe) in found.into_iter().enumerate() {
        exes[i] = exe.with_context(|| format!("cargo built no {} executable", packages[i]))?;
    }
    Ok(exes)
}
