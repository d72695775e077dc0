//! `cargo xtask bench [--quick]`: the hub against nginx and a bare hyper server on
//! loopback, in the same run.
//!
//! Builds hub-sim, hub-server and hub-bench-bare in release, installs `wrk`, `h2load`
//! and `nginx-light` from Debian when missing, starts hub-sim, the hub (the demo's
//! configuration), one nginx (a caching reverse proxy to the sim, and a non-caching one),
//! and the bare server (the hub's body from memory: the machine's ceiling), measures each
//! with wrk (HTTP/1.1) and the cached read with h2load (HTTP/2), counts the allocations
//! of a cached hit (hub-server's allocations benchmark), then the hub's own figures
//! (cold-read coalescing, token refresh across an expiry, pass-through latency, the open
//! circuit, memory per cached entry, idempotent commits on SQLite and PostgreSQL), and
//! prints absolute figures and the ratios measured in this run. Results go to
//! `target/bench/results-<unix time>.json`. Nothing here asserts a time.

mod burst;
mod h2load;
mod otlp_sink;
mod wrk;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use ureq::http::Method;

use self::h2load::{H2Figures, STREAMS};
use self::wrk::{CONNECTIONS, Figures, THREADS};
use crate::harness::http::{self, Client};
use crate::harness::{
    Binaries, Harness, HubProc, HubSpec, INTERRUPTED, Schema, TEMPLATE, Tokens, build, config, cpu_seconds,
    interrupted, pause, random_hex, rss_bytes, run_dir, secrets_env, watch_interrupts,
};
use crate::services;

const USAGE: &str = "\
usage: cargo xtask bench [--quick]

Builds hub-sim, hub-server and hub-bench-bare in release, installs wrk, h2load
(nghttp2-client) and nginx-light from Debian when missing, starts hub-sim, the hub
(config/demo.toml, generic dialect), nginx (a caching reverse proxy to the sim with the
hub's status TTL, and a non-caching one) and the bare hyper server (the hub's body from
memory), then measures each with wrk, the cached read over HTTP/2 with h2load, the
allocations per cached hit (cargo bench -p hub-server --bench allocations),
the cached read with tracing on (10 % and 100 % sampled, to a loopback OTLP sink) as
ratios to a hub with tracing off, in rounds, and the hub's circuit-open, cold-read,
token-expiry, pass-through and memory figures, and prints a table with the ratios of
this run.
Results: target/bench/results-<unix time>.json.

  --quick   3 s per measurement instead of 10 s (warm-ups 1 s instead of 3 s)
";

/// The transaction every contestant serves.
const TXN: &str = "TXN-5001";
/// A transaction no contestant reads before the cold-read burst.
const COLD_TXN: &str = "TXN-5002";
/// A transaction only the circuit-open measurement reads.
const CIRCUIT_TXN: &str = "TXN-5003";
/// How long the hub's circuit stays open in the bench (an environment override), so that
/// no half-open probe falls inside the fail-fast measurement.
const BENCH_BREAKER_OPEN_S: u64 = 120;
/// Concurrent requests of the cold-read and token-expiry bursts.
const BURST: usize = 1000;
/// Latency the sim adds to the cold read, so that the whole burst arrives while the one
/// upstream call is out.
const COLD_LATENCY_MS: u64 = 1000;
/// The sim's token lifetime for the token-expiry burst.
const SHORT_TOKEN_S: u64 = 3;
/// Entries the memory figure fills the hub's cache with.
const MEMORY_ENTRIES: u64 = 100_000;
/// Idempotent commits per store (`--quick`: fewer).
const COMMITS: usize = 1000;
const COMMITS_QUICK: usize = 300;
/// Commits in flight at once.
const COMMIT_LANES: usize = 16;
/// Rounds of the traced-read comparison (each measures every hub once).
const TRACED_ROUNDS: usize = 5;

/// `cargo xtask bench [--quick]`.
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
    watch_interrupts()?;
    let started = Instant::now();
    println!(
        "== Integration Hub benchmarks{} ==",
        if quick { " (--quick)" } else { "" }
    );
    ensure_tools()?;
    let [sim, hub, bare] = build::executables(["hub-sim", "hub-server", "hub-bench-bare"], true)?;
    let dir = run_dir::target_dir().join("bench");
    println!("working directory: {}", dir.display());

    let mut harness = Harness::new(&Binaries { sim, hub }, &dir)?;
    let outcome = Bench::start(&mut harness, &bare, quick).and_then(|mut b| b.measure());
    if outcome.is_err() {
        println!("\nthe processes' logs:");
        for (name, log) in harness.logs() {
            println!("  {name:<16} {}", log.display());
        }
    }
    println!("stopping the sim, the hubs, nginx and the bare server …");
    harness.stop_all();
    if outcome.is_ok() {
        println!("bench took {:.0} s in all", started.elapsed().as_secs_f64());
    }
    outcome
}

/// Installs wrk, h2load (nghttp2-client) and nginx-light from Debian when missing, saying so.
fn ensure_tools() -> Result<()> {
    let mut missing = Vec::new();
    if services::which("wrk").is_none() {
        missing.push("wrk");
    }
    if services::which("h2load").is_none() {
        missing.push("nghttp2-client");
    }
    if services::which("nginx").is_none() && !Path::new("/usr/sbin/nginx").exists() {
        missing.push("nginx-light");
    }
    if missing.is_empty() {
        return Ok(());
    }
    println!("wrk, h2load or nginx missing: installing {missing:?} from Debian");
    services::apt_install(&missing)?;
    // Debian's package starts nginx on port 80 where a service manager runs; the bench
    // needs none of it and runs its own.
    Ok(())
}

fn nginx_bin() -> PathBuf {
    services::which("nginx").unwrap_or_else(|| PathBuf::from("/usr/sbin/nginx"))
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn port_of(url: &str) -> Result<u16> {
    url.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .with_context(|| format!("the port of {url}"))
}

/// One run: the processes, their addresses and the figures so far.
struct Bench<'a> {
    harness: &'a mut Harness,
    /// hub-bench-bare's executable.
    bare_bin: &'a Path,
    dir: PathBuf,
    client: Client,
    sim: String,
    tokens: Tokens,
    /// The cached hub (the demo's configuration).
    hub: String,
    /// The cached hub's process id.
    hub_pid: u32,
    nginx: String,
    bare: String,
    /// The status system's token, for nginx and the direct calls.
    status_token: String,
    warm: u64,
    measure: u64,
    quick: bool,
    results: serde_json::Map<String, Value>,
    table: Vec<Row>,
    /// hub, nginx, bare: the cached read.
    cached: Option<[Figures; 3]>,
    /// hub, nginx, bare: the cached read over HTTP/2.
    cached_h2: Option<[H2Figures; 3]>,
    /// nginx's HTTP/2 (cleartext, prior knowledge) listener.
    nginx_h2: String,
}

/// One line of the final table of figures against targets.
struct Row {
    figure: String,
    measured: String,
    target: String,
    met: Option<bool>,
}

impl<'a> Bench<'a> {
    /// Starts the sim, the cached hub, nginx and the bare server.
    fn start(harness: &'a mut Harness, bare_bin: &'a Path, quick: bool) -> Result<Self> {
        println!("\nstarting hub-sim (release) …");
        let sim = harness.start_sim(&[])?;
        println!("  hub-sim listens on {sim}");
        let (warm, measure) = if quick { (1, 3) } else { (3, 10) };
        let mut b = Self {
            dir: harness.dir.clone(),
            harness,
            bare_bin,
            client: Client::new(),
            sim,
            tokens: Tokens::fresh("bench"),
            hub: String::new(),
            hub_pid: 0,
            nginx: String::new(),
            bare: String::new(),
            status_token: String::new(),
            warm,
            measure,
            quick,
            results: serde_json::Map::new(),
            table: Vec::new(),
            cached: None,
            cached_h2: None,
            nginx_h2: String::new(),
        };
        let hub = b.start_hub("hub", &[])?;
        b.hub_pid = b.harness.pid(&hub)?;
        b.hub = hub.url;
        let first = b
            .client
            .get(&format!("{}/v1/transactions/{TXN}", b.hub), Some(&b.tokens.read))?;
        if first.status != 200 {
            bail!("the hub's first read of {TXN}: {}", first.summary());
        }
        b.status_token = status_token(&b.sim)?;
        b.start_nginx()?;
        b.start_bare(&first.body)?;
        Ok(b)
    }

    /// Starts a hub named `name` on the demo's configuration (its own directory and
    /// SQLite file) with the bench's overrides plus `extra`; returns it once ready.
    fn start_hub(&mut self, name: &str, extra: &[(String, String)]) -> Result<HubProc> {
        let dir = self.dir.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        let mut env = secrets_env(&self.tokens);
        env.push((
            "HUB__ADAPTERS__TRANSACTION_STATUS__RESILIENCE__BREAKER_OPEN_S".to_owned(),
            BENCH_BREAKER_OPEN_S.to_string(),
        ));
        env.extend(extra.iter().cloned());
        let hub = self.harness.start_hub(HubSpec {
            name,
            dialect: "generic",
            dir,
            env,
            edits: &[],
        })?;
        println!(
            "starting {name} (release) on {}  (config {}{})",
            hub.url,
            hub.config.display(),
            if extra.is_empty() {
                String::new()
            } else {
                format!(
                    ", {}",
                    extra
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            }
        );
        self.harness.wait_ready(&[&hub])?;
        Ok(hub)
    }

    fn start_nginx(&mut self) -> Result<()> {
        let template = config::template()?;
        let status_ttl_s = ttl_of(&template)?;
        let nginx_dir = self.dir.join("nginx");
        let _ = std::fs::remove_dir_all(&nginx_dir);
        for sub in ["cache", "tmp"] {
            std::fs::create_dir_all(nginx_dir.join(sub))?;
        }
        let port = self.harness.free_port()?;
        let h2_port = self.harness.free_port()?;
        let nginx_conf = nginx_dir.join("nginx.conf");
        std::fs::write(
            &nginx_conf,
            nginx_config(
                &nginx_dir,
                [port, h2_port],
                port_of(&self.sim)?,
                &self.status_token,
                status_ttl_s,
            ),
        )?;
        let mut cmd = Command::new(nginx_bin());
        cmd.arg("-p")
            .arg(&nginx_dir)
            .arg("-c")
            .arg(&nginx_conf)
            .arg("-e")
            .arg(nginx_dir.join("error.log"));
        self.harness.start_other("nginx", cmd, &nginx_dir.join("nginx.out"))?;
        self.nginx = format!("http://127.0.0.1:{port}");
        self.nginx_h2 = format!("http://127.0.0.1:{h2_port}");
        println!("starting nginx on {}  (config {})", self.nginx, nginx_conf.display());
        self.harness.wait_200(&format!("{}/transactions/{TXN}", self.nginx))?;
        let via = self.client.get(&format!("{}/transactions/{TXN}", self.nginx), None)?;
        println!(
            "  nginx → sim: HTTP {} Cache-Status {}",
            via.status,
            via.header("cache-status").unwrap_or("-")
        );
        Ok(())
    }

    /// The bare hyper server, answering the hub's body for the read.
    fn start_bare(&mut self, body: &str) -> Result<()> {
        let body_file = self.dir.join("bare-body.json");
        std::fs::write(&body_file, body)?;
        let port = self.harness.free_port()?;
        let mut cmd = Command::new(self.bare_bin);
        cmd.arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--body-file")
            .arg(&body_file);
        self.harness.start_other("bare", cmd, &self.dir.join("bare.log"))?;
        self.bare = format!("http://127.0.0.1:{port}");
        println!(
            "starting the bare hyper server on {}  ({} bytes of body)",
            self.bare,
            body.len()
        );
        self.harness.wait_200(&format!("{}/v1/transactions/{TXN}", self.bare))
    }

    /// A warm-up run, then the measured one.
    fn wrk(&mut self, name: &str, url: &str, header: Option<&str>) -> Result<Figures> {
        self.warm_up(url, header)?;
        let f = wrk::run(url, header, self.measure, &self.dir)?;
        println!("{}", f.line(name));
        Ok(f)
    }

    /// [`Bench::wrk`], and the CPU time per request (µs) the process `pid` spent in the
    /// measured run.
    fn wrk_cpu(&mut self, name: &str, url: &str, header: Option<&str>, pid: u32) -> Result<(Figures, f64)> {
        self.warm_up(url, header)?;
        let before = cpu_seconds(pid)?;
        let f = wrk::run(url, header, self.measure, &self.dir)?;
        let per_request_us = (cpu_seconds(pid)? - before) * 1e6 / (f.rps * self.measure as f64).max(1.0);
        println!("{}  CPU {per_request_us:.1} µs/request", f.line(name));
        Ok((f, per_request_us))
    }

    /// The warm-up run before a measured wrk run.
    fn warm_up(&mut self, url: &str, header: Option<&str>) -> Result<()> {
        interrupted()?;
        self.harness.check_alive()?;
        wrk::run(url, header, self.warm, &self.dir)?;
        interrupted()
    }

    /// A warm-up run, then the measured one, over HTTP/2 (h2load).
    fn h2load(&mut self, name: &str, url: &str, header: Option<&str>) -> Result<H2Figures> {
        interrupted()?;
        self.harness.check_alive()?;
        h2load::run(url, header, self.warm, &self.dir, THREADS, CONNECTIONS)?;
        interrupted()?;
        let f = h2load::run(url, header, self.measure, &self.dir, THREADS, CONNECTIONS)?;
        println!("{}", f.line(name));
        Ok(f)
    }

    fn row(
        &mut self,
        figure: impl Into<String>,
        measured: impl Into<String>,
        target: impl Into<String>,
        met: Option<bool>,
    ) {
        self.table.push(Row {
            figure: figure.into(),
            measured: measured.into(),
            target: target.into(),
            met,
        });
    }

    /// Every measurement, then the table and the JSON.
    fn measure(&mut self) -> Result<()> {
        println!(
            "\nwrk: {CONNECTIONS} connections, {THREADS} threads, warm-up {} s then {} s per contestant",
            self.warm, self.measure
        );
        self.cached_read()?;
        self.optional("cached read over HTTP/2", Self::cached_read_h2)?;
        self.optional("allocations per cached hit", Self::allocations)?;
        self.optional("cached read with tracing", Self::traced_reads)?;
        self.optional("cold reads", Self::cold_reads)?;
        let passthrough = self.start_hub(
            "hub-passthrough",
            &[(
                "HUB__ADAPTERS__TRANSACTION_STATUS__CACHE__STATUS_TTL_S".to_owned(),
                "0".to_owned(),
            )],
        );
        match passthrough.map(|h| h.url) {
            Ok(pt) => {
                self.optional("token expiry", |b| b.token_expiry(&pt))?;
                self.optional("pass-through read", |b| b.passthrough(&pt))?;
                // On the second hub: it leaves that hub's circuit open, and the cached hub
                // has no audit backlog of its own in the way (the memory fill below makes
                // 100,000 upstream calls, each an audit record to write).
                self.optional("circuit open", |b| b.circuit_open(&pt))?;
            }
            Err(e) => {
                interrupted()?;
                println!("  the pass-through hub did not start: {e:#}");
            }
        }
        self.optional("memory per cached entry", Self::memory)?;
        // Last: it starts one more hub, whose failure to start would fail what follows.
        self.optional("idempotent commits", Self::commits)?;
        self.print_table();
        let mut results = json!({
            "at_unix": unix_now(),
            "quick": self.quick,
            "machine": machine(),
            "wrk": {"connections": CONNECTIONS, "threads": THREADS, "warmup_s": self.warm, "duration_s": self.measure},
            "h2load": {"connections": CONNECTIONS, "threads": THREADS, "streams_per_connection": STREAMS, "warmup_s": self.warm, "duration_s": self.measure},
            "table": self.table.iter().map(|r| json!({
                "figure": r.figure, "measured": r.measured, "target": r.target, "met": r.met,
            })).collect::<Vec<_>>(),
        });
        if let Some(map) = results.as_object_mut() {
            map.extend(std::mem::take(&mut self.results));
        }
        let out = self.dir.join(format!("results-{}.json", unix_now()));
        std::fs::write(&out, serde_json::to_string_pretty(&results)?)?;
        println!("\nresults: {}", out.display());
        Ok(())
    }

    /// Runs one measurement; a failure is reported and the run goes on (unless interrupted).
    fn optional(&mut self, name: &str, f: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        match f(self) {
            Ok(()) => Ok(()),
            Err(e) if !INTERRUPTED.load(Ordering::SeqCst) => {
                println!("  {name}: measurement failed: {e:#}");
                self.row(name, format!("failed: {e}"), "-", None);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The warm cached read: hub, nginx (`proxy_cache`), bare.
    fn cached_read(&mut self) -> Result<()> {
        println!("\n== cached read of {TXN} (warm) ==");
        let auth = format!("Authorization: Bearer {}", self.tokens.read);
        let hub_url = format!("{}/v1/transactions/{TXN}", self.hub);
        let hub = self.wrk("hub", &hub_url, Some(&auth))?;
        let nginx = self.wrk(
            "nginx (proxy_cache)",
            &format!("{}/transactions/{TXN}", self.nginx),
            None,
        )?;
        let bare = self.wrk("bare (hyper)", &format!("{}/v1/transactions/{TXN}", self.bare), None)?;
        let after = self.client.get(&hub_url, Some(&self.tokens.read))?;
        println!(
            "  (the hub's answer after the run: HTTP {} Cache-Status {})",
            after.status,
            after.header("cache-status").unwrap_or("-")
        );
        let (rn, rb) = (hub.rps / nginx.rps, hub.rps / bare.rps);
        self.row(
            "cached read req/s, hub ÷ nginx",
            format!("{rn:.2}"),
            "≥ 1.2",
            Some(rn >= 1.2),
        );
        let (p50, p99) = (hub.p50_ms / nginx.p50_ms, hub.p99_ms / nginx.p99_ms);
        self.row(
            "cached read p50, hub ÷ nginx",
            format!("{p50:.2}"),
            "≤ 1.0",
            Some(p50 <= 1.0),
        );
        self.row(
            "cached read p99, hub ÷ nginx",
            format!("{p99:.2}"),
            "≤ 1.0",
            Some(p99 <= 1.0),
        );
        self.row(
            "cached read req/s, hub ÷ bare",
            format!("{rb:.2}"),
            "≥ 0.8",
            Some(rb >= 0.8),
        );
        self.results.insert(
            "cached_read".to_owned(),
            json!({
                "path": format!("/v1/transactions/{TXN}"),
                "hub": hub.json(), "nginx": nginx.json(), "bare": bare.json(),
                "ratios": {
                    "rps_hub_over_nginx": rn, "rps_hub_over_bare": rb,
                    "p50_hub_over_nginx": p50, "p99_hub_over_nginx": p99,
                    "p50_hub_over_bare": hub.p50_ms / bare.p50_ms,
                    "p99_hub_over_bare": hub.p99_ms / bare.p99_ms,
                },
            }),
        );
        self.cached = Some([hub, nginx, bare]);
        Ok(())
    }

    /// The warm cached read with tracing on (every span exported to a loopback sink that
    /// answers 200), sampling 10 % and 100 % of requests, as ratios to a hub with tracing
    /// off. The three hubs run side by side and are measured in turns, round after round
    /// (the order rotating), and each round's ratios are taken against that round's hub
    /// without tracing: the figure is the median round, so that a slow moment of the VM
    /// lands on one round rather than on one contestant. The hub processes' CPU time per
    /// request (from `/proc`) is reported beside it.
    fn traced_reads(&mut self) -> Result<()> {
        println!("\n== cached read of {TXN} with tracing (OTLP/HTTP to a loopback sink), {TRACED_ROUNDS} rounds ==");
        let sink = otlp_sink::start()?;
        let auth = format!("Authorization: Bearer {}", self.tokens.read);
        let mut hubs = Vec::new();
        for (name, ratio, percent) in [
            ("hub-traced-off", None, 0u32),
            ("hub-traced-10", Some("0.1"), 10),
            ("hub-traced-100", Some("1.0"), 100),
        ] {
            let env = match ratio {
                Some(ratio) => vec![
                    ("HUB__TELEMETRY__OTLP_ENDPOINT".to_owned(), sink.url.clone()),
                    ("HUB__TELEMETRY__SAMPLE_RATIO".to_owned(), ratio.to_owned()),
                ],
                None => Vec::new(),
            };
            let hub = self.start_hub(name, &env)?;
            let pid = self.harness.pid(&hub)?;
            hubs.push((hub, name, percent, pid));
        }
        // Per hub: each round's figures and CPU µs per request.
        let mut runs: Vec<Vec<(Figures, f64)>> = vec![Vec::new(); hubs.len()];
        for round in 0..TRACED_ROUNDS {
            for turn in 0..hubs.len() {
                let i = (turn + round) % hubs.len();
                let (hub, name, _, pid) = &hubs[i];
                let url = format!("{}/v1/transactions/{TXN}", hub.url);
                let label = format!("{name} (round {})", round + 1);
                runs[i].push(self.wrk_cpu(&label, &url, Some(&auth), *pid)?);
            }
        }
        for (hub, ..) in &hubs {
            self.harness.kill9(hub)?;
        }
        let cpu_medians: Vec<f64> = runs
            .iter()
            .map(|hub| median(&hub.iter().map(|(_, c)| *c).collect::<Vec<_>>()))
            .collect();
        let mut figures = serde_json::Map::new();
        for (i, (_, name, percent, _)) in hubs.iter().enumerate() {
            let rps_ratios: Vec<f64> = (0..TRACED_ROUNDS)
                .map(|r| runs[i][r].0.rps / runs[0][r].0.rps)
                .collect();
            let rounds: Vec<Value> = runs[i]
                .iter()
                .map(|(f, c)| json!({"hub": f.json(), "cpu_us_per_request": c}))
                .collect();
            let key = if *percent == 0 {
                "off".to_owned()
            } else {
                format!("sampled_{percent}")
            };
            let r = median(&rps_ratios);
            figures.insert(
                key,
                json!({"name": name, "rounds": rounds, "rps_over_off_median": r, "cpu_us_per_request_median": cpu_medians[i]}),
            );
            if *percent == 0 {
                continue;
            }
            let (target, met) = if *percent == 10 {
                ("≥ 0.97", Some(r >= 0.97))
            } else {
                ("reported", None)
            };
            self.row(
                format!("cached read req/s, tracing {percent} % ÷ off"),
                format!(
                    "{r:.2} (median of {TRACED_ROUNDS}; CPU {:.1} vs {:.1} µs/request)",
                    cpu_medians[i], cpu_medians[0]
                ),
                target,
                met,
            );
        }
        println!("  (the sink took {} exports)", sink.exports());
        figures.insert("exports".to_owned(), json!(sink.exports()));
        self.results
            .insert("cached_read_traced".to_owned(), Value::Object(figures));
        Ok(())
    }

    /// The warm cached read over HTTP/2 with prior knowledge (h2load): hub, nginx
    /// (`proxy_cache` on its HTTP/2 listener), bare.
    fn cached_read_h2(&mut self) -> Result<()> {
        println!(
            "\n== cached read of {TXN} over HTTP/2 (h2c, prior knowledge; h2load -m {STREAMS}: mean and max, it prints no percentiles) =="
        );
        let auth = format!("authorization: Bearer {}", self.tokens.read);
        let hub = self.h2load("hub", &format!("{}/v1/transactions/{TXN}", self.hub), Some(&auth))?;
        let nginx_url = format!("{}/transactions/{TXN}", self.nginx_h2);
        let nginx = self.h2load("nginx (proxy_cache)", &nginx_url, None)?;
        let bare = self.h2load("bare (hyper)", &format!("{}/v1/transactions/{TXN}", self.bare), None)?;
        let (rn, rb) = (hub.rps / nginx.rps, hub.rps / bare.rps);
        let mean = hub.mean_ms / nginx.mean_ms;
        self.row(
            "cached read over HTTP/2 req/s, hub ÷ nginx",
            format!("{rn:.2}"),
            "≥ 1.2",
            Some(rn >= 1.2),
        );
        self.row(
            "cached read over HTTP/2 mean latency, hub ÷ nginx",
            format!("{mean:.2}"),
            "≤ 1.0",
            Some(mean <= 1.0),
        );
        self.row(
            "cached read over HTTP/2 req/s, hub ÷ bare",
            format!("{rb:.2}"),
            "≥ 0.8",
            Some(rb >= 0.8),
        );
        self.results.insert(
            "cached_read_h2".to_owned(),
            json!({
                "path": format!("/v1/transactions/{TXN}"),
                "hub": hub.json(), "nginx": nginx.json(), "bare": bare.json(),
                "ratios": {
                    "rps_hub_over_nginx": rn, "rps_hub_over_bare": rb,
                    "mean_hub_over_nginx": mean, "mean_hub_over_bare": hub.mean_ms / bare.mean_ms,
                },
            }),
        );
        self.cached_h2 = Some([hub, nginx, bare]);
        Ok(())
    }

    /// Allocations per cached hit, counted by hub-server's in-process allocations benchmark
    /// (the router driven without sockets, so nothing of hyper's is counted).
    fn allocations(&mut self) -> Result<()> {
        println!("\n== allocations per cached hit (cargo bench -p hub-server --bench allocations) ==");
        interrupted()?;
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .args(["bench", "-p", "hub-server", "--bench", "allocations"])
            .current_dir(crate::workspace_root())
            .output()
            .context("running the allocations benchmark")?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            bail!(
                "the allocations benchmark failed ({}): {text}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let count =
            allocations_in(&text).with_context(|| format!("reading the allocations benchmark's output:\n{text}"))?;
        println!("  {count:.1} allocations per cached hit");
        self.row(
            "allocations per cached hit (in-process, no hyper)",
            format!("{count:.1}"),
            "0",
            Some(count == 0.0),
        );
        self.results
            .insert("allocations_per_cached_hit".to_owned(), json!(count));
        Ok(())
    }

    fn sim_send(&self, method: &Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let r = self
            .client
            .send(method, &format!("{}{path}", self.sim), None, body, &[])?;
        if r.status >= 300 {
            bail!("{method} {path}: {}", r.summary());
        }
        Ok(r.json())
    }

    /// Requests the sim's ledger holds whose path starts with `prefix`.
    fn ledger_count(&self, prefix: &str) -> Result<u64> {
        let v = self.sim_send(
            &Method::GET,
            &format!("/_sim/ledger/requests?path_prefix={prefix}"),
            None,
        )?;
        Ok(v["requests"].as_array().map_or(0, |a| a.len() as u64))
    }

    /// Tokens the sim's status system has issued.
    fn status_tokens_issued(&self) -> Result<u64> {
        let v = self.sim_send(&Method::GET, "/_sim/ledger/tokens", None)?;
        v["status"]["issued"]
            .as_u64()
            .context("no status.issued in /_sim/ledger/tokens")
    }

    /// The status system down; a never-read transaction requested until the hub answers
    /// `503 circuit_open`; then wrk against it, and the sim's ledger counted around it.
    fn circuit_open(&mut self, hub: &str) -> Result<()> {
        println!(
            "\n== circuit open: the sim's status system down, {CIRCUIT_TXN} (never read) until {hub} fails fast =="
        );
        self.sim_send(&Method::POST, "/_sim/outage/status", None)?;
        let outcome = self.circuit_open_measured(hub);
        let _ = self.sim_send(&Method::DELETE, "/_sim/outage/status", None);
        let (f, one, upstream) = outcome?;
        println!("{}", f.line("hub, circuit open"));
        println!("{}", one.line("  … one connection"));
        println!(
            "  ({} and {} answers 503, as expected); upstream requests during both: {upstream}",
            f.non_2xx, one.non_2xx
        );
        // What one connection's round trip costs on this machine at all: bare's cached read.
        let bare_url = format!("{}/v1/transactions/{TXN}", self.bare);
        let bare_one = wrk::run_with(&bare_url, None, self.measure, &self.dir, 1, 1)?;
        println!("{}", bare_one.line("  bare, one connection"));
        // At the same load the bare server's cached-read p99 is what the machine allows.
        let bare_p99 = self.cached.as_ref().map(|[_, _, bare]| bare.p99_ms);
        self.row(
            format!("circuit open: fail-fast p99, {CONNECTIONS} connections"),
            format!("{:.3} ms at {:.0} req/s", f.p99_ms, f.rps),
            bare_p99.map_or_else(
                || "≤ bare's p99 (not measured)".to_owned(),
                |b| format!("≤ bare's {b:.3} ms"),
            ),
            bare_p99.map(|b| f.p99_ms <= b),
        );
        self.row(
            "circuit open: fail-fast p99, one connection",
            format!(
                "{:.3} ms at {:.0} req/s (bare: {:.3} ms)",
                one.p99_ms, one.rps, bare_one.p99_ms
            ),
            "< 0.5 ms",
            Some(one.p99_ms < 0.5),
        );
        self.row(
            "circuit open: upstream requests",
            upstream.to_string(),
            "0",
            Some(upstream == 0),
        );
        self.results.insert(
            "circuit_open".to_owned(),
            json!({"hub": f.json(), "hub_one_connection": one.json(), "bare_one_connection": bare_one.json(),
                "upstream_requests": upstream}),
        );
        Ok(())
    }

    fn circuit_open_measured(&mut self, hub: &str) -> Result<(Figures, Figures, u64)> {
        let url = format!("{hub}/v1/transactions/{CIRCUIT_TXN}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            interrupted()?;
            let r = self.client.get(&url, Some(&self.tokens.read))?;
            if r.status == 503 && r.body.contains("circuit_open") {
                break;
            }
            if Instant::now() > deadline {
                bail!("the circuit did not open within 60 s; last answer {}", r.summary());
            }
        }
        // What the hub could send the status system during the run: reads of this id and
        // token requests (the ledger is too long by now to list every request).
        let prefix = format!("/status/transactions/{CIRCUIT_TXN}");
        let before = self.ledger_count(&prefix)? + self.status_tokens_issued()?;
        let auth = format!("Authorization: Bearer {}", self.tokens.read);
        self.harness.check_alive()?;
        let f = wrk::run(&url, Some(&auth), self.measure, &self.dir)?;
        // The same refusal without the queueing of 32 connections on two shared cores.
        let one = wrk::run_with(&url, Some(&auth), self.measure, &self.dir, 1, 1)?;
        let upstream = (self.ledger_count(&prefix)? + self.status_tokens_issued()?).saturating_sub(before);
        Ok((f, one, upstream))
    }

    /// 1,000 concurrent reads of one never-read key, the upstream slowed down so that all
    /// of them arrive while the first is out: how many upstream calls.
    fn cold_reads(&mut self) -> Result<()> {
        println!("\n== {BURST} concurrent cold reads of {COLD_TXN} (the sim adds {COLD_LATENCY_MS} ms to it) ==");
        let fault = self.sim_send(
            &Method::POST,
            "/_sim/faults",
            Some(&json!({"kind": "latency", "system": "status",
                         "route": format!("/transactions/{COLD_TXN}"), "ms": COLD_LATENCY_MS})),
        )?;
        let prefix = format!("/status/transactions/{COLD_TXN}");
        let outcome = (|| -> Result<(burst::Burst, u64)> {
            let before = self.ledger_count(&prefix)?;
            let url = format!("{}/v1/transactions/{COLD_TXN}", self.hub);
            let b = burst::get(BURST, |_| url.clone(), Some(&self.tokens.read), Some("cache-status"))?;
            Ok((b, self.ledger_count(&prefix)?.saturating_sub(before)))
        })();
        if let Some(id) = fault["id"].as_u64() {
            let _ = self.sim_send(&Method::DELETE, &format!("/_sim/faults/{id}"), None);
        }
        let (b, upstream) = outcome?;
        println!(
            "  answers: {}  in {:.0} ms; upstream calls: {upstream}",
            b.summary(),
            b.elapsed.as_secs_f64() * 1000.0
        );
        self.row(
            format!("{BURST} concurrent cold reads: upstream calls"),
            upstream.to_string(),
            "exactly 1",
            Some(upstream == 1),
        );
        self.results.insert(
            "cold_reads".to_owned(),
            json!({"concurrent": BURST, "key": COLD_TXN, "upstream_latency_ms": COLD_LATENCY_MS,
                   "upstream_calls": upstream, "answers": b.json()}),
        );
        Ok(())
    }

    /// 1,000 concurrent upstream calls (distinct unknown ids, so none is coalesced or
    /// cached) just after the hub's token expired: how many token requests.
    fn token_expiry(&mut self, pt: &str) -> Result<()> {
        println!("\n== {BURST} concurrent calls across a token expiry (the sim's tokens live {SHORT_TOKEN_S} s) ==");
        self.sim_send(
            &Method::PUT,
            "/_sim/settings",
            Some(&json!({"token_ttl_s": SHORT_TOKEN_S})),
        )?;
        let outcome = (|| -> Result<(burst::Burst, u64)> {
            // A first call takes a short-lived token; the burst starts once it has expired.
            let before = self.status_tokens_issued()?;
            let first = self
                .client
                .get(&format!("{pt}/v1/transactions/{TXN}"), Some(&self.tokens.read))?;
            if first.status != 200 {
                bail!("the pass-through hub's read of {TXN}: {}", first.summary());
            }
            let taken = Instant::now();
            if self.status_tokens_issued()? == before {
                bail!("the pass-through hub's first read took no new token; it had one already");
            }
            pause(
                (taken + Duration::from_millis(SHORT_TOKEN_S * 1000 + 100)).saturating_duration_since(Instant::now()),
            )?;
            let before = self.status_tokens_issued()?;
            let tag = random_hex();
            let b = burst::get(
                BURST,
                |i| format!("{pt}/v1/transactions/BENCH-{tag}-{i}"),
                Some(&self.tokens.read),
                None,
            )?;
            Ok((b, self.status_tokens_issued()?.saturating_sub(before)))
        })();
        let _ = self.sim_send(&Method::PUT, "/_sim/settings", Some(&json!({"token_ttl_s": 3600})));
        let (b, tokens) = outcome?;
        println!(
            "  answers (unknown ids: 404 expected): {}  in {:.0} ms; token requests: {tokens}",
            b.summary(),
            b.elapsed.as_secs_f64() * 1000.0
        );
        self.row(
            format!("{BURST} concurrent calls across a token expiry: token requests"),
            tokens.to_string(),
            "exactly 1",
            Some(tokens == 1),
        );
        self.results.insert(
            "token_expiry".to_owned(),
            json!({"concurrent": BURST, "token_ttl_s": SHORT_TOKEN_S, "token_requests": tokens, "answers": b.json()}),
        );
        Ok(())
    }

    /// The read with no cache: the sim directly, the hub with a zero TTL, nginx without
    /// `proxy_cache`; the latency each adds over the direct call.
    fn passthrough(&mut self, pt: &str) -> Result<()> {
        println!("\n== pass-through read of {TXN} (no cache) ==");
        let auth = format!("Authorization: Bearer {}", self.tokens.read);
        let calls_before = upstream_calls(&self.client, pt)?;
        let hub = self.wrk(
            "hub (status_ttl_s = 0)",
            &format!("{pt}/v1/transactions/{TXN}"),
            Some(&auth),
        )?;
        let calls = upstream_calls(&self.client, pt)?.saturating_sub(calls_before);
        let nginx = self.wrk(
            "nginx (no proxy_cache)",
            &format!("{}/passthrough/{TXN}", self.nginx),
            None,
        )?;
        let direct_auth = format!("Authorization: Bearer {}", self.status_token);
        let direct = self.wrk(
            "the sim directly",
            &format!("{}/status/transactions/{TXN}", self.sim),
            Some(&direct_auth),
        )?;
        let added = |f: &Figures| (f.p50_ms - direct.p50_ms, f.p99_ms - direct.p99_ms);
        let (h50, h99) = added(&hub);
        let (n50, n99) = added(&nginx);
        println!(
            "  added over the direct call: hub p50 {h50:+.3} ms p99 {h99:+.3} ms; nginx p50 {n50:+.3} ms p99 {n99:+.3} ms"
        );
        println!(
            "  the hub made {calls} upstream calls for its {:.0} answers (concurrent reads of one key share one call)",
            hub.rps * self.measure as f64
        );
        let (r50, r99) = (h50 / n50, h99 / n99);
        for (name, r, h, n) in [("p50", r50, h50, n50), ("p99", r99, h99, n99)] {
            // A ratio only means something when nginx added latency; otherwise compare.
            let ratio = if n > 0.0 { format!("{r:.2}") } else { "n/a".to_owned() };
            self.row(
                format!("pass-through added latency {name}, hub ÷ nginx"),
                format!("{ratio} ({h:+.3} ms vs {n:+.3} ms)"),
                "≤ 1.0",
                Some(h <= n),
            );
        }
        self.results.insert(
            "passthrough".to_owned(),
            json!({
                "hub": hub.json(), "nginx": nginx.json(), "direct": direct.json(),
                "hub_upstream_calls": calls,
                "added_ms": {"hub_p50": h50, "hub_p99": h99, "nginx_p50": n50, "nginx_p99": n99},
                "ratios": {"added_p50_hub_over_nginx": r50, "added_p99_hub_over_nginx": r99},
            }),
        );
        Ok(())
    }

    /// The cached hub's resident memory before and after caching `MEMORY_ENTRIES` reads
    /// of distinct transactions (copies the sim makes of `TXN-5001`).
    fn memory(&mut self) -> Result<()> {
        println!("\n== memory: {MEMORY_ENTRIES} more cached entries in the hub ==");
        let pid = self.hub_pid;
        let made = self.sim_send(
            &Method::POST,
            "/_sim/transactions/copies",
            Some(&json!({"count": MEMORY_ENTRIES})),
        )?;
        let first = made["first_number"].as_u64().context("no first_number")?;
        let last = made["last_number"].as_u64().context("no last_number")?;
        let copies = (last + 1).saturating_sub(first);
        if copies != MEMORY_ENTRIES {
            bail!("the sim made {copies} copies, not {MEMORY_ENTRIES}");
        }
        let probe = self.client.get(
            &format!("{}/v1/transactions/TXN-{first}", self.hub),
            Some(&self.tokens.read),
        )?;
        if probe.status != 200 {
            bail!("the hub's read of a copy: {}", probe.summary());
        }
        // The hub's answer for one entry: the size of what the cache holds for it.
        let payload = probe.body.len() as u64;
        std::thread::sleep(Duration::from_secs(1));
        let before = rss_bytes(pid)?;
        let started = Instant::now();
        // The copies after the probe's: the first is cached already.
        let (failed, first_failure) = fill(&self.hub, &self.tokens.read, first + 1, last)?;
        let fill_s = started.elapsed().as_secs_f64();
        // Let the audit writer drain what the fill queued before reading the figure.
        pause(Duration::from_secs(2))?;
        let after = rss_bytes(pid)?;
        // Reads that failed cached nothing.
        let entries = (MEMORY_ENTRIES - 1).saturating_sub(failed).max(1);
        let per_entry = after.saturating_sub(before) as f64 / entries as f64;
        let beyond = per_entry - payload as f64;
        println!(
            "  filled {entries} entries in {fill_s:.1} s ({failed} reads not 200); RSS {:.1} MiB → {:.1} MiB: {per_entry:.0} bytes per entry, payload {payload} bytes, {beyond:.0} bytes beyond it",
            before as f64 / 1_048_576.0,
            after as f64 / 1_048_576.0
        );
        if let Some(first) = &first_failure {
            println!("  the first read not 200: {first}");
        }
        self.row(
            "memory per cached entry beyond the payload",
            format!("{beyond:.0} bytes ({per_entry:.0} − {payload})"),
            "≤ 512 B",
            Some(beyond <= 512.0),
        );
        self.results.insert(
            "memory".to_owned(),
            json!({"entries": entries, "rss_before_bytes": before, "rss_after_bytes": after,
                   "payload_bytes": payload, "per_entry_bytes": per_entry,
                   "beyond_payload_bytes": beyond, "failed_reads": failed, "first_failure": first_failure,
                   "fill_s": fill_s}),
        );
        Ok(())
    }

    /// Idempotent commits through the hub with its SQLite store and with a PostgreSQL
    /// one (a fresh schema in `test`): drafts made first, then committed `LANES` at a
    /// time, each with its own `Idempotency-Key`.
    fn commits(&mut self) -> Result<()> {
        let n = if self.quick { COMMITS_QUICK } else { COMMITS };
        println!("\n== idempotent commits: {n} drafts committed, {COMMIT_LANES} at a time ==");
        let sqlite = self.commit_rate("hub", &self.hub.clone(), n)?;
        let schema = Schema::create("hub_bench")?;
        let outcome = self
            .start_hub("hub-postgres", &schema.hub_env())
            .and_then(|pg| self.commit_rate("hub-postgres", &pg.url, n));
        drop(schema);
        let postgres = outcome?;
        let ratio = postgres / sqlite;
        self.row(
            "idempotent commits/s, PostgreSQL ÷ SQLite store",
            format!("{ratio:.2} ({postgres:.0} vs {sqlite:.0} /s)"),
            "reported",
            None,
        );
        self.results.insert(
            "commits".to_owned(),
            json!({"commits": n, "lanes": COMMIT_LANES, "sqlite_per_s": sqlite, "postgres_per_s": postgres,
                   "postgres_over_sqlite": ratio}),
        );
        Ok(())
    }

    /// Commits per second through the hub at `hub` (drafts made first, not timed).
    fn commit_rate(&self, name: &str, hub: &str, n: usize) -> Result<f64> {
        let write = format!("Bearer {}", self.tokens.write);
        let tag = random_hex();
        let (drafts, failed, _) = parallel(n, COMMIT_LANES, |agent, i| {
            let body = json!({"customer_id": "CUST-1001", "amount": "12.50", "currency": "USD",
                              "description": format!("bench draft {i}")});
            let mut r = agent
                .post(&format!("{hub}/v1/transactions/drafts"))
                .header("authorization", &write)
                .header("content-type", "application/json")
                .send(body.to_string())
                .ok()?;
            let v: Value = serde_json::from_str(&r.body_mut().read_to_string().ok()?).ok()?;
            v["draft_id"].as_str().map(str::to_owned)
        });
        if failed > 0 {
            bail!("{name}: {failed} of {n} drafts could not be made");
        }
        let (_, failed, elapsed) = parallel(n, COMMIT_LANES, |agent, i| {
            let r = agent
                .post(&format!("{hub}/v1/transactions/drafts/{}/commit", drafts[i]))
                .header("authorization", &write)
                .header("idempotency-key", &format!("bench-{tag}-{i}"))
                .send_empty()
                .ok()?;
            (r.status() == 200).then_some(())
        });
        let rate = (n - failed) as f64 / elapsed.as_secs_f64();
        println!(
            "  {name:<22} {rate:>10.0} commits/s  ({} committed in {:.2} s, {failed} failed)",
            n - failed,
            elapsed.as_secs_f64()
        );
        if failed > 0 {
            bail!("{name}: {failed} of {n} commits failed");
        }
        Ok(rate)
    }

    fn print_table(&self) {
        if let Some([hub, nginx, bare]) = &self.cached {
            println!("\n== cached read GET /v1/transactions/{TXN} (warm), {CONNECTIONS} connections ==");
            println!("{:<22} {:>12} {:>10} {:>10}", "contestant", "req/s", "p50 ms", "p99 ms");
            for (name, f) in [("hub", hub), ("nginx (proxy_cache)", nginx), ("bare (hyper)", bare)] {
                println!("{name:<22} {:>12.0} {:>10.3} {:>10.3}", f.rps, f.p50_ms, f.p99_ms);
            }
        }
        if let Some([hub, nginx, bare]) = &self.cached_h2 {
            println!(
                "\n== cached read over HTTP/2 (h2c), {CONNECTIONS} connections × {STREAMS} streams (h2load prints no percentiles) =="
            );
            println!(
                "{:<22} {:>12} {:>10} {:>10}",
                "contestant", "req/s", "mean ms", "max ms"
            );
            for (name, f) in [("hub", hub), ("nginx (proxy_cache)", nginx), ("bare (hyper)", bare)] {
                println!("{name:<22} {:>12.0} {:>10.3} {:>10.3}", f.rps, f.mean_ms, f.max_ms);
            }
        }
        println!("\n{:<58} {:>30} {:>20}  ", "figure (this run)", "measured", "target");
        for r in &self.table {
            let verdict = match r.met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "",
            };
            println!("{:<58} {:>30} {:>20}  {verdict}", r.figure, r.measured, r.target);
        }
    }
}

/// Runs `f(agent, i)` for `i` in `0..n` on `lanes` threads, each with its own keep-alive
/// agent; returns the results in order, how many failed (`None`), and the time taken.
fn parallel<T: Send>(
    n: usize,
    lanes: usize,
    f: impl Fn(&ureq::Agent, usize) -> Option<T> + Sync,
) -> (Vec<T>, usize, Duration) {
    let started = Instant::now();
    let mut slots: Vec<Option<T>> = std::iter::repeat_with(|| None).take(n).collect();
    std::thread::scope(|scope| {
        let f = &f;
        let size = n.div_ceil(lanes.max(1)).max(1);
        let chunks: Vec<_> = slots
            .chunks_mut(size)
            .enumerate()
            .map(|(lane, chunk)| {
                scope.spawn(move || {
                    let agent = http::agent();
                    let first = lane * size;
                    for (k, slot) in chunk.iter_mut().enumerate() {
                        if INTERRUPTED.load(Ordering::SeqCst) {
                            return;
                        }
                        *slot = f(&agent, first + k);
                    }
                })
            })
            .collect();
        for c in chunks {
            let _ = c.join();
        }
    });
    let elapsed = started.elapsed();
    let failed = slots.iter().filter(|s| s.is_none()).count();
    (slots.into_iter().flatten().collect(), failed, elapsed)
}

/// Reads `TXN-<from>`..=`TXN-<to>` through the hub, 16 keep-alive connections at once;
/// returns how many answers were not 200, and what the first of them was.
fn fill(hub: &str, token: &str, from: u64, to: u64) -> Result<(u64, Option<String>)> {
    const LANES: u64 = 16;
    let auth = format!("Bearer {token}");
    let threads: Vec<_> = (0..LANES)
        .map(|lane| {
            let (hub, auth) = (hub.to_owned(), auth.clone());
            std::thread::spawn(move || -> (u64, Option<String>) {
                let agent = http::agent();
                let (mut failed, mut first) = (0, None);
                for n in (from + lane..=to).step_by(LANES as usize) {
                    if INTERRUPTED.load(Ordering::SeqCst) {
                        break;
                    }
                    let outcome = match agent
                        .get(&format!("{hub}/v1/transactions/TXN-{n}"))
                        .header("authorization", &auth)
                        .call()
                    {
                        Ok(mut r) => match r.body_mut().read_to_vec() {
                            Ok(_) if r.status() == 200 => Ok(()),
                            Ok(body) => Err(format!("HTTP {}: {}", r.status(), String::from_utf8_lossy(&body))),
                            Err(e) => Err(format!("HTTP {}, body unread: {e}", r.status())),
                        },
                        Err(e) => Err(e.to_string()),
                    };
                    if let Err(why) = outcome {
                        failed += 1;
                        first.get_or_insert_with(|| format!("TXN-{n}: {why}"));
                    }
                }
                (failed, first)
            })
        })
        .collect();
    let (mut failed, mut first) = (0, None);
    for t in threads {
        let (lane_failed, lane_first) = t.join().map_err(|_| anyhow::anyhow!("a fill thread panicked"))?;
        failed += lane_failed;
        first = first.or(lane_first);
    }
    interrupted()?;
    Ok((failed, first))
}

/// Upstream calls the hub at `hub` made for `get_transaction_status` (its metrics).
/// The count in the handler benchmark's `allocations per cached hit: X` line.
fn allocations_in(text: &str) -> Result<f64> {
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("allocations per cached hit:"))
        .context("no `allocations per cached hit:` line")?;
    Ok(line.trim().parse()?)
}

fn upstream_calls(client: &Client, hub: &str) -> Result<u64> {
    let r = client.get(&format!("{hub}/metrics"), None)?;
    if r.status != 200 {
        bail!("GET {hub}/metrics: {}", r.summary());
    }
    Ok(status_calls_in(&r.body))
}

/// The sum of `integration_requests_total{operation="get_transaction_status"}` in a
/// Prometheus exposition.
fn status_calls_in(metrics: &str) -> u64 {
    let sum: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("integration_requests_total{") && l.contains("operation=\"get_transaction_status\""))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum();
    // Counters are whole numbers far below 2^53.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = sum as u64;
    n
}

/// The transaction status TTL of the template (`status_ttl_s` under
/// `[adapters.transaction_status.cache]`).
fn ttl_of(template: &str) -> Result<u64> {
    let mut in_section = false;
    for line in template.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line == "[adapters.transaction_status.cache]";
        } else if in_section && let Some(v) = line.strip_prefix("status_ttl_s") {
            return v.trim().trim_start_matches('=').trim().parse().context("status_ttl_s");
        }
    }
    bail!(
        "no status_ttl_s under [adapters.transaction_status.cache] in {}",
        TEMPLATE
    )
}

/// An access token from the sim's status system (client credentials, form-encoded).
fn status_token(sim: &str) -> Result<String> {
    let agent: ureq::Agent = ureq::Agent::config_builder().proxy(None).build().into();
    let mut resp = agent
        .post(&format!("{sim}/status/oauth/token"))
        .send_form([
            ("grant_type", "client_credentials"),
            ("client_id", "hub-status"),
            ("client_secret", "sim-status-secret"),
        ])
        .context("POST /status/oauth/token")?;
    let body: Value = serde_json::from_str(&resp.body_mut().read_to_string()?)?;
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no access_token in {body}"))
}

/// nginx serving the cached and the pass-through proxy on `port` (HTTP/1.1) and on
/// `h2_port` (HTTP/2 with prior knowledge: nginx before 1.25 cannot serve both on one
/// cleartext port).
fn nginx_config(dir: &Path, [port, h2_port]: [u16; 2], sim_port: u16, token: &str, ttl_s: u64) -> String {
    let d = dir.display();
    // Running as root, the workers would become `nobody` and could not write the cache.
    let user = if is_root() { "user root;\n" } else { "" };
    format!(
        "# Written by `cargo xtask bench`; run as nginx -p {d} -c {d}/nginx.conf.
{user}worker_processes auto;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    proxy_cache_path {d}/cache levels=1:2 keys_zone=bench:10m max_size=64m inactive=10m use_temp_path=off;
    upstream sim {{
        server 127.0.0.1:{sim_port};
        keepalive 32;
    }}
    # As the hub and the bare server: no connection closed after some number of requests
    # (nginx's default is 1,000, which would have the load generators reconnect).
    keepalive_requests 100000000;
    server {{
        listen 127.0.0.1:{port};
        listen 127.0.0.1:{h2_port} http2;
        # The caching reverse proxy: the hub's status TTL, keep-alive to the upstream.
        location /transactions/ {{
            proxy_pass http://sim/status/transactions/;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Authorization \"Bearer {token}\";
            proxy_cache bench;
            proxy_cache_valid 200 {ttl_s}s;
            proxy_cache_lock on;
            proxy_cache_use_stale updating;
            proxy_cache_background_update on;
            add_header Cache-Status $upstream_cache_status;
        }}
        # The same reverse proxy without a cache (the pass-through figure).
        location /passthrough/ {{
            proxy_pass http://sim/status/transactions/;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Authorization \"Bearer {token}\";
        }}
    }}
}}
"
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn machine() -> Value {
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_default();
    json!({"cpus": cpus, "cpu_model": model})
}

/// The middle of `values` (the mean of the two middle ones for an even count); 0 for none.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_allocation_count() {
        let text = "Benchmarking …\nallocations per cached hit: 412.0\n";
        assert!((allocations_in(text).unwrap() - 412.0).abs() < 1e-9);
        assert!(allocations_in("nothing here").is_err());
    }

    #[test]
    fn the_median_is_the_middle_value() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn finds_the_status_ttl() {
        let t = config::template().unwrap();
        assert_eq!(ttl_of(&t).unwrap(), 2);
        assert!(ttl_of("[adapters.transaction_status.cache]\nhistory_ttl_s = 3\n").is_err());
    }

    #[test]
    fn parallel_keeps_the_order_and_counts_failures() {
        for (n, lanes) in [(10, 3), (3, 16), (16, 16), (0, 4)] {
            let (out, failed, _) = parallel(n, lanes, |_, i| (i % 5 != 4).then_some(i));
            let expected: Vec<usize> = (0..n).filter(|i| i % 5 != 4).collect();
            assert_eq!(out, expected, "n {n} lanes {lanes}");
            assert_eq!(failed, n - expected.len());
        }
    }

    #[test]
    fn counts_upstream_calls_in_the_metrics() {
        let body = "# TYPE integration_requests_total counter
integration_requests_total{adapter=\"transaction_status\",operation=\"get_transaction_status\",status=\"success\"} 41
integration_requests_total{adapter=\"transaction_status\",operation=\"get_transaction_status\",status=\"not_found\"} 1
integration_requests_total{adapter=\"transaction_status\",operation=\"get_transaction_history\",status=\"success\"} 7
";
        assert_eq!(status_calls_in(body), 42);
        assert_eq!(status_calls_in(""), 0);
    }
}
