//! Scenario 2, a crash: the load of scenario 1 on one hub, killed with SIGKILL in the
//! middle of it — during the outage, with writes in flight and entries going into the
//! DLQ — and started again on the same SQLite store. Clients whose connection broke ask
//! again with the same `Idempotency-Key` until they have an answer. Afterwards: 0
//! duplicates and 0 lost, and the DLQ entries and idempotency records written before
//! the kill are still there.

use std::time::Instant;

use anyhow::Result;
use serde_json::Value;
use ureq::http::Method;

use super::load::{self, Outcome, Seen};
use super::rig::{Rig, Store};
use super::under_load::{Size, finish, merge, target};
use crate::harness::HubProc;
use crate::harness::pause;

/// `cargo xtask chaos` scenario 2.
pub(crate) fn run(quick: bool) -> Result<()> {
    let mut rig = Rig::start("2-crash", quick)?;
    let mut hub = rig.start_hub("hub-generic", "generic", &Store::Sqlite)?;
    rig.wait_ready(&[&hub])?;
    let mut target = target(&rig, &[&hub], "K");
    let mut seen = Seen::default();
    load::seed_tickets(&mut target, 6, &mut seen)?;

    let size = Size::of(quick);
    let jobs = size.jobs * 2 / 3;
    println!(
        "\n{jobs} jobs on {} client threads against one hub; background faults on; a full outage \
         after 25 % of the jobs, and at 40 %, during it: kill -9 the hub, start it again",
        size.workers
    );
    load::set_faults(&rig, true)?;
    let mut killed_at = None;
    let mut run = load::run_jobs(&target, jobs, size.workers, |p| {
        p.release(jobs);
        p.wait_done(jobs / 4)?;
        load::set_outage(&rig, true)?;
        p.wait_done(jobs * 2 / 5)?;
        if p.done() >= jobs {
            anyhow::bail!("the load ended before the kill");
        }
        println!("  {} jobs done: kill -9 {}", p.done(), hub.name);
        killed_at = Some(Instant::now());
        rig.kill9(&hub)?;
        pause(size.outage / 2)?;
        load::set_outage(&rig, false)?;
        rig.restart(&mut hub)?;
        rig.wait_ready(&[&hub])?;
        println!("  {} jobs done: {} is back on its store", p.done(), hub.name);
        Ok(())
    })?;
    load::set_faults(&rig, false)?;
    merge(&mut seen, &mut run);

    let killed_at = killed_at.unwrap_or_else(Instant::now);
    let survived = survived(&rig, &hub, &seen, killed_at)?;
    let in_flight = seen
        .writes
        .iter()
        .filter(|w| w.finished > killed_at && w.request_ids.len() > 1)
        .count();
    if seen.transport_errors == 0 {
        anyhow::bail!("no client saw the crash (no connection failed): the kill hit nothing in flight");
    }
    println!(
        "\n  connection failures the clients saw {}; writes asked again across the kill {in_flight}",
        seen.transport_errors
    );
    println!(
        "  answered before the kill and sent again after the restart: {} \
         ({} replayed from the idempotency record, {} of them failed writes with their dlq_id)",
        survived.resent, survived.replayed, survived.failed_replayed
    );
    let outcome = finish(&rig, &target, &[&hub], None, &mut seen, Some(killed_at));
    if let Some(first) = survived.problems.first() {
        for p in &survived.problems {
            println!("  ✗ {p}");
        }
        outcome?;
        anyhow::bail!("idempotency records after the restart: {first}");
    }
    outcome
}

#[derive(Default)]
struct Survived {
    resent: usize,
    replayed: usize,
    failed_replayed: usize,
    problems: Vec<String>,
}

/// Sends every write answered before the kill again, same key and body: each must come
/// back from its idempotency record (`Idempotent-Replayed: true`) with the same status
/// and body — a failed one with the same `dlq_id` — and run nothing upstream.
fn survived(rig: &Rig, hub: &HubProc, seen: &Seen, killed_at: Instant) -> Result<Survived> {
    let mut s = Survived::default();
    for w in seen.writes.iter().filter(|w| w.finished < killed_at) {
        let rid = format!("{}.again", w.key);
        let r = rig.http.send(
            &Method::POST,
            &format!("{}{}", hub.url, w.path),
            Some(&rig.canaries.tokens.write),
            w.body.as_ref(),
            &[("idempotency-key", &w.key), ("x-request-id", &rid)],
        )?;
        s.resent += 1;
        let replayed = r.header("idempotent-replayed") == Some("true");
        let body = r.json();
        let same = match &w.outcome {
            Outcome::Success(b) => (200..300).contains(&r.status) && strip(&body) == strip(b),
            Outcome::Failed { dlq_id, .. } => {
                s.failed_replayed += usize::from(replayed);
                body["dlq_id"] == dlq_id.as_str()
            }
            _ => true,
        };
        if replayed && same {
            s.replayed += 1;
        } else {
            s.problems.push(format!(
                "write {} sent again after the restart: {} (replayed: {replayed})",
                w.key,
                r.summary()
            ));
        }
    }
    Ok(s)
}

/// A body without the request id a problem carries (a replay answers the stored one).
fn strip(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("request_id");
    }
    v
}
