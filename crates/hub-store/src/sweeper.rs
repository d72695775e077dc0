//! The background task that removes expired idempotency keys and webhook ids.

use std::sync::Arc;
use std::time::Duration;

use hub_core::IdempotencyStore;
use tokio::task::JoinHandle;

use crate::webhook_ids::SqlWebhookIds;

/// Spawns a task that sweeps `keys` (and `webhook_ids`, when given) every `every`,
/// first right away; it logs failures and keeps going. Abort the handle to stop it.
///
/// ```no_run
/// # async fn demo(stores: hub_store::Stores) {
/// let sweeper = hub_store::spawn_sweeper(stores.idempotency.clone(), Some(stores.webhook_ids.clone()), stores.config.sweep_interval());
/// // … on shutdown:
/// sweeper.abort();
/// # }
/// ```
pub fn spawn_sweeper(
    keys: Arc<dyn IdempotencyStore>,
    webhook_ids: Option<Arc<SqlWebhookIds>>,
    every: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match keys.sweep().await {
                Ok(n) => tracing::debug!(removed = n, "idempotency keys swept"),
                Err(e) => tracing::warn!(error = %e, "sweeping idempotency keys failed"),
            }
            if let Some(ids) = &webhook_ids {
                match ids.sweep().await {
                    Ok(n) => tracing::debug!(removed = n, "webhook ids swept"),
                    Err(e) => tracing::warn!(error = %e, "sweeping webhook ids failed"),
                }
            }
        }
    })
}
