//! The stores' configuration: where the databases are, pool sizes, retention, timeouts
//! and the live-event bus.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use crate::error::redact_url;

/// How to open the hub's stores (the `[store]` section of the hub's configuration).
///
/// Every field has a default, so an empty section gives a SQLite file `hub.sqlite3` in
/// the working directory and no shared cache. `Debug` shows the URLs with any password
/// replaced by `***`; there is no `Serialize`.
///
/// ```
/// use hub_store::StoreConfig;
/// let config: StoreConfig = serde_json::from_str(r#"{
///     "database_url": "postgres://hub@db.internal/hub",
///     "redis_url": "redis://cache.internal:6379",
///     "max_connections": 20
/// }"#).unwrap();
/// assert_eq!(config.idempotency_retention_s, 24 * 3600);
/// assert_eq!(config.redis_key_prefix, "hub");
/// ```
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://path` (created on first start; `sqlite:///abs/path` for an absolute
    /// path) or `postgres://user@host/db`. Default `sqlite://hub.sqlite3`. A password in
    /// it is never echoed in errors or logs; prefer PostgreSQL's own password file.
    pub database_url: String,
    /// The shared cache, `redis://host:port[/db]`; `None` keeps the cache in-process.
    pub redis_url: Option<String>,
    /// Prepended (with `:`) to every Redis key, so deployments can share a Redis.
    pub redis_key_prefix: String,
    /// Most connections in the SQL pool (default 10; SQLite serialises writes anyway).
    pub max_connections: u32,
    /// Connections the SQL pool keeps open when idle (default 0).
    pub min_connections: u32,
    /// How long a store call waits for a pooled connection before it fails as
    /// unavailable, in milliseconds (default 5000).
    pub acquire_timeout_ms: u64,
    /// The longest one PostgreSQL statement may run, in milliseconds (default 5000); past
    /// it the statement fails as unavailable (`statement_timeout`).
    pub statement_timeout_ms: u64,
    /// How long SQLite waits for another writer before it fails, in milliseconds (default 5000).
    pub sqlite_busy_timeout_ms: u64,
    /// How long idempotency keys are kept after their first use, in seconds (default 24 h).
    pub idempotency_retention_s: u64,
    /// How often the sweeper removes expired idempotency keys and webhook ids, in seconds (default 300).
    pub sweep_interval_s: u64,
    /// How long audit records are kept, in days (default 90; 0 keeps them forever).
    pub audit_retention_days: u64,
    /// How long replayed and discarded dead-letter entries are kept after they were
    /// settled, in days (default 30; 0 keeps them forever). Pending entries are never pruned.
    pub dlq_retention_days: u64,
    /// Capacity of the audit writer's queue, in records (default 4096).
    pub audit_queue_capacity: usize,
    /// Most records the audit writer puts in one transaction (default 256).
    pub audit_batch_size: usize,
    /// How long `record` waits for room in a full audit queue before it drops the
    /// record and counts it, in milliseconds (default 50).
    pub audit_enqueue_wait_ms: u64,
    /// How long a write waits for its audit record to be durable before the hub refuses
    /// to send it (503 `store_unavailable`, nothing sent), in milliseconds (default 5000).
    pub audit_write_timeout_ms: u64,
    /// The longest a flush of the audit log waits (on shutdown, say) before it reports
    /// the store unavailable, in milliseconds (default 10000): a hung database cannot
    /// hold the process.
    pub audit_flush_timeout_ms: u64,
    /// Bound on every Redis call, connecting included, in milliseconds (default 500);
    /// past it the call fails as unavailable and the cache falls through.
    pub redis_timeout_ms: u64,
    /// How long an invalidation is remembered in Redis, in seconds (default 3600); must
    /// exceed the longest read (its deadline) so that a read begun before an
    /// invalidation cannot write its answer back after it.
    pub redis_invalidation_memory_s: u64,
    /// How many live events a subscriber may fall behind before it lags and the server
    /// drops it (default 1024, at most 2^20); per instance, with or without Redis.
    pub events_capacity: usize,
    /// How often the event relay pings Redis on its subscription, in milliseconds
    /// (default 10000), so that a link that died without a reset is noticed and the
    /// relay subscribes again; the ping waits at most `redis_timeout_ms`.
    pub events_heartbeat_ms: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            database_url: "sqlite://hub.sqlite3".to_owned(),
            redis_url: None,
            redis_key_prefix: "hub".to_owned(),
            max_connections: 10,
            min_connections: 0,
            acquire_timeout_ms: 5_000,
            statement_timeout_ms: 5_000,
            sqlite_busy_timeout_ms: 5_000,
            idempotency_retention_s: 24 * 3600,
            sweep_interval_s: 300,
            audit_retention_days: 90,
            dlq_retention_days: 30,
            audit_queue_capacity: 4096,
            audit_batch_size: 256,
            audit_enqueue_wait_ms: 50,
            audit_write_timeout_ms: 5_000,
            audit_flush_timeout_ms: 10_000,
            redis_timeout_ms: 500,
            redis_invalidation_memory_s: 3600,
            events_capacity: crate::events::DEFAULT_CAPACITY,
            events_heartbeat_ms: 10_000,
        }
    }
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreConfig")
            .field("database_url", &redact_url(&self.database_url))
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("redis_key_prefix", &self.redis_key_prefix)
            .field("max_connections", &self.max_connections)
            .field("min_connections", &self.min_connections)
            .field("acquire_timeout_ms", &self.acquire_timeout_ms)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .field("sqlite_busy_timeout_ms", &self.sqlite_busy_timeout_ms)
            .field("idempotency_retention_s", &self.idempotency_retention_s)
            .field("sweep_interval_s", &self.sweep_interval_s)
            .field("audit_retention_days", &self.audit_retention_days)
            .field("dlq_retention_days", &self.dlq_retention_days)
            .field("audit_queue_capacity", &self.audit_queue_capacity)
            .field("audit_batch_size", &self.audit_batch_size)
            .field("audit_enqueue_wait_ms", &self.audit_enqueue_wait_ms)
            .field("audit_write_timeout_ms", &self.audit_write_timeout_ms)
            .field("audit_flush_timeout_ms", &self.audit_flush_timeout_ms)
            .field("redis_timeout_ms", &self.redis_timeout_ms)
            .field("redis_invalidation_memory_s", &self.redis_invalidation_memory_s)
            .field("events_capacity", &self.events_capacity)
            .field("events_heartbeat_ms", &self.events_heartbeat_ms)
            .finish()
    }
}

impl StoreConfig {
    /// A configuration for `database_url` with every other field at its default.
    pub fn with_database_url(database_url: &str) -> Self {
        Self {
            database_url: database_url.to_owned(),
            ..Self::default()
        }
    }

    /// How long idempotency keys are kept.
    pub fn idempotency_retention(&self) -> Duration {
        Duration::from_secs(self.idempotency_retention_s)
    }

    /// How long audit records are kept; `None`: forever.
    pub fn audit_retention(&self) -> Option<Duration> {
        days(self.audit_retention_days)
    }

    /// How long settled dead-letter entries are kept; `None`: forever.
    pub fn dlq_retention(&self) -> Option<Duration> {
        days(self.dlq_retention_days)
    }

    /// How often the sweeper runs.
    pub fn sweep_interval(&self) -> Duration {
        Duration::from_secs(self.sweep_interval_s.max(1))
    }
}

/// `n` days, or `None` for 0 (keep forever).
fn days(n: u64) -> Option<Duration> {
    (n > 0).then(|| Duration::from_secs(n.saturating_mul(24 * 3600)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_section_is_the_embedded_default() {
        let config: StoreConfig = serde_json::from_str("{}").unwrap_or_default();
        assert_eq!(config, StoreConfig::default());
        assert_eq!(config.database_url, "sqlite://hub.sqlite3");
        assert!(config.redis_url.is_none());
    }

    #[test]
    fn debug_never_shows_a_password() {
        let config = StoreConfig {
            redis_url: Some("redis://:hunter2@cache:6379".to_owned()),
            ..StoreConfig::with_database_url("postgres://hub:hunter2@db/hub")
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("postgres://hub:***@db/hub"), "{shown}");
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<StoreConfig>(r#"{"databse_url": "x"}"#).is_err());
    }
}
