//! Pruning old audit records and settled dead-letter entries, on both backends.

use std::time::Duration;

use hub_core::{AuditLog, AuditQuery, DeadLetterQueue, DlqStatus, ReplayOutcome};
use hub_store::retention::{PRUNE_BATCH, Pruned, Retention, prune};
use serde_json::json;

use crate::audit::record;
use crate::dlq::failure;
use crate::support::{Env, START, on_both_backends};

on_both_backends!(
    audit_records_past_their_retention_are_pruned_in_batches,
    only_settled_dead_letters_past_their_retention_are_pruned,
);

const DAY: Duration = Duration::from_secs(24 * 3600);

async fn audit_records_past_their_retention_are_pruned_in_batches(env: Env) {
    let log = &env.stores.audit;
    // More old records than one batch holds, and a few young ones.
    let old = u64::from(PRUNE_BATCH) + 5;
    for n in 0..old {
        let mut r = record(1, "ticketing", "get_ticket");
        r.at = START - 40 * DAY - Duration::from_secs(n);
        log.record(r).await.unwrap();
    }
    for n in 0..3 {
        let mut r = record(2, "ticketing", "get_ticket");
        r.at = START - 29 * DAY + Duration::from_secs(n);
        log.record(r).await.unwrap();
    }
    log.flush().await.unwrap();
    let keep = Retention {
        audit: Some(30 * DAY),
        dlq: None,
    };
    let pruned = prune(log, &env.stores.dlq, keep, env.clock.as_ref()).await.unwrap();
    assert_eq!(pruned, Pruned { audit: old, dlq: 0 });
    let left = log
        .query(&AuditQuery {
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(left.items.len(), 3);
    assert!(left.items.iter().all(|r| r.at > START - 30 * DAY));
    // Kept forever when no retention is set.
    let forever = prune(log, &env.stores.dlq, Retention::default(), env.clock.as_ref())
        .await
        .unwrap();
    assert_eq!(forever, Pruned::default());
}

async fn only_settled_dead_letters_past_their_retention_are_pruned(env: Env) {
    let dlq = &env.stores.dlq;
    let pending = dlq.enqueue(failure("ticketing", 1), None).await.unwrap().id;
    let discarded = dlq.enqueue(failure("ticketing", 2), None).await.unwrap().id;
    let replayed = dlq.enqueue(failure("ticketing", 3), None).await.unwrap().id;
    dlq.discard(&discarded, "ops", None).await.unwrap();
    let claim = dlq
        .claim_replay(&replayed, "ops", Duration::from_secs(30))
        .await
        .unwrap();
    dlq.finish_replay(&claim, ReplayOutcome::Succeeded { result: json!({}) })
        .await
        .unwrap();
    let keep = Retention {
        audit: None,
        dlq: Some(30 * DAY),
    };
    env.clock.advance(30 * DAY - Duration::from_secs(1));
    let early = prune(&env.stores.audit, dlq, keep, env.clock.as_ref()).await.unwrap();
    assert_eq!(early.dlq, 0, "settled 30 days ago less a second: kept");
    env.clock.advance(Duration::from_secs(2));
    let pruned = prune(&env.stores.audit, dlq, keep, env.clock.as_ref()).await.unwrap();
    assert_eq!(pruned.dlq, 2);
    assert!(dlq.get(&discarded).await.unwrap().is_none());
    assert!(dlq.get(&replayed).await.unwrap().is_none());
    let left = dlq.get(&pending).await.unwrap().unwrap();
    assert_eq!(
        left.status,
        DlqStatus::Pending,
        "a pending entry is never pruned, however old"
    );
}
