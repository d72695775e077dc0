//! `cargo xtask demo`: builds hub-sim and the hub, starts them, and walks a scripted tour
//! of the hub's API and its behaviour under failure, checking every answer.
//!
//! One hub process per ticketing dialect (a hub speaks one), all over one hub-sim; the
//! generic hub also carries the transaction, outage and recovery steps. Every process
//! writes its output into the run directory under `target/demo/`, and every process is
//! stopped at the end, on failure and on Ctrl-C.

pub(crate) mod http;
pub(crate) mod procs;
mod tour;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use self::http::Client;
use self::procs::{Procs, free_port};
use crate::workspace_root;

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

/// The template every hub's configuration is made from.
pub(crate) const TEMPLATE: &str = "config/demo.toml";
/// The address the template names for the sim; replaced by the sim's real one.
const TEMPLATE_SIM: &str = "http://127.0.0.1:8900";
/// The template's `[adapters.ticketing]` lines that the zendesk and jira hubs replace.
const GENERIC_TICKETING: &str = "dialect = \"generic\"
base_url = \"http://127.0.0.1:8900/generic\"
credentials = { api_key = \"env:DEMO_GENERIC_API_KEY\" }
";

pub(crate) static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Sets [`INTERRUPTED`] on Ctrl-C; installed once per process, so commands that run
/// others (`ci` runs the demo, then chaos) may each ask for it.
pub(crate) fn watch_interrupts() -> Result<()> {
    static INSTALLED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    INSTALLED
        .get_or_init(|| ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst)).map_err(|e| e.to_string()))
        .clone()
        .map_err(|e| anyhow::anyhow!("installing the Ctrl-C handler: {e}"))
}

/// Fails when Ctrl-C (SIGINT) or SIGTERM arrived.
pub(crate) fn interrupted() -> Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted");
    }
    Ok(())
}

/// Sleeps, waking early to fail when interrupted.
pub(crate) fn pause(d: Duration) -> Result<()> {
    let until = Instant::now() + d;
    while Instant::now() < until {
        interrupted()?;
        std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
    }
    interrupted()
}

/// The options.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Options {
    serve: bool,
    quick: bool,
}

/// One running hub.
#[derive(Debug, Clone)]
pub(crate) struct Hub {
    /// `generic`, `zendesk` or `jira`.
    pub(crate) dialect: &'static str,
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    /// Its configuration file.
    pub(crate) config: PathBuf,
}

/// The demo's bearer tokens, fresh each run.
#[derive(Debug, Clone)]
pub(crate) struct Tokens {
    pub(crate) read: String,
    pub(crate) write: String,
    pub(crate) admin: String,
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
    let (sim_bin, hub_bin) = build_bins()?;
    let built = started.elapsed();
    let run_dir = crate::run_dir::fresh("demo", "run-", 4)?;
    println!("run directory: {}", run_dir.display());

    let mut procs = Procs::default();
    let mut outcome = start_and_tour(&mut procs, &sim_bin, &hub_bin, &run_dir, options);
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
            for (name, log) in procs.logs() {
                println!("  {name:<12} {}", log.display());
            }
        }
    }
    println!("stopping the sim and the hubs …");
    procs.stop_all();
    outcome
}

fn start_and_tour(procs: &mut Procs, sim_bin: &Path, hub_bin: &Path, run_dir: &Path, options: Options) -> Result<()> {
    println!("\nstarting hub-sim …");
    let sim = procs.start_sim(sim_bin, &run_dir.join("sim.log"))?;
    println!("  hub-sim listens on {sim}");

    let template_path = workspace_root().join(TEMPLATE);
    let template =
        std::fs::read_to_string(&template_path).with_context(|| format!("reading {}", template_path.display()))?;
    let tokens = Tokens {
        read: format!("demo-read-{}", random_hex()),
        write: format!("demo-write-{}", random_hex()),
        admin: format!("demo-admin-{}", random_hex()),
    };
    let mut env = secrets_env(&tokens);
    if options.quick {
        env.extend(quick_overrides());
    }

    let mut hubs = Vec::new();
    for dialect in ["generic", "zendesk", "jira"] {
        let dir = run_dir.join(dialect);
        std::fs::create_dir_all(&dir)?;
        let config = dir.join("hub.toml");
        std::fs::write(&config, hub_config(&template, dialect, &sim)?)?;
        let taken: Vec<u16> = hubs
            .iter()
            .filter_map(|h: &Hub| h.url.rsplit(':').next()?.parse().ok())
            .collect();
        let port = free_port(&taken)?;
        let url = format!("http://127.0.0.1:{port}");
        let mut hub_env = env.clone();
        hub_env.push(("HUB__SERVER__LISTEN".to_owned(), format!("127.0.0.1:{port}")));
        let name = format!("hub-{dialect}");
        procs.start_hub(&name, hub_bin, &config, &hub_env, &dir.join("hub.log"))?;
        println!("starting {name:<12} on {url}  (config {})", config.display());
        hubs.push(Hub { dialect, url, config });
    }
    if options.quick {
        println!(
            "  --quick: environment overrides HUB__ADAPTERS__*__RESILIENCE__BACKOFF_INITIAL_MS=20, \
             …BACKOFF_MAX_MS=80, …BREAKER_OPEN_S=1, HUB__ADAPTERS__TRANSACTION_STATUS__CACHE__STATUS_TTL_S=1"
        );
    }

    let client = Client::new();
    wait_ready(procs, &client, &hubs)?;

    tour::Tour::new(client, sim.clone(), &hubs, &tokens, options.quick, procs).run()?;

    if options.serve {
        serve(procs, &sim, &hubs, &tokens)?;
    }
    Ok(())
}

/// `cargo build -p hub-sim -p hub-server` (dev profile), its progress on the terminal;
/// the binaries' paths. The chaos scenarios start the same processes.
pub(crate) fn build_bins() -> Result<(PathBuf, PathBuf)> {
    let [sim, hub] = build_executables(["hub-sim", "hub-server"], false)?;
    Ok((sim, hub))
}

/// `cargo build` of `packages` (each with a binary of its own name), cargo's progress on
/// the terminal; the binaries' paths, in the order of `packages`.
pub(crate) fn build_executables<const N: usize>(packages: [&str; N], release: bool) -> Result<[PathBuf; N]> {
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

/// The configuration of the hub for `dialect`: the template with the sim's address and,
/// for zendesk and jira, their `[adapters.ticketing]` lines.
pub(crate) fn hub_config(template: &str, dialect: &str, sim: &str) -> Result<String> {
    if template.matches(GENERIC_TICKETING).count() != 1 {
        bail!(
            "{TEMPLATE}: the [adapters.ticketing] lines the demo replaces per dialect are not there exactly once:\n{GENERIC_TICKETING}"
        );
    }
    let ticketing = match dialect {
        "generic" => GENERIC_TICKETING.to_owned(),
        "zendesk" => "dialect = \"zendesk\"
base_url = \"http://127.0.0.1:8900/zendesk\"
credentials = { email = \"env:DEMO_AGENT_EMAIL\", api_token = \"env:DEMO_ZENDESK_API_TOKEN\" }
"
        .to_owned(),
        "jira" => "dialect = \"jira\"
base_url = \"http://127.0.0.1:8900/jira\"
credentials = { email = \"env:DEMO_AGENT_EMAIL\", api_token = \"env:DEMO_JIRA_API_TOKEN\" }
jira = { project_key = \"SUP\", service_management = true }
"
        .to_owned(),
        other => bail!("unknown dialect {other}"),
    };
    let mut out = format!("# Written by `cargo xtask demo` from {TEMPLATE}: the {dialect} hub, hub-sim at {sim}.\n");
    for line in template.replace(GENERIC_TICKETING, &ticketing).lines() {
        if line.trim_start().starts_with('#') {
            out.push_str(line);
        } else {
            out.push_str(&line.replace(TEMPLATE_SIM, sim));
        }
        out.push('\n');
    }
    Ok(out)
}

/// The variables the configuration's `env:` references resolve to: the run's tokens and
/// the credentials hub-sim accepts (`hub_sim::Credentials::default()`).
pub(crate) fn secrets_env(tokens: &Tokens) -> Vec<(String, String)> {
    [
        ("DEMO_READ_TOKEN", tokens.read.as_str()),
        ("DEMO_WRITE_TOKEN", tokens.write.as_str()),
        ("DEMO_ADMIN_TOKEN", tokens.admin.as_str()),
        ("DEMO_GENERIC_API_KEY", "sim-generic-key"),
        ("DEMO_AGENT_EMAIL", "agent@example.com"),
        ("DEMO_ZENDESK_API_TOKEN", "sim-zendesk-token"),
        ("DEMO_JIRA_API_TOKEN", "sim-jira-token"),
        ("DEMO_STATUS_CLIENT_ID", "hub-status"),
        ("DEMO_STATUS_CLIENT_SECRET", "sim-status-secret"),
        ("DEMO_SALES_CLIENT_ID", "hub-sales"),
        ("DEMO_SALES_CLIENT_SECRET", "sim-sales-secret"),
        ("DEMO_SALES_HMAC_SECRET", "sim-sales-hmac-secret"),
        // hub_sim::DEFAULT_WEBHOOK_SECRET: the sim signs webhooks with it, the hub signs alerts.
        (
            "DEMO_WEBHOOK_SECRET",
            "whsec_aHViLXNpbSB3ZWJob29rIHNpZ25pbmcga2V5LCAzMmI=",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
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

/// Polls every hub's `/readyz` until it answers 200, printing progress; 60 s at most.
pub(crate) fn wait_ready(procs: &mut Procs, client: &Client, hubs: &[Hub]) -> Result<()> {
    println!("waiting for every hub's /readyz …");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(60);
    let mut last_note = started;
    let mut pending: Vec<&Hub> = hubs.iter().collect();
    while !pending.is_empty() {
        interrupted()?;
        procs.check_alive()?;
        let mut still = Vec::new();
        for hub in pending {
            match client.get(&format!("{}/readyz", hub.url), None) {
                Ok(r) if r.status == 200 => {
                    let json = r.json();
                    println!(
                        "  ✓ hub-{:<8} ready after {:.1} s  stores {}  adapters {}",
                        hub.dialect,
                        started.elapsed().as_secs_f64(),
                        json["stores"],
                        json["adapters"]
                    );
                }
                _ => still.push(hub),
            }
        }
        pending = still;
        if pending.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "not ready within 60 s: {}",
                pending
                    .iter()
                    .map(|h| format!("hub-{}", h.dialect))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if last_note.elapsed() >= Duration::from_secs(2) {
            last_note = Instant::now();
            println!(
                "  … still waiting ({:.0} s): {}",
                started.elapsed().as_secs_f64(),
                pending
                    .iter()
                    .map(|h| format!("hub-{}", h.dialect))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        pause(Duration::from_millis(100))?;
    }
    Ok(())
}

/// `--serve`: prints where everything is and waits for Ctrl-C.
fn serve(procs: &mut Procs, sim: &str, hubs: &[Hub], tokens: &Tokens) -> Result<()> {
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
        procs.check_alive()?;
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// 16 hex digits from the standard library's randomly seeded hasher.
pub(crate) fn random_hex() -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}
