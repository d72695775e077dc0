//! The workload the scenarios share: many concurrent writes (tickets, comments, drafts,
//! commits, cancels) and reads through the hubs, each write with its own
//! `Idempotency-Key` and a client that retries it the way the contract asks; then the
//! replay of the dead-letter queue and the check of every write against hub-sim's ledger.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::{Value, json};
use ureq::http::Method;

use super::rig::{Rig, poll};
use super::secrets::all_pages;
use crate::harness::HubProc;
use crate::harness::http::Client;
use crate::harness::{interrupted, pause};

/// What a write does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    Ticket,
    Comment,
    Draft,
    Commit,
    Cancel,
}

impl Kind {
    /// The sim ledger's effect kind.
    fn effect(self) -> &'static str {
        match self {
            Self::Ticket => "ticket_created",
            Self::Comment => "comment_added",
            Self::Draft => "draft_created",
            Self::Commit => "draft_committed",
            Self::Cancel => "draft_cancelled",
        }
    }
}

/// How a write ended for its client.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// 2xx, with the body.
    Success(Value),
    /// 502/503/504 or 429 with a `dlq_id`: failed, kept for replay.
    Failed { dlq_id: String, code: String },
    /// 502 `upstream_answer_unreadable`: the upstream accepted it (a 2xx the hub could
    /// not read); it must have happened exactly once, with no DLQ entry.
    Applied,
    /// Another 4xx: refused; must have had no effect.
    Rejected { status: u16, code: String },
    /// No final answer within the client's patience.
    Unknown(String),
}

/// One write: which hub, what, its key and every request id used for it.
#[derive(Debug, Clone)]
pub(crate) struct Write {
    pub(crate) hub: usize,
    pub(crate) kind: Kind,
    pub(crate) key: String,
    /// The draft a commit or cancel is for, the ticket a comment is on.
    target: Option<String>,
    pub(crate) request_ids: Vec<String>,
    /// The request ids the hub answered 503 `store_unavailable` or `overloaded`, and when:
    /// refused, each must have had no effect upstream.
    pub(crate) refused: Vec<(String, Instant)>,
    pub(crate) outcome: Outcome,
    /// The route and body, to send it again.
    pub(crate) path: String,
    pub(crate) body: Option<Value>,
    /// When its client had the final answer.
    pub(crate) finished: Instant,
}

/// What the clients saw, shared by the worker threads.
#[derive(Default)]
pub(crate) struct Seen {
    pub(crate) writes: Vec<Write>,
    pub(crate) reads: usize,
    pub(crate) requests: usize,
    pub(crate) transport_errors: usize,
    pub(crate) statuses: BTreeMap<u16, usize>,
    /// Every non-2xx body, for the secrets scan.
    pub(crate) error_bodies: Vec<String>,
    /// Answers that break the contract outright (a 500, an unexpected refusal).
    pub(crate) violations: Vec<String>,
}

/// Who the workers talk to.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) hubs: Vec<String>,
    pub(crate) write: String,
    pub(crate) read: String,
    /// Per hub, tickets to comment on and read.
    pub(crate) tickets: Vec<Vec<String>>,
    /// A tag making this run's keys unique.
    pub(crate) run: String,
    /// How long a client keeps retrying a write whose outcome it does not know.
    pub(crate) patience: Duration,
}

/// Progress of the workers, for the scenario's controller.
pub(crate) struct Progress {
    next: AtomicUsize,
    limit: AtomicUsize,
    done: AtomicUsize,
    pub(crate) total: usize,
}

impl Progress {
    /// Lets the workers take jobs up to (not including) `n`.
    pub(crate) fn release(&self, n: usize) {
        self.limit.store(n.min(self.total), Ordering::SeqCst);
    }

    /// Jobs finished.
    pub(crate) fn done(&self) -> usize {
        self.done.load(Ordering::SeqCst)
    }

    /// Waits until the workers have finished `n` jobs.
    pub(crate) fn wait_done(&self, n: usize) -> Result<()> {
        while self.done() < n.min(self.total) {
            interrupted()?;
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

/// Runs `total` jobs on `workers` threads while `control` runs on this one (it releases
/// jobs with [`Progress::release`] and injects faults, crashes …).
pub(crate) fn run_jobs(
    target: &Target,
    total: usize,
    workers: usize,
    control: impl FnOnce(&Progress) -> Result<()>,
) -> Result<Seen> {
    let progress = Progress {
        next: AtomicUsize::new(0),
        limit: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        total,
    };
    let seen = Mutex::new(Seen::default());
    let controlled = std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| worker(target, &progress, &seen));
        }
        let outcome = control(&progress);
        // Whatever the controller did, let the workers finish.
        progress.release(total);
        outcome
    });
    controlled?;
    Ok(seen.into_inner().unwrap_or_else(PoisonError::into_inner))
}

fn worker(target: &Target, progress: &Progress, seen: &Mutex<Seen>) {
    let http = Client::new();
    loop {
        let i = progress.next.fetch_add(1, Ordering::SeqCst);
        if i >= progress.total {
            return;
        }
        while i >= progress.limit.load(Ordering::SeqCst) {
            if interrupted().is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut local = Seen::default();
        job(&http, target, i, &mut local);
        let mut all = seen.lock().unwrap_or_else(PoisonError::into_inner);
        all.writes.append(&mut local.writes);
        all.reads += local.reads;
        all.requests += local.requests;
        all.transport_errors += local.transport_errors;
        for (s, n) in local.statuses {
            *all.statuses.entry(s).or_default() += n;
        }
        all.error_bodies.append(&mut local.error_bodies);
        all.violations.append(&mut local.violations);
        drop(all);
        progress.done.fetch_add(1, Ordering::SeqCst);
    }
}

/// Job `i`: a write or two on hub `i % hubs`, then a read.
fn job(http: &Client, t: &Target, i: usize, seen: &mut Seen) {
    let hub = i % t.hubs.len();
    let tickets = &t.tickets[hub];
    let ticket = &tickets[(i / t.hubs.len()) % tickets.len()];
    let key = |what: &str| format!("{}-{i}-{what}", t.run);
    match i % 10 {
        0..=2 => {
            let priority = ["low", "normal", "high", "urgent"][i % 4];
            let body = json!({
                "customer_id": "CUST-1001",
                "subject": format!("Chaos ticket {i}"),
                "description": "Created under injected faults.",
                "priority": priority,
            });
            write(
                http,
                t,
                hub,
                Kind::Ticket,
                "/v1/tickets",
                Some(body),
                &key("t"),
                None,
                seen,
            );
        }
        3..=5 => {
            let body = json!({"comment": format!("Chaos comment {i}"), "is_public": i.is_multiple_of(2)});
            let path = format!("/v1/tickets/{ticket}/comments");
            write(
                http,
                t,
                hub,
                Kind::Comment,
                &path,
                Some(body),
                &key("c"),
                Some(ticket),
                seen,
            );
        }
        _ => {
            let body = json!({
                "customer_id": "CUST-1002",
                "amount": format!("{}.{:02}", 10 + i % 90, i % 100),
                "currency": "EUR",
                "description": format!("Chaos draft {i}"),
            });
            let draft = write(
                http,
                t,
                hub,
                Kind::Draft,
                "/v1/transactions/drafts",
                Some(body),
                &key("d"),
                None,
                seen,
            );
            if let Some(draft) = draft.and_then(|b| b["draft_id"].as_str().map(str::to_owned)) {
                let (kind, what) = if i % 10 == 9 {
                    (Kind::Cancel, "cancel")
                } else {
                    (Kind::Commit, "commit")
                };
                let path = format!("/v1/transactions/drafts/{draft}/{what}");
                write(http, t, hub, kind, &path, None, &key(&what[..2]), Some(&draft), seen);
            }
        }
    }
    let path = match (i / t.hubs.len()) % 3 {
        0 => format!("/v1/tickets/{ticket}"),
        1 => format!("/v1/transactions/TXN-500{}", 1 + i % 7),
        // Many limits, many cache keys: mostly misses, so the status system sees traffic.
        _ => format!("/v1/customers/CUST-100{}/transactions?limit={}", 1 + i % 3, 1 + i % 50),
    };
    read(http, t, hub, &path, &format!("{}-{i}-r", t.run), seen);
}

fn note(seen: &mut Seen, status: u16, body: &str) {
    seen.requests += 1;
    *seen.statuses.entry(status).or_default() += 1;
    if !(200..300).contains(&status) {
        seen.error_bodies.push(body.to_owned());
    }
    if status == 500 {
        seen.violations.push(format!("the hub answered 500: {body}"));
    }
}

fn read(http: &Client, t: &Target, hub: usize, path: &str, rid: &str, seen: &mut Seen) {
    seen.reads += 1;
    let url = format!("{}{path}", t.hubs[hub]);
    match http.send(&Method::GET, &url, Some(&t.read), None, &[("x-request-id", rid)]) {
        Ok(r) => note(seen, r.status, &r.body),
        Err(_) => seen.transport_errors += 1,
    }
}

/// One write, retried with its key until it has a final answer: a transport error (the
/// outcome unknown to the client), 409 `idempotency_in_flight` or a 5xx without
/// `dlq_id` are asked again; anything else is final. Returns the 2xx body.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write(
    http: &Client,
    t: &Target,
    hub: usize,
    kind: Kind,
    path: &str,
    body: Option<Value>,
    key: &str,
    target: Option<&str>,
    seen: &mut Seen,
) -> Option<Value> {
    let url = format!("{}{path}", t.hubs[hub]);
    let mut w = Write {
        hub,
        kind,
        key: key.to_owned(),
        target: target.map(str::to_owned),
        request_ids: Vec::new(),
        refused: Vec::new(),
        outcome: Outcome::Unknown(String::new()),
        path: path.to_owned(),
        body: body.clone(),
        finished: Instant::now(),
    };
    let started = Instant::now();
    let mut last = String::new();
    let outcome = loop {
        if started.elapsed() > t.patience || interrupted().is_err() {
            break Outcome::Unknown(last);
        }
        let rid = format!("{key}.{}", w.request_ids.len());
        w.request_ids.push(rid.clone());
        let headers = [
            ("idempotency-key", key),
            ("x-request-id", rid.as_str()),
            ("x-conversation-id", t.run.as_str()),
        ];
        let r = match http.send(&Method::POST, &url, Some(&t.write), body.as_ref(), &headers) {
            Ok(r) => r,
            Err(e) => {
                seen.transport_errors += 1;
                last = format!("{e:#}");
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
        };
        note(seen, r.status, &r.body);
        let json = r.json();
        let code = json["code"].as_str().unwrap_or("").to_owned();
        last = r.summary();
        match r.status {
            200..=299 => break Outcome::Success(json),
            502 if code == "upstream_answer_unreadable" => break Outcome::Applied,
            409 if code == "idempotency_in_flight" => std::thread::sleep(Duration::from_millis(100)),
            429 | 502..=504 if json["dlq_id"].is_string() => {
                break Outcome::Failed {
                    dlq_id: json["dlq_id"].as_str().unwrap_or("").to_owned(),
                    code,
                };
            }
            500..=599 => {
                if r.status == 503 && matches!(code.as_str(), "store_unavailable" | "overloaded") {
                    w.refused.push((rid, Instant::now()));
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            status => break Outcome::Rejected { status, code },
        }
    };
    w.outcome = outcome;
    w.finished = Instant::now();
    let result = match &w.outcome {
        Outcome::Success(b) => Some(b.clone()),
        _ => None,
    };
    seen.writes.push(w);
    result
}

/// Fault rules for the sim: every kind the issue names, at rates that let most writes
/// through within their three attempts. Effects-then-failure faults (`after_handler`,
/// a truncated answer) only hit routes whose upstream honours `Idempotency-Key`: where it
/// ignores keys (Jira, Zendesk comments) the hub cannot know whether a lost answer's
/// write happened, and no retry or replay can be exactly-once.
pub(crate) fn background_faults() -> Vec<Value> {
    let mut rules = vec![
        json!({"kind": "error", "status": 503, "rate": 0.04}),
        json!({"kind": "error", "status": 500, "rate": 0.02}),
        json!({"kind": "rate_limit", "retry_after_s": 1, "rate": 0.03}),
        json!({"kind": "rate_limit", "rate": 0.03}),
        json!({"kind": "reset", "rate": 0.02}),
        json!({"kind": "hang", "ms": 2500, "rate": 0.01}),
        // A 2xx means the upstream did it: the garbled answer comes after the route ran.
        json!({"kind": "malformed_json", "after_handler": true, "rate": 0.02}),
    ];
    for (system, route) in [
        ("generic", "/tickets*"),
        ("zendesk", "/api/v2/tickets"),
        ("sales", "/transactions/drafts*"),
    ] {
        rules.push(json!({"kind": "reset", "after_handler": true, "system": system, "method": "POST", "route": route, "rate": 0.03}));
        rules.push(json!({"kind": "truncated_json", "system": system, "method": "POST", "route": route, "rate": 0.02}));
    }
    rules.push(json!({"kind": "hang", "ms": 2500, "after_handler": true, "system": "sales", "method": "POST", "route": "/transactions/drafts*", "rate": 0.01}));
    rules
}

/// The systems a full outage takes down.
pub(crate) const SYSTEMS: [&str; 5] = ["generic", "zendesk", "jira", "status", "sales"];

/// Sets the background faults (`on`) or clears every fault.
pub(crate) fn set_faults(rig: &Rig, on: bool) -> Result<()> {
    rig.sim_send("DELETE", "/_sim/faults", None)?;
    if on {
        for rule in background_faults() {
            rig.sim_send("POST", "/_sim/faults", Some(&rule))?;
        }
    }
    Ok(())
}

/// Takes every system down, or brings them back.
pub(crate) fn set_outage(rig: &Rig, down: bool) -> Result<()> {
    let method = if down { "POST" } else { "DELETE" };
    for s in SYSTEMS {
        rig.sim_send(method, &format!("/_sim/outage/{s}"), None)?;
    }
    Ok(())
}

/// Creates `n` tickets per hub, without faults, for the workload's comments and reads.
pub(crate) fn seed_tickets(target: &mut Target, n: usize, seen: &mut Seen) -> Result<()> {
    let http = Client::new();
    for hub in 0..target.hubs.len() {
        let mut ids = Vec::new();
        for k in 0..n {
            let body =
                json!({"customer_id": "CUST-1003", "subject": format!("Seed {k}"), "description": "for comments"});
            let key = format!("{}-seed-{hub}-{k}", target.run);
            match write(
                &http,
                target,
                hub,
                Kind::Ticket,
                "/v1/tickets",
                Some(body),
                &key,
                None,
                seen,
            ) {
                Some(b) => ids.push(b["ticket_id"].as_str().unwrap_or("").to_owned()),
                None => bail!("creating a seed ticket on {} failed without faults", target.hubs[hub]),
            }
        }
        target.tickets.push(ids);
    }
    Ok(())
}

/// The reason the chaos supervisor gives when it discards an `outcome_unknown` entry
/// whose write it found in the sim's ledger.
pub(crate) const FOUND_UPSTREAM: &str = "found upstream";

/// Whether the sim's ledger holds an effect of the write with `key` (by key, or by one of
/// its request ids, for upstreams that ignore keys).
fn happened(effects: &[Value], key: &str, request_ids: &[String]) -> bool {
    effects.iter().any(|e| {
        e["idempotency_key"].as_str() == Some(key)
            || e["request_id"]
                .as_str()
                .is_some_and(|r| request_ids.iter().any(|id| id == r))
    })
}

/// Replays every pending DLQ entry of every hub until none is left; returns the replays
/// made. An `outcome_unknown` entry (its write may have happened at an upstream that can
/// neither deduplicate nor be asked) is handled as a supervisor would: looked up in the
/// sim's ledger, discarded when found, else replayed with `force`.
pub(crate) fn replay_all(rig: &Rig, hubs: &[&HubProc], seen: &mut Seen, limit: Duration) -> Result<usize> {
    let by_key: HashMap<String, usize> = seen
        .writes
        .iter()
        .enumerate()
        .map(|(i, w)| (w.key.clone(), i))
        .collect();
    let mut replays = 0usize;
    let mut round = 0usize;
    poll(limit, "replaying the dead-letter queue", || {
        round += 1;
        let mut left = 0;
        for hub in hubs {
            for entry in all_pages(rig, hub, "/v1/dlq?status=pending", 200)? {
                let id = entry["id"].as_str().unwrap_or("");
                let key = entry["idempotency_key"].as_str().unwrap_or("");
                let rid = format!("{key}.replay{round}");
                if let Some(&i) = by_key.get(key) {
                    seen.writes[i].request_ids.push(rid.clone());
                } else {
                    seen.violations
                        .push(format!("DLQ entry {id} has a key no write used: {key:?}"));
                }
                let mut query = "";
                if entry["error_code"] == "outcome_unknown" {
                    let effects = rig.sim_get("/_sim/ledger/effects")?["effects"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    let ids = by_key
                        .get(key)
                        .map(|&i| seen.writes[i].request_ids.clone())
                        .unwrap_or_default();
                    if happened(&effects, key, &ids) {
                        let r = rig.http.send(
                            &Method::POST,
                            &format!("{}/v1/dlq/{id}/discard", hub.url),
                            Some(&rig.canaries.tokens.admin),
                            Some(&json!({"reason": FOUND_UPSTREAM})),
                            &[],
                        )?;
                        note(seen, r.status, &r.body);
                        if r.status != 200 {
                            left += 1;
                        }
                        continue;
                    }
                    query = "?force=true";
                }
                let r = rig.http.send(
                    &Method::POST,
                    &format!("{}/v1/dlq/{id}/replay{query}", hub.url),
                    Some(&rig.canaries.tokens.admin),
                    None,
                    &[("x-request-id", &rid)],
                )?;
                replays += 1;
                note(seen, r.status, &r.body);
                if r.status != 200 {
                    left += 1;
                }
            }
        }
        if left == 0 {
            return Ok(Some(()));
        }
        pause(Duration::from_millis(300))?;
        Ok(None)
    })?;
    Ok(replays)
}

/// Sends reads (and for transaction_create, a probe draft) until every adapter's circuit
/// on every hub is closed again, as a recovered upstream lets it.
pub(crate) fn close_circuits(rig: &Rig, target: &Target, hubs: &[&HubProc], seen: &mut Seen) -> Result<()> {
    let http = Client::new();
    let mut n = 0usize;
    poll(Duration::from_secs(60), "every circuit closed again", || {
        let mut open = 0;
        for (h, hub) in hubs.iter().enumerate() {
            let ready = rig.http.get(&format!("{}/readyz", hub.url), None)?.json();
            let Some(adapters) = ready["adapters"].as_object() else {
                bail!("{}'s /readyz names no adapters: {ready}", hub.name);
            };
            for (adapter, state) in adapters {
                if state["circuit"] == "closed" {
                    continue;
                }
                open += 1;
                n += 1;
                match adapter.as_str() {
                    "ticketing" => read(
                        &http,
                        target,
                        h,
                        &format!("/v1/tickets/PROBE-{n}"),
                        &format!("{}-probe-{n}", target.run),
                        seen,
                    ),
                    "transaction_status" => read(
                        &http,
                        target,
                        h,
                        &format!("/v1/transactions/PROBE-{n}"),
                        &format!("{}-probe-{n}", target.run),
                        seen,
                    ),
                    _ => {
                        let body = json!({"customer_id": "CUST-1003", "amount": "1.00", "currency": "EUR", "description": "probe"});
                        let key = format!("{}-probe-{n}", target.run);
                        write(
                            &http,
                            target,
                            h,
                            Kind::Draft,
                            "/v1/transactions/drafts",
                            Some(body),
                            &key,
                            None,
                            seen,
                        );
                    }
                }
            }
        }
        if open == 0 {
            return Ok(Some(()));
        }
        pause(Duration::from_millis(200))?;
        Ok(None)
    })
}

/// The check of every write against the ledger, and its figures.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    pub(crate) per_hub: Vec<HubFigures>,
    pub(crate) effects: usize,
    pub(crate) duplicates: usize,
    pub(crate) lost: usize,
    pub(crate) unattributed: usize,
    pub(crate) unaudited: usize,
    pub(crate) keys_with_two_effects: usize,
    pub(crate) dlq_entries: usize,
    pub(crate) orphan_dlq_entries: usize,
    pub(crate) problems: Vec<String>,
}

/// One hub's figures.
#[derive(Debug, Default, Clone)]
pub(crate) struct HubFigures {
    pub(crate) writes: usize,
    pub(crate) ok: usize,
    pub(crate) failed: usize,
    pub(crate) rejected: usize,
    pub(crate) unknown: usize,
    pub(crate) effects: usize,
    pub(crate) dlq: usize,
    pub(crate) replayed: usize,
}

/// Checks the writes against the ledger, the DLQ and the audit log:
/// - a write answered 2xx happened exactly once, and is the one its answer names;
/// - a write answered with a `dlq_id` has that entry, with its key, now replayed, and
///   happened exactly once;
/// - a refused write happened not at all; one whose outcome the client never learnt at
///   most once (and is counted);
/// - no idempotency key has two effects;
/// - every effect belongs to a write of the run and is in its hub's audit log — after a
///   kill -9 too: a write is recorded (`started`) durably before it is sent;
/// - every DLQ entry belongs to a write that failed (`orphans_allowed`: a crash between
///   the entry and the answer leaves one whose client retried).
pub(crate) fn verify(rig: &Rig, hubs: &[&HubProc], seen: &Seen, orphans_allowed: bool) -> Result<Verdict> {
    let mut v = Verdict {
        per_hub: vec![HubFigures::default(); hubs.len()],
        ..Verdict::default()
    };
    let dropped = rig.sim_get("/_sim/ledger/requests?system=vault")?["dropped"]
        .as_u64()
        .unwrap_or(0);
    if dropped > 0 {
        bail!("the sim's ledger dropped {dropped} records: it cannot vouch for the run");
    }
    let effects = rig.sim_get("/_sim/ledger/effects")?["effects"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    v.effects = effects.len();
    let by_key: HashMap<&str, usize> = seen
        .writes
        .iter()
        .enumerate()
        .map(|(i, w)| (w.key.as_str(), i))
        .collect();
    let by_rid: HashMap<&str, usize> = seen
        .writes
        .iter()
        .enumerate()
        .flat_map(|(i, w)| w.request_ids.iter().map(move |r| (r.as_str(), i)))
        .collect();

    // The audit logs: which request ids each hub recorded an upstream call for.
    let mut audited: HashMap<String, Vec<String>> = HashMap::new();
    for hub in hubs {
        for r in all_pages(rig, hub, "/v1/audit", 500)? {
            if let Some(rid) = r["request_id"].as_str() {
                audited
                    .entry(rid.to_owned())
                    .or_default()
                    .push(r["operation"].as_str().unwrap_or("").to_owned());
            }
        }
    }

    let mut per_write: Vec<Vec<&Value>> = vec![Vec::new(); seen.writes.len()];
    let mut per_key: HashMap<&str, usize> = HashMap::new();
    for e in &effects {
        let key = e["idempotency_key"].as_str();
        let rid = e["request_id"].as_str();
        if let Some(k) = key {
            *per_key.entry(k).or_default() += 1;
        }
        let owner = key
            .and_then(|k| by_key.get(k))
            .or_else(|| rid.and_then(|r| by_rid.get(r)))
            .copied();
        let Some(i) = owner else {
            v.unattributed += 1;
            v.problems
                .push(format!("an upstream effect no write of the run explains: {e}"));
            continue;
        };
        per_write[i].push(e);
        let w = &seen.writes[i];
        if e["kind"] != w.kind.effect() {
            v.problems
                .push(format!("write {} ({:?}) had a {} effect", w.key, w.kind, e["kind"]));
        }
        let recorded = rid.and_then(|r| audited.get(r)).is_some();
        if !recorded {
            v.unaudited += 1;
            v.problems.push(format!(
                "an upstream effect of write {} has no audit record (request id {rid:?})",
                w.key
            ));
        }
    }
    v.keys_with_two_effects = per_key.values().filter(|n| **n > 1).count();
    for (k, n) in &per_key {
        if *n > 1 {
            v.problems.push(format!("idempotency key {k} produced {n} effects"));
        }
    }

    // The DLQ of every hub.
    let mut dlq: HashMap<String, Value> = HashMap::new();
    for (h, hub) in hubs.iter().enumerate() {
        for e in all_pages(rig, hub, "/v1/dlq", 200)? {
            v.per_hub[h].dlq += 1;
            if e["status"] == "replayed" {
                v.per_hub[h].replayed += 1;
            }
            dlq.insert(e["id"].as_str().unwrap_or("").to_owned(), e);
        }
    }
    v.dlq_entries = dlq.len();
    let mut claimed = 0usize;

    for (i, w) in seen.writes.iter().enumerate() {
        let n = per_write[i].len();
        let f = &mut v.per_hub[w.hub];
        f.writes += 1;
        f.effects += n;
        if n > 1 {
            v.duplicates += n - 1;
            v.problems
                .push(format!("write {} ({:?}) happened {n} times upstream", w.key, w.kind));
        }
        match &w.outcome {
            Outcome::Success(body) => {
                f.ok += 1;
                if n == 0 {
                    v.lost += 1;
                    v.problems.push(format!(
                        "write {} was answered {body} but never happened upstream",
                        w.key
                    ));
                } else if let Some(problem) = names_its_effect(w, body, per_write[i][0]) {
                    v.problems.push(problem);
                }
            }
            Outcome::Failed { dlq_id, code } => {
                f.failed += 1;
                claimed += 1;
                match dlq.get(dlq_id) {
                    None => v.problems.push(format!(
                        "write {} failed ({code}) with dlq_id {dlq_id}, which is not in the DLQ",
                        w.key
                    )),
                    Some(e) if e["idempotency_key"] != w.key.as_str() => v.problems.push(format!(
                        "DLQ entry {dlq_id} of write {} holds key {}",
                        w.key, e["idempotency_key"]
                    )),
                    // The supervisor's answer to an entry whose write may already have
                    // happened (`outcome_unknown`): found upstream, discarded.
                    Some(e) if e["status"] == "discarded" && e["reason"] == FOUND_UPSTREAM && n == 1 => {}
                    Some(e) if e["status"] != "replayed" => {
                        v.problems.push(format!(
                            "DLQ entry {dlq_id} of write {} is {}, not replayed",
                            w.key, e["status"]
                        ));
                    }
                    Some(_) => {}
                }
                if n == 0 {
                    v.lost += 1;
                    v.problems.push(format!(
                        "write {} failed, was replayed and still never happened upstream",
                        w.key
                    ));
                }
            }
            Outcome::Applied => {
                f.ok += 1;
                if n == 0 {
                    v.lost += 1;
                    v.problems.push(format!(
                        "write {} was answered upstream_answer_unreadable (accepted) but never happened upstream",
                        w.key
                    ));
                }
            }
            Outcome::Rejected { status, code } => {
                f.rejected += 1;
                v.problems.push(format!("write {} was refused: {status} {code}", w.key));
            }
            Outcome::Unknown(last) => {
                f.unknown += 1;
                v.problems
                    .push(format!("write {} never got a final answer; last: {last}", w.key));
            }
        }
    }
    let keys_of_failed: HashMap<&str, ()> = seen
        .writes
        .iter()
        .filter(|w| matches!(w.outcome, Outcome::Failed { .. }))
        .map(|w| (w.key.as_str(), ()))
        .collect();
    for (id, e) in &dlq {
        let key = e["idempotency_key"].as_str().unwrap_or("");
        if !keys_of_failed.contains_key(key) {
            v.orphan_dlq_entries += 1;
            if !orphans_allowed {
                v.problems
                    .push(format!("DLQ entry {id} (key {key}) belongs to no failed write"));
            }
        }
    }
    if !orphans_allowed && claimed != v.dlq_entries {
        v.problems.push(format!(
            "{claimed} writes failed but the DLQ holds {} entries",
            v.dlq_entries
        ));
    }
    Ok(v)
}

/// Whether a 2xx answer names the effect that happened (the created id, the transaction).
fn names_its_effect(w: &Write, body: &Value, effect: &Value) -> Option<String> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let (answered, happened) = match w.kind {
        Kind::Ticket => (text(&body["ticket_id"]), text(&effect["id"])),
        Kind::Comment => (text(&body["comment_id"]), text(&effect["id"])),
        Kind::Draft => (text(&body["draft_id"]), text(&effect["id"])),
        Kind::Commit => (text(&body["transaction_id"]), text(&effect["related"])),
        Kind::Cancel => (w.target.clone().unwrap_or_default(), text(&effect["id"])),
    };
    (answered != happened).then(|| {
        format!(
            "write {} was answered with {answered} but what happened upstream is {happened}",
            w.key
        )
    })
}

impl Verdict {
    /// Prints the figures table.
    pub(crate) fn print(&self, names: &[&str], seen: &Seen, replays: usize) {
        let mut header = format!("\n  {:<34}", "");
        for n in names {
            header.push_str(&format!("{n:>13}"));
        }
        header.push_str(&format!("{:>10}", "total"));
        println!("{header}");
        let row = |label: &str, f: &dyn Fn(&HubFigures) -> usize| {
            let mut line = format!("  {label:<34}");
            let mut sum = 0;
            for h in &self.per_hub {
                line.push_str(&format!("{:>13}", f(h)));
                sum += f(h);
            }
            line.push_str(&format!("{sum:>10}"));
            println!("{line}");
        };
        row("writes", &|h| h.writes);
        row("  answered 2xx", &|h| h.ok);
        row("  failed with a dlq_id", &|h| h.failed);
        row("  refused (4xx)", &|h| h.rejected);
        row("  no final answer", &|h| h.unknown);
        row("effects upstream", &|h| h.effects);
        row("DLQ entries", &|h| h.dlq);
        row("  replayed", &|h| h.replayed);
        let statuses: Vec<String> = seen.statuses.iter().map(|(s, n)| format!("{s}×{n}")).collect();
        println!(
            "\n  requests to the hubs {} (reads {}; answers {}; transport errors {}); DLQ replays sent {replays}",
            seen.requests,
            seen.reads,
            statuses.join(" "),
            seen.transport_errors
        );
        println!(
            "  effects in the ledger {}; DLQ entries {} ({} with no failed write); effects not in the audit log {}",
            self.effects, self.dlq_entries, self.orphan_dlq_entries, self.unaudited
        );
        println!(
            "  duplicates {} (must be 0); lost {} (must be 0); keys with two effects {}; effects no write explains {}",
            self.duplicates, self.lost, self.keys_with_two_effects, self.unattributed
        );
    }

    /// Fails naming the first broken invariants.
    pub(crate) fn check(&self, seen: &Seen) -> Result<()> {
        let mut all: Vec<&str> = self.problems.iter().map(String::as_str).collect();
        all.extend(seen.violations.iter().map(String::as_str));
        if all.is_empty() {
            return Ok(());
        }
        for p in all.iter().take(15) {
            println!("  ✗ {p}");
        }
        bail!(
            "{} invariant violations (duplicates {}, lost {}), the first: {}",
            all.len(),
            self.duplicates,
            self.lost,
            all[0]
        )
    }
}
