//! Scenario 8, a shared rate budget: three hubs on one PostgreSQL schema and one Redis key
//! prefix share hub-sim's per-credential limit on the ticketing system under 1.5 times
//! the load it allows — no upstream 429, the quota used, every write once — and then the
//! same with Redis cut in the middle, when each hub falls back to its share of the budget.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;
use ureq::http::Method;

use super::db_proxy::{DbProxy, Mode};
use super::pair::RedisPrefix;
use super::rig::{Rig, Store};
use crate::harness::http::{Client, Resp};
use crate::harness::{HubProc, Schema, pause, random_hex};

/// The machine's Redis, reached through the proxy.
const REDIS: ([u8; 4], u16) = ([127, 0, 0, 1], 6379);
/// Hub instances sharing the budget (also the budget's `instances_hint`).
const INSTANCES: usize = 3;
/// Client threads per hub.
const THREADS_PER_HUB: usize = 4;
/// How much of the sim's limit the clients offer.
const OFFERED: f64 = 1.5;
/// The share of [`Size::quota`] the healthy phase must send upstream, in percent. The
/// sim says when its window resets in whole seconds, rounded up, and the budget spreads
/// what is left over that time (and pauses until it when nothing is left), so it sends a
/// little slower than the vendor would allow near every window's end.
const MIN_USED: f64 = 70.0;
/// Tickets read in turn: enough that each is read less than once a second (its cache
/// TTL), so that reads reach the vendor.
const READ_POOL: usize = 30;
/// The ticketing attempt's timeout, ms: a budget's slot is waited for up to half of it.
const ATTEMPT_MS: &str = "2000";

/// The figures of one size.
#[derive(Debug, Clone, Copy)]
struct Size {
    /// Requests per second the sim allows per credential, and the hubs' `requests_per_s`.
    rate: u32,
    /// The hubs' `burst`.
    burst: u32,
    /// The sim's window, seconds: its limit is `rate × window_s` requests per window.
    window_s: u32,
    /// How long the load runs in each phase.
    load: Duration,
    /// How long Redis is cut in the second phase (in its middle).
    cut: Duration,
}

impl Size {
    fn of(quick: bool) -> Self {
        if quick {
            Self {
                rate: 6,
                burst: 3,
                window_s: 4,
                load: Duration::from_secs(8),
                cut: Duration::from_secs(3),
            }
        } else {
            Self {
                rate: 10,
                burst: 5,
                window_s: 10,
                load: Duration::from_secs(30),
                cut: Duration::from_secs(10),
            }
        }
    }

    /// What may be sent over the load: the budget's `rate × seconds + burst`, or the sim's
    /// limit times the windows the load spans when that is less (a window starts with the
    /// first request after the last one ended).
    fn quota(&self) -> f64 {
        let budget = f64::from(self.rate) * self.load.as_secs_f64() + f64::from(self.burst);
        let windows = self.load.as_secs().div_ceil(u64::from(self.window_s)) as f64;
        budget.min(windows * f64::from(self.rate * self.window_s))
    }
}

/// `cargo xtask chaos` scenario 8.
pub(crate) fn run(quick: bool) -> Result<()> {
    crate::services::ensure()?;
    let size = Size::of(quick);
    // Dropped in reverse: the hubs (with the rig), the proxy, the keys, the schema.
    let schema = Schema::create("hub_chaos")?;
    let prefix = RedisPrefix(format!("hub-chaos-{}", random_hex()));
    let redis = DbProxy::start(SocketAddr::from(REDIS))?;
    let mut rig = Rig::start("8-shared-rate-budget", quick)?;
    let adapter = "HUB__ADAPTERS__TICKETING";
    for (key, value) in [
        ("HUB__STORE__REDIS_URL", format!("redis://127.0.0.1:{}", redis.port)),
        (&format!("{adapter}__RATE__REQUESTS_PER_S"), size.rate.to_string()),
        (&format!("{adapter}__RATE__BURST"), size.burst.to_string()),
        (&format!("{adapter}__RATE__INSTANCES_HINT"), INSTANCES.to_string()),
        // Reads reach the vendor again after a second.
        (&format!("{adapter}__CACHE__STATUS_TTL_S"), "1".to_owned()),
        (&format!("{adapter}__TIMEOUTS__ATTEMPT_MS"), ATTEMPT_MS.to_owned()),
    ] {
        rig.extra_env.push((key.to_owned(), value));
    }
    let store = Store::Shared {
        schema_env: schema.hub_env(),
        prefix: prefix.0.clone(),
    };
    println!(
        "  PostgreSQL schema {}, Redis key prefix {} through the proxy on 127.0.0.1:{}",
        schema.name, prefix.0, redis.port
    );
    let first = rig.start_hub("hub-a", "generic", &store)?;
    rig.wait_ready(&[&first])?;
    let mut hubs = vec![first];
    for name in ["hub-b", "hub-c"] {
        hubs.push(rig.start_hub(name, "generic", &store)?);
    }
    rig.wait_ready(&hubs.iter().collect::<Vec<_>>())?;
    let tickets = seed_tickets(&rig, READ_POOL)?;
    let (limit, window_s) = (size.rate * size.window_s, size.window_s);
    rig.sim_send(
        "PUT",
        "/_sim/rate_limits/generic",
        Some(&json!({"limit": limit, "window_s": window_s})),
    )?;
    println!(
        "  hub-sim allows {limit} ticketing requests per {window_s} s per credential; each hub's budget: {} /s, burst {}, instances_hint {INSTANCES}",
        size.rate, size.burst
    );
    let run_id = random_hex()[..8].to_owned();
    let mut problems = Vec::new();

    let mut healthy = Phase::run(&rig, &hubs, &tickets, size, &format!("{run_id}-a"), None)?;
    healthy.check(&rig, &mut problems, true, size)?;
    let learned = learned(&rig, &hubs, size, &mut problems)?;
    let mut cut = Phase::run(&rig, &hubs, &tickets, size, &format!("{run_id}-b"), Some(&redis))?;
    cut.check(&rig, &mut problems, false, size)?;
    let (accepted, severed) = redis.counts();

    println!("\n  {:<58} {:>10} {:>10}", "", "healthy", "Redis cut");
    let row = |what: &str, a: String, b: String| println!("  {what:<58} {a:>10} {b:>10}");
    let both = |f: &dyn Fn(&Phase) -> usize| (f(&healthy).to_string(), f(&cut).to_string());
    let (a, b) = both(&|p| p.count(Answer::Fresh));
    row("client answers 2xx (fresh)", a, b);
    let (a, b) = both(&|p| p.count(Answer::Stale));
    row("  reads served stale", a, b);
    let (a, b) = both(&|p| p.count(Answer::Refused));
    row("  429 rate_limited with Retry-After", a, b);
    let (a, b) = both(&|p| p.count(Answer::ServerError));
    row("  5xx (must be 0)", a, b);
    let (a, b) = both(&|p| p.count(Answer::Other));
    row("  anything else (must be 0)", a, b);
    let (a, b) = both(&|p| p.writes.len());
    row("writes (distinct Idempotency-Keys)", a, b);
    let (a, b) = both(&|p| p.retried);
    row("  refused, sent again with their key after Retry-After", a, b);
    let (a, b) = both(&|p| p.effects_once);
    row("  with exactly one ticket upstream (must be all)", a, b);
    let (a, b) = both(&|p| p.upstream);
    row("upstream ticketing requests during the load", a, b);
    row(
        "  quota over the load (rate × s + burst, at most the sim's)",
        format!("{:.0}", size.quota()),
        format!("{:.0}", size.quota()),
    );
    row(
        &format!("  used (healthy: must be ≥ {MIN_USED:.0} %)"),
        format!("{:.1} %", healthy.used(size)),
        format!("{:.1} %", cut.used(size)),
    );
    let (a, b) = both(&|p| p.upstream_429);
    row("upstream 429s (healthy: must be 0)", a, b);
    row(
        "hubs whose /readyz shows the sim's quota learned, shared",
        format!("{learned} / {}", hubs.len()),
        String::new(),
    );
    row(
        "Redis connections through the proxy / cut",
        String::new(),
        format!("{accepted} / {severed}"),
    );
    if let Some(first) = problems.first() {
        for problem in &problems {
            println!("  ✗ {problem}");
        }
        bail!("{} invariant violations, the first: {first}", problems.len());
    }
    Ok(())
}

/// How a client's request was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// 2xx, not stale.
    Fresh,
    /// 2xx with `Cache-Status: …; stale`.
    Stale,
    /// 429 `rate_limited` with `Retry-After`.
    Refused,
    /// 5xx.
    ServerError,
    /// Anything else.
    Other,
}

/// One write: its key, and whether it was answered 2xx.
#[derive(Debug, Clone)]
struct Write {
    key: String,
    done: bool,
}

/// What one load phase did.
#[derive(Debug, Default)]
struct Phase {
    answers: Vec<Answer>,
    /// Every write, by key.
    writes: Vec<Write>,
    /// Writes sent again with their key after a 429.
    retried: usize,
    /// Writes with exactly one ticket upstream.
    effects_once: usize,
    /// Upstream ticketing requests while the load ran (retries of refused writes after it
    /// are not counted).
    upstream: usize,
    upstream_429: usize,
    /// Unexpected answers, one line each (the first few).
    odd: Vec<String>,
}

/// A client thread's state shared with the others.
struct Shared<'a> {
    hubs: &'a [HubProc],
    token: &'a str,
    run: &'a str,
    /// Ticket ids to read, in turn.
    tickets: &'a [String],
    next_read: AtomicUsize,
    next_key: AtomicUsize,
}

/// A refused write waiting for its `Retry-After`.
struct Pending {
    key: String,
    due: Instant,
}

impl Phase {
    /// Offers 1.5 times the sim's limit through every hub for the load's duration (with
    /// Redis cut in its middle when `cut` is given), then sends the refused writes again
    /// until each is answered; reads the sim's ledger.
    fn run(
        rig: &Rig,
        hubs: &[HubProc],
        tickets: &[String],
        size: Size,
        run: &str,
        cut: Option<&DbProxy>,
    ) -> Result<Self> {
        println!(
            "\n  load: {:.0} requests/s for {} s{}",
            f64::from(size.rate) * OFFERED,
            size.load.as_secs(),
            if cut.is_some() {
                format!(", Redis cut for {} s in the middle", size.cut.as_secs())
            } else {
                String::new()
            }
        );
        let before = upstream(rig)?;
        let shared = Shared {
            hubs,
            token: &rig.canaries.tokens.write,
            run,
            tickets,
            next_read: AtomicUsize::new(0),
            next_key: AtomicUsize::new(0),
        };
        let threads = hubs.len() * THREADS_PER_HUB;
        // Each thread's interval between requests.
        let every = Duration::from_secs_f64(threads as f64 / (f64::from(size.rate) * OFFERED));
        let started = Instant::now();
        let load_end = started + size.load;
        let (outcomes, at_end) = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|i| {
                    let shared = &shared;
                    // Spread the threads' first requests over one interval.
                    let offset = every.mul_f64(i as f64 / threads as f64);
                    s.spawn(move || worker(shared, i % hubs.len(), started + offset, load_end, every))
                })
                .collect();
            if let Some(proxy) = cut {
                let down_at = started + (size.load - size.cut) / 2;
                wait_until(down_at);
                proxy.set(Mode::Down);
                println!("  Redis cut at {:.1} s", started.elapsed().as_secs_f64());
                wait_until(down_at + size.cut);
                proxy.set(Mode::Pass);
                println!("  Redis back at {:.1} s", started.elapsed().as_secs_f64());
            }
            wait_until(load_end);
            let at_end = upstream(rig);
            let outcomes: Vec<Result<Outcome>> = workers
                .into_iter()
                .map(|w| w.join().map_err(|_| anyhow::anyhow!("a client thread panicked"))?)
                .collect();
            (outcomes, at_end)
        });
        let at_end = at_end?;
        let mut phase = Self {
            upstream: at_end.0 - before.0,
            upstream_429: at_end.1 - before.1,
            ..Self::default()
        };
        for o in outcomes {
            let o = o?;
            phase.answers.extend(o.answers);
            phase.writes.extend(o.writes);
            phase.retried += o.retried;
            phase.odd.extend(o.odd);
        }
        println!(
            "  {} answers in {:.1} s (refused writes sent again until answered)",
            phase.answers.len(),
            started.elapsed().as_secs_f64()
        );
        Ok(phase)
    }

    fn count(&self, a: Answer) -> usize {
        self.answers.iter().filter(|x| **x == a).count()
    }

    /// Upstream requests as a share of the budget's quota over the load, in percent.
    fn used(&self, size: Size) -> f64 {
        self.upstream as f64 * 100.0 / size.quota()
    }

    /// Checks the phase's invariants against the sim's ledger; `healthy`: Redis was up
    /// throughout, so the quota must be used and no upstream 429 sent.
    fn check(&mut self, rig: &Rig, problems: &mut Vec<String>, healthy: bool, size: Size) -> Result<()> {
        let what = if healthy { "healthy" } else { "Redis cut" };
        let effects = rig.sim_get("/_sim/ledger/effects?kind=ticket_created")?;
        let mut per_key: HashMap<&str, usize> = HashMap::new();
        for e in effects["effects"].as_array().context("the sim's effects")? {
            if let Some(k) = e["idempotency_key"].as_str() {
                *per_key.entry(k).or_default() += 1;
            }
        }
        for w in &self.writes {
            let n = per_key.get(w.key.as_str()).copied().unwrap_or(0);
            if n == 1 && w.done {
                self.effects_once += 1;
            } else {
                problems.push(format!(
                    "{what}: write {} was {} and made {n} tickets upstream",
                    w.key,
                    if w.done { "answered 2xx" } else { "never answered 2xx" }
                ));
            }
        }
        for a in [Answer::ServerError, Answer::Other] {
            let n = self.count(a);
            if n > 0 {
                problems.push(format!("{what}: {n} answers {a:?}, e.g. {:?}", self.odd.first()));
            }
        }
        if healthy {
            if self.upstream_429 > 0 {
                problems.push(format!("{what}: the sim answered {} requests 429", self.upstream_429));
            }
            if self.used(size) < MIN_USED {
                problems.push(format!(
                    "{what}: {} upstream requests, {:.1} % of the quota {:.0}",
                    self.upstream,
                    self.used(size),
                    size.quota()
                ));
            }
        }
        Ok(())
    }
}

/// What one client thread saw.
#[derive(Debug, Default)]
struct Outcome {
    answers: Vec<Answer>,
    writes: Vec<Write>,
    retried: usize,
    odd: Vec<String>,
}

/// Sends a request every `every` from `start` to `load_end` to hub number `hub`,
/// alternately a read and a write (a refused write's retry, when one is due, before a new
/// one); then sends the refused writes again until each is answered (at most 60 s).
fn worker(shared: &Shared<'_>, hub: usize, start: Instant, load_end: Instant, every: Duration) -> Result<Outcome> {
    let http = Client::new();
    let hub = &shared.hubs[hub];
    let mut out = Outcome::default();
    let mut pending: Vec<Pending> = Vec::new();
    let mut next = start;
    let mut n = 0usize;
    while next < load_end {
        wait_until(next);
        if n.is_multiple_of(2) {
            read(&http, shared, hub, &mut out)?;
        } else if let Some(i) = pending.iter().position(|p| p.due <= Instant::now()) {
            let p = pending.swap_remove(i);
            out.retried += 1;
            write(&http, shared, hub, p.key, &mut out, &mut pending)?;
        } else {
            let key = format!(
                "rate-{}-{}",
                shared.run,
                shared.next_key.fetch_add(1, Ordering::Relaxed)
            );
            write(&http, shared, hub, key, &mut out, &mut pending)?;
        }
        n += 1;
        next += every;
    }
    let give_up = Instant::now() + Duration::from_secs(60);
    while let Some(i) = (0..pending.len()).min_by_key(|i| pending[*i].due) {
        if Instant::now() > give_up {
            break;
        }
        let p = pending.swap_remove(i);
        wait_until(p.due);
        out.retried += 1;
        write(&http, shared, hub, p.key, &mut out, &mut pending)?;
    }
    Ok(out)
}

fn read(http: &Client, shared: &Shared<'_>, hub: &HubProc, out: &mut Outcome) -> Result<()> {
    let i = shared.next_read.fetch_add(1, Ordering::Relaxed);
    let id = &shared.tickets[i % shared.tickets.len()];
    let r = http.get(&format!("{}/v1/tickets/{id}", hub.url), Some(shared.token))?;
    out.answers.push(classify(&r, &mut out.odd));
    Ok(())
}

/// Creates a ticket with `key`; a 429 puts it in `pending` for after its `Retry-After`.
fn write(
    http: &Client,
    shared: &Shared<'_>,
    hub: &HubProc,
    key: String,
    out: &mut Outcome,
    pending: &mut Vec<Pending>,
) -> Result<()> {
    let body = json!({"customer_id": "CUST-1001", "subject": format!("rate {key}"), "description": "shared budget"});
    let r = http.send(
        &Method::POST,
        &format!("{}/v1/tickets", hub.url),
        Some(shared.token),
        Some(&body),
        &[("idempotency-key", &key)],
    )?;
    let answer = classify(&r, &mut out.odd);
    out.answers.push(answer);
    let done = matches!(answer, Answer::Fresh | Answer::Stale);
    if answer == Answer::Refused {
        let secs: u64 = r.header("retry-after").and_then(|s| s.parse().ok()).unwrap_or(1);
        pending.push(Pending {
            key: key.clone(),
            due: Instant::now() + Duration::from_secs(secs),
        });
    }
    // A key refused before and answered now is the same write.
    match out.writes.iter_mut().find(|w| w.key == key) {
        Some(w) => w.done |= done,
        None => out.writes.push(Write { key, done }),
    }
    Ok(())
}

fn classify(r: &Resp, odd: &mut Vec<String>) -> Answer {
    let answer = match r.status {
        200..=299 if r.header("cache-status").is_some_and(|c| c.ends_with("; stale")) => Answer::Stale,
        200..=299 => Answer::Fresh,
        429 if r.json()["code"] == "rate_limited" && r.header("retry-after").is_some() => Answer::Refused,
        500..=599 => Answer::ServerError,
        _ => Answer::Other,
    };
    if matches!(answer, Answer::ServerError | Answer::Other) && odd.len() < 5 {
        odd.push(r.summary());
    }
    answer
}

/// How many hubs answer `/readyz` 200 with the ticketing budget kept in Redis and the
/// sim's quota (`q / w` of its `RateLimit-Policy`) learned.
fn learned(rig: &Rig, hubs: &[HubProc], size: Size, problems: &mut Vec<String>) -> Result<usize> {
    let mut n = 0;
    for hub in hubs {
        let r = rig.http.get(&format!("{}/readyz", hub.url), None)?;
        let rate = &r.json()["adapters"]["ticketing"]["rate"];
        let quota = rate["learned_requests_per_s"].as_f64();
        // Whole microseconds: 1/6 s reads back as 5.99999 per second.
        let close = quota.is_some_and(|q| (q / f64::from(size.rate) - 1.0).abs() < 1e-3);
        if r.status == 200 && rate["store"] == "redis" && close {
            n += 1;
        } else {
            problems.push(format!("{}'s /readyz after the load: {} {rate}", hub.name, r.status));
        }
    }
    Ok(n)
}

/// Creates `n` tickets at the sim directly (before its limit is set); their ids.
fn seed_tickets(rig: &Rig, n: usize) -> Result<Vec<String>> {
    let http = Client::new();
    let key = rig.canaries.generic_api_key.clone();
    (0..n)
        .map(|i| {
            let body = json!({"subject": format!("read {i}"), "description": "read by scenario 8"});
            let r = http.send(
                &Method::POST,
                &format!("{}/generic/tickets", rig.sim),
                None,
                Some(&body),
                &[("x-api-key", &key)],
            )?;
            r.json()["id"]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("creating a ticket at the sim: {}", r.summary()))
        })
        .collect()
}

/// Upstream ticketing requests so far, and the sim's 429s among them.
fn upstream(rig: &Rig) -> Result<(usize, usize)> {
    let requests = rig.sim_get("/_sim/ledger/requests?system=generic")?["requests"]
        .as_array()
        .map_or(0, Vec::len);
    let limited = rig.sim_get("/_sim/ledger/rate_limited")?["generic"]
        .as_u64()
        .unwrap_or(0);
    Ok((requests, usize::try_from(limited)?))
}

fn wait_until(at: Instant) {
    let now = Instant::now();
    if at > now {
        let _ = pause(at - now);
    }
}

#[cfg(test)]
mod tests {
    use super::Size;

    #[test]
    fn the_quota_is_the_budgets_unless_the_sims_windows_allow_less() {
        // Quick: 6/s × 8 s + 3 = 51, but two windows of 24 allow 48.
        assert_eq!(Size::of(true).quota(), 48.0);
        // Full: 10/s × 30 s + 5 = 305, three windows of 100 allow 300.
        assert_eq!(Size::of(false).quota(), 300.0);
        let longer = Size {
            load: std::time::Duration::from_secs(35),
            ..Size::of(false)
        };
        // 355 by the budget; four windows (the fourth begun) allow 400.
        assert_eq!(longer.quota(), 355.0);
    }
}
