//! Scenario 7, store faults: writes under load while the hubs' own stores are slow,
//! down and locked and the audit queue is full, checked against hub-sim's ledger.
//!
//! Four generic hubs share the load: `hub-pg-a` and `hub-pg-b` on one PostgreSQL schema
//! reached through a [`DbProxy`] (slowed, stalled, then cut and refused, then restored;
//! in between, `psql` locks the schema's claim and audit tables — the shared server
//! itself is never touched), `hub-lite` on SQLite whose file `sqlite3` locks for a
//! while, and `hub-queue` on SQLite with a one-record audit queue. Then the upstreams go
//! down long enough to dead-letter writes, and the pair's DLQ is replayed from both hubs
//! at once.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::json;
use ureq::http::Method;

use super::db_proxy::{DbProxy, Mode};
use super::held_lock::HeldLock;
use super::load::{self, Seen};
use super::pair::RedisPrefix;
use super::rig::{Rig, Store, poll};
use super::secrets::{self, all_pages};
use super::under_load::{merge, target};
use crate::harness::http::{Client, Resp};
use crate::harness::{HubProc, Schema, pause, random_hex};

/// The shared PostgreSQL the proxy forwards to.
const POSTGRES: ([u8; 4], u16) = ([127, 0, 0, 1], 5432);

/// Sizes of a run.
struct Size {
    jobs: usize,
    workers: usize,
    /// How long PostgreSQL is slowed (half of it stalled); how long its tables are
    /// locked, then how long it is down and SQLite locked; how long the upstreams are down.
    slow: Duration,
    down: Duration,
    outage: Duration,
}

impl Size {
    fn of(quick: bool) -> Self {
        if quick {
            Self {
                jobs: 600,
                workers: 32,
                slow: Duration::from_secs(3),
                down: Duration::from_secs(4),
                outage: Duration::from_secs(2),
            }
        } else {
            Self {
                jobs: 3000,
                workers: 96,
                slow: Duration::from_secs(6),
                down: Duration::from_secs(8),
                outage: Duration::from_secs(4),
            }
        }
    }
}

/// The store timeouts of every hub here: short, so that a fault is a refusal within a
/// second or two rather than five.
const TIMEOUTS: [(&str, &str); 4] = [
    ("HUB__STORE__ACQUIRE_TIMEOUT_MS", "1000"),
    ("HUB__STORE__STATEMENT_TIMEOUT_MS", "1000"),
    ("HUB__STORE__SQLITE_BUSY_TIMEOUT_MS", "1000"),
    ("HUB__STORE__AUDIT_WRITE_TIMEOUT_MS", "1500"),
];

/// The tables of the pair's schema psql locks: where writes are claimed and recorded.
const LOCKED_TABLES: &[&str] = &["idempotency_keys", "audit_records"];

/// `hub-queue`'s audit writer: one record queued at a time, one per transaction, a
/// millisecond's wait for room.
const TINY_QUEUE: [(&str, &str); 3] = [
    ("HUB__STORE__AUDIT_QUEUE_CAPACITY", "1"),
    ("HUB__STORE__AUDIT_BATCH_SIZE", "1"),
    ("HUB__STORE__AUDIT_ENQUEUE_WAIT_MS", "1"),
];

/// What the fault controller saw.
#[derive(Default)]
struct Faults {
    /// `/readyz` of `hub-pg-a` while PostgreSQL was down.
    ready_while_down: Option<u16>,
    pg_lock_held: Duration,
    sqlite_lock_held: Duration,
    connections: (usize, usize),
    /// Each phase of the run and when it began, in order.
    phases: Vec<(&'static str, Instant)>,
}

impl Faults {
    fn begin(&mut self, phase: &'static str) {
        self.phases.push((phase, Instant::now()));
    }

    /// Begins `phase` (its fault is in place): lets the jobs up to `until` go, then waits `hold`.
    fn enter(&mut self, p: &load::Progress, phase: &'static str, until: usize, hold: Duration) -> Result<()> {
        println!("  {} jobs done: {phase}", p.done());
        self.begin(phase);
        p.release(until);
        pause(hold)
    }

    /// The fault is over: waits until the jobs up to `n` are done.
    fn back(&mut self, p: &load::Progress, n: usize) -> Result<()> {
        self.begin("stores back");
        p.wait_done(n)
    }

    /// The phase `t` fell in.
    fn phase_at(&self, t: Instant) -> usize {
        self.phases.iter().rposition(|(_, since)| *since <= t).unwrap_or(0)
    }
}

/// The phase whose refusals prove that PostgreSQL and SQLite being unavailable refused writes.
const DOWN: &str = "PostgreSQL down, SQLite locked";

/// `cargo xtask chaos` scenario 7.
pub(crate) fn run(quick: bool) -> Result<()> {
    crate::services::ensure()?;
    crate::services::sqlite3()?;
    // Dropped in reverse: the hubs (with the rig), then the proxy, the keys, the schema.
    let schema = Schema::create("hub_storefaults")?;
    let prefix = RedisPrefix(format!("hub-storefaults-{}", random_hex()));
    let proxy = DbProxy::start(SocketAddr::from(POSTGRES))?;
    let mut rig = Rig::start("7-store-faults", quick)?;
    let env = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    };
    rig.extra_env = env(&TIMEOUTS);
    let store = Store::Shared {
        schema_env: through(&schema.hub_env(), proxy.port),
        prefix: prefix.0.clone(),
    };
    println!(
        "  PostgreSQL schema {} through the proxy on 127.0.0.1:{}, Redis key prefix {}",
        schema.name, proxy.port, prefix.0
    );
    let a = rig.start_hub("hub-pg-a", "generic", &store)?;
    rig.wait_ready(&[&a])?;
    let b = rig.start_hub("hub-pg-b", "generic", &store)?;
    let lite = rig.start_hub("hub-lite", "generic", &Store::Sqlite)?;
    rig.extra_env.extend(env(&TINY_QUEUE));
    let queue = rig.start_hub("hub-queue", "generic", &Store::Sqlite)?;
    let hubs = [&a, &b, &lite, &queue];
    rig.wait_ready(&hubs)?;
    let lite_db = rig.dir.join(&lite.name).join("hub.sqlite3");

    let mut target = target(&rig, &hubs, "S");
    let mut seen = Seen::default();
    load::seed_tickets(&mut target, 4, &mut seen)?;
    let size = Size::of(quick);
    println!(
        "\n{} jobs on {} client threads over the four hubs, in sixths: PostgreSQL slowed then \
         stalled for {} s; the pair's tables locked for {} s; PostgreSQL down and hub-lite's \
         SQLite locked for {} s; every upstream down for {} s",
        size.jobs,
        size.workers,
        size.slow.as_secs(),
        size.down.as_secs(),
        size.down.as_secs(),
        size.outage.as_secs()
    );
    let mut faults = Faults::default();
    let mut run = load::run_jobs(&target, size.jobs, size.workers, |p| {
        let step = |n: usize| p.total * n / 6;
        faults.begin("no fault");
        p.release(step(1));
        p.wait_done(step(1))?;
        proxy.set(Mode::Slow(Duration::from_millis(100)));
        faults.enter(p, "PostgreSQL slow", step(2), size.slow / 2)?;
        proxy.set(Mode::Slow(Duration::from_secs(2)));
        faults.enter(p, "PostgreSQL stalled", step(2), size.slow - size.slow / 2)?;
        proxy.set(Mode::Pass);
        faults.back(p, step(2))?;
        let lock = HeldLock::postgres(&schema.name, LOCKED_TABLES)?;
        faults.enter(p, "PostgreSQL tables locked", step(3), size.down)?;
        faults.pg_lock_held = lock.release()?;
        faults.back(p, step(3))?;
        proxy.set(Mode::Down);
        let lock = HeldLock::sqlite(&lite_db)?;
        faults.enter(p, DOWN, step(4), size.down / 2)?;
        faults.ready_while_down = Some(rig.http.get(&format!("{}/readyz", a.url), None)?.status);
        pause(size.down - size.down / 2)?;
        proxy.set(Mode::Pass);
        faults.sqlite_lock_held = lock.release()?;
        faults.back(p, step(4))?;
        load::set_outage(&rig, true)?;
        faults.enter(p, "upstreams down", step(5), size.outage)?;
        load::set_outage(&rig, false)?;
        faults.begin("no fault");
        p.release(p.total);
        Ok(())
    })?;
    merge(&mut seen, &mut run);
    faults.connections = proxy.counts();

    println!("\nrecovery: circuits closed, the pair's DLQ replayed from both hubs at once, then the rest …");
    load::close_circuits(&rig, &target, &hubs, &mut seen)?;
    let pair = replay_from_both(&rig, &a, &b, &mut seen)?;
    let replays = load::replay_all(&rig, &hubs, &mut seen, Duration::from_secs(120))?;
    load::close_circuits(&rig, &target, &hubs, &mut seen)?;
    pause(Duration::from_millis(500))?;
    let verdict = poll(Duration::from_secs(10), "the audit log catching up", || {
        let v = load::verify(&rig, &hubs, &seen, true)?;
        Ok((!v.problems.iter().any(|p| p.contains("no audit record"))).then_some(v))
    })
    .or_else(|_| load::verify(&rig, &hubs, &seen, true))?;
    let names: Vec<&str> = hubs.iter().map(|h| h.name.as_str()).collect();
    verdict.print(&names, &seen, replays + pair.sent);
    println!("  (hub-pg-a and hub-pg-b share one DLQ: each lists every entry of the pair)");

    let mut problems = Vec::new();
    let refusals = refusals(&rig, &hubs, &seen, &faults, &mut problems)?;
    let dropped = audit_failures(&rig, &queue)?;
    print_figures(&hubs, &refusals, &pair, &faults, dropped);
    check_faults(&refusals, &pair, &faults, dropped, &mut problems);

    let scan = secrets::scan(&rig, &hubs, &seen.error_bodies, &[])?;
    let checked = verdict.check(&seen);
    let scanned = scan.report();
    checked?;
    if let Some(first) = problems.first() {
        for p in &problems {
            println!("  ✗ {p}");
        }
        bail!("{} invariant violations, the first: {first}", problems.len());
    }
    scanned
}

/// The schema's environment with the database reached through the proxy on `port`.
fn through(schema_env: &[(String, String)], port: u16) -> Vec<(String, String)> {
    let direct = format!(
        "{}.{}.{}.{}:{}",
        POSTGRES.0[0], POSTGRES.0[1], POSTGRES.0[2], POSTGRES.0[3], POSTGRES.1
    );
    schema_env
        .iter()
        .map(|(k, v)| {
            let v = if k == "HUB__STORE__DATABASE_URL" {
                v.replace(&direct, &format!("127.0.0.1:{port}"))
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect()
}

/// Refused requests per hub, and what became of their writes.
#[derive(Default)]
struct Refusals {
    /// Per phase, per hub: requests answered 503 `store_unavailable` or `overloaded`.
    per_phase: Vec<Vec<usize>>,
    /// Per hub: writes refused at least once, then answered 2xx.
    then_ok: Vec<usize>,
    /// Refused requests with an upstream effect (must be 0).
    with_effect: usize,
}

impl Refusals {
    /// Refusals of the hubs `hubs` answered during the phases named `phase`.
    fn during(&self, faults: &Faults, phase: &str, hubs: &[usize]) -> usize {
        faults
            .phases
            .iter()
            .zip(&self.per_phase)
            .filter(|((name, _), _)| *name == phase)
            .map(|(_, row)| hubs.iter().map(|h| row[*h]).sum::<usize>())
            .sum()
    }
}

/// Every request refused 503 `store_unavailable`/`overloaded` must have had no effect:
/// no effect in the ledger carries its request id.
fn refusals(
    rig: &Rig,
    hubs: &[&HubProc],
    seen: &Seen,
    faults: &Faults,
    problems: &mut Vec<String>,
) -> Result<Refusals> {
    let mut r = Refusals {
        per_phase: vec![vec![0; hubs.len()]; faults.phases.len().max(1)],
        then_ok: vec![0; hubs.len()],
        with_effect: 0,
    };
    let refused: HashSet<&str> = seen
        .writes
        .iter()
        .flat_map(|w| w.refused.iter().map(|(rid, _)| rid.as_str()))
        .collect();
    for w in &seen.writes {
        for (_, at) in &w.refused {
            r.per_phase[faults.phase_at(*at)][w.hub] += 1;
        }
        if !w.refused.is_empty() && matches!(w.outcome, load::Outcome::Success(_)) {
            r.then_ok[w.hub] += 1;
        }
    }
    let effects = rig.sim_get("/_sim/ledger/effects")?["effects"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for e in &effects {
        if let Some(rid) = e["request_id"].as_str()
            && refused.contains(rid)
        {
            r.with_effect += 1;
            problems.push(format!(
                "request {rid} was answered 503 (refused, nothing sent) but took effect upstream: {e}"
            ));
        }
    }
    Ok(r)
}

/// DLQ replays sent from both pair hubs at once.
#[derive(Default)]
struct PairReplays {
    entries: usize,
    sent: usize,
    ran: usize,
    conflicts: usize,
    other: Vec<String>,
}

/// Every pending entry of the pair's DLQ, replayed from `a` and `b` at once while the
/// upstreams hold each write 300 ms: at most one replay may run (the other 409
/// `dlq_conflict`). Entries whose write may have happened (`outcome_unknown`) are left
/// to [`load::replay_all`], which asks the ledger first.
fn replay_from_both(rig: &Rig, a: &HubProc, b: &HubProc, seen: &mut Seen) -> Result<PairReplays> {
    let slow = rig.sim_send(
        "POST",
        "/_sim/faults",
        Some(&json!({"kind": "latency", "ms": 300, "method": "POST"})),
    )?;
    let mut out = PairReplays::default();
    let admin = rig.canaries.tokens.admin.clone();
    for entry in all_pages(rig, a, "/v1/dlq?status=pending", 200)? {
        if entry["error_code"] == "outcome_unknown" {
            continue;
        }
        let id = entry["id"].as_str().unwrap_or("").to_owned();
        let key = entry["idempotency_key"].as_str().unwrap_or("").to_owned();
        let rids = [format!("{key}.replay-a"), format!("{key}.replay-b")];
        if let Some(w) = seen.writes.iter_mut().find(|w| w.key == key) {
            w.request_ids.extend(rids.iter().cloned());
        }
        let path = format!("/v1/dlq/{id}/replay");
        let barrier = Barrier::new(2);
        let one = |hub: &HubProc, rid: &str| {
            let http = Client::new();
            barrier.wait();
            http.send(
                &Method::POST,
                &format!("{}{path}", hub.url),
                Some(&admin),
                None,
                &[("x-request-id", rid)],
            )
        };
        let one = &one;
        let answers: Vec<Result<Resp>> = std::thread::scope(|s| {
            let ta = s.spawn(|| one(a, &rids[0]));
            let tb = s.spawn(|| one(b, &rids[1]));
            [ta, tb]
                .into_iter()
                .map(|t| t.join().map_err(|_| anyhow::anyhow!("a replay thread panicked"))?)
                .collect()
        });
        out.entries += 1;
        let mut ran = 0;
        for r in answers {
            let r = r?;
            out.sent += 1;
            match (r.status, r.json()["code"].as_str()) {
                (200, _) => ran += 1,
                (409, Some("dlq_conflict")) => out.conflicts += 1,
                _ => out.other.push(format!("replaying {id}: {}", r.summary())),
            }
            if !(200..300).contains(&r.status) {
                seen.error_bodies.push(r.body.clone());
            }
        }
        out.ran += ran;
        if ran > 1 {
            out.other
                .push(format!("DLQ entry {id} was replayed by both hubs at once"));
        }
    }
    if let Some(fault) = slow["id"].as_u64() {
        rig.sim_send("DELETE", &format!("/_sim/faults/{fault}"), None)?;
    }
    Ok(out)
}

/// The hub's `integration_audit_write_failures_total`: audit records dropped (reads) and
/// writes refused because theirs could not be made durable.
fn audit_failures(rig: &Rig, hub: &HubProc) -> Result<f64> {
    let text = rig.http.get(&format!("{}/metrics", hub.url), None)?.body;
    Ok(text
        .lines()
        .filter(|l| l.starts_with("integration_audit_write_failures_total"))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum())
}

fn print_figures(hubs: &[&HubProc], r: &Refusals, pair: &PairReplays, f: &Faults, dropped: f64) {
    let mut header = format!("\n  {:<44}", "");
    for h in hubs {
        header.push_str(&format!("{:>11}", h.name));
    }
    println!("{header}");
    let row = |label: &str, row: &[usize]| {
        let mut line = format!("  {label:<44}");
        for n in row {
            line.push_str(&format!("{n:>11}"));
        }
        println!("{line}");
    };
    println!("  requests refused 503 store_unavailable, by when they were answered:");
    for ((phase, _), counts) in f.phases.iter().zip(&r.per_phase) {
        row(&format!("  {phase}"), counts);
    }
    row("writes refused, then answered 2xx", &r.then_ok);
    println!(
        "\n  refused requests with an upstream effect {} (must be 0)",
        r.with_effect
    );
    println!(
        "  PostgreSQL proxy: {} connections, {} cut when it went down; hub-pg-a /readyz while down: {}",
        f.connections.0,
        f.connections.1,
        f.ready_while_down.map_or("-".to_owned(), |s| s.to_string())
    );
    println!(
        "  the pair's {} locked {:.1} s by psql; hub-lite's SQLite write lock held {:.1} s by sqlite3",
        LOCKED_TABLES.join(" and "),
        f.pg_lock_held.as_secs_f64(),
        f.sqlite_lock_held.as_secs_f64()
    );
    println!("  hub-queue integration_audit_write_failures_total {dropped} (the one-record queue was full)");
    println!(
        "  pair DLQ: {} entries replayed from both hubs at once: {} replays ran (≤ 1 each), {} refused 409 dlq_conflict, {} other answers",
        pair.entries,
        pair.ran,
        pair.conflicts,
        pair.other.len()
    );
}

/// The faults must have happened, or the scenario proved nothing.
fn check_faults(r: &Refusals, pair: &PairReplays, f: &Faults, dropped: f64, problems: &mut Vec<String>) {
    problems.extend(pair.other.iter().filter(|o| o.contains("both hubs")).cloned());
    if f.ready_while_down != Some(503) {
        problems.push(format!(
            "hub-pg-a's /readyz answered {:?} while its database was down; it should be 503",
            f.ready_while_down
        ));
    }
    if f.connections.1 == 0 {
        problems.push("cutting PostgreSQL cut no connection of the pair".to_owned());
    }
    for (hubs, name) in [(&[0, 1][..], "the pair"), (&[2][..], "hub-lite")] {
        if r.during(f, DOWN, hubs) == 0 {
            problems.push(format!("{name}: no write was refused while its store was unavailable"));
        }
    }
    if dropped == 0.0 {
        problems.push("hub-queue: the audit queue never overflowed (no audit write failure counted)".to_owned());
    }
    if pair.entries == 0 {
        problems.push("the pair dead-lettered nothing to replay from both hubs".to_owned());
    }
}
