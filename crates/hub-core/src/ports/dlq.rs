//! The port to the durable dead-letter queue of writes that failed.
//!
//! An entry is `pending` until an operator replays it successfully (`replayed`) or
//! discards it (`discarded`); both are final. A replay first *claims* the entry for a
//! lease, so two replays at once cannot both run: the second is told the entry is
//! taken. A claim that is never finished (the replaying process died) lapses when its
//! lease runs out.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::id::DlqId;
use crate::ports::Page;
use crate::store_error::StoreError;
use crate::trace::TraceParent;

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DlqStatus {
    /// Awaiting review.
    Pending,
    /// Replayed successfully; final.
    Replayed,
    /// Given up by an operator; final.
    Discarded,
}

impl DlqStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Replayed => "replayed",
            Self::Discarded => "discarded",
        }
    }
}

/// A failed write to enqueue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewDlqEntry {
    /// The adapter that failed.
    pub adapter: String,
    /// The operation (`create_ticket`, `add_comment`, `create_draft_transaction`, …).
    pub operation: String,
    /// Everything needed to run the operation again; carries no credentials.
    pub payload: serde_json::Value,
    /// The key the write was sent with; a replay reuses it.
    pub idempotency_key: Option<String>,
    /// The last error's message.
    pub error: String,
    /// The last error's classification code ([`crate::Error::code`]).
    pub error_code: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// The hub request that failed.
    pub request_id: Option<String>,
    /// The support conversation, when known.
    pub conversation_id: Option<String>,
    /// The W3C trace context of the span the write failed in, when it was traced: a
    /// replay's span links to it.
    #[serde(default)]
    pub traceparent: Option<TraceParent>,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DlqEntry {
    /// Its id.
    pub id: DlqId,
    /// What failed, as enqueued (the error fields hold the latest failure).
    pub failure: NewDlqEntry,
    /// When it was enqueued.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Where it stands.
    pub status: DlqStatus,
    /// The replay's result, once `replayed`.
    pub result: Option<serde_json::Value>,
    /// Why it was discarded, once `discarded`.
    pub reason: Option<String>,
    /// Who last acted on it.
    pub acted_by: Option<String>,
    /// When they did.
    #[serde(with = "time::serde::rfc3339::option")]
    pub acted_at: Option<OffsetDateTime>,
}

impl DlqEntry {
    /// The entry as people see it (the API, the supervisor's page, the command line):
    /// values under secret-named keys of its payload and result are redacted at any
    /// depth, case-insensitively, as audit records are ([`crate::redact`]). The stored
    /// entry keeps them, so a replay still sends the real values.
    ///
    /// ```
    /// use hub_core::{DlqEntry, DlqId, DlqStatus, NewDlqEntry};
    /// use serde_json::json;
    /// let entry = DlqEntry {
    ///     id: DlqId::parse("dlq-1").unwrap(),
    ///     failure: NewDlqEntry {
    ///         adapter: "ticketing".into(),
    ///         operation: "create_ticket".into(),
    ///         payload: json!({"subject": "hi", "metadata": {"nested": {"Api_Key": "s3cret"}}}),
    ///         idempotency_key: None,
    ///         error: "timeout".into(),
    ///         error_code: "timeout".into(),
    ///         attempts: 1,
    ///         request_id: None,
    ///         conversation_id: None,
    ///         traceparent: None,
    ///     },
    ///     created_at: time::OffsetDateTime::UNIX_EPOCH,
    ///     status: DlqStatus::Pending,
    ///     result: None,
    ///     reason: None,
    ///     acted_by: None,
    ///     acted_at: None,
    /// };
    /// let shown = entry.clone().shown();
    /// assert_eq!(shown.failure.payload["metadata"]["nested"]["Api_Key"], "[REDACTED]");
    /// assert_eq!(shown.failure.payload["subject"], "hi");
    /// assert_eq!(entry.failure.payload["metadata"]["nested"]["Api_Key"], "s3cret");
    /// ```
    #[must_use]
    pub fn shown(mut self) -> Self {
        crate::redact::redact_in_place(&mut self.failure.payload);
        if let Some(result) = &mut self.result {
            crate::redact::redact_in_place(result);
        }
        self
    }
}

/// Which entries to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DlqFilter {
    /// Only entries in this status.
    pub status: Option<DlqStatus>,
    /// Only this adapter.
    pub adapter: Option<String>,
    /// Only this operation.
    pub operation: Option<String>,
    /// At most this many (the store caps it).
    pub limit: u32,
    /// Continue after a previous page.
    pub cursor: Option<String>,
}

/// Why a state change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DlqError {
    /// No entry has that id.
    #[error("no such dead-letter entry")]
    NotFound,
    /// The entry is not `pending`, or another replay holds it.
    #[error("the entry is {status:?}{}", if *.claimed { " and being replayed" } else { "" })]
    Conflict {
        /// Its status now.
        status: DlqStatus,
        /// Whether another replay holds a live claim on it.
        claimed: bool,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A live claim on a pending entry, held by one replay.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayClaim {
    /// The entry as it was when claimed.
    pub entry: DlqEntry,
    /// Proves the claim when finishing it; a lapsed or foreign token is refused.
    pub token: String,
}

/// How a replay ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplayOutcome {
    /// The operation succeeded: the entry becomes `replayed` with this result.
    Succeeded {
        /// The operation's result.
        result: serde_json::Value,
    },
    /// It failed again: the entry stays `pending` with the new error and attempt count.
    Failed {
        /// The new error's message.
        error: String,
        /// Its classification code.
        error_code: String,
        /// Attempts this replay made (added to the entry's count).
        attempts: u32,
    },
}

/// Stores failed writes durably and moves them through review.
///
/// ```
/// use hub_core::{DeadLetterQueue, DlqFilter, DlqStatus, StoreError};
/// async fn backlog(dlq: &dyn DeadLetterQueue) -> Result<u64, StoreError> {
///     let first = dlq.list(&DlqFilter { status: Some(DlqStatus::Pending), limit: 10, ..DlqFilter::default() }).await?;
///     assert!(first.items.len() <= 10);
///     dlq.pending_count().await
/// }
/// ```
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait DeadLetterQueue: Send + Sync {
    /// Stores an entry; it is durable (committed) when this returns.
    async fn enqueue(&self, entry: NewDlqEntry, actor: Option<String>) -> Result<DlqEntry, StoreError>;

    /// One entry.
    async fn get(&self, id: &DlqId) -> Result<Option<DlqEntry>, StoreError>;

    /// Entries, newest first.
    async fn list(&self, filter: &DlqFilter) -> Result<Page<DlqEntry>, StoreError>;

    /// Claims a `pending` entry for a replay lasting at most `lease`.
    async fn claim_replay(&self, id: &DlqId, actor: &str, lease: Duration) -> Result<ReplayClaim, DlqError>;

    /// Records how a claimed replay ended and releases the claim.
    async fn finish_replay(&self, claim: &ReplayClaim, outcome: ReplayOutcome) -> Result<DlqEntry, DlqError>;

    /// Extends a live claim to `lease` from now, so a replay that runs long keeps its
    /// entry; a lapsed or foreign claim is a conflict (another replay may hold it).
    async fn renew_replay(&self, claim: &ReplayClaim, lease: Duration) -> Result<(), DlqError>;

    /// Marks a `pending`, unclaimed entry `discarded`.
    async fn discard(&self, id: &DlqId, actor: &str, reason: Option<String>) -> Result<DlqEntry, DlqError>;

    /// How many entries are `pending` (for the gauge).
    async fn pending_count(&self) -> Result<u64, StoreError>;
}
