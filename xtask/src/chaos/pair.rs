//! Scenario 3, two instances: two hubs on one PostgreSQL schema and one Redis key prefix.
//! A webhook processed by one is seen in the other's next read (and its event on the
//! other's `/v1/events`); the same commit with the same key sent to both at once is one
//! upstream commit and the same answer from both; a DLQ entry replayed from both at once
//! is replayed once.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use ureq::http::Method;

use super::events;
use super::rig::{Rig, Store, poll};
use super::secrets;
use crate::harness::http::{Client, Resp};
use crate::harness::{HubProc, Schema};
use crate::harness::{pause, random_hex};

/// `cargo xtask chaos` scenario 3.
pub(crate) fn run(quick: bool) -> Result<()> {
    crate::services::ensure()?;
    // Dropped after the rig (which stops the hubs): the schema and the Redis keys go last.
    let schema = Schema::create("hub_chaos")?;
    let prefix = RedisPrefix(format!("hub-chaos-{}", random_hex()));
    let mut rig = Rig::start("3-two-instances", quick)?;
    // Long enough that only an invalidation makes the next read a miss.
    rig.extra_env.push((
        "HUB__ADAPTERS__TRANSACTION_STATUS__CACHE__STATUS_TTL_S".to_owned(),
        "300".to_owned(),
    ));
    let store = Store::Shared {
        schema_env: schema.hub_env(),
        prefix: prefix.0.clone(),
    };
    println!("  PostgreSQL schema {}, Redis key prefix {}", schema.name, prefix.0);
    let a = rig.start_hub("hub-a", "generic", &store)?;
    rig.wait_ready(&[&a])?;
    // The second starts on the migrated schema.
    let b = rig.start_hub("hub-b", "generic", &store)?;
    rig.wait_ready(&[&b])?;
    let rounds = if quick { 5 } else { 25 };
    let mut p = Pair {
        rig: &rig,
        a: &a,
        b: &b,
        run: random_hex()[..8].to_owned(),
        bodies: Vec::new(),
        events: Vec::new(),
        problems: Vec::new(),
    };
    let webhooks = p.webhooks()?;
    let commits = p.commits(rounds)?;
    let replays = p.replays(rounds.min(10))?;

    println!("\n  {:<58} {:>8}", "", "count");
    println!(
        "  {:<58} {:>8}",
        "webhooks processed by one hub, read on the other", webhooks
    );
    println!(
        "  {:<58} {:>8}",
        "commits sent to both hubs at once (same key)", commits.pairs
    );
    println!(
        "  {:<58} {:>8}",
        "  upstream commits per key (must be 1 each)", commits.effects
    );
    println!(
        "  {:<58} {:>8}",
        "  answers 409 idempotency_in_flight, asked again", commits.in_flight
    );
    println!("  {:<58} {:>8}", "  pairs answered the same", commits.same);
    println!(
        "  {:<58} {:>8}",
        "DLQ entries replayed from both hubs at once", replays.pairs
    );
    println!("  {:<58} {:>8}", "  replays that ran (must be 1 each)", replays.ran);
    println!("  {:<58} {:>8}", "  refused 409 dlq_conflict", replays.conflicts);
    println!(
        "  {:<58} {:>8}",
        "  upstream effects per entry (must be 1 each)", replays.effects
    );

    let scan = secrets::scan(&rig, &[&a, &b], &p.bodies, &p.events)?;
    let scanned = scan.report();
    if let Some(first) = p.problems.first() {
        for problem in &p.problems {
            println!("  ✗ {problem}");
        }
        bail!("{} invariant violations, the first: {first}", p.problems.len());
    }
    scanned
}

struct Pair<'a> {
    rig: &'a Rig,
    a: &'a HubProc,
    b: &'a HubProc,
    run: String,
    bodies: Vec<String>,
    events: Vec<Value>,
    problems: Vec<String>,
}

#[derive(Default)]
struct Commits {
    pairs: usize,
    effects: usize,
    in_flight: usize,
    same: usize,
}

#[derive(Default)]
struct Replays {
    pairs: usize,
    ran: usize,
    conflicts: usize,
    effects: usize,
}

impl Pair<'_> {
    fn send(
        &mut self,
        http: &Client,
        hub: &HubProc,
        path: &str,
        token: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Resp> {
        let method = if body.is_some() || path.contains("/commit") || path.contains("/replay") {
            Method::POST
        } else {
            Method::GET
        };
        let r = http.send(&method, &format!("{}{path}", hub.url), Some(token), body, headers)?;
        if !(200..300).contains(&r.status) {
            self.bodies.push(r.body.clone());
        }
        Ok(r)
    }

    fn effects(&self, kind: &str, key: &str) -> Result<usize> {
        Ok(self
            .rig
            .sim_get(&format!("/_sim/ledger/effects?kind={kind}&idempotency_key={key}"))?["effects"]
            .as_array()
            .map_or(0, Vec::len))
    }

    /// In each direction: the reader caches a transaction, the sim changes it and tells
    /// the other hub by webhook; the reader's next read must be a miss with the new status,
    /// and its event feed must carry the webhook's event.
    fn webhooks(&mut self) -> Result<usize> {
        let http = Client::new();
        let read = self.rig.canaries.tokens.read.clone();
        let (a, b) = (self.a, self.b);
        let mut n = 0;
        for (txn, processor, reader) in [("TXN-5002", a, b), ("TXN-5003", b, a)] {
            let path = format!("/v1/transactions/{txn}");
            self.send(&http, reader, &path, &read, None, &[])?;
            let cached = self.send(&http, reader, &path, &read, None, &[])?;
            if cached.header("cache-status") != Some("integration-hub; hit") {
                self.problems
                    .push(format!("{} did not cache {txn}: {}", reader.name, cached.summary()));
            }
            let feed = events::subscribe(&reader.url, &read, &["transaction.updated"])?;
            let status = format!("settled-{}", self.run);
            self.rig.sim_send(
                "PUT",
                &format!("/_sim/transactions/{txn}/status"),
                Some(&json!({"status": status})),
            )?;
            let delivery = self.rig.sim_send(
                "POST",
                "/_sim/webhooks",
                Some(&json!({
                    "url": format!("{}/webhooks/transaction_updated", processor.url),
                    "event": "transaction.updated",
                    "secret": self.rig.canaries.webhook_secret,
                    "data": {"transaction_id": txn, "status": status, "customer_id": "CUST-1001"},
                })),
            )?;
            if delivery["status"] != 204 {
                self.problems.push(format!(
                    "{} answered the webhook with {}",
                    processor.name, delivery["status"]
                ));
            }
            let next = self.send(&http, reader, &path, &read, None, &[])?;
            if next.json()["status"] != status.as_str()
                || next.header("cache-status") != Some("integration-hub; fwd=miss")
            {
                self.problems.push(format!(
                    "{} processed the webhook for {txn}, but {}'s next read is {} (cache {:?})",
                    processor.name,
                    reader.name,
                    next.summary(),
                    next.header("cache-status")
                ));
            }
            let seen = poll(Duration::from_secs(10), "the webhook's event on the other hub", || {
                Ok(feed
                    .messages()
                    .into_iter()
                    .find(|m| m["data"]["transaction_id"] == txn && m["data"]["status"] == status.as_str()))
            });
            match seen {
                Ok(m) => self.events.push(m),
                Err(e) => self.problems.push(format!("{}'s /v1/events: {e:#}", reader.name)),
            }
            self.events.extend(feed.stop());
            n += 1;
        }
        Ok(n)
    }

    /// Creates a draft on one hub, then commits it with one key on both at once (the sim
    /// holds each commit 300 ms, so they overlap); a client answered 409
    /// `idempotency_in_flight` asks again, as the contract says.
    fn commits(&mut self, rounds: usize) -> Result<Commits> {
        self.rig
            .sim_send("PUT", "/_sim/settings", Some(&json!({"commit_delay_ms": 300})))?;
        let write = self.rig.canaries.tokens.write.clone();
        let mut c = Commits::default();
        let http = Client::new();
        for round in 0..rounds {
            let body = json!({"customer_id": "CUST-1002", "amount": "25.00", "currency": "EUR", "description": format!("pair {round}")});
            let hub = if round % 2 == 0 { self.a } else { self.b };
            let d = self.send(&http, hub, "/v1/transactions/drafts", &write, Some(&body), &[])?;
            let Some(draft) = d.json()["draft_id"].as_str().map(str::to_owned) else {
                bail!("creating a draft: {}", d.summary());
            };
            let key = format!("pair-{}-{round}", self.run);
            let path = format!("/v1/transactions/drafts/{draft}/commit");
            let barrier = Barrier::new(2);
            let one = |hub: &HubProc| {
                let http = Client::new();
                barrier.wait();
                commit_until_answered(&http, hub, &path, &write, &key)
            };
            let (a, b, one) = (self.a, self.b, &one);
            let (ra, rb) = std::thread::scope(|s| {
                let ta = s.spawn(move || one(a));
                let tb = s.spawn(move || one(b));
                (ta.join(), tb.join())
            });
            let (ra, rb) = (
                ra.map_err(|_| anyhow::anyhow!("a commit thread panicked"))??,
                rb.map_err(|_| anyhow::anyhow!("a commit thread panicked"))??,
            );
            c.pairs += 1;
            c.in_flight += ra.1 + rb.1;
            self.bodies.extend(ra.2.iter().chain(&rb.2).cloned());
            let n = self.effects("draft_committed", &key)?;
            c.effects += n;
            if n != 1 {
                self.problems
                    .push(format!("commit key {key} sent to both hubs: {n} upstream commits"));
            }
            if ra.0.status == 200 && ra.0.status == rb.0.status && ra.0.json() == rb.0.json() {
                c.same += 1;
            } else {
                self.problems.push(format!(
                    "commit key {key}: hub-a answered {}, hub-b {}",
                    ra.0.summary(),
                    rb.0.summary()
                ));
            }
        }
        self.rig
            .sim_send("PUT", "/_sim/settings", Some(&json!({"commit_delay_ms": 0})))?;
        Ok(c)
    }

    /// Dead-letters a draft (sales down), brings sales back slowed by 300 ms a request,
    /// and replays the entry from both hubs at once: one replay runs, the other is
    /// refused with 409 `dlq_conflict`, and the draft exists once upstream.
    fn replays(&mut self, rounds: usize) -> Result<Replays> {
        let write = self.rig.canaries.tokens.write.clone();
        let admin = self.rig.canaries.tokens.admin.clone();
        let http = Client::new();
        let mut out = Replays::default();
        for round in 0..rounds {
            self.rig.sim_send("POST", "/_sim/outage/sales", None)?;
            let body = json!({"customer_id": "CUST-1003", "amount": "7.00", "currency": "EUR", "description": format!("dead letter {round}")});
            let key = format!("pair-dlq-{}-{round}", self.run);
            let hub = if round % 2 == 0 { self.a } else { self.b };
            let failed = self.send(
                &http,
                hub,
                "/v1/transactions/drafts",
                &write,
                Some(&body),
                &[("idempotency-key", &key)],
            );
            self.rig.sim_send("DELETE", "/_sim/outage/sales", None)?;
            let failed = failed?;
            let Some(id) = failed.json()["dlq_id"].as_str().map(str::to_owned) else {
                bail!(
                    "a draft while sales was down was not dead-lettered: {}",
                    failed.summary()
                );
            };
            // A success ends the hub's run of failed attempts, so its circuit stays closed
            // (5 in a row would open it) and both replays reach the sales system.
            let ok = self.send(&http, hub, "/v1/transactions/drafts", &write, Some(&body), &[])?;
            if ok.status != 201 {
                bail!("a draft once sales was back: {}", ok.summary());
            }
            let slow = self.rig.sim_send(
                "POST",
                "/_sim/faults",
                Some(&json!({"kind": "latency", "ms": 300, "system": "sales", "method": "POST", "route": "/transactions/drafts"})),
            )?;
            let path = format!("/v1/dlq/{id}/replay");
            let barrier = Barrier::new(2);
            let one = |hub: &HubProc| {
                let http = Client::new();
                barrier.wait();
                http.send(&Method::POST, &format!("{}{path}", hub.url), Some(&admin), None, &[])
            };
            let (a, b, one) = (self.a, self.b, &one);
            let answers: Vec<Result<Resp>> = std::thread::scope(|s| {
                let ta = s.spawn(move || one(a));
                let tb = s.spawn(move || one(b));
                [ta, tb]
                    .into_iter()
                    .map(|t| t.join().map_err(|_| anyhow::anyhow!("a replay thread panicked"))?)
                    .collect()
            });
            let fault = slow["id"].as_u64().context("the latency fault's id")?;
            self.rig.sim_send("DELETE", &format!("/_sim/faults/{fault}"), None)?;
            out.pairs += 1;
            let mut ran = 0;
            for r in answers {
                let r = r?;
                match (r.status, r.json()["code"].as_str()) {
                    (200, _) => ran += 1,
                    (409, Some("dlq_conflict")) => {
                        out.conflicts += 1;
                        self.bodies.push(r.body.clone());
                    }
                    _ => self
                        .problems
                        .push(format!("replaying {id} from both hubs: {}", r.summary())),
                }
            }
            out.ran += ran;
            let n = self.effects("draft_created", &key)?;
            out.effects += n;
            if ran != 1 || n != 1 {
                self.problems.push(format!(
                    "DLQ entry {id} replayed from both hubs at once: {ran} replays ran, {n} drafts upstream"
                ));
            }
        }
        Ok(out)
    }
}

/// Commits, asking again while the answer is 409 `idempotency_in_flight` (at most 30 s);
/// the final answer, how many 409s came first, and their bodies.
fn commit_until_answered(
    http: &Client,
    hub: &HubProc,
    path: &str,
    token: &str,
    key: &str,
) -> Result<(Resp, usize, Vec<String>)> {
    let started = Instant::now();
    let mut in_flight = 0;
    let mut bodies = Vec::new();
    loop {
        let r = http.send(
            &Method::POST,
            &format!("{}{path}", hub.url),
            Some(token),
            None,
            &[("idempotency-key", key)],
        )?;
        if r.status == 409 && r.json()["code"] == "idempotency_in_flight" && started.elapsed() < Duration::from_secs(30)
        {
            in_flight += 1;
            bodies.push(r.body);
            pause(Duration::from_millis(50))?;
            continue;
        }
        return Ok((r, in_flight, bodies));
    }
}

/// The run's Redis key prefix; its keys are deleted at the end (through `redis-cli`, best
/// effort: they would expire anyway).
pub(crate) struct RedisPrefix(pub(crate) String);

impl Drop for RedisPrefix {
    fn drop(&mut self) {
        let url = super::rig::REDIS_URL;
        let keys = std::process::Command::new("redis-cli")
            .args(["-u", url, "--scan", "--pattern", &format!("{}:*", self.0)])
            .output();
        let Ok(keys) = keys else {
            return;
        };
        for key in String::from_utf8_lossy(&keys.stdout).lines() {
            let _ = std::process::Command::new("redis-cli")
                .args(["-u", url, "DEL", key])
                .output();
        }
    }
}
