//! The background task that drains the audit queue into the database in batches.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hub_core::{AuditRecord, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::clock::to_us;
use crate::db::{Database, with_pool};
use crate::error::db_error;

/// What the log sends its writer.
#[derive(Debug)]
pub(super) enum Command {
    /// Write this record.
    Record(Box<AuditRecord>),
    /// Write this record and answer with the result of the batch that held it.
    Durable(Box<AuditRecord>, oneshot::Sender<Result<(), StoreError>>),
    /// Answer once everything queued before is written.
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

/// What the writer counts, shared with the log.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) dropped: AtomicU64,
    pub(super) lost: AtomicU64,
}

/// Pauses before retrying a batch the database refused.
const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_millis(50),
    Duration::from_millis(250),
    Duration::from_millis(1000),
];

/// Runs until every sender is gone and the queue is drained.
pub(super) async fn run(db: Database, mut rx: mpsc::Receiver<Command>, batch_size: usize, counters: Arc<Counters>) {
    let mut batch = Batch {
        records: Vec::with_capacity(batch_size),
        acks: Vec::new(),
    };
    // The first failure since the last flush, reported to that flush.
    let mut failed: Option<StoreError> = None;
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Record(record) => {
                    batch.records.push(*record);
                    if batch.records.len() >= batch_size {
                        write_batch(&db, &mut batch, &counters, &mut failed).await;
                    }
                }
                Command::Durable(record, ack) => {
                    batch.records.push(*record);
                    batch.acks.push(ack);
                    if batch.records.len() >= batch_size {
                        write_batch(&db, &mut batch, &counters, &mut failed).await;
                    }
                }
                Command::Flush(done) => {
                    write_batch(&db, &mut batch, &counters, &mut failed).await;
                    let _ = done.send(failed.take().map_or(Ok(()), Err));
                }
            }
            next = rx.try_recv().ok();
        }
        write_batch(&db, &mut batch, &counters, &mut failed).await;
    }
}

/// Records waiting to be written, and who waits to hear that theirs is durable.
struct Batch {
    records: Vec<AuditRecord>,
    acks: Vec<oneshot::Sender<Result<(), StoreError>>>,
}

async fn write_batch(db: &Database, batch: &mut Batch, counters: &Counters, failed: &mut Option<StoreError>) {
    if batch.records.is_empty() {
        return;
    }
    let mut result = insert(db, &batch.records).await;
    for delay in RETRY_DELAYS {
        match &result {
            Err(e) if e.is_transient() => {
                tokio::time::sleep(delay).await;
                result = insert(db, &batch.records).await;
            }
            _ => break,
        }
    }
    // Each durable record hears its own batch's result, never another's.
    for ack in batch.acks.drain(..) {
        let _ = ack.send(result.clone());
    }
    if let Err(e) = result {
        let n = batch.records.len() as u64;
        counters.lost.fetch_add(n, Ordering::Relaxed);
        tracing::error!(records = n, error = %e, "audit batch lost");
        failed.get_or_insert(e);
    }
    batch.records.clear();
}

/// Values bound per audit row in [`insert`].
const COLUMNS: usize = 13;

/// The most rows one batch (one `INSERT`) may carry: SQLite binds at most 32,766 values
/// per statement (PostgreSQL 65,535).
pub(super) const MAX_BATCH: usize = 32_766 / COLUMNS;

async fn insert(db: &Database, batch: &[AuditRecord]) -> Result<(), StoreError> {
    let rows = batch
        .iter()
        .map(|r| {
            (
                to_us(r.at),
                r.outcome.as_str(),
                r.http_status.map(i64::from),
                i64::from(r.attempts),
                i64::try_from(r.duration_ms).unwrap_or(i64::MAX),
                serde_json::to_string(&r.params).unwrap_or_else(|_| "null".to_owned()),
            )
        })
        .collect::<Vec<_>>();
    with_pool!(db, p => {
        let mut q = sqlx::QueryBuilder::new(
            "INSERT INTO audit_records (at_us, adapter, operation, outcome, http_status, attempts, duration_ms, \
             request_id, conversation_id, params, error, trace_id, calls) ",
        );
        q.push_values(batch.iter().zip(&rows), |mut b, (r, (at, outcome, status, attempts, duration, params))| {
            b.push_bind(*at)
                .push_bind(&r.adapter)
                .push_bind(&r.operation)
                .push_bind(*outcome)
                .push_bind(*status)
                .push_bind(*attempts)
                .push_bind(*duration)
                .push_bind(&r.request_id)
                .push_bind(&r.conversation_id)
                .push_bind(params)
                .push_bind(&r.error)
                .push_bind(&r.trace_id)
                .push_bind(i64::from(r.calls));
        });
        q.build().execute(p).await.map(drop)
    })
    .map_err(db_error)
}
