//! The audit log on SQL: records go through a batching writer so the request path only
//! enqueues them; queries read the table newest first with a keyset cursor.

mod query;
mod writer;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use hub_core::{AuditLog, AuditOutcome, AuditQuery, AuditRecord, Page, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::config::StoreConfig;
use crate::db::Database;

use self::writer::{Command, Counters};

/// The [`AuditLog`] port on the SQL [`Database`], with a batching writer.
///
/// `record` puts the record on a bounded queue and returns; a background task writes
/// queued records in transactions of up to `audit_batch_size`. When the queue is full,
/// `record` waits up to `audit_enqueue_wait_ms` for room, then drops the record, counts
/// it ([`SqlAuditLog::dropped`]) and returns `Unavailable`: an audit backlog must not
/// stall requests. A `rejected` record (a call an open circuit refused, answered in
/// microseconds) does not wait at all: it is dropped and counted at once. [`AuditLog::flush`] returns once every record accepted before it is
/// committed, and reports a batch that could not be written since the last flush.
/// [`AuditLog::record_durable`] (a write's record) is never dropped for want of room:
/// it waits as long as its caller allows and answers with its own batch's result.
///
/// Created inside a Tokio runtime (it spawns the writer). The writer stops when the
/// log is dropped, after writing what was queued.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use hub_core::{AuditLog, AuditOutcome, AuditRecord};
/// use hub_store::{Database, SqlAuditLog, StoreConfig};
/// let config = StoreConfig::default();
/// let log = SqlAuditLog::new(Database::open(&config).await?, &config);
/// log.record(AuditRecord {
///     at: time::OffsetDateTime::now_utc(), adapter: "ticketing".into(), operation: "get_ticket".into(),
///     outcome: AuditOutcome::Success, http_status: Some(200), attempts: 1, duration_ms: 42,
///     request_id: Some("req-1".into()), conversation_id: None,
///     params: serde_json::json!({"ticket_id": "T-1"}), error: None, trace_id: None, calls: 1,
/// }).await?;
/// log.flush().await?; // on shutdown: everything recorded so far is committed
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct SqlAuditLog {
    db: Database,
    queue: mpsc::Sender<Command>,
    enqueue_wait: Duration,
    flush_timeout: Duration,
    counters: Arc<Counters>,
}

impl SqlAuditLog {
    /// The log in `db`, with the queue and batch sizes of `config`; spawns the writer.
    pub fn new(db: Database, config: &StoreConfig) -> Self {
        let (queue, rx) = mpsc::channel(config.audit_queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let batch_size = config.audit_batch_size.clamp(1, writer::MAX_BATCH);
        if batch_size < config.audit_batch_size {
            tracing::warn!(
                configured = config.audit_batch_size,
                used = batch_size,
                "store.audit_batch_size is above what one INSERT can carry; using the most it can"
            );
        }
        tokio::spawn(writer::run(db.clone(), rx, batch_size, Arc::clone(&counters)));
        Self {
            db,
            queue,
            enqueue_wait: Duration::from_millis(config.audit_enqueue_wait_ms),
            flush_timeout: Duration::from_millis(config.audit_flush_timeout_ms.max(1)),
            counters,
        }
    }

    /// Records refused because the queue stayed full.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// Counts a record the full queue had no room for.
    fn drop_one(&self) -> StoreError {
        self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(dropped = self.dropped(), "audit queue full: record dropped");
        StoreError::Unavailable {
            reason: "the audit queue is full; the record was dropped".to_owned(),
        }
    }

    /// Removes up to `batch` records older than `before` (oldest first); returns how many went.
    pub async fn prune(&self, before: time::OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        let sql = "DELETE FROM audit_records WHERE id IN \
                   (SELECT id FROM audit_records WHERE at_us < $1 ORDER BY id LIMIT $2)";
        crate::db::with_pool!(self.db, p => sqlx::query(sql)
            .bind(crate::clock::to_us(before))
            .bind(i64::from(batch))
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .map_err(crate::error::db_error)
    }

    /// Records accepted but lost because the database refused their batch repeatedly.
    pub fn lost(&self) -> u64 {
        self.counters.lost.load(Ordering::Relaxed)
    }
}

fn writer_gone() -> StoreError {
    StoreError::Unavailable {
        reason: "the audit writer has stopped".to_owned(),
    }
}

#[async_trait]
impl AuditLog for SqlAuditLog {
    async fn record(&self, record: AuditRecord) -> Result<(), StoreError> {
        // A call refused by an open circuit is answered at once: its record never waits
        // for room (`cargo xtask bench` saw a fail-fast p99 of 94 ms behind a backlog).
        let may_wait = record.outcome != AuditOutcome::Rejected;
        let command = match self.queue.try_send(Command::Record(Box::new(record))) {
            Ok(()) => return Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(writer_gone()),
            Err(mpsc::error::TrySendError::Full(command)) => command,
        };
        if !may_wait {
            drop(command);
            return Err(self.drop_one());
        }
        match tokio::time::timeout(self.enqueue_wait, self.queue.send(command)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(writer_gone()),
            Err(_) => Err(self.drop_one()),
        }
    }

    async fn query(&self, query: &AuditQuery) -> Result<Page<AuditRecord>, StoreError> {
        query::run(&self.db, query).await
    }

    /// Waits for everything recorded so far to be committed, at most `audit_flush_timeout_ms`.
    async fn flush(&self) -> Result<(), StoreError> {
        let flushed = async {
            let (done, wait) = oneshot::channel();
            self.queue.send(Command::Flush(done)).await.map_err(|_| writer_gone())?;
            wait.await.map_err(|_| writer_gone())?
        };
        tokio::time::timeout(self.flush_timeout, flushed)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Unavailable {
                    reason: format!(
                        "the audit log did not flush within {} ms",
                        self.flush_timeout.as_millis()
                    ),
                })
            })
    }

    /// Waits for room in the queue as long as the caller lets it (never dropped after
    /// `audit_enqueue_wait_ms`), then for the result of the one batch that held it.
    async fn record_durable(&self, record: AuditRecord) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.queue
            .send(Command::Durable(Box::new(record), done))
            .await
            .map_err(|_| writer_gone())?;
        wait.await.map_err(|_| writer_gone())?
    }
}
