//! The port to the append-only audit trail of upstream calls.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ports::Page;
use crate::store_error::StoreError;

/// How an upstream call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// The upstream did what was asked.
    Success,
    /// The upstream failed or refused, or the hub gave up.
    Failure,
    /// The circuit was open; nothing was sent.
    Rejected,
    /// A write was about to be sent: recorded durably before its first attempt, so that
    /// a hub stopped while the call is in flight still has a record of it. The call's
    /// ending is a later record with the same request id and operation; a `Started`
    /// record without one means the hub stopped and the call's effect is unknown.
    Started,
    /// A write the upstream accepted (2xx) whose answer could not be read: the effect
    /// happened, the caller was told so, and the supervisor must reconcile it.
    AppliedUnreadable,
    /// The hub's rate budget for the upstream account had no slot within the call's
    /// deadline: nothing (more) was sent, and the caller was told when to try again.
    RateLimited,
}

impl AuditOutcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Rejected => "rejected",
            Self::Started => "started",
            Self::AppliedUnreadable => "applied_unreadable",
            Self::RateLimited => "rate_limited",
        }
    }
}

/// One upstream call (all its attempts), as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When the call began.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The adapter (`ticketing`, `transaction_status`, `transaction_create`).
    pub adapter: String,
    /// The operation (`create_ticket`, `commit_transaction`, …).
    pub operation: String,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// The last HTTP status the upstream answered, if any.
    pub http_status: Option<u16>,
    /// How many attempts were made.
    pub attempts: u32,
    /// How long the call took, all attempts and waits included.
    pub duration_ms: u64,
    /// The hub request it served.
    pub request_id: Option<String>,
    /// The support conversation, when known.
    pub conversation_id: Option<String>,
    /// The call's parameters, already redacted ([`crate::redact`]).
    pub params: serde_json::Value,
    /// The error's code and message, on failure.
    pub error: Option<String>,
    /// The W3C trace id (32 lower-case hex digits) of the span the call was made in,
    /// when it was traced ([`crate::trace::TraceId`]); `None` untraced and in records
    /// older than the column.
    #[serde(default)]
    pub trace_id: Option<String>,
    /// How many calls the record stands for: 1, except for refusals by the hub itself
    /// (an open circuit, a spent rate budget), which past the first of a second are
    /// recorded together, one record with their number (the first of them its time, ids
    /// and parameters, `duration_ms` the span from the first to the last).
    #[serde(default = "one")]
    pub calls: u32,
}

fn one() -> u32 {
    1
}

/// Which audit records to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this adapter.
    pub adapter: Option<String>,
    /// Only this operation.
    pub operation: Option<String>,
    /// Only records at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only records before this time.
    pub until: Option<OffsetDateTime>,
    /// At most this many (the store caps it).
    pub limit: u32,
    /// Continue after a previous page.
    pub cursor: Option<String>,
}

/// Records upstream calls durably and lists them.
///
/// `record` may buffer; `flush` makes everything recorded so far durable and is called
/// on clean shutdown.
///
/// ```
/// use hub_core::{AuditLog, AuditQuery, StoreError};
/// async fn last_failures(log: &dyn AuditLog) -> Result<usize, StoreError> {
///     let page = log.query(&AuditQuery { limit: 20, ..AuditQuery::default() }).await?;
///     Ok(page.items.iter().filter(|r| r.error.is_some()).count())
/// }
/// ```
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends a record.
    async fn record(&self, record: AuditRecord) -> Result<(), StoreError>;

    /// Lists records, newest first.
    async fn query(&self, query: &AuditQuery) -> Result<Page<AuditRecord>, StoreError>;

    /// Makes every record accepted so far durable.
    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Appends `record` and returns once that record itself is durable; an error means
    /// it may not be. A write to an upstream is sent only after its `started` record
    /// passed this (the caller bounds the wait). The default records, then flushes.
    async fn record_durable(&self, record: AuditRecord) -> Result<(), StoreError> {
        self.record(record).await?;
        self.flush().await
    }
}
