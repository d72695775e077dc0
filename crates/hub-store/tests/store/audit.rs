//! The audit log's behaviour, on both backends.

use std::time::Duration;

use hub_core::{AuditLog, AuditOutcome, AuditQuery, AuditRecord, StoreError};
use hub_store::{Backend, SqlAuditLog, StoreConfig};
use serde_json::json;

use crate::support::{Env, START, on_both_backends, run_with};

on_both_backends!(
    flushed_records_are_listed_newest_first,
    queries_filter_by_adapter_operation_and_time,
    a_closed_database_makes_flush_fail_and_counts_the_loss,
    a_durable_record_hears_its_own_batchs_result,
);

pub(crate) fn record(n: u32, adapter: &str, operation: &str) -> AuditRecord {
    AuditRecord {
        at: START + Duration::from_secs(u64::from(n / 2)),
        adapter: adapter.to_owned(),
        operation: operation.to_owned(),
        // Every outcome the schema allows (`started` since migration 0002,
        // `applied_unreadable` since 0004, `rate_limited` since 0006) round-trips.
        outcome: if n.is_multiple_of(3) {
            AuditOutcome::Failure
        } else if n.is_multiple_of(13) {
            AuditOutcome::AppliedUnreadable
        } else if n.is_multiple_of(17) {
            AuditOutcome::RateLimited
        } else if n.is_multiple_of(7) {
            AuditOutcome::Started
        } else if n.is_multiple_of(11) {
            AuditOutcome::Rejected
        } else {
            AuditOutcome::Success
        },
        http_status: if n.is_multiple_of(5) { None } else { Some(200) },
        attempts: n % 3 + 1,
        duration_ms: u64::from(n) * 10,
        request_id: Some(format!("req-{n}")),
        conversation_id: (n.is_multiple_of(2)).then(|| "conv-9".to_owned()),
        params: json!({"ticket_id": format!("T-{n}"), "password": "[redacted]"}),
        error: (n.is_multiple_of(3)).then(|| "upstream_timeout: timed out".to_owned()),
        // The trace id (since migration 0007) round-trips, and so does its absence.
        trace_id: (!n.is_multiple_of(4)).then(|| format!("4bf92f3577b34da6{n:016x}")),
        // The number of calls (since migration 0008) round-trips.
        calls: if n.is_multiple_of(11) { 1000 + n } else { 1 },
    }
}

/// Every record of `log`, newest first, read `limit` at a time by following the cursor.
pub(crate) async fn every_record(log: &dyn AuditLog, limit: u32) -> Vec<AuditRecord> {
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = log
            .query(&AuditQuery {
                limit,
                cursor,
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert!(page.items.len() <= limit as usize);
        seen.extend(page.items);
        cursor = page.next_cursor;
        if cursor.is_none() {
            return seen;
        }
    }
}

async fn flushed_records_are_listed_newest_first(env: Env) {
    let log = &env.stores.audit;
    let records: Vec<AuditRecord> = (0..25).map(|n| record(n, "ticketing", "get_ticket")).collect();
    for r in &records {
        log.record(r.clone()).await.unwrap();
    }
    log.flush().await.unwrap();
    let seen = every_record(log.as_ref(), 4).await;
    // Newest first; records with the same time in reverse order of recording.
    let want: Vec<AuditRecord> = records.into_iter().rev().collect();
    assert_eq!(seen, want);
    assert_eq!(log.dropped() + log.lost(), 0);
    let bad = log
        .query(&AuditQuery {
            cursor: Some("eA".to_owned()),
            ..AuditQuery::default()
        })
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid { .. })), "{bad:?}");
}

async fn queries_filter_by_adapter_operation_and_time(env: Env) {
    let log = &env.stores.audit;
    for n in 0..20 {
        let (adapter, operation) = match n % 4 {
            0 => ("ticketing", "create_ticket"),
            1 => ("ticketing", "get_ticket"),
            2 => ("transaction_status", "get_transaction"),
            _ => ("transaction_create", "commit_transaction"),
        };
        log.record(record(n, adapter, operation)).await.unwrap();
    }
    log.flush().await.unwrap();
    let query = |q: AuditQuery| request_ids(log, q);
    assert_eq!(
        query(AuditQuery {
            adapter: Some("ticketing".to_owned()),
            ..AuditQuery::default()
        })
        .await,
        [
            "req-17", "req-16", "req-13", "req-12", "req-9", "req-8", "req-5", "req-4", "req-1", "req-0"
        ]
    );
    assert_eq!(
        query(AuditQuery {
            operation: Some("commit_transaction".to_owned()),
            ..AuditQuery::default()
        })
        .await,
        ["req-19", "req-15", "req-11", "req-7", "req-3"]
    );
    // Times are START + n/2 seconds: since is inclusive, until exclusive.
    assert_eq!(
        query(AuditQuery {
            since: Some(START + Duration::from_secs(3)),
            until: Some(START + Duration::from_secs(5)),
            ..AuditQuery::default()
        })
        .await,
        ["req-9", "req-8", "req-7", "req-6"]
    );
    assert_eq!(
        query(AuditQuery {
            adapter: Some("ticketing".to_owned()),
            operation: Some("get_ticket".to_owned()),
            since: Some(START + Duration::from_secs(4)),
            ..AuditQuery::default()
        })
        .await,
        ["req-17", "req-13", "req-9"]
    );
}

async fn request_ids(log: &SqlAuditLog, query: AuditQuery) -> Vec<String> {
    let page = log.query(&AuditQuery { limit: 100, ..query }).await.unwrap();
    page.items.iter().map(|r| r.request_id.clone().unwrap()).collect()
}

/// `record_durable` answers once that record's own batch is committed (no flush needed),
/// and every writer whose batch failed hears the failure: a flush that took the error
/// first cannot leave another writer told `Ok`.
async fn a_durable_record_hears_its_own_batchs_result(env: Env) {
    let log = &env.stores.audit;
    log.record_durable(record(1, "ticketing", "create_ticket"))
        .await
        .unwrap();
    let page = log.query(&AuditQuery::default()).await.unwrap();
    assert_eq!(page.items.len(), 1, "durable without a flush");
    env.stores.database.close().await;
    let (a, b, flushed) = tokio::join!(
        log.record_durable(record(2, "ticketing", "create_ticket")),
        log.record_durable(record(3, "ticketing", "create_ticket")),
        log.flush(),
    );
    assert!(matches!(a, Err(StoreError::Unavailable { .. })), "{a:?}");
    assert!(matches!(b, Err(StoreError::Unavailable { .. })), "{b:?}");
    let _ = flushed;
}

async fn a_closed_database_makes_flush_fail_and_counts_the_loss(env: Env) {
    let log = &env.stores.audit;
    env.stores.database.close().await;
    log.record(record(1, "ticketing", "get_ticket")).await.unwrap();
    assert!(matches!(log.flush().await, Err(StoreError::Unavailable { .. })));
    assert_eq!(log.lost(), 1);
    // The failure is reported once; the writer keeps serving.
    log.flush().await.unwrap();
}

/// A refused call's record (outcome `rejected`) never waits for room: with the writer
/// stuck and the queue full, it is dropped and counted at once, however long the
/// configured wait. (Were it to wait, the deadline below would end the test as failed.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_record_never_waits_for_room() {
    let config = StoreConfig {
        audit_queue_capacity: 1,
        audit_enqueue_wait_ms: 3_600_000,
        ..StoreConfig::default()
    };
    run_with(Backend::Sqlite, config, |env| async move {
        let log = &env.stores.audit;
        env.stores.database.close().await;
        let rejected = |n| AuditRecord {
            outcome: AuditOutcome::Rejected,
            ..record(n, "transaction_status", "get_transaction_status")
        };
        let refused = tokio::time::timeout(Duration::from_secs(60), async {
            for n in 0..6 {
                if let Err(e) = log.record(rejected(n)).await {
                    return Some((n, e));
                }
            }
            None
        })
        .await
        .expect("a rejected record waited for room in the audit queue");
        let (n, e) = refused.expect("a record is refused once the queue is full");
        assert!(n >= 1, "the first record always fits");
        assert!(matches!(e, StoreError::Unavailable { .. }), "{e:?}");
        assert_eq!(log.dropped(), 1);
    })
    .await;
}

/// With the writer stuck (its database gone) and a queue of one, `record` gives up
/// after the configured wait and counts the drop rather than stalling the request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_and_counts_instead_of_blocking() {
    let config = StoreConfig {
        audit_queue_capacity: 1,
        audit_enqueue_wait_ms: 20,
        ..StoreConfig::default()
    };
    run_with(Backend::Sqlite, config, |env| async move {
        let log = &env.stores.audit;
        env.stores.database.close().await;
        let mut refused = None;
        for n in 0..6 {
            if let Err(e) = log.record(record(n, "ticketing", "get_ticket")).await {
                refused = Some((n, e));
                break;
            }
        }
        let (n, e) = refused.expect("a record is refused once the queue is full");
        assert!(n >= 1, "the first record always fits");
        assert!(matches!(e, StoreError::Unavailable { .. }), "{e:?}");
        assert_eq!(log.dropped(), 1);
    })
    .await;
}

/// A database that holds the audit writer (another process's exclusive lock, a hung
/// server) cannot hold a flush past `audit_flush_timeout_ms`: it reports the store
/// unavailable, and once the database answers again the records are committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_gives_up_when_the_database_holds_it() {
    use sqlx::Connection;
    let config = StoreConfig {
        audit_flush_timeout_ms: 200,
        sqlite_busy_timeout_ms: 3_600_000,
        ..StoreConfig::default()
    };
    run_with(Backend::Sqlite, config, |env| async move {
        let log = &env.stores.audit;
        let mut locker = sqlx::SqliteConnection::connect(&env.stores.config.database_url)
            .await
            .unwrap();
        sqlx::query("BEGIN EXCLUSIVE").execute(&mut locker).await.unwrap();
        log.record(record(1, "ticketing", "get_ticket")).await.unwrap();
        let held = tokio::time::timeout(Duration::from_secs(60), log.flush())
            .await
            .expect("the flush waited past its own timeout");
        let Err(StoreError::Unavailable { reason }) = held else {
            panic!("a held flush must fail as unavailable: {held:?}")
        };
        assert!(reason.contains("did not flush within 200 ms"), "{reason}");
        sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
        log.flush().await.unwrap();
        let page = log.query(&AuditQuery::default()).await.unwrap();
        assert_eq!(
            page.items.len(),
            1,
            "the record held during the lock is committed after it"
        );
    })
    .await;
}
