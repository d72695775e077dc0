//! Opening every store from one [`StoreConfig`]: what the server calls at start.

use std::sync::Arc;

use hub_core::StoreError;

use crate::audit::SqlAuditLog;
use crate::clock::{Clock, SystemClock};
use crate::config::StoreConfig;
use crate::db::Database;
use crate::dlq::SqlDeadLetterQueue;
use crate::error::OpenError;
use crate::idempotency::SqlIdempotencyStore;
use crate::redis_cache::RedisCache;
use crate::webhook_ids::SqlWebhookIds;

/// The hub's stores, opened and migrated; hand them to the server as `Arc<dyn Port>`.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use hub_core::{AuditLog, Cache};
/// use hub_store::{StoreConfig, Stores};
/// let stores = Stores::open(StoreConfig::default()).await?;
/// let audit: Arc<dyn AuditLog> = stores.audit.clone();
/// let cache: Option<Arc<dyn Cache>> = stores.cache.clone().map(|c| c as Arc<dyn Cache>);
/// let sweeper = stores.spawn_sweeper();
/// // … serve; then on clean shutdown:
/// stores.shutdown().await?;
/// sweeper.abort();
/// # let _ = (audit, cache); Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Stores {
    /// The configuration they were opened with.
    pub config: StoreConfig,
    /// The SQL database they share (for readiness: [`Database::ping`]).
    pub database: Database,
    /// The audit log (`AuditLog`).
    pub audit: Arc<SqlAuditLog>,
    /// The dead-letter queue (`DeadLetterQueue`).
    pub dlq: Arc<SqlDeadLetterQueue>,
    /// The idempotency keys (`IdempotencyStore`).
    pub idempotency: Arc<SqlIdempotencyStore>,
    /// Webhook ids seen recently.
    pub webhook_ids: Arc<SqlWebhookIds>,
    /// The shared cache (`Cache`), when `redis_url` is set.
    pub cache: Option<Arc<RedisCache>>,
}

impl Stores {
    /// Opens the database (creating and migrating it) and, when configured, the Redis
    /// cache, on the system clock. Needs a Tokio runtime.
    pub async fn open(config: StoreConfig) -> Result<Self, OpenError> {
        Self::open_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`Stores::open`] with another clock (tests).
    pub async fn open_with_clock(config: StoreConfig, clock: Arc<dyn Clock>) -> Result<Self, OpenError> {
        let database = Database::open(&config).await?;
        let cache = match &config.redis_url {
            Some(url) => Some(Arc::new(RedisCache::open(url, &config, Arc::clone(&clock))?)),
            None => None,
        };
        Ok(Self {
            audit: Arc::new(SqlAuditLog::new(database.clone(), &config)),
            dlq: Arc::new(SqlDeadLetterQueue::new(database.clone(), Arc::clone(&clock))),
            idempotency: Arc::new(SqlIdempotencyStore::new(
                database.clone(),
                Arc::clone(&clock),
                config.idempotency_retention(),
            )),
            webhook_ids: Arc::new(SqlWebhookIds::new(database.clone(), clock)),
            cache,
            database,
            config,
        })
    }

    /// Spawns the sweeper for the idempotency keys and webhook ids, every `sweep_interval_s`.
    pub fn spawn_sweeper(&self) -> tokio::task::JoinHandle<()> {
        crate::sweeper::spawn_sweeper(
            self.idempotency.clone(),
            Some(Arc::clone(&self.webhook_ids)),
            self.config.sweep_interval(),
        )
    }

    /// Clean shutdown: flushes the audit log, then closes the database pool.
    pub async fn shutdown(&self) -> Result<(), StoreError> {
        let flushed = hub_core::AuditLog::flush(self.audit.as_ref()).await;
        self.database.close().await;
        flushed
    }
}
