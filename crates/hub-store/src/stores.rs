//! Opening every store from one [`StoreConfig`]: what the server calls at start.

use std::sync::Arc;

use hub_core::{EventPublisher, StoreError};

use crate::audit::SqlAuditLog;
use crate::clock::{Clock, SystemClock};
use crate::config::StoreConfig;
use crate::db::Database;
use crate::dlq::SqlDeadLetterQueue;
use crate::error::OpenError;
use crate::events::{LocalEvents, RedisEvents};
use crate::idempotency::SqlIdempotencyStore;
use crate::redis_cache::RedisCache;
use crate::sessions::SqlAdminSessions;
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
/// let events: Arc<dyn hub_core::EventPublisher> = stores.events.clone();
/// let sweeper = stores.spawn_sweeper();
/// // … serve; then on clean shutdown:
/// stores.shutdown().await?;
/// sweeper.abort();
/// # let _ = (audit, cache, events); Ok(()) }
/// ```
#[derive(Clone)]
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
    /// The supervisor's page's sign-in sessions (`SessionStore`), shared by every instance.
    pub admin_sessions: Arc<SqlAdminSessions>,
    /// The shared cache (`Cache`), when `redis_url` is set.
    pub cache: Option<Arc<RedisCache>>,
    /// The live-event bus (`EventPublisher`): [`RedisEvents`] when `redis_url` is set,
    /// so every instance sees every event, else [`LocalEvents`].
    pub events: Arc<dyn EventPublisher>,
    /// The same bus when it is on Redis, to stop its relay on shutdown.
    redis_events: Option<Arc<RedisEvents>>,
    /// The clock the stores and the pruner read.
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores")
            .field("config", &self.config)
            .field("database", &self.database)
            .field("audit", &self.audit)
            .field("dlq", &self.dlq)
            .field("idempotency", &self.idempotency)
            .field("webhook_ids", &self.webhook_ids)
            .field("admin_sessions", &self.admin_sessions)
            .field("cache", &self.cache)
            .field("redis_events", &self.redis_events)
            .finish_non_exhaustive()
    }
}

impl Stores {
    /// Opens the database (creating and migrating it) and, when configured, the Redis
    /// cache and event bus (whose relay starts subscribing in the background), on the
    /// system clock. Needs a Tokio runtime.
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
        let (events, redis_events): (Arc<dyn EventPublisher>, _) = match &config.redis_url {
            Some(url) => {
                let redis = Arc::new(RedisEvents::open(url, &config)?);
                (redis.clone(), Some(redis))
            }
            None => (Arc::new(LocalEvents::new(config.events_capacity)), None),
        };
        Ok(Self {
            audit: Arc::new(SqlAuditLog::new(database.clone(), &config)),
            dlq: Arc::new(SqlDeadLetterQueue::new(database.clone(), Arc::clone(&clock))),
            idempotency: Arc::new(SqlIdempotencyStore::new(
                database.clone(),
                Arc::clone(&clock),
                config.idempotency_retention(),
            )),
            webhook_ids: Arc::new(SqlWebhookIds::new(database.clone(), Arc::clone(&clock))),
            admin_sessions: Arc::new(SqlAdminSessions::new(database.clone(), Arc::clone(&clock))),
            clock,
            cache,
            events,
            redis_events,
            database,
            config,
        })
    }

    /// Spawns the sweeper for the idempotency keys, webhook ids and ended admin
    /// sessions, and the pruner of audit records and settled dead-letter entries past
    /// their retention, both every `sweep_interval_s`.
    pub fn spawn_sweeper(&self) -> tokio::task::JoinHandle<()> {
        let sweep = crate::sweeper::sweep_loop(
            self.idempotency.clone(),
            Some(Arc::clone(&self.webhook_ids)),
            Some(Arc::clone(&self.admin_sessions) as Arc<dyn hub_core::SessionStore>),
            self.config.sweep_interval(),
        );
        let retention = crate::retention::Retention {
            audit: self.config.audit_retention(),
            dlq: self.config.dlq_retention(),
        };
        let prune = crate::retention::prune_loop(
            Arc::clone(&self.audit),
            Arc::clone(&self.dlq),
            retention,
            Arc::clone(&self.clock),
            self.config.sweep_interval(),
        );
        tokio::spawn(async move {
            tokio::join!(sweep, prune);
        })
    }

    /// Clean shutdown: stops the event relay (when on Redis), flushes the audit log,
    /// then closes the database pool.
    pub async fn shutdown(&self) -> Result<(), StoreError> {
        if let Some(events) = &self.redis_events {
            events.shutdown();
        }
        let flushed = hub_core::AuditLog::flush(self.audit.as_ref()).await;
        self.database.close().await;
        flushed
    }
}
