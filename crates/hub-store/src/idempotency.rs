//! Idempotency keys on SQL: a claim is one atomic upsert (insert, or take over a lapsed
//! or expired record) that sets a fresh fencing token, then a read of whatever holds the
//! key; completing and releasing match the token.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use hub_core::{Claim, ClaimToken, Fingerprint, IdempotencyKey, IdempotencyStore, StoreError, StoredResponse};

use crate::clock::{Clock, duration_us, to_us};
use crate::db::{Database, with_pool};
use crate::error::{corrupt, db_error};

/// One row of `idempotency_keys`.
#[derive(Debug, sqlx::FromRow)]
struct Row {
    fingerprint: String,
    state: String,
    lease_until_us: i64,
    created_us: i64,
    status: Option<i64>,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
}

/// A complete or release by a claim whose lease lapsed and was taken over.
fn stale_holder() -> StoreError {
    StoreError::Conflict {
        reason: "the idempotency key is held by a newer claim".to_owned(),
    }
}

/// How many times a claim re-reads a key that changed under it before giving up.
const CLAIM_ROUNDS: usize = 4;

/// The [`IdempotencyStore`] port on the SQL [`Database`].
///
/// Records are kept for the retention (default 24 h) from their first claim; an
/// expired record that the sweeper has not removed yet counts as absent.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::{sync::Arc, time::Duration};
/// use hub_core::{Claim, Fingerprint, IdempotencyKey, IdempotencyStore};
/// use hub_store::{Database, SqlIdempotencyStore, StoreConfig, clock::SystemClock};
/// let db = Database::open(&StoreConfig::default()).await?;
/// let keys = SqlIdempotencyStore::new(db, Arc::new(SystemClock), Duration::from_secs(24 * 3600));
/// let key = IdempotencyKey::parse("order-42")?;
/// let fp = Fingerprint("9f2c".into());
/// let Claim::Acquired(token) = keys.claim(&key, &fp, Duration::from_secs(30)).await? else { panic!() };
/// assert_eq!(keys.claim(&key, &fp, Duration::from_secs(30)).await?, Claim::InFlight);
/// keys.release(&key, &token).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqlIdempotencyStore {
    db: Database,
    clock: Arc<dyn Clock>,
    retention_us: i64,
}

impl SqlIdempotencyStore {
    /// The store in `db`, reading time from `clock`, keeping records for `retention`.
    pub fn new(db: Database, clock: Arc<dyn Clock>, retention: Duration) -> Self {
        Self {
            db,
            clock,
            retention_us: duration_us(retention),
        }
    }

    async fn fetch(&self, key: &str) -> Result<Option<Row>, StoreError> {
        let sql = "SELECT fingerprint, state, lease_until_us, created_us, status, content_type, body \
                   FROM idempotency_keys WHERE idem_key = $1";
        with_pool!(self.db, p => sqlx::query_as::<_, Row>(sql).bind(key).fetch_optional(p).await).map_err(db_error)
    }
}

#[async_trait]
impl IdempotencyStore for SqlIdempotencyStore {
    async fn claim(
        &self,
        key: &IdempotencyKey,
        fingerprint: &Fingerprint,
        lease: Duration,
    ) -> Result<Claim, StoreError> {
        let now = to_us(self.clock.now());
        let until = now.saturating_add(duration_us(lease));
        let expired_before = now.saturating_sub(self.retention_us);
        // Inserts a new record, or takes over one that expired (any fingerprint: a fresh
        // claim) or whose in-flight lease lapsed (same fingerprint only: a takeover,
        // counted). Either way a fresh fencing token. Atomic on both engines.
        let upsert = "INSERT INTO idempotency_keys \
             (idem_key, fingerprint, state, lease_until_us, created_us, claim_token, takeovers) \
             VALUES ($1, $2, 'in_flight', $3, $4, $6, 0) \
             ON CONFLICT (idem_key) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'in_flight', \
             lease_until_us = excluded.lease_until_us, claim_token = excluded.claim_token, \
             takeovers = CASE WHEN idempotency_keys.created_us <= $5 THEN 0 \
                              ELSE idempotency_keys.takeovers + 1 END, \
             created_us = CASE WHEN idempotency_keys.created_us <= $5 THEN excluded.created_us \
                               ELSE idempotency_keys.created_us END, \
             completed_us = NULL, status = NULL, content_type = NULL, body = NULL \
             WHERE idempotency_keys.created_us <= $5 \
                OR (idempotency_keys.state = 'in_flight' AND idempotency_keys.lease_until_us <= $4 \
                    AND idempotency_keys.fingerprint = excluded.fingerprint) \
             RETURNING takeovers";
        for _ in 0..CLAIM_ROUNDS {
            let token = ClaimToken(uuid::Uuid::new_v4().simple().to_string());
            let claimed: Option<i64> = with_pool!(self.db, p => sqlx::query_scalar(upsert)
                .bind(key.as_str())
                .bind(&fingerprint.0)
                .bind(until)
                .bind(now)
                .bind(expired_before)
                .bind(&token.0)
                .fetch_optional(p)
                .await)
            .map_err(db_error)?;
            match claimed {
                Some(0) => return Ok(Claim::Acquired(token)),
                Some(_) => return Ok(Claim::TakenOver(token)),
                None => {}
            }
            let Some(row) = self.fetch(key.as_str()).await? else {
                continue; // released or swept since: try again
            };
            if row.created_us <= expired_before {
                continue;
            }
            if row.fingerprint != fingerprint.0 {
                return Ok(Claim::Mismatch);
            }
            match row.state.as_str() {
                "completed" => {
                    let status = row.status.and_then(|s| u16::try_from(s).ok());
                    let (Some(status), Some(content_type), Some(body)) = (status, row.content_type, row.body) else {
                        return Err(corrupt("completed idempotency record", "its response is missing"));
                    };
                    return Ok(Claim::Completed(StoredResponse {
                        status,
                        content_type,
                        body: Bytes::from(body),
                    }));
                }
                "in_flight" if row.lease_until_us > now => return Ok(Claim::InFlight),
                "in_flight" => {} // lapsed since the upsert: try again
                other => return Err(corrupt("idempotency state", other)),
            }
        }
        Err(StoreError::Unavailable {
            reason: "the idempotency key kept changing during the claim".to_owned(),
        })
    }

    async fn complete(
        &self,
        key: &IdempotencyKey,
        token: &ClaimToken,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        let now = to_us(self.clock.now());
        let sql = "UPDATE idempotency_keys SET state = 'completed', completed_us = $2, status = $3, \
                   content_type = $4, body = $5 WHERE idem_key = $1 AND state = 'in_flight' AND claim_token = $6";
        let done = with_pool!(self.db, p => sqlx::query(sql)
            .bind(key.as_str())
            .bind(now)
            .bind(i64::from(response.status))
            .bind(&response.content_type)
            .bind(response.body.as_ref())
            .bind(&token.0)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .map_err(db_error)?;
        if done == 1 {
            return Ok(());
        }
        match self.fetch(key.as_str()).await? {
            None => Err(StoreError::NotFound),
            Some(row) if row.state == "completed" => Err(StoreError::Conflict {
                reason: "the idempotency key has already completed".to_owned(),
            }),
            Some(_) => Err(stale_holder()),
        }
    }

    async fn release(&self, key: &IdempotencyKey, token: &ClaimToken) -> Result<(), StoreError> {
        let sql = "DELETE FROM idempotency_keys WHERE idem_key = $1 AND state = 'in_flight' AND claim_token = $2";
        let done = with_pool!(self.db, p => sqlx::query(sql)
            .bind(key.as_str())
            .bind(&token.0)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .map_err(db_error)?;
        if done == 1 {
            return Ok(());
        }
        match self.fetch(key.as_str()).await? {
            None => Ok(()),
            Some(row) if row.state == "completed" => Err(StoreError::Conflict {
                reason: "a completed idempotency key cannot be released".to_owned(),
            }),
            Some(_) => Err(stale_holder()),
        }
    }

    async fn sweep(&self) -> Result<u64, StoreError> {
        let expired_before = to_us(self.clock.now()).saturating_sub(self.retention_us);
        let sql = "DELETE FROM idempotency_keys WHERE created_us <= $1";
        with_pool!(self.db, p => sqlx::query(sql).bind(expired_before).execute(p).await.map(|r| r.rows_affected()))
            .map_err(db_error)
    }
}
