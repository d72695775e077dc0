//! An audit log and a dead-letter queue on a SQLite file: record calls, park a failed
//! write, replay it, and read both back.
//!
//! Run with `cargo run -p hub-store --example audit_and_dlq` (it writes a database in the
//! system's temporary directory and removes it afterwards).
#![allow(clippy::print_stdout)] // An example talks to its terminal.

use std::time::Duration;

use hub_core::{
    AuditLog, AuditOutcome, AuditQuery, AuditRecord, DeadLetterQueue, DlqFilter, DlqStatus, NewDlqEntry, ReplayOutcome,
};
use hub_store::{StoreConfig, Stores};
use serde_json::json;
use time::OffsetDateTime;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("hub-store-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("hub.sqlite3");
    let config = StoreConfig {
        database_url: format!("sqlite://{}", path.display()),
        ..StoreConfig::default()
    };
    // Opens (creating the file) and migrates every store.
    let stores = Stores::open(config).await?;

    // 1. The audit log: one record per upstream call, committed in batches by a writer task.
    let record = |operation: &str, outcome, status| AuditRecord {
        at: OffsetDateTime::now_utc(),
        adapter: "ticketing".to_owned(),
        operation: operation.to_owned(),
        outcome,
        http_status: Some(status),
        attempts: 1,
        duration_ms: 42,
        request_id: Some("req-1".to_owned()),
        conversation_id: None,
        params: json!({"subject": "Refund", "api_key": "[REDACTED]"}),
        error: None,
        trace_id: None,
        calls: 1,
    };
    stores
        .audit
        .record(record("get_ticket", AuditOutcome::Success, 200))
        .await?;
    stores
        .audit
        .record(record("create_ticket", AuditOutcome::Failure, 503))
        .await?;
    stores.audit.flush().await?; // everything recorded so far is committed
    let page = stores
        .audit
        .query(&AuditQuery {
            limit: 10,
            ..AuditQuery::default()
        })
        .await?;
    for r in &page.items {
        println!(
            "audit: {} {} {} (HTTP {:?})",
            r.adapter,
            r.operation,
            r.outcome.as_str(),
            r.http_status
        );
    }
    assert_eq!(page.items.len(), 2);

    // 2. The dead-letter queue: the failed write is parked, committed before `enqueue` returns.
    let entry = stores
        .dlq
        .enqueue(
            NewDlqEntry {
                adapter: "ticketing".to_owned(),
                operation: "create_ticket".to_owned(),
                payload: json!({"subject": "Refund", "customer_id": "CUST-1"}),
                idempotency_key: Some("key-1".to_owned()),
                error: "the upstream failed with HTTP 503".to_owned(),
                error_code: "upstream_error".to_owned(),
                attempts: 3,
                request_id: Some("req-1".to_owned()),
                conversation_id: None,
                traceparent: None,
            },
            None,
        )
        .await?;
    println!(
        "dlq: enqueued {} ({} pending)",
        entry.id,
        stores.dlq.pending_count().await?
    );

    // 3. A replay claims the entry under a lease, runs the write again, and records the outcome.
    let claim = stores
        .dlq
        .claim_replay(&entry.id, "operator", Duration::from_secs(30))
        .await?;
    let done = stores
        .dlq
        .finish_replay(
            &claim,
            ReplayOutcome::Succeeded {
                result: json!({"ticket_id": "T-1001"}),
            },
        )
        .await?;
    println!(
        "dlq: {} is now {} ({} pending)",
        done.id,
        done.status.as_str(),
        stores.dlq.pending_count().await?
    );
    assert_eq!(done.status, DlqStatus::Replayed);
    let replayed = stores
        .dlq
        .list(&DlqFilter {
            status: Some(DlqStatus::Replayed),
            limit: 10,
            ..DlqFilter::default()
        })
        .await?;
    assert_eq!(replayed.items.len(), 1);

    stores.shutdown().await?;
    std::fs::remove_dir_all(&dir)?;
    println!("done: {} removed", path.display());
    Ok(())
}
