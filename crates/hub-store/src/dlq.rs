//! The dead-letter queue on SQL: entries committed before `enqueue` returns, replays
//! claimed by one conditional `UPDATE … RETURNING` so two at once cannot both win.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hub_core::{
    DeadLetterQueue, DlqEntry, DlqError, DlqFilter, DlqId, DlqStatus, NewDlqEntry, Page, ReplayClaim, ReplayOutcome,
    StoreError, TraceParent,
};

use crate::clock::{Clock, duration_us, from_us, to_us};
use crate::cursor::{Cursor, page_size};
use crate::db::{Database, Filter, Param, bind_all, with_pool};
use crate::error::{corrupt, db_error};

const COLUMNS: &str = "id, adapter, operation, payload, idempotency_key, error, error_code, attempts, request_id, \
     conversation_id, traceparent, created_us, status, result, reason, acted_by, acted_us, claim_token, claim_until_us";

/// One row of `dlq_entries`.
#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: String,
    adapter: String,
    operation: String,
    payload: String,
    idempotency_key: Option<String>,
    error: String,
    error_code: String,
    attempts: i64,
    request_id: Option<String>,
    conversation_id: Option<String>,
    traceparent: Option<String>,
    created_us: i64,
    status: String,
    result: Option<String>,
    reason: Option<String>,
    acted_by: Option<String>,
    acted_us: Option<i64>,
    claim_token: Option<String>,
    claim_until_us: Option<i64>,
}

impl Row {
    fn status(&self) -> Result<DlqStatus, StoreError> {
        match self.status.as_str() {
            "pending" => Ok(DlqStatus::Pending),
            "replayed" => Ok(DlqStatus::Replayed),
            "discarded" => Ok(DlqStatus::Discarded),
            other => Err(corrupt("dead-letter status", other)),
        }
    }

    fn claimed_at(&self, now_us: i64) -> bool {
        self.claim_token.is_some() && self.claim_until_us.is_some_and(|until| until > now_us)
    }

    fn conflict(&self, now_us: i64) -> DlqError {
        match self.status() {
            Ok(status) => DlqError::Conflict {
                status,
                claimed: self.claimed_at(now_us),
            },
            Err(e) => DlqError::Store(e),
        }
    }

    fn into_entry(self) -> Result<DlqEntry, StoreError> {
        let status = self.status()?;
        let json = |what: &str, text: &str| serde_json::from_str(text).map_err(|e| corrupt(what, e));
        Ok(DlqEntry {
            id: DlqId::parse(&self.id).map_err(|e| corrupt("dead-letter id", e))?,
            failure: NewDlqEntry {
                adapter: self.adapter,
                operation: self.operation,
                payload: json("dead-letter payload", &self.payload)?,
                idempotency_key: self.idempotency_key,
                error: self.error,
                error_code: self.error_code,
                attempts: u32::try_from(self.attempts).map_err(|e| corrupt("attempts", e))?,
                request_id: self.request_id,
                conversation_id: self.conversation_id,
                traceparent: self
                    .traceparent
                    .as_deref()
                    .map(TraceParent::parse)
                    .transpose()
                    .map_err(|e| corrupt("dead-letter traceparent", e))?,
            },
            created_at: from_us(self.created_us)?,
            status,
            result: self.result.as_deref().map(|r| json("replay result", r)).transpose()?,
            reason: self.reason,
            acted_by: self.acted_by,
            acted_at: self.acted_us.map(from_us).transpose()?,
        })
    }
}

/// The [`DeadLetterQueue`] port on the SQL [`Database`].
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use hub_core::{DeadLetterQueue, NewDlqEntry};
/// use hub_store::{Database, SqlDeadLetterQueue, StoreConfig, clock::SystemClock};
/// let db = Database::open(&StoreConfig::default()).await?;
/// let dlq = SqlDeadLetterQueue::new(db, Arc::new(SystemClock));
/// let entry = dlq.enqueue(NewDlqEntry {
///     adapter: "ticketing".into(), operation: "create_ticket".into(),
///     payload: serde_json::json!({"subject": "Refund"}), idempotency_key: Some("k-1".into()),
///     error: "upstream timed out".into(), error_code: "upstream_timeout".into(), attempts: 3,
///     request_id: Some("req-1".into()), conversation_id: None, traceparent: None,
/// }, None).await?;
/// assert_eq!(dlq.pending_count().await?, 1);
/// # let _ = entry; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqlDeadLetterQueue {
    db: Database,
    clock: Arc<dyn Clock>,
}

impl SqlDeadLetterQueue {
    /// The queue in `db`, reading time from `clock`.
    pub fn new(db: Database, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    /// Removes up to `batch` settled (replayed or discarded) entries settled before
    /// `before`; pending entries are never removed. Returns how many went.
    pub async fn prune_settled(&self, before: time::OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        let sql = "DELETE FROM dlq_entries WHERE id IN \
                   (SELECT id FROM dlq_entries WHERE status <> 'pending' AND acted_us < $1 ORDER BY acted_us LIMIT $2)";
        with_pool!(self.db, p => sqlx::query(sql)
            .bind(to_us(before))
            .bind(i64::from(batch))
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .map_err(db_error)
    }

    async fn fetch(&self, id: &str) -> Result<Option<Row>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM dlq_entries WHERE id = $1");
        with_pool!(self.db, p => sqlx::query_as::<_, Row>(&sql).bind(id).fetch_optional(p).await).map_err(db_error)
    }

    /// Why a conditional update on `id` changed nothing.
    async fn refusal(&self, id: &str, now_us: i64) -> DlqError {
        match self.fetch(id).await {
            Ok(Some(row)) => row.conflict(now_us),
            Ok(None) => DlqError::NotFound,
            Err(e) => DlqError::Store(e),
        }
    }
}

#[async_trait]
impl DeadLetterQueue for SqlDeadLetterQueue {
    async fn enqueue(&self, entry: NewDlqEntry, actor: Option<String>) -> Result<DlqEntry, StoreError> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = to_us(self.clock.now());
        let payload = serde_json::to_string(&entry.payload).map_err(|e| StoreError::Invalid {
            reason: format!("payload is not serialisable: {e}"),
        })?;
        let acted_us = actor.as_ref().map(|_| now);
        let sql = format!(
            "INSERT INTO dlq_entries (id, adapter, operation, payload, idempotency_key, error, error_code, attempts, \
             request_id, conversation_id, traceparent, created_us, status, acted_by, acted_us) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'pending', $13, $14) RETURNING {COLUMNS}"
        );
        let row = with_pool!(self.db, p => sqlx::query_as::<_, Row>(&sql)
            .bind(&id)
            .bind(&entry.adapter)
            .bind(&entry.operation)
            .bind(&payload)
            .bind(&entry.idempotency_key)
            .bind(&entry.error)
            .bind(&entry.error_code)
            .bind(i64::from(entry.attempts))
            .bind(&entry.request_id)
            .bind(&entry.conversation_id)
            .bind(entry.traceparent.map(|t| t.to_string()))
            .bind(now)
            .bind(&actor)
            .bind(acted_us)
            .fetch_one(p)
            .await)
        .map_err(db_error)?;
        row.into_entry()
    }

    async fn get(&self, id: &DlqId) -> Result<Option<DlqEntry>, StoreError> {
        self.fetch(id.as_str()).await?.map(Row::into_entry).transpose()
    }

    async fn list(&self, filter: &DlqFilter) -> Result<Page<DlqEntry>, StoreError> {
        let limit = page_size(filter.limit);
        let mut f = Filter::default();
        f.eq("status", filter.status.map(DlqStatus::as_str));
        f.eq("adapter", filter.adapter.as_deref());
        f.eq("operation", filter.operation.as_deref());
        if let Some(cursor) = filter.cursor.as_deref() {
            let c = Cursor::decode(cursor)?;
            let at = f.bind(Param::Int(c.at_us));
            let at2 = f.bind(Param::Int(c.at_us));
            let id = f.bind(Param::Text(c.id));
            f.push(format!("(created_us < {at} OR (created_us = {at2} AND id < {id}))"));
        }
        let (clause, params) = f.finish();
        let sql = format!(
            "SELECT {COLUMNS} FROM dlq_entries {clause} ORDER BY created_us DESC, id DESC LIMIT {}",
            limit + 1
        );
        let mut rows = with_pool!(self.db, p => bind_all!(sqlx::query_as::<_, Row>(&sql), &params).fetch_all(p).await)
            .map_err(db_error)?;
        let more = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next_cursor = match rows.last() {
            Some(last) if more => Some(
                Cursor {
                    at_us: last.created_us,
                    id: last.id.clone(),
                }
                .encode(),
            ),
            _ => None,
        };
        let items = rows.into_iter().map(Row::into_entry).collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }

    async fn claim_replay(&self, id: &DlqId, actor: &str, lease: Duration) -> Result<ReplayClaim, DlqError> {
        let now = to_us(self.clock.now());
        let until = now.saturating_add(duration_us(lease));
        let token = uuid::Uuid::new_v4().simple().to_string();
        let sql = format!(
            "UPDATE dlq_entries SET claim_token = $1, claim_until_us = $2, claimed_by = $3 \
             WHERE id = $4 AND status = 'pending' AND (claim_until_us IS NULL OR claim_until_us <= $5) \
             RETURNING {COLUMNS}"
        );
        let row = with_pool!(self.db, p => sqlx::query_as::<_, Row>(&sql)
            .bind(&token)
            .bind(until)
            .bind(actor)
            .bind(id.as_str())
            .bind(now)
            .fetch_optional(p)
            .await)
        .map_err(|e| DlqError::Store(db_error(e)))?;
        match row {
            Some(row) => Ok(ReplayClaim {
                entry: row.into_entry()?,
                token,
            }),
            None => Err(self.refusal(id.as_str(), now).await),
        }
    }

    async fn renew_replay(&self, claim: &ReplayClaim, lease: Duration) -> Result<(), DlqError> {
        let now = to_us(self.clock.now());
        let until = now.saturating_add(duration_us(lease));
        let id = claim.entry.id.as_str();
        let sql = "UPDATE dlq_entries SET claim_until_us = $1 \
                   WHERE id = $2 AND status = 'pending' AND claim_token = $3 AND claim_until_us > $4";
        let done = with_pool!(self.db, p => sqlx::query(sql)
            .bind(until)
            .bind(id)
            .bind(&claim.token)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| DlqError::Store(db_error(e)))?;
        if done == 1 {
            Ok(())
        } else {
            Err(self.refusal(id, now).await)
        }
    }

    async fn finish_replay(&self, claim: &ReplayClaim, outcome: ReplayOutcome) -> Result<DlqEntry, DlqError> {
        let now = to_us(self.clock.now());
        let id = claim.entry.id.as_str();
        let guard = "WHERE id = $1 AND status = 'pending' AND claim_token = $2 AND claim_until_us > $3";
        let release = "claim_token = NULL, claim_until_us = NULL, acted_by = claimed_by, acted_us = $3";
        let row = match outcome {
            ReplayOutcome::Succeeded { result } => {
                let result = serde_json::to_string(&result).map_err(|e| StoreError::Invalid {
                    reason: format!("result is not serialisable: {e}"),
                })?;
                let sql = format!(
                    "UPDATE dlq_entries SET status = 'replayed', result = $4, {release} {guard} RETURNING {COLUMNS}"
                );
                with_pool!(self.db, p => sqlx::query_as::<_, Row>(&sql)
                    .bind(id)
                    .bind(&claim.token)
                    .bind(now)
                    .bind(&result)
                    .fetch_optional(p)
                    .await)
            }
            ReplayOutcome::Failed {
                error,
                error_code,
                attempts,
            } => {
                let sql = format!(
                    "UPDATE dlq_entries SET error = $4, error_code = $5, attempts = attempts + $6, {release} {guard} \
                     RETURNING {COLUMNS}"
                );
                with_pool!(self.db, p => sqlx::query_as::<_, Row>(&sql)
                    .bind(id)
                    .bind(&claim.token)
                    .bind(now)
                    .bind(&error)
                    .bind(&error_code)
                    .bind(i64::from(attempts))
                    .fetch_optional(p)
                    .await)
            }
        }
        .map_err(|e| DlqError::Store(db_error(e)))?;
        match row {
            Some(row) => Ok(row.into_entry()?),
            None => Err(self.refusal(id, now).await),
        }
    }

    async fn discard(&self, id: &DlqId, actor: &str, reason: Option<String>) -> Result<DlqEntry, DlqError> {
        let now = to_us(self.clock.now());
        let sql = format!(
            "UPDATE dlq_entries SET status = 'discarded', reason = $1, acted_by = $2, acted_us = $3, \
             claim_token = NULL, claim_until_us = NULL, claimed_by = NULL \
             WHERE id = $4 AND status = 'pending' AND (claim_until_us IS NULL OR claim_until_us <= $3) \
             RETURNING {COLUMNS}"
        );
        let row = with_pool!(self.db, p => sqlx::query_as::<_, Row>(&sql)
            .bind(&reason)
            .bind(actor)
            .bind(now)
            .bind(id.as_str())
            .fetch_optional(p)
            .await)
        .map_err(|e| DlqError::Store(db_error(e)))?;
        match row {
            Some(row) => Ok(row.into_entry()?),
            None => Err(self.refusal(id.as_str(), now).await),
        }
    }

    async fn pending_count(&self) -> Result<u64, StoreError> {
        let sql = "SELECT COUNT(*) FROM dlq_entries WHERE status = 'pending'";
        let n: i64 = with_pool!(self.db, p => sqlx::query_scalar(sql).fetch_one(p).await).map_err(db_error)?;
        u64::try_from(n).map_err(|e| corrupt("pending count", e))
    }
}
