//! The background task that removes expired idempotency keys, webhook ids and admin sessions.

use std::sync::Arc;
use std::time::Duration;

use hub_core::{IdempotencyStore, SessionStore};
use tokio::task::JoinHandle;

use crate::webhook_ids::SqlWebhookIds;

/// Spawns a task that sweeps `keys` (and `webhook_ids` and `sessions`, when given) every `every`,
/// first right away; it logs failures and keeps going. Abort the handle to stop it.
///
/// ```no_run
/// # async fn demo(stores: hub_store::Stores) {
/// let sweeper = hub_store::spawn_sweeper(
///     stores.idempotency.clone(),
///     Some(stores.webhook_ids.clone()),
///     Some(stores.admin_sessions.clone()),
///     stores.config.sweep_interval(),
/// );
/// // … on shutdown:
/// sweeper.abort();
/// # }
/// ```
pub fn spawn_sweeper(
    keys: Arc<dyn IdempotencyStore>,
    webhook_ids: Option<Arc<SqlWebhookIds>>,
    sessions: Option<Arc<dyn SessionStore>>,
    every: Duration,
) -> JoinHandle<()> {
    tokio::spawn(sweep_loop(keys, webhook_ids, sessions, every))
}

/// What [`spawn_sweeper`] runs.
pub(crate) async fn sweep_loop(
    keys: Arc<dyn IdempotencyStore>,
    webhook_ids: Option<Arc<SqlWebhookIds>>,
    sessions: Option<Arc<dyn SessionStore>>,
    every: Duration,
) {
    {
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
            if let Some(sessions) = &sessions {
                match sessions.sweep().await {
                    Ok(n) => tracing::debug!(removed = n, "ended admin sessions swept"),
                    Err(e) => tracing::warn!(error = %e, "sweeping admin sessions failed"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use async_trait::async_trait;
    use hub_core::{Claim, ClaimToken, Fingerprint, IdempotencyKey, StoreError, StoredResponse};

    use super::*;

    /// Counts sweeps; fails every other one to show the sweeper keeps going.
    #[derive(Debug, Default)]
    struct Counting(AtomicU64);

    #[async_trait]
    impl IdempotencyStore for Counting {
        async fn claim(&self, _: &IdempotencyKey, _: &Fingerprint, _: Duration) -> Result<Claim, StoreError> {
            Ok(Claim::Acquired(ClaimToken("t".to_owned())))
        }
        async fn complete(&self, _: &IdempotencyKey, _: &ClaimToken, _: &StoredResponse) -> Result<(), StoreError> {
            Ok(())
        }
        async fn release(&self, _: &IdempotencyKey, _: &ClaimToken) -> Result<(), StoreError> {
            Ok(())
        }
        async fn sweep(&self) -> Result<u64, StoreError> {
            if self.0.fetch_add(1, Ordering::SeqCst) % 2 == 1 {
                return Err(StoreError::Unavailable {
                    reason: "down".to_owned(),
                });
            }
            Ok(0)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn sweeps_at_once_then_every_interval_through_failures() {
        let keys = Arc::new(Counting::default());
        let every = Duration::from_secs(300);
        let handle = spawn_sweeper(keys.clone(), None, None, every);
        tokio::task::yield_now().await;
        assert_eq!(keys.0.load(Ordering::SeqCst), 1, "the first sweep runs right away");
        for n in 2..=4 {
            tokio::time::sleep(every).await; // paused time: advances instantly
            tokio::task::yield_now().await;
            assert_eq!(keys.0.load(Ordering::SeqCst), n);
        }
        handle.abort();
    }
}
