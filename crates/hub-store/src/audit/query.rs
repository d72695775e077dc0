//! Audit listings: filters, newest first, keyset cursor over `(at_us, id)`.

use hub_core::{AuditOutcome, AuditQuery, AuditRecord, Page, StoreError};

use crate::clock::{from_us, to_us};
use crate::cursor::{Cursor, page_size};
use crate::db::{Database, Filter, Param, bind_all, with_pool};
use crate::error::{corrupt, db_error};

/// One row of `audit_records`.
#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: i64,
    at_us: i64,
    adapter: String,
    operation: String,
    outcome: String,
    http_status: Option<i64>,
    attempts: i64,
    duration_ms: i64,
    request_id: Option<String>,
    conversation_id: Option<String>,
    params: String,
    error: Option<String>,
    trace_id: Option<String>,
    calls: i64,
}

impl Row {
    fn into_record(self) -> Result<AuditRecord, StoreError> {
        let outcome = match self.outcome.as_str() {
            "success" => AuditOutcome::Success,
            "failure" => AuditOutcome::Failure,
            "rejected" => AuditOutcome::Rejected,
            "started" => AuditOutcome::Started,
            "applied_unreadable" => AuditOutcome::AppliedUnreadable,
            "rate_limited" => AuditOutcome::RateLimited,
            other => return Err(corrupt("audit outcome", other)),
        };
        Ok(AuditRecord {
            at: from_us(self.at_us)?,
            adapter: self.adapter,
            operation: self.operation,
            outcome,
            http_status: self
                .http_status
                .map(u16::try_from)
                .transpose()
                .map_err(|e| corrupt("http status", e))?,
            attempts: u32::try_from(self.attempts).map_err(|e| corrupt("attempts", e))?,
            duration_ms: u64::try_from(self.duration_ms).map_err(|e| corrupt("duration", e))?,
            request_id: self.request_id,
            conversation_id: self.conversation_id,
            params: serde_json::from_str(&self.params).map_err(|e| corrupt("audit params", e))?,
            error: self.error,
            trace_id: self.trace_id,
            calls: u32::try_from(self.calls).map_err(|e| corrupt("calls", e))?,
        })
    }
}

/// Lists the records `query` selects.
pub(super) async fn run(db: &Database, query: &AuditQuery) -> Result<Page<AuditRecord>, StoreError> {
    let limit = page_size(query.limit);
    let mut f = Filter::default();
    f.eq("adapter", query.adapter.as_deref());
    f.eq("operation", query.operation.as_deref());
    if let Some(since) = query.since {
        let p = f.bind(Param::Int(to_us(since)));
        f.push(format!("at_us >= {p}"));
    }
    if let Some(until) = query.until {
        let p = f.bind(Param::Int(to_us(until)));
        f.push(format!("at_us < {p}"));
    }
    if let Some(cursor) = query.cursor.as_deref() {
        let c = Cursor::decode(cursor)?;
        let id: i64 = c.id.parse().map_err(|_| StoreError::Invalid {
            reason: "malformed cursor".to_owned(),
        })?;
        let at = f.bind(Param::Int(c.at_us));
        let at2 = f.bind(Param::Int(c.at_us));
        let id = f.bind(Param::Int(id));
        f.push(format!("(at_us < {at} OR (at_us = {at2} AND id < {id}))"));
    }
    let (clause, params) = f.finish();
    let sql = format!(
        "SELECT id, at_us, adapter, operation, outcome, http_status, attempts, duration_ms, request_id, \
         conversation_id, params, error, trace_id, calls FROM audit_records {clause} ORDER BY at_us DESC, id DESC LIMIT {}",
        limit + 1
    );
    let mut rows =
        with_pool!(db, p => bind_all!(sqlx::query_as::<_, Row>(&sql), &params).fetch_all(p).await).map_err(db_error)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = match rows.last() {
        Some(last) if more => Some(
            Cursor {
                at_us: last.at_us,
                id: last.id.to_string(),
            }
            .encode(),
        ),
        _ => None,
    };
    let items = rows.into_iter().map(Row::into_record).collect::<Result<_, _>>()?;
    Ok(Page { items, next_cursor })
}
