//! Pruning what the hub no longer needs to keep: old audit records and settled dead-letter entries.

use std::sync::Arc;
use std::time::Duration;

use hub_core::StoreError;

use crate::audit::SqlAuditLog;
use crate::clock::Clock;
use crate::dlq::SqlDeadLetterQueue;

/// Rows removed per statement: short transactions, so writers are never held long.
pub const PRUNE_BATCH: u32 = 1000;

/// The most batches one pass removes per store, so one pass is bounded too; the next
/// pass goes on where it stopped.
const MAX_BATCHES: u32 = 100;

/// How long each kind of record is kept; `None`: forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    /// Audit records, from when their call began.
    pub audit: Option<Duration>,
    /// Replayed and discarded dead-letter entries, from when they were settled.
    pub dlq: Option<Duration>,
}

/// What one pass removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pruned {
    /// Audit records.
    pub audit: u64,
    /// Settled dead-letter entries.
    pub dlq: u64,
}

/// Removes, in batches of [`PRUNE_BATCH`], the audit records and settled dead-letter
/// entries older than `retention` at `clock`'s now; counts them in
/// `integration_store_pruned_total{store}`.
pub async fn prune(
    audit: &SqlAuditLog,
    dlq: &SqlDeadLetterQueue,
    retention: Retention,
    clock: &dyn Clock,
) -> Result<Pruned, StoreError> {
    let now = clock.now();
    let mut pruned = Pruned::default();
    if let Some(keep) = retention.audit {
        pruned.audit = in_batches(|| audit.prune(now - keep, PRUNE_BATCH)).await?;
        metrics::counter!("integration_store_pruned_total", "store" => "audit").increment(pruned.audit);
    }
    if let Some(keep) = retention.dlq {
        pruned.dlq = in_batches(|| dlq.prune_settled(now - keep, PRUNE_BATCH)).await?;
        metrics::counter!("integration_store_pruned_total", "store" => "dlq").increment(pruned.dlq);
    }
    Ok(pruned)
}

async fn in_batches<F, Fut>(mut batch: F) -> Result<u64, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u64, StoreError>>,
{
    let mut total = 0;
    for _ in 0..MAX_BATCHES {
        let n = batch().await?;
        total += n;
        if n < u64::from(PRUNE_BATCH) {
            break;
        }
    }
    Ok(total)
}

/// Prunes every `every`, first right away; logs failures and keeps going.
pub(crate) async fn prune_loop(
    audit: Arc<SqlAuditLog>,
    dlq: Arc<SqlDeadLetterQueue>,
    retention: Retention,
    clock: Arc<dyn Clock>,
    every: Duration,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match prune(&audit, &dlq, retention, clock.as_ref()).await {
            Ok(p) => tracing::debug!(audit = p.audit, dlq = p.dlq, "old records pruned"),
            Err(e) => tracing::warn!(error = %e, "pruning old records failed"),
        }
    }
}
