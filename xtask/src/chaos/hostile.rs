//! Scenario 4, hostile input: schemathesis against every documented route
//! of a live hub, bodies over the limit, garbage on the wire, slowloris headers and
//! bodies, and many idle WebSockets. Throughout, the hub must keep answering, cut the
//! slow clients off at its read timeouts, refuse subscriptions beyond its limit with
//! 503, and keep its memory bounded.
//!
//! The never-panic targets of the scenario (webhook verifier, ids, Retry-After, upstream
//! decoding, the configuration loader) are proptests next to their code: cargo-fuzz
//! needs nightly compiler flags, and this workspace builds on one stable toolchain.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::harness::http::Client;
use crate::harness::{
    Binaries, Harness, HubProc, HubSpec, Tokens, interrupted, pause, rss_bytes, run_dir, secrets_env,
};

/// The schemathesis release the scenario installs from PyPI.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";
/// The openapi-spec-validator release the scenario installs from PyPI, beside schemathesis.
const SPEC_VALIDATOR: &str = "openapi-spec-validator==0.9.0";
/// What schemathesis checks on every answer: all its checks.
const CHECKS: &str = "all";

/// The hub's read timeouts in this scenario, in seconds (the defaults are 30).
const READ_TIMEOUT_S: u64 = 2;
/// The longest a slow client may stay connected past the read timeout before the
/// scenario calls it a failure.
const CUT_OFF_SLACK: Duration = Duration::from_secs(10);

/// How much of everything a run does.
struct Sizes {
    examples: u32,
    slow_headers: usize,
    slow_bodies: usize,
    garbage: usize,
    subscriber_cap: usize,
    subscriptions: usize,
    heartbeat_s: u64,
}

impl Sizes {
    fn new(quick: bool) -> Self {
        if quick {
            Self {
                examples: 15,
                slow_headers: 200,
                slow_bodies: 50,
                garbage: 50,
                subscriber_cap: 150,
                subscriptions: 200,
                heartbeat_s: 3,
            }
        } else {
            Self {
                examples: 100,
                slow_headers: 1000,
                slow_bodies: 200,
                garbage: 200,
                subscriber_cap: 2000,
                subscriptions: 2500,
                heartbeat_s: 5,
            }
        }
    }

    /// Scales the connection counts down to fit under `fd_limit` (this process holds one
    /// descriptor per connection, and so does the hub, which inherits the limit).
    fn fit(&mut self, fd_limit: u64) {
        let room = usize::try_from(fd_limit.saturating_sub(200) / 2).unwrap_or(usize::MAX);
        if self.subscriptions > room || self.slow_headers + self.slow_bodies > room {
            println!("  the open-file limit is {fd_limit}: scaling the connection counts down to {room}");
            self.subscriptions = self.subscriptions.min(room);
            self.subscriber_cap = self.subscriber_cap.min(room * 3 / 4);
            self.slow_headers = self.slow_headers.min(room * 4 / 5);
            self.slow_bodies = self.slow_bodies.min(room / 5);
        }
    }
}

/// `cargo xtask chaos` scenario 4.
pub(crate) fn run(quick: bool) -> Result<()> {
    let fd_limit = open_file_limit()?;
    let mut sizes = Sizes::new(quick);
    sizes.fit(fd_limit);
    let mut stage = Stage::start(
        "hostile",
        &[
            ("HUB__SERVER__HEADER_READ_TIMEOUT_S", READ_TIMEOUT_S.to_string()),
            ("HUB__SERVER__BODY_READ_TIMEOUT_S", READ_TIMEOUT_S.to_string()),
            ("HUB__EVENTS__MAX_SUBSCRIBERS", sizes.subscriber_cap.to_string()),
            ("HUB__EVENTS__HEARTBEAT_S", sizes.heartbeat_s.to_string()),
        ],
    )?;
    println!(
        "  open-file limit {fd_limit}; hub read timeouts {READ_TIMEOUT_S} s, at most {} subscriptions, heartbeat {} s",
        sizes.subscriber_cap, sizes.heartbeat_s
    );
    println!("  hub memory at start: {}", stage.footprint()?);

    schemathesis(&stage, sizes.examples, quick)?;
    stage.check_alive()?;
    oversized_bodies(&stage)?;
    garbage(&stage, sizes.garbage)?;
    pathological_json(&stage)?;
    stage.check_alive()?;
    slow_clients(&stage, sizes.slow_headers, Slow::Headers)?;
    slow_clients(&stage, sizes.slow_bodies, Slow::Body)?;
    stage.check_alive()?;
    idle_subscriptions(&stage, sizes.subscriptions, sizes.subscriber_cap, sizes.heartbeat_s)?;
    oversized_message(&stage)?;
    stage.check_alive()?;
    println!("  hub memory at the end: {}", stage.footprint()?);
    stage.no_panics()
}

// ---- schemathesis ----

/// Installs schemathesis and openapi-spec-validator into `target/chaos/venv` unless the
/// pinned releases are there; the venv's `bin` directory.
fn python_tools() -> Result<PathBuf> {
    let venv = run_dir::target_dir().join("chaos").join("venv");
    let bin = venv.join("bin");
    let pip = bin.join("pip");
    let installed = Command::new(&pip)
        .args(["freeze", "--disable-pip-version-check"])
        .output()
        .is_ok_and(|o| {
            let frozen = String::from_utf8_lossy(&o.stdout).to_ascii_lowercase();
            [SCHEMATHESIS, SPEC_VALIDATOR]
                .iter()
                .all(|pin| frozen.lines().any(|l| l.trim() == *pin))
        });
    if !installed {
        println!(
            "  installing {SCHEMATHESIS} and {SPEC_VALIDATOR} into {} …",
            venv.display()
        );
        let venv_arg = venv.to_string_lossy().into_owned();
        crate::run("python3", &["-m", "venv", &venv_arg], &[])?;
        crate::run(
            &pip.to_string_lossy(),
            &["install", "--quiet", SCHEMATHESIS, SPEC_VALIDATOR],
            &[],
        )?;
    }
    Ok(bin)
}

/// `/openapi.json` as the hub serves it, checked by openapi-spec-validator (OpenAPI 3.1:
/// structure, references, unique operationIds).
fn validate_document(stage: &Stage, bin: &Path) -> Result<()> {
    println!("\n-- openapi-spec-validator: the published document --");
    let r = stage.client.get(&format!("{}/openapi.json", stage.url), None)?;
    ensure!(r.status == 200, "/openapi.json: {}", r.summary());
    let file = stage.dir.join("openapi.json");
    std::fs::write(&file, &r.body).with_context(|| format!("writing {}", file.display()))?;
    let validator = bin.join("openapi-spec-validator");
    let out = Command::new(&validator)
        .args(["--schema", "3.1", "--validation-errors", "all"])
        .arg(&file)
        .current_dir(&stage.dir)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("starting {}", validator.display()))?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(
        out.status.success(),
        "openapi-spec-validator refuses /openapi.json ({}):\n{}",
        out.status,
        said.lines().take(60).collect::<Vec<_>>().join("\n")
    );
    println!("  ✓ {}", said.lines().last().unwrap_or("valid").trim());
    Ok(())
}

/// schemathesis' configuration: where the contract makes a schema-valid request's answer
/// depend on state no schema can express, the 422s that state may bring are expected of
/// `positive_data_acceptance` on those operations only (the check stays strict elsewhere).
const SCHEMATHESIS_CONFIG: &str = r#"# Written by cargo xtask chaos (hostile input).
# Writes: the same Idempotency-Key with another body is 422 idempotency_mismatch (generated
# keys repeat), and the upstream refuses business-wise with 422 upstream_rejected (an
# unknown customer, a draft already committed or cancelled).
[[operations]]
include-operation-id = ["create_ticket", "add_ticket_comment", "create_draft", "commit_draft", "cancel_draft"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", 401, 403, 404, 409, 422, 429, "5xx"]

# Listings: a cursor is opaque; one the hub did not issue is 422 naming `cursor`.
[[operations]]
include-operation-id = ["list_dlq_entries", "list_audit_records"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", 401, 403, 404, 409, 422, 429, "5xx"]
"#;

/// openapi-spec-validator over `/openapi.json`, then schemathesis over it with the admin
/// token and all its checks: no 5xx, every answer's status, content type, headers and body
/// as documented, invalid requests refused, valid ones accepted.
fn schemathesis(stage: &Stage, examples: u32, quick: bool) -> Result<()> {
    println!("\n-- schemathesis: generated requests against every documented route --");
    let bin = python_tools()?;
    validate_document(stage, &bin)?;
    let st = bin.join("st");
    let log = stage.dir.join("schemathesis.log");
    let config = stage.dir.join("schemathesis.toml");
    std::fs::write(&config, SCHEMATHESIS_CONFIG).with_context(|| format!("writing {}", config.display()))?;
    let mut cmd = Command::new(&st);
    cmd.arg("--config-file").arg(&config);
    cmd.args(["run", &format!("{}/openapi.json", stage.url)])
        .args(["--header", &format!("Authorization: Bearer {}", stage.tokens.admin)])
        .args(["--checks", CHECKS])
        // A WebSocket: schemathesis speaks plain HTTP only (its 426 answer is documented
        // and checked by the access scenario).
        .args(["--exclude-path", "/v1/events"])
        .args(["--max-examples", &examples.to_string()])
        // One worker: with several, hypothesis (4.32.5's) sometimes fails on its own
        // ("AST constructor recursion depth mismatch" while describing a lambda from two
        // threads at once) — a runtime error of the tool, not an answer of the hub.
        .args(["--workers", "1", "--no-color"])
        .args(["--report", "junit", "--report-dir"])
        .arg(stage.dir.join("schemathesis-report"));
    if quick {
        // CI: the same cases every run.
        cmd.args(["--seed", "20261126"]);
    }
    let file = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let started = Instant::now();
    let mut child = cmd
        .current_dir(&stage.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(file.try_clone()?))
        .stderr(Stdio::from(file))
        .spawn()
        .with_context(|| format!("starting {}", st.display()))?;
    let limit = Duration::from_secs(if quick { 300 } else { 1200 });
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > limit || interrupted().is_err() {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "schemathesis did not finish within {} s; its log: {}",
                limit.as_secs(),
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let after = |heading: &str| {
        lines
            .iter()
            .position(|l| l.trim() == heading)
            .and_then(|i| lines.get(i + 1))
            .map_or("-", |l| l.trim())
    };
    println!(
        "  {} example(s) per operation: test cases {}; {:.0} s; log {}",
        examples,
        after("Test cases:"),
        started.elapsed().as_secs_f64(),
        log.display()
    );
    if let Some(summary) = lines.iter().rev().find(|l| l.starts_with("====")) {
        println!("  {}", summary.trim_matches(|c| c == '=' || c == ' '));
    }
    if !status.success() {
        let failures: Vec<String> = lines
            .iter()
            .skip_while(|l| !l.contains("= FAILURES =") && !l.contains("= ERRORS ="))
            .take_while(|l| !l.contains("= WARNINGS =") && !l.contains("= SUMMARY ="))
            .take(60)
            .map(|l| l.chars().take(240).collect())
            .collect();
        bail!(
            "schemathesis found answers that break the contract ({status}):\n{}",
            failures.join("\n")
        );
    }
    Ok(())
}

// ---- limits ----

/// Bodies over the 1 MiB limit, with a length, chunked without one, and to a webhook:
/// 413 before the body is read, and the hub carries on.
fn oversized_bodies(stage: &Stage) -> Result<()> {
    println!("\n-- bodies over the 1 MiB limit --");
    let body = format!(
        "{{\"customer_id\":\"CUST-1001\",\"subject\":\"s\",\"description\":\"{}\"}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let auth = format!("authorization: Bearer {}\r\n", stage.tokens.write);
    let with_length = |path: &str, auth: &str| {
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nhost: hub\r\n{auth}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body.as_bytes());
        req
    };
    let mut chunked = format!(
        "POST /v1/tickets HTTP/1.1\r\nhost: hub\r\n{auth}content-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in body.as_bytes().chunks(64 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    for (what, request) in [
        (
            "POST /v1/tickets, 2 MiB with Content-Length",
            with_length("/v1/tickets", &auth),
        ),
        ("POST /v1/tickets, 2 MiB chunked", chunked),
        (
            "POST /webhooks/transaction_updated, 2 MiB",
            with_length("/webhooks/transaction_updated", ""),
        ),
    ] {
        let started = Instant::now();
        let (status, answer) = raw(stage.addr, &request)?;
        ensure!(
            status == 413 && answer.contains("payload_too_large"),
            "{what}: expected 413 payload_too_large, got {}",
            head(&answer)
        );
        println!("  ✓ {what}: 413 in {:.0} ms", started.elapsed().as_secs_f64() * 1000.0);
    }
    stage.healthy()?;
    Ok(())
}

/// Garbage on the wire (random bytes, broken request lines): 400 or a closed
/// connection, never a dead hub.
fn garbage(stage: &Stage, n: usize) -> Result<()> {
    println!("\n-- garbage on the wire --");
    let mut rng = Lcg::new();
    let mut answered = [0usize; 2];
    for i in 0..n {
        let mut request = match i % 4 {
            0 => {
                let len = 1 + rng.below(2000);
                rng.bytes(len)
            }
            1 => format!("GET /{} HTTP/1.1\r\n\r\n", String::from_utf8_lossy(&rng.bytes(40))).into_bytes(),
            2 => format!(
                "POST /v1/tickets HTTP/1.1\r\nhost: x\r\ncontent-length: -{}\r\n\r\n",
                rng.below(99)
            )
            .into_bytes(),
            _ => format!(
                "GET /healthz HTTP/1.1\r\nhost: x\r\n{}: {}\r\n\r\n",
                "x".repeat(1 + rng.below(100)),
                String::from_utf8_lossy(&rng.bytes(200))
            )
            .into_bytes(),
        };
        request.extend_from_slice(b"\r\n\r\n");
        let (status, answer) = raw(stage.addr, &request)?;
        ensure!(status < 500, "garbage #{i} got a server error: {}", head(&answer));
        answered[usize::from(status == 0)] += 1;
    }
    stage.healthy()?;
    println!(
        "  ✓ {n} garbage requests: {} answered 4xx (or 200 for a tolerable header), {} closed; the hub carries on",
        answered[0], answered[1]
    );
    Ok(())
}

/// JSON that is costly to take apart, just under the body limit: refused (or, for a
/// legal if odd subject, taken), never a 5xx, and the hub carries on.
fn pathological_json(stage: &Stage) -> Result<()> {
    println!("\n-- pathological JSON just under the limit --");
    let near = 1000 * 1000;
    let ticket = |field: &str, value: &str| {
        format!("{{\"customer_id\":\"CUST-1001\",\"subject\":\"s\",\"description\":\"d\",\"{field}\":{value}}}")
    };
    let cases = [
        (
            "arrays nested 500,000 deep",
            "/v1/tickets",
            ticket("x", &format!("{}{}", "[".repeat(near / 2), "]".repeat(near / 2))),
        ),
        (
            "metadata nested 160,000 objects deep",
            "/v1/transactions/drafts",
            format!(
                "{{\"customer_id\":\"CUST-1001\",\"amount\":\"1\",\"description\":\"d\",\"metadata\":{}1{}}}",
                "{\"a\":".repeat(160_000),
                "}".repeat(160_000)
            ),
        ),
        (
            "an amount of 990,000 digits",
            "/v1/transactions/drafts",
            format!(
                "{{\"customer_id\":\"CUST-1001\",\"amount\":{},\"description\":\"d\"}}",
                "9".repeat(near - 10_000)
            ),
        ),
        (
            "a subject of 160,000 escaped NULs (legal JSON: may be taken)",
            "/v1/tickets",
            {
                let s = "\\u0000".repeat(near / 6 - 1000);
                format!("{{\"customer_id\":\"CUST-1001\",\"subject\":\"{s}\",\"description\":\"d\"}}")
            },
        ),
        ("80,000 unknown fields", "/v1/tickets", {
            let fields: String = (0..80_000).map(|i| format!("\"f{i}\":0,")).collect();
            format!("{{{fields}\"customer_id\":\"CUST-1001\",\"subject\":\"s\",\"description\":\"d\"}}")
        }),
    ];
    for (what, path, body) in cases {
        ensure!(body.len() < 1024 * 1024, "{what}: {} bytes, over the limit", body.len());
        let request = format!(
            "POST {path} HTTP/1.1\r\nhost: hub\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            stage.tokens.write,
            body.len()
        );
        let started = Instant::now();
        let (status, answer) = raw(stage.addr, request.as_bytes())?;
        let took = started.elapsed();
        let taken = what.contains("may be taken") && (200..300).contains(&status);
        ensure!(
            (400..500).contains(&status) || taken,
            "{what}: expected a 4xx, got {}",
            head(&answer)
        );
        println!(
            "  ✓ {what} ({} KiB): {status} in {:.0} ms",
            body.len() / 1024,
            took.as_secs_f64() * 1000.0
        );
    }
    stage.healthy()?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slow {
    /// Headers one byte at a time, never finished.
    Headers,
    /// Headers at once, then the body one byte at a time.
    Body,
}

/// Many clients trickling a request: each must be cut off at the read timeout (a body
/// with 408), while the hub keeps answering others.
fn slow_clients(stage: &Stage, n: usize, slow: Slow) -> Result<()> {
    let what = match slow {
        Slow::Headers => "slowloris: headers a byte at a time",
        Slow::Body => "slow bodies: headers at once, the body a byte at a time",
    };
    println!("\n-- {what}, {n} connections --");
    let before = stage.footprint()?;
    let head = match slow {
        Slow::Headers => "GET /healthz HTTP/1.1\r\nhost: hub\r\nx-slow: ".to_owned(),
        Slow::Body => "POST /webhooks/ticket_updated HTTP/1.1\r\nhost: hub\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{".to_owned(),
    };
    let started = Instant::now();
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = TcpStream::connect_timeout(&stage.addr, Duration::from_secs(5)).context("connecting")?;
        s.write_all(head.as_bytes())?;
        s.set_nonblocking(true)?;
        conns.push(Trickle {
            opened: Instant::now(),
            stream: Some(s),
            received: Vec::new(),
            closed_after: None,
        });
    }
    let during = stage.footprint()?;
    let mut worst_health = Duration::ZERO;
    let opened_in = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(READ_TIMEOUT_S) + CUT_OFF_SLACK;
    while conns.iter().any(|c| c.stream.is_some()) && Instant::now() < deadline {
        interrupted()?;
        for c in &mut conns {
            c.step();
        }
        worst_health = worst_health.max(stage.healthy()?);
        std::thread::sleep(Duration::from_millis(250));
    }
    let open = conns.iter().filter(|c| c.stream.is_some()).count();
    ensure!(
        open == 0,
        "{open} of {n} slow connections were still open {} s after the {READ_TIMEOUT_S} s read timeout",
        CUT_OFF_SLACK.as_secs()
    );
    let mut cut: Vec<Duration> = conns.iter().filter_map(|c| c.closed_after).collect();
    cut.sort();
    if slow == Slow::Body {
        let not_408: Vec<String> = conns
            .iter()
            .map(|c| String::from_utf8_lossy(&c.received).into_owned())
            .filter(|a| !a.starts_with("HTTP/1.1 408"))
            .collect();
        ensure!(
            not_408.is_empty(),
            "{} of {n} slow bodies were not answered 408, e.g. {}",
            not_408.len(),
            not_408.first().map_or("-", |a| head_of(a))
        );
    }
    let after = stage.footprint()?;
    println!(
        "  ✓ all {n} (opened in {:.1} s) cut off by the hub {:.1}–{:.1} s after they connected (read timeout {READ_TIMEOUT_S} s){}; /healthz meanwhile within {:.0} ms",
        opened_in.as_secs_f64(),
        cut.first().map_or(0.0, Duration::as_secs_f64),
        cut.last().map_or(0.0, Duration::as_secs_f64),
        if slow == Slow::Body {
            ", every one answered 408"
        } else {
            ""
        },
        worst_health.as_secs_f64() * 1000.0
    );
    println!("    hub before {before}; with them {during}; after {after}");
    Ok(())
}

/// One slow client.
struct Trickle {
    opened: Instant,
    stream: Option<TcpStream>,
    received: Vec<u8>,
    closed_after: Option<Duration>,
}

impl Trickle {
    /// Sends one more byte and reads what the hub sent; notes when it closed.
    fn step(&mut self) {
        let Some(s) = self.stream.as_mut() else {
            return;
        };
        let mut closed = matches!(s.write(b"a"), Err(e) if e.kind() != ErrorKind::WouldBlock);
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(k) => self.received.extend_from_slice(&buf[..k]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => {
                    closed = true;
                    break;
                }
            }
        }
        if closed {
            self.stream = None;
            self.closed_after = Some(self.opened.elapsed());
        }
    }
}

/// Opens `n` WebSockets to `/v1/events` and leaves them silent: exactly `cap` are
/// accepted, the rest refused with 503 `overloaded`; the hub answers meanwhile, its
/// memory per subscription stays small, and it closes the silent ones itself after
/// three unanswered heartbeats.
fn idle_subscriptions(stage: &Stage, n: usize, cap: usize, heartbeat_s: u64) -> Result<()> {
    println!("\n-- {n} idle WebSocket subscriptions (limit {cap}) --");
    let before = stage.footprint()?;
    let rss_before = stage.rss_kib()?;
    let started = Instant::now();
    let mut open = Vec::new();
    let mut refused = 0usize;
    let mut other = Vec::new();
    for _ in 0..n {
        interrupted()?;
        let (status, answer, stream) = ws_handshake(stage.addr, &stage.tokens.read)?;
        match status {
            101 => open.push(stream),
            503 if answer.contains("overloaded") && answer.to_ascii_lowercase().contains("retry-after:") => {
                refused += 1;
            }
            _ => other.push(head_of(&answer).to_owned()),
        }
    }
    let opened_in = started.elapsed();
    let with = stage.footprint()?;
    let rss_with = stage.rss_kib()?;
    let health = stage.healthy()?;
    let read = stage.client.get(
        &format!("{}/v1/transactions/TXN-5001", stage.url),
        Some(&stage.tokens.read),
    )?;
    ensure!(
        other.is_empty(),
        "{} handshakes got neither 101 nor 503 overloaded, e.g. {}",
        other.len(),
        other[0]
    );
    ensure!(
        open.len() == cap.min(n) && refused == n.saturating_sub(cap),
        "expected {} accepted and {} refused, got {} and {refused}",
        cap.min(n),
        n.saturating_sub(cap),
        open.len()
    );
    ensure!(
        read.status == 200,
        "a read with the subscriptions open: {}",
        read.summary()
    );
    // Each subscription is counted once its upgraded connection runs, just after its 101.
    let counted = Instant::now();
    loop {
        let gauge = stage.metric("integration_event_subscribers ")?;
        if gauge == open.len() as f64 {
            break;
        }
        ensure!(
            counted.elapsed() < CUT_OFF_SLACK,
            "the hub counts {gauge} subscribers, {} are open",
            open.len()
        );
        pause(Duration::from_millis(100))?;
    }
    let per_sub = rss_with.saturating_sub(rss_before) as f64 / open.len().max(1) as f64;
    println!(
        "  ✓ {} accepted, {refused} refused with 503 overloaded + Retry-After ({:.1} s to open all); /healthz {:.0} ms and a read 200 meanwhile",
        open.len(),
        opened_in.as_secs_f64(),
        health.as_secs_f64() * 1000.0
    );
    println!("    hub before {before}; with them {with} (≈ {per_sub:.1} KiB per subscription)");
    ensure!(
        per_sub <= 64.0,
        "each idle subscription costs the hub ≈ {per_sub:.1} KiB (more than 64 KiB)"
    );
    // Silent clients never answer a ping: the hub closes them after three intervals.
    let waited = Instant::now();
    let limit = Duration::from_secs(heartbeat_s * 4) + CUT_OFF_SLACK;
    loop {
        let left = stage.metric("integration_event_subscribers ")?;
        if left == 0.0 {
            break;
        }
        ensure!(
            waited.elapsed() < limit,
            "{left} silent subscriptions still open {:.0} s after the last handshake (heartbeat {heartbeat_s} s)",
            waited.elapsed().as_secs_f64()
        );
        pause(Duration::from_millis(250))?;
    }
    let closed_in = waited.elapsed();
    drop(open);
    pause(Duration::from_millis(500))?;
    let after = stage.footprint()?;
    println!(
        "  ✓ the hub closed every silent subscription itself {:.1} s after the last handshake (heartbeat {heartbeat_s} s, closed after 3 unanswered)",
        closed_in.as_secs_f64()
    );
    println!("    hub after {after}");
    // The limit counts subscriptions, not history: one can subscribe again.
    let (status, answer, _again) = ws_handshake(stage.addr, &stage.tokens.read)?;
    ensure!(
        status == 101,
        "subscribing again after they closed: {}",
        head_of(&answer)
    );
    Ok(())
}

/// A subscriber sending one 8 MiB message: the hub must close the connection (1009,
/// message too big) without taking the message into memory.
fn oversized_message(stage: &Stage) -> Result<()> {
    println!("\n-- a subscriber sending an 8 MiB message --");
    const SIZE: usize = 8 * 1024 * 1024;
    let rss_before = stage.rss_kib()?;
    let (status, answer, mut s) = ws_handshake(stage.addr, &stage.tokens.read)?;
    ensure!(status == 101, "subscribing: {}", head_of(&answer));
    // A client frame must be masked; a zero key leaves the payload as it is.
    let mut frame = vec![0x81u8, 0x80 | 127];
    frame.extend_from_slice(&(SIZE as u64).to_be_bytes());
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame.resize(frame.len() + SIZE, b'x');
    let mut writer = s.try_clone()?;
    let started = Instant::now();
    let sending = std::thread::spawn(move || writer.write_all(&frame).is_ok());
    // Read until the hub closes: a close frame (0x88) with 1009, or the end of the stream.
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let ended = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(k) => seen.extend_from_slice(&buf[..k]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break false,
            Err(_) => break true,
        }
    };
    let took = started.elapsed();
    drop(s);
    let sent_all = sending.join().unwrap_or(false);
    let close_1009 = seen.windows(4).any(|w| w[0] == 0x88 && w[2..4] == [0x03, 0xF1]);
    let grew = stage.rss_kib()?.saturating_sub(rss_before);
    ensure!(ended, "the hub kept the connection open 10 s after an 8 MiB message");
    ensure!(
        grew < 4 * 1024,
        "the hub's memory grew by {grew} KiB while refusing an 8 MiB message"
    );
    println!(
        "  ✓ closed after {:.0} ms{}{}; the hub's memory grew {grew} KiB",
        took.as_secs_f64() * 1000.0,
        if close_1009 { " with 1009 (message too big)" } else { "" },
        if sent_all {
            ""
        } else {
            ", before the client could send it all"
        }
    );
    stage.healthy()?;
    Ok(())
}

/// A WebSocket handshake to `/v1/events`: the status, the answer's head (and body when
/// refused), and the connection.
fn ws_handshake(addr: SocketAddr, token: &str) -> Result<(u16, String, TcpStream)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).context("connecting")?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET /v1/events HTTP/1.1\r\nhost: {addr}\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
         sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\
         authorization: Bearer {token}\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 2048];
    loop {
        let head_done = answer.windows(4).any(|w| w == b"\r\n\r\n");
        // A 101 has no body (what follows is WebSocket frames); a refusal has a Content-Length.
        if head_done && (answer.starts_with(b"HTTP/1.1 101") || complete(&answer)) {
            break;
        }
        let k = s.read(&mut buf).context("reading the handshake's answer")?;
        if k == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..k]);
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    Ok((status_of(&text), text, s))
}

// ---- the stage: hub-sim and one hub ----

/// hub-sim and one generic hub, started for one scenario and stopped when dropped.
pub(super) struct Stage {
    harness: Harness,
    /// A client for loopback calls.
    pub(super) client: Client,
    /// hub-sim's URL.
    pub(super) sim: String,
    /// The hub's URL.
    pub(super) url: String,
    /// The hub's address, for raw connections.
    pub(super) addr: SocketAddr,
    /// The hub's bearer tokens.
    pub(super) tokens: Tokens,
    /// The run directory (logs, configuration, reports).
    pub(super) dir: PathBuf,
    hub: HubProc,
}

impl Stage {
    /// Builds and starts hub-sim and one hub on `config/demo.toml` with `overrides`
    /// (`HUB__…` variables), and waits for `/readyz`.
    pub(super) fn start(scenario: &str, overrides: &[(&str, String)]) -> Result<Self> {
        let bins = Binaries::dev()?;
        // A fresh `target/chaos/<scenario>-…`; the three newest of the scenario are kept.
        let dir = run_dir::fresh("chaos", &format!("{scenario}-"), 2)?;
        println!("run directory: {}", dir.display());
        let mut harness = Harness::new(&bins, &dir)?;
        let sim = harness.start_sim(&[])?;
        let tokens = Tokens::fresh("chaos");
        let mut env = secrets_env(&tokens);
        env.extend(overrides.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        let hub = harness.start_hub(HubSpec {
            name: "hub",
            dialect: "generic",
            dir: dir.clone(),
            env,
            edits: &[],
        })?;
        let addr: SocketAddr = hub
            .url
            .trim_start_matches("http://")
            .parse()
            .with_context(|| format!("the address of {}", hub.url))?;
        harness.wait_ready(&[&hub])?;
        Ok(Self {
            harness,
            client: Client::new(),
            sim,
            url: hub.url.clone(),
            addr,
            tokens,
            dir,
            hub,
        })
    }

    /// Fails, naming the log, when hub-sim or the hub has exited.
    pub(super) fn check_alive(&mut self) -> Result<()> {
        self.harness.check_alive()
    }

    /// Fails when the hub's log (its stdout and stderr) reports a panic.
    pub(super) fn no_panics(&self) -> Result<()> {
        let log = &self.hub.log;
        let text = std::fs::read_to_string(log).with_context(|| format!("reading {}", log.display()))?;
        let panics: Vec<&str> = text.lines().filter(|l| l.contains("panicked at")).collect();
        ensure!(
            panics.is_empty(),
            "the hub panicked {} time(s), first: {}",
            panics.len(),
            panics[0]
        );
        println!("  ✓ no panic in the hub's log ({} lines)", text.lines().count());
        Ok(())
    }

    /// `GET /healthz` must answer 200; how long it took.
    pub(super) fn healthy(&self) -> Result<Duration> {
        let r = self.client.get(&format!("{}/healthz", self.url), None)?;
        ensure!(r.status == 200, "/healthz: {}", r.summary());
        Ok(r.elapsed)
    }

    /// The sum of the `/metrics` samples whose line starts with `prefix` (metric name,
    /// then `{` or a space).
    pub(super) fn metric(&self, prefix: &str) -> Result<f64> {
        let r = self.client.get(&format!("{}/metrics", self.url), None)?;
        ensure!(r.status == 200, "/metrics: {}", r.summary());
        Ok(r.body
            .lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum())
    }

    /// The hub's resident memory, in KiB (`VmRSS` of `/proc/PID/status`).
    fn rss_kib(&self) -> Result<u64> {
        Ok(rss_bytes(self.harness.pid(&self.hub)?)? / 1024)
    }

    /// Resident memory and open descriptors of the hub, for the figures.
    pub(super) fn footprint(&self) -> Result<String> {
        let fds = std::fs::read_dir(format!("/proc/{}/fd", self.harness.pid(&self.hub)?)).map_or(0, Iterator::count);
        Ok(format!("RSS {:.1} MiB, {fds} fds", self.rss_kib()? as f64 / 1024.0))
    }
}

/// The soft limit on open files of this process (the hub inherits it).
fn open_file_limit() -> Result<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .context("no 'Max open files' in /proc/self/limits")
}

// ---- raw HTTP ----

/// Sends `request` as it is (writing from a thread, so an early answer is read even
/// while the hub refuses the rest) and reads until the hub closes or 10 s pass: the
/// status (0 when there was none) and the answer.
pub(super) fn raw(addr: SocketAddr, request: &[u8]) -> Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).context("connecting")?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut writer = s.try_clone()?;
    let request = request.to_vec();
    let sending = std::thread::spawn(move || {
        let _ = writer.write_all(&request);
    });
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while !complete(&out) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => out.extend_from_slice(&buf[..k]),
        }
    }
    drop(s);
    let _ = sending.join();
    let text = String::from_utf8_lossy(&out).into_owned();
    Ok((status_of(&text), text))
}

/// Whether `answer` holds a whole HTTP/1.1 response with a `Content-Length` (the hub's
/// answers all have one), so a kept-alive connection need not be waited out.
fn complete(answer: &[u8]) -> bool {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
    head.lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .is_some_and(|len| answer.len() >= end + 4 + len)
}

/// The status of an HTTP/1.1 answer's first line; 0 when there is none.
fn status_of(answer: &str) -> u16 {
    answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// The first line of an answer, or `(nothing)`.
fn head_of(answer: &str) -> &str {
    answer
        .lines()
        .next()
        .filter(|l| !l.is_empty())
        .unwrap_or("(nothing; closed)")
}

/// The first 300 characters of an answer, for failure messages.
fn head(answer: &str) -> String {
    let mut s: String = answer.chars().take(300).collect();
    if s.is_empty() {
        s.push_str("(nothing; closed)");
    }
    s
}

/// A small deterministic generator of garbage (no dependency for it).
struct Lcg(u64);

impl Lcg {
    fn new() -> Self {
        Self(0x9E37_79B9_7F4A_7C15)
    }

    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next()).unwrap_or(0) % n.max(1)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() & 0xff) as u8).collect()
    }
}
