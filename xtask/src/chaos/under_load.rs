//! Scenario 1, chaos under load: three hubs (generic, Zendesk and Jira ticketing, all
//! with the transaction adapters) over one hub-sim injecting 5xx, 429 with and without
//! `Retry-After`, resets, hangs past the attempt timeout, malformed and truncated JSON,
//! then a full outage long enough to open every circuit; afterwards the DLQ is replayed
//! and every write is checked against the sim's ledger, the DLQ, the audit logs and the
//! `circuit.changed` events.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::Value;

use super::events::{self, Feed, check_transitions, transitions};
use super::load::{self, Seen, Target};
use super::rig::{Rig, Store, poll};
use super::secrets;
use crate::harness::HubProc;
use crate::harness::{pause, random_hex};

/// Sizes of a run.
pub(crate) struct Size {
    pub(crate) jobs: usize,
    pub(crate) workers: usize,
    pub(crate) outage: Duration,
}

impl Size {
    pub(crate) fn of(quick: bool) -> Self {
        if quick {
            Self {
                jobs: 900,
                workers: 48,
                outage: Duration::from_secs(3),
            }
        } else {
            Self {
                jobs: 5000,
                workers: 128,
                outage: Duration::from_secs(6),
            }
        }
    }
}

/// `cargo xtask chaos` scenario 1.
pub(crate) fn run(quick: bool) -> Result<()> {
    let mut rig = Rig::start("1-load", quick)?;
    let mut hubs = Vec::new();
    for dialect in ["generic", "zendesk", "jira"] {
        hubs.push(rig.start_hub(&format!("hub-{dialect}"), dialect, &Store::Sqlite)?);
    }
    let refs: Vec<&HubProc> = hubs.iter().collect();
    rig.wait_ready(&refs)?;
    let feeds = subscribe_all(&rig, &refs)?;
    let mut target = target(&rig, &refs, "L");
    let mut seen = Seen::default();
    load::seed_tickets(&mut target, 6, &mut seen)?;

    let size = Size::of(quick);
    println!(
        "\n{} jobs (≈{} writes and {} reads) on {} client threads; background faults on; \
         a full outage of every system for {} s after 40 % of the jobs",
        size.jobs,
        size.jobs * 13 / 10,
        size.jobs,
        size.workers,
        size.outage.as_secs()
    );
    load::set_faults(&rig, true)?;
    let mut run = load::run_jobs(&target, size.jobs, size.workers, |p| faults_and_outage(&rig, p, &size))?;
    load::set_faults(&rig, false)?;
    merge(&mut seen, &mut run);

    finish(&rig, &target, &refs, Some(feeds), &mut seen, None)
}

/// Background faults throughout; the full outage after 40 % of the jobs, during which a
/// further 20 % are let through; the rest after it.
pub(crate) fn faults_and_outage(rig: &Rig, p: &load::Progress, size: &Size) -> Result<()> {
    let first = p.total * 2 / 5;
    p.release(first);
    p.wait_done(first)?;
    println!("  {} jobs done: full outage of {}", p.done(), load::SYSTEMS.join(", "));
    load::set_outage(rig, true)?;
    p.release(first + p.total / 5);
    pause(size.outage)?;
    load::set_outage(rig, false)?;
    println!("  {} jobs done: the outage is over", p.done());
    p.release(p.total);
    Ok(())
}

/// The clients' view of the hubs.
pub(crate) fn target(rig: &Rig, hubs: &[&HubProc], tag: &str) -> Target {
    Target {
        hubs: hubs.iter().map(|h| h.url.clone()).collect(),
        write: rig.canaries.tokens.write.clone(),
        read: rig.canaries.tokens.read.clone(),
        tickets: Vec::new(),
        run: format!("{tag}{}", &random_hex()[..8]),
        patience: Duration::from_secs(90),
    }
}

/// Subscribes to `circuit.changed` on every hub.
pub(crate) fn subscribe_all(rig: &Rig, hubs: &[&HubProc]) -> Result<Vec<Feed>> {
    hubs.iter()
        .map(|h| events::subscribe(&h.url, &rig.canaries.tokens.read, &["circuit.changed"]))
        .collect()
}

/// Moves `more`'s writes and counts into `seen`.
pub(crate) fn merge(seen: &mut Seen, more: &mut Seen) {
    seen.writes.append(&mut more.writes);
    seen.reads += more.reads;
    seen.requests += more.requests;
    seen.transport_errors += more.transport_errors;
    for (s, n) in std::mem::take(&mut more.statuses) {
        *seen.statuses.entry(s).or_default() += n;
    }
    seen.error_bodies.append(&mut more.error_bodies);
    seen.violations.append(&mut more.violations);
}

/// After the load: circuits closed again, the DLQ replayed, every invariant checked,
/// the figures printed, the secrets scanned. Without a crash (`crashed_at` `None`) the
/// audit log must hold every effect and every DLQ entry must belong to a failed write;
/// after one, the audit log must still hold every effect (writes are recorded before
/// they are sent), and a DLQ entry may belong to a write its client retried.
pub(crate) fn finish(
    rig: &Rig,
    target: &Target,
    hubs: &[&HubProc],
    feeds: Option<Vec<Feed>>,
    seen: &mut Seen,
    crashed_at: Option<Instant>,
) -> Result<()> {
    let strict = crashed_at.is_none();
    println!("\nrecovery: probing until every circuit is closed, then replaying the DLQ …");
    load::close_circuits(rig, target, hubs, seen)?;
    let replays = load::replay_all(rig, hubs, seen, Duration::from_secs(120))?;
    load::close_circuits(rig, target, hubs, seen)?;
    // The audit writer batches: wait until its queue is written (at most 10 s).
    pause(Duration::from_millis(500))?;
    let verdict = poll(Duration::from_secs(10), "the audit log catching up", || {
        let v = load::verify(rig, hubs, seen, !strict)?;
        Ok((!v.problems.iter().any(|p| p.contains("no audit record"))).then_some(v))
    })
    .or_else(|_| load::verify(rig, hubs, seen, !strict))?;
    let names: Vec<&str> = hubs.iter().map(|h| h.name.as_str()).collect();
    verdict.print(&names, seen, replays);

    let metrics = gauges(rig, hubs);
    let (all_events, mut circuit_problems) = match feeds {
        Some(feeds) => circuits(rig, hubs, feeds)?,
        None => {
            println!("\n  circuit transitions: not checked (a restarted hub starts with closed circuits)");
            (Vec::new(), Vec::new())
        }
    };
    let scan = secrets::scan(rig, hubs, &seen.error_bodies, &all_events)?;
    match metrics {
        Ok(()) => println!("  /metrics of every hub: integration_dlq_pending 0, integration_circuit_breaker_state 0"),
        Err(e) => circuit_problems.push(format!("{e:#}")),
    }
    let checked = verdict.check(seen);
    let scanned = scan.report();
    checked?;
    if let Some(first) = circuit_problems.first() {
        bail!("circuits and gauges: {first}");
    }
    scanned
}

/// Stops the feeds and checks each hub's `circuit.changed` transitions: valid per the
/// contract, every adapter opened at least once (the outage) and is closed again, as
/// its `/readyz` says. Returns every event (for the secrets scan) and what broke.
fn circuits(rig: &Rig, hubs: &[&HubProc], feeds: Vec<Feed>) -> Result<(Vec<Value>, Vec<String>)> {
    println!("\n  circuit.changed events (from /v1/events):");
    let mut all = Vec::new();
    let mut problems = Vec::new();
    for (hub, feed) in hubs.iter().zip(feeds) {
        // Events of the last probes may still be on their way.
        let settled = poll(Duration::from_secs(5), "the last circuit.changed events", || {
            let t = transitions(&feed.messages());
            Ok(t.values()
                .all(|l| l.last().is_none_or(|(_, to)| to == "closed"))
                .then_some(()))
        });
        if let Some(why) = feed.closed() {
            problems.push(format!("{}: the event subscription ended early: {why}", hub.name));
        }
        let messages = feed.stop();
        let by_adapter = transitions(&messages);
        let ready = rig.http.get(&format!("{}/readyz", hub.url), None)?.json();
        for adapter in ["ticketing", "transaction_status", "transaction_create"] {
            let list = by_adapter.get(adapter).cloned().unwrap_or_default();
            let opened = list.iter().filter(|(f, t)| f == "closed" && t == "open").count();
            let probes = list.iter().filter(|(_, t)| t == "half_open").count();
            println!(
                "    {:<12} {adapter:<19} {:>3} transitions: opened {opened}, half-open probes {probes}",
                hub.name,
                list.len()
            );
            match check_transitions(&format!("{} {adapter}", hub.name), &list) {
                Ok(end) => {
                    let now = &ready["adapters"][adapter]["circuit"];
                    if end != "closed" || *now != "closed" {
                        problems.push(format!(
                            "{} {adapter}: the events end in {end}, /readyz says {now}; both should be closed",
                            hub.name
                        ));
                    }
                }
                Err(e) => problems.push(format!("{e:#}")),
            }
            if opened == 0 {
                problems.push(format!(
                    "{} {adapter}: the circuit never opened, though every system was down",
                    hub.name
                ));
            }
        }
        if let Err(e) = settled {
            problems.push(format!("{}: {e:#}", hub.name));
        }
        all.extend(messages);
    }
    for p in &problems {
        println!("  ✗ {p}");
    }
    Ok((all, problems))
}

/// Once the DLQ is replayed and the circuits closed, every hub's `/metrics` must say so:
/// `integration_dlq_pending` 0 (refreshed in the background: waited for, 15 s at most)
/// and `integration_circuit_breaker_state` 0 (closed) for every adapter.
fn gauges(rig: &Rig, hubs: &[&HubProc]) -> Result<()> {
    for hub in hubs {
        let value = |text: &str, name: &str| -> Vec<(String, f64)> {
            text.lines()
                .filter(|l| l.starts_with(name))
                .filter_map(|l| {
                    let (series, v) = l.rsplit_once(' ')?;
                    Some((series.to_owned(), v.parse().ok()?))
                })
                .collect()
        };
        let text = poll(
            Duration::from_secs(15),
            &format!("{} integration_dlq_pending 0", hub.name),
            || {
                let text = rig.http.get(&format!("{}/metrics", hub.url), None)?.body;
                let pending = value(&text, "integration_dlq_pending");
                Ok((!pending.is_empty() && pending.iter().all(|(_, v)| *v == 0.0)).then_some(text))
            },
        )?;
        let states = value(&text, "integration_circuit_breaker_state{");
        if states.len() != 3 || states.iter().any(|(_, v)| *v != 0.0) {
            bail!(
                "{}: integration_circuit_breaker_state should be 0 (closed) for the 3 adapters: {states:?}",
                hub.name
            );
        }
    }
    Ok(())
}
