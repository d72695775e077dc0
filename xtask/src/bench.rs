//! `cargo xtask bench [--quick]`: the hub against nginx and a static nginx answer, on
//! loopback, in the same run (issue #10, first slice: the cached read and the open circuit).
//!
//! Builds hub-sim and hub-server in release, installs `wrk` and `nginx-light` from Debian
//! when missing, starts hub-sim, the hub (the demo's configuration), and one nginx (a
//! caching reverse proxy to the sim plus a `return 200` location: "nginx-static", the
//! machine's ceiling), measures each with wrk, and prints absolute figures and the ratios
//! measured in this run. Results go to `target/bench/results-<unix time>.json`. Nothing
//! here asserts a time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::demo::http::Client;
use crate::demo::procs::{Procs, free_port};
use crate::demo::{self, Hub, INTERRUPTED, Tokens, interrupted, pause};
use crate::{services, workspace_root};

const USAGE: &str = "\
usage: cargo xtask bench [--quick]

Builds hub-sim and hub-server in release, installs wrk and nginx-light from Debian when
missing, starts hub-sim, the hub (config/demo.toml, generic dialect), and nginx (a
caching reverse proxy to the sim with the hub's status TTL, and a static answer of the
same body), then measures each with wrk and prints a table with the ratios of this run.
Results: target/bench/results-<unix time>.json.

  --quick   3 s per measurement instead of 10 s (warm-ups 1 s instead of 3 s)
";

/// The transaction every contestant serves.
const TXN: &str = "TXN-5001";
/// wrk's fixed settings, the same for every contestant.
const CONNECTIONS: u32 = 32;
const THREADS: u32 = 2;
/// How long the hub's circuit stays open in the bench (an environment override), so that
/// no half-open probe falls inside the fail-fast measurement.
const BENCH_BREAKER_OPEN_S: u64 = 120;

/// One wrk measurement.
#[derive(Debug, Clone)]
struct Figures {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    non_2xx: u64,
    errors: u64,
}

impl Figures {
    fn json(&self) -> Value {
        json!({"requests_per_s": self.rps, "p50_ms": self.p50_ms, "p99_ms": self.p99_ms,
               "non_2xx": self.non_2xx, "socket_errors": self.errors})
    }
}

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
    ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst)).context("installing the Ctrl-C handler")?;
    let started = Instant::now();
    println!(
        "== Integration Hub benchmarks{} ==",
        if quick { " (--quick)" } else { "" }
    );
    ensure_tools()?;
    let (sim_bin, hub_bin) = demo::build_bins(true)?;
    let dir = bench_dir()?;
    println!("working directory: {}", dir.display());

    let mut procs = Procs::default();
    let outcome = start_and_measure(&mut procs, &sim_bin, &hub_bin, &dir, quick);
    if outcome.is_err() {
        println!("\nthe processes' logs:");
        for (name, log) in procs.logs() {
            println!("  {name:<12} {}", log.display());
        }
    }
    println!("stopping the sim, the hub and nginx …");
    procs.stop_all();
    if outcome.is_ok() {
        println!("bench took {:.0} s in all", started.elapsed().as_secs_f64());
    }
    outcome
}

/// Installs wrk and nginx-light from Debian when missing, saying so.
fn ensure_tools() -> Result<()> {
    let mut missing = Vec::new();
    if services::which("wrk").is_none() {
        missing.push("wrk");
    }
    if services::which("nginx").is_none() && !Path::new("/usr/sbin/nginx").exists() {
        missing.push("nginx-light");
    }
    if missing.is_empty() {
        return Ok(());
    }
    println!("wrk or nginx missing: installing {missing:?} from Debian");
    services::apt_install(&missing)?;
    // Debian's package starts nginx on port 80 where a service manager runs; the bench
    // needs none of it and runs its own.
    Ok(())
}

fn nginx_bin() -> PathBuf {
    services::which("nginx").unwrap_or_else(|| PathBuf::from("/usr/sbin/nginx"))
}

fn bench_dir() -> Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map_or_else(|| workspace_root().join("target"), |t| workspace_root().join(t));
    let dir = target.join("bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[allow(clippy::too_many_lines)] // The run, step by step.
fn start_and_measure(procs: &mut Procs, sim_bin: &Path, hub_bin: &Path, dir: &Path, quick: bool) -> Result<()> {
    println!("\nstarting hub-sim (release) …");
    let sim = procs.start_sim(sim_bin, &dir.join("sim.log"))?;
    println!("  hub-sim listens on {sim}");
    let sim_port: u16 = sim
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .context("the sim's port")?;

    // The hub: the demo's configuration (generic dialect) on the sim, auth, metrics and
    // audit on, logs at the configured level into a file.
    let template_path = workspace_root().join(demo::TEMPLATE);
    let template =
        std::fs::read_to_string(&template_path).with_context(|| format!("reading {}", template_path.display()))?;
    let hub_dir = dir.join("hub");
    let _ = std::fs::remove_dir_all(&hub_dir);
    std::fs::create_dir_all(&hub_dir)?;
    let config = hub_dir.join("hub.toml");
    std::fs::write(&config, demo::hub_config(&template, "generic", &sim)?)?;
    let tokens = Tokens {
        read: format!("bench-read-{}", demo::random_hex()),
        write: format!("bench-write-{}", demo::random_hex()),
        admin: format!("bench-admin-{}", demo::random_hex()),
    };
    let hub_port = free_port(&[sim_port])?;
    let nginx_port = free_port(&[sim_port, hub_port])?;
    let mut env = demo::secrets_env(&tokens);
    env.push(("HUB__SERVER__LISTEN".to_owned(), format!("127.0.0.1:{hub_port}")));
    env.push((
        "HUB__ADAPTERS__TRANSACTION_STATUS__RESILIENCE__BREAKER_OPEN_S".to_owned(),
        BENCH_BREAKER_OPEN_S.to_string(),
    ));
    procs.start_hub("hub", hub_bin, &config, &env, &hub_dir.join("hub.log"))?;
    let hub = Hub {
        dialect: "generic",
        url: format!("http://127.0.0.1:{hub_port}"),
        config: config.clone(),
    };
    println!(
        "starting the hub (release) on {}  (config {})",
        hub.url,
        config.display()
    );
    let client = Client::new();
    demo::wait_ready(procs, &client, std::slice::from_ref(&hub))?;

    // The body the hub answers, for the static contestant.
    let hub_read = client.get(&format!("{}/v1/transactions/{TXN}", hub.url), Some(&tokens.read))?;
    if hub_read.status != 200 {
        bail!("the hub's first read of {TXN}: {}", hub_read.summary());
    }
    let status_ttl_s = ttl_of(&template)?;

    // nginx: a token from the sim, injected as a static header (nginx does no OAuth).
    let token = status_token(&sim)?;
    let nginx_dir = dir.join("nginx");
    let _ = std::fs::remove_dir_all(&nginx_dir);
    for sub in ["cache", "tmp"] {
        std::fs::create_dir_all(nginx_dir.join(sub))?;
    }
    let nginx_conf = nginx_dir.join("nginx.conf");
    std::fs::write(
        &nginx_conf,
        nginx_config(&nginx_dir, nginx_port, sim_port, &token, status_ttl_s, &hub_read.body),
    )?;
    let mut cmd = Command::new(nginx_bin());
    cmd.arg("-p")
        .arg(&nginx_dir)
        .arg("-c")
        .arg(&nginx_conf)
        .arg("-e")
        .arg(nginx_dir.join("error.log"));
    procs.start_other("nginx", cmd, &nginx_dir.join("nginx.out"))?;
    let nginx = format!("http://127.0.0.1:{nginx_port}");
    println!("starting nginx on {nginx}  (config {})", nginx_conf.display());
    wait_200(procs, &client, &format!("{nginx}/transactions/{TXN}"))?;
    let via_nginx = client.get(&format!("{nginx}/transactions/{TXN}"), None)?;
    println!(
        "  nginx → sim: HTTP {} Cache-Status {}",
        via_nginx.status,
        via_nginx.header("cache-status").unwrap_or("-")
    );

    let (warm, measure) = if quick { (1, 3) } else { (3, 10) };
    let auth = format!("Authorization: Bearer {}", tokens.read);
    println!(
        "\nwrk: {CONNECTIONS} connections, {THREADS} threads, warm-up {warm} s then {measure} s per contestant, cached read of {TXN}"
    );
    let hub_url = format!("{}/v1/transactions/{TXN}", hub.url);
    let hub_f = measure_wrk(procs, "hub", &hub_url, Some(&auth), warm, measure, dir)?;
    let nginx_f = measure_wrk(
        procs,
        "nginx",
        &format!("{nginx}/transactions/{TXN}"),
        None,
        warm,
        measure,
        dir,
    )?;
    let static_f = measure_wrk(
        procs,
        "nginx-static",
        &format!("{nginx}/static/{TXN}"),
        None,
        warm,
        measure,
        dir,
    )?;
    let hub_cache = client.get(&hub_url, Some(&tokens.read))?;
    println!(
        "  (the hub's answer after the run: HTTP {} Cache-Status {})",
        hub_cache.status,
        hub_cache.header("cache-status").unwrap_or("-")
    );

    // The open circuit: the status system down, a never-read id until the circuit opens.
    let circuit = match circuit_open(procs, &client, &sim, &hub.url, &tokens, measure, dir) {
        Ok(c) => Some(c),
        Err(e) if !INTERRUPTED.load(Ordering::SeqCst) => {
            println!("  circuit-open measurement skipped: {e:#}");
            None
        }
        Err(e) => return Err(e),
    };

    print_table(&hub_f, &nginx_f, &static_f, circuit.as_ref());

    let results = json!({
        "at_unix": unix_now(),
        "quick": quick,
        "machine": machine(),
        "wrk": {"connections": CONNECTIONS, "threads": THREADS, "warmup_s": warm, "duration_s": measure},
        "cached_read": {
            "path": format!("/v1/transactions/{TXN}"),
            "hub": hub_f.json(), "nginx": nginx_f.json(), "nginx_static": static_f.json(),
            "ratios": {
                "rps_hub_over_nginx": hub_f.rps / nginx_f.rps,
                "rps_hub_over_static": hub_f.rps / static_f.rps,
                "p50_hub_over_nginx": hub_f.p50_ms / nginx_f.p50_ms,
                "p99_hub_over_nginx": hub_f.p99_ms / nginx_f.p99_ms,
                "p50_hub_over_static": hub_f.p50_ms / static_f.p50_ms,
                "p99_hub_over_static": hub_f.p99_ms / static_f.p99_ms,
            },
        },
        "circuit_open": circuit.as_ref().map(|(f, n)| json!({"hub": f.json(), "upstream_requests": n})),
    });
    let out = dir.join(format!("results-{}.json", unix_now()));
    std::fs::write(&out, serde_json::to_string_pretty(&results)?)?;
    println!("\nresults: {}", out.display());
    Ok(())
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
        demo::TEMPLATE
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

fn nginx_config(dir: &Path, port: u16, sim_port: u16, token: &str, ttl_s: u64, body: &str) -> String {
    let d = dir.display();
    // Running as root, the workers would become `nobody` and could not write the cache.
    let user = if is_root() { "user root;\n" } else { "" };
    let body = body.replace('\\', "\\\\").replace('\'', "\\'");
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
    server {{
        listen 127.0.0.1:{port};
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
        # nginx-static: the hub's body, answered from memory (the machine's ceiling).
        location /static/ {{
            default_type application/json;
            return 200 '{body}';
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

fn wait_200(procs: &mut Procs, client: &Client, url: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        interrupted()?;
        procs.check_alive()?;
        if let Ok(r) = client.get(url, None)
            && r.status == 200
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{url} did not answer 200 within 20 s");
        }
        pause(Duration::from_millis(100))?;
    }
}

/// A warm-up run, then the measured one.
fn measure_wrk(
    procs: &mut Procs,
    name: &str,
    url: &str,
    header: Option<&str>,
    warm_s: u64,
    measure_s: u64,
    dir: &Path,
) -> Result<Figures> {
    interrupted()?;
    procs.check_alive()?;
    wrk(url, header, warm_s, dir)?;
    interrupted()?;
    let f = wrk(url, header, measure_s, dir)?;
    println!(
        "  {name:<14} {:>10.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms{}",
        f.rps,
        f.p50_ms,
        f.p99_ms,
        if f.non_2xx + f.errors > 0 {
            format!("  ({} non-2xx, {} socket errors)", f.non_2xx, f.errors)
        } else {
            String::new()
        }
    );
    Ok(f)
}

fn wrk(url: &str, header: Option<&str>, secs: u64, dir: &Path) -> Result<Figures> {
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t",
        &THREADS.to_string(),
        "-c",
        &CONNECTIONS.to_string(),
        "-d",
        &format!("{secs}s"),
        "--timeout",
        "5s",
        "--latency",
    ]);
    if let Some(h) = header {
        cmd.args(["-H", h]);
    }
    let out = cmd.arg(url).current_dir(dir).output().context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "wrk failed ({}): {text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse_wrk(&text).with_context(|| format!("reading wrk's output:\n{text}"))
}

fn parse_wrk(text: &str) -> Result<Figures> {
    let mut f = Figures {
        rps: f64::NAN,
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        non_2xx: 0,
        errors: 0,
    };
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => f.rps = v.parse()?,
            ["50%", v] => f.p50_ms = millis(v)?,
            ["99%", v] => f.p99_ms = millis(v)?,
            ["Non-2xx", "or", "3xx", "responses:", n] => f.non_2xx = n.parse()?,
            ["Socket", "errors:", rest @ ..] => {
                f.errors = rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum();
            }
            _ => {}
        }
    }
    if f.rps.is_nan() || f.p50_ms.is_nan() || f.p99_ms.is_nan() {
        bail!("no Requests/sec or latency distribution");
    }
    Ok(f)
}

/// wrk's `1.23ms`, `456.78us`, `1.02s`, `2.00m` in milliseconds.
fn millis(v: &str) -> Result<f64> {
    let (num, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        bail!("a latency without a unit: {v}")
    };
    Ok(num.parse::<f64>()? * scale)
}

/// The status system down; a never-read transaction requested until the hub answers
/// `503 circuit_open`; then wrk against it, and the sim's ledger counted around it.
fn circuit_open(
    procs: &mut Procs,
    client: &Client,
    sim: &str,
    hub: &str,
    tokens: &Tokens,
    measure_s: u64,
    dir: &Path,
) -> Result<(Figures, u64)> {
    println!("\ncircuit open: the sim's status system down, TXN-5003 (never read) until the hub fails fast …");
    let r = client.send(
        &ureq::http::Method::POST,
        &format!("{sim}/_sim/outage/status"),
        None,
        None,
        &[],
    )?;
    if r.status >= 300 {
        bail!("POST /_sim/outage/status: {}", r.summary());
    }
    let url = format!("{hub}/v1/transactions/TXN-5003");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        interrupted()?;
        let r = client.get(&url, Some(&tokens.read))?;
        if r.status == 503 && r.body.contains("circuit_open") {
            break;
        }
        if Instant::now() > deadline {
            bail!("the circuit did not open within 60 s; last answer {}", r.summary());
        }
    }
    let count = |c: &Client| -> Result<u64> {
        let r = c.get(&format!("{sim}/_sim/ledger/requests?system=status"), None)?;
        Ok(r.json()["requests"].as_array().map_or(0, |a| a.len() as u64))
    };
    let before = count(client)?;
    let auth = format!("Authorization: Bearer {}", tokens.read);
    procs.check_alive()?;
    let f = wrk(&url, Some(&auth), measure_s, dir)?;
    let upstream = count(client)?.saturating_sub(before);
    println!(
        "  hub, circuit open {:>10.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms  ({} answers not 2xx, as expected); upstream requests during it: {upstream}",
        f.rps, f.p50_ms, f.p99_ms, f.non_2xx
    );
    let _ = client.send(
        &ureq::http::Method::DELETE,
        &format!("{sim}/_sim/outage/status"),
        None,
        None,
        &[],
    );
    Ok((f, upstream))
}

fn print_table(hub: &Figures, nginx: &Figures, stat: &Figures, circuit: Option<&(Figures, u64)>) {
    println!("\n== cached read GET /v1/transactions/{TXN} (warm), {CONNECTIONS} connections ==");
    println!("{:<16} {:>12} {:>10} {:>10}", "contestant", "req/s", "p50 ms", "p99 ms");
    for (name, f) in [("hub", hub), ("nginx (cache)", nginx), ("nginx-static", stat)] {
        println!("{name:<16} {:>12.0} {:>10.3} {:>10.3}", f.rps, f.p50_ms, f.p99_ms);
    }
    println!("\n{:<34} {:>8} {:>8}", "ratio (this run)", "measured", "target");
    let rows = [
        ("req/s  hub ÷ nginx", hub.rps / nginx.rps, "≥ 1.0"),
        ("req/s  hub ÷ nginx-static", hub.rps / stat.rps, "≥ 0.8"),
        ("p50    hub ÷ nginx (lower better)", hub.p50_ms / nginx.p50_ms, "-"),
        ("p99    hub ÷ nginx (lower better)", hub.p99_ms / nginx.p99_ms, "-"),
        ("p50    hub ÷ nginx-static", hub.p50_ms / stat.p50_ms, "-"),
        ("p99    hub ÷ nginx-static", hub.p99_ms / stat.p99_ms, "-"),
    ];
    for (name, v, target) in rows {
        println!("{name:<34} {v:>8.2} {target:>8}");
    }
    if let Some((f, n)) = circuit {
        println!("\n== circuit open (status system down), hub fail-fast ==");
        println!(
            "req/s {:.0}  p50 {:.3} ms  p99 {:.3} ms (target < 1 ms)  upstream requests {n} (target 0)",
            f.rps, f.p50_ms, f.p99_ms
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_output() {
        let text = "Running 3s test @ http://127.0.0.1:1/x
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   410.12us  120.00us   5.01ms   90.00%
  Latency Distribution
     50%  380.00us
     75%  450.00us
     90%  520.00us
     99%    1.20ms
  150000 requests in 3.00s, 40.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  50000.50
Transfer/sec:     13.33MB
";
        let f = parse_wrk(text).unwrap();
        assert!((f.rps - 50000.5).abs() < 1e-9);
        assert!((f.p50_ms - 0.38).abs() < 1e-9);
        assert!((f.p99_ms - 1.2).abs() < 1e-9);
        assert_eq!((f.non_2xx, f.errors), (7, 3));
        assert!((millis("1.50s").unwrap() - 1500.0).abs() < 1e-9);
        assert!(parse_wrk("nothing").is_err());
    }

    #[test]
    fn finds_the_status_ttl() {
        let t = std::fs::read_to_string(workspace_root().join(demo::TEMPLATE)).unwrap();
        assert_eq!(ttl_of(&t).unwrap(), 2);
    }
}
