//! Webhook ids seen recently, shared by every hub instance on the same database, so a
//! redelivered webhook is processed once.

use std::sync::Arc;
use std::time::Duration;

use hub_core::StoreError;

use crate::clock::{Clock, duration_us, to_us};
use crate::db::{Database, with_pool};
use crate::error::db_error;

/// Remembers webhook ids for a while (the contract asks for at least 10 minutes, the
/// timestamp tolerance being 5).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::{sync::Arc, time::Duration};
/// use hub_store::{Database, SqlWebhookIds, StoreConfig, clock::SystemClock};
/// let ids = SqlWebhookIds::new(Database::open(&StoreConfig::default()).await?, Arc::new(SystemClock));
/// assert!(ids.remember("msg_2Kx", Duration::from_secs(600)).await?);   // first time: process it
/// assert!(!ids.remember("msg_2Kx", Duration::from_secs(600)).await?);  // seen: skip it
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqlWebhookIds {
    db: Database,
    clock: Arc<dyn Clock>,
}

impl SqlWebhookIds {
    /// The store in `db`, reading time from `clock`.
    pub fn new(db: Database, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    /// Records `id` for `ttl`; `true` when it was not already remembered (the first
    /// delivery, or one after the previous memory expired). Atomic across instances.
    pub async fn remember(&self, id: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = to_us(self.clock.now());
        let until = now.saturating_add(duration_us(ttl));
        let sql = "INSERT INTO webhook_ids (webhook_id, expires_us) VALUES ($1, $2) \
                   ON CONFLICT (webhook_id) DO UPDATE SET expires_us = excluded.expires_us \
                   WHERE webhook_ids.expires_us <= $3";
        let n = with_pool!(self.db, p => sqlx::query(sql)
            .bind(id)
            .bind(until)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .map_err(db_error)?;
        Ok(n == 1)
    }

    /// Removes expired ids; returns how many went.
    pub async fn sweep(&self) -> Result<u64, StoreError> {
        let now = to_us(self.clock.now());
        let sql = "DELETE FROM webhook_ids WHERE expires_us <= $1";
        with_pool!(self.db, p => sqlx::query(sql).bind(now).execute(p).await.map(|r| r.rows_affected()))
            .map_err(db_error)
    }
}

/// The port, so every instance on the same database agrees on what was processed.
#[async_trait::async_trait]
impl hub_core::WebhookIds for SqlWebhookIds {
    async fn remember(&self, id: &str, ttl: Duration) -> Result<bool, StoreError> {
        SqlWebhookIds::remember(self, id, ttl).await
    }
}
