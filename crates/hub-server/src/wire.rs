//! The hub's JSON shapes (contract section 1): request bodies in, response bodies out.

use std::collections::BTreeMap;

use hub_core::{
    Amount, AuditRecord, CancelResult, CommitResult, CreatedComment, CreatedTicket, Currency, CustomerId, DlqEntry,
    Draft, Priority, Ticket, Transaction,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::problem::{Problem, ProblemCode};

/// A ticket priority's name, for the document (the domain type stays free of schema code).
#[derive(Debug, Clone, Copy, ToSchema)]
#[schema(as = Priority)]
#[allow(dead_code)] // Only its schema is used.
#[serde(rename_all = "snake_case")]
pub enum PriorityName {
    /// Low.
    Low,
    /// Normal (the default).
    Normal,
    /// High.
    High,
    /// Urgent.
    Urgent,
}

/// A dead-letter entry's status name, for the document.
#[derive(Debug, Clone, Copy, ToSchema)]
#[schema(as = DlqStatus)]
#[allow(dead_code)] // Only its schema is used.
#[serde(rename_all = "snake_case")]
pub enum DlqStatusName {
    /// Awaiting review.
    Pending,
    /// Run again successfully.
    Replayed,
    /// Given up.
    Discarded,
}

/// `POST /v1/tickets`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTicketRequest {
    /// Whose ticket it is.
    #[schema(value_type = String, example = "CUST-1", pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
    pub customer_id: CustomerId,
    /// One line, not empty.
    #[schema(min_length = 1, pattern = "\\S")]
    pub subject: String,
    /// The body.
    pub description: String,
    /// `low`, `normal` (default), `high` or `urgent`.
    #[serde(default)]
    #[schema(value_type = PriorityName, example = "normal")]
    pub priority: Priority,
}

/// `POST /v1/tickets/{ticket_id}/comments`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddCommentRequest {
    /// The text, not empty.
    #[schema(min_length = 1, pattern = "\\S")]
    pub comment: String,
    /// Whether the customer sees it (default `true`).
    #[serde(default = "yes")]
    pub is_public: bool,
}

fn yes() -> bool {
    true
}

/// `POST /v1/transactions/drafts`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDraftRequest {
    /// For whom.
    #[schema(value_type = String, pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
    pub customer_id: CustomerId,
    /// How much: an exact decimal greater than zero, at most 8 places, as a string (a JSON
    /// number without an exponent is taken too). The documented pattern (up to 20 integer
    /// digits) is what is always accepted.
    #[schema(value_type = String, example = "500.00", pattern = "^(0{0,8}[1-9][0-9]{0,19}(\\.[0-9]{1,8})?|0{1,8}\\.0{0,7}[1-9])$")]
    pub amount: Amount,
    /// ISO 4217; the configured default when absent.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "USD")]
    pub currency: Option<Currency>,
    /// What for.
    pub description: String,
    /// Free-form data passed through to the sales system.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `POST /v1/dlq/{id}/discard`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscardRequest {
    /// Why it is given up.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Refuses an empty (or whitespace-only) text field.
pub fn non_empty(field: &str, value: &str) -> Result<(), Problem> {
    if value.trim().is_empty() {
        Err(Problem::invalid_body(field, "must not be empty"))
    } else {
        Ok(())
    }
}

/// 201 of `POST /v1/tickets`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedTicketBody {
    /// The ticket's id.
    pub ticket_id: String,
    /// Where a person sees it.
    pub url: String,
    /// Its normalised status.
    pub status: String,
}

impl From<CreatedTicket> for CreatedTicketBody {
    fn from(t: CreatedTicket) -> Self {
        Self {
            ticket_id: t.ticket_id.into(),
            url: t.url,
            status: t.status.into(),
        }
    }
}

/// 200 of `GET /v1/tickets/{ticket_id}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TicketBody {
    /// The ticket.
    pub ticket_id: String,
    /// `new`, `open`, `pending`, `on_hold`, `solved`, `closed` (or the vendor's value when unknown).
    pub status: String,
    /// The vendor's own status.
    pub vendor_status: String,
    /// The assignee's e-mail, or null.
    pub assigned_to: Option<String>,
    /// RFC 3339, or null when the vendor does not say.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_updated: Option<OffsetDateTime>,
}

impl From<Ticket> for TicketBody {
    fn from(t: Ticket) -> Self {
        Self {
            ticket_id: t.ticket_id.into(),
            status: t.status.into(),
            vendor_status: t.vendor_status,
            assigned_to: t.assigned_to,
            last_updated: t.last_updated,
        }
    }
}

/// 201 of `POST /v1/tickets/{ticket_id}/comments`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CommentBody {
    /// The comment's id.
    pub comment_id: String,
}

impl From<CreatedComment> for CommentBody {
    fn from(c: CreatedComment) -> Self {
        Self {
            comment_id: c.comment_id.into(),
        }
    }
}

/// 200 of `GET /v1/transactions/{transaction_id}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransactionBody {
    /// The transaction.
    pub transaction_id: String,
    /// Its status.
    pub status: String,
    /// Exact decimal, as a string.
    #[schema(value_type = String, example = "500.00")]
    pub amount: Amount,
    /// ISO 4217.
    #[schema(value_type = String, example = "USD")]
    pub currency: Currency,
    /// RFC 3339.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// RFC 3339, or null.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub completed_at: Option<OffsetDateTime>,
}

impl From<Transaction> for TransactionBody {
    fn from(t: Transaction) -> Self {
        Self {
            transaction_id: t.transaction_id.into(),
            status: t.status.into(),
            amount: t.amount,
            currency: t.currency,
            created_at: t.created_at,
            completed_at: t.completed_at,
        }
    }
}

/// One transaction of a history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryItem {
    /// The transaction.
    pub transaction_id: String,
    /// Exact decimal, as a string.
    #[schema(value_type = String)]
    pub amount: Amount,
    /// Its status.
    pub status: String,
    /// RFC 3339.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// 200 of `GET /v1/customers/{customer_id}/transactions`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryBody {
    /// Newest first.
    pub transactions: Vec<HistoryItem>,
}

impl From<Vec<Transaction>> for HistoryBody {
    fn from(list: Vec<Transaction>) -> Self {
        Self {
            transactions: list
                .into_iter()
                .map(|t| HistoryItem {
                    transaction_id: t.transaction_id.into(),
                    amount: t.amount,
                    status: t.status.into(),
                    created_at: t.created_at,
                })
                .collect(),
        }
    }
}

/// 201 of `POST /v1/transactions/drafts`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DraftBody {
    /// The draft.
    pub draft_id: String,
    /// `pending_confirmation` on creation.
    pub status: String,
    /// Exact decimal, as a string.
    #[schema(value_type = String)]
    pub amount: Amount,
    /// RFC 3339.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

impl From<Draft> for DraftBody {
    fn from(d: Draft) -> Self {
        Self {
            draft_id: d.draft_id.into(),
            status: d.status.into(),
            amount: d.amount,
            expires_at: d.expires_at,
        }
    }
}

/// 200 of `POST /v1/transactions/drafts/{draft_id}/commit`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CommitBody {
    /// The transaction the draft became.
    pub transaction_id: String,
    /// Its status.
    pub status: String,
    /// Exact decimal, as a string.
    #[schema(value_type = String)]
    pub amount: Amount,
}

impl From<CommitResult> for CommitBody {
    fn from(c: CommitResult) -> Self {
        Self {
            transaction_id: c.transaction_id.into(),
            status: c.status.into(),
            amount: c.amount,
        }
    }
}

/// 200 of `POST /v1/transactions/drafts/{draft_id}/cancel`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CancelBody {
    /// `cancelled`.
    pub status: String,
}

impl From<CancelResult> for CancelBody {
    fn from(c: CancelResult) -> Self {
        Self {
            status: c.status.into(),
        }
    }
}

/// A dead-letter entry (`GET /v1/dlq/{id}`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DlqEntryBody {
    /// Its id.
    pub id: String,
    /// The adapter that failed.
    pub adapter: String,
    /// The operation.
    pub operation: String,
    /// What a replay sends again, as shown: values under secret-named keys (any depth,
    /// any case) read `[REDACTED]`; the stored entry keeps them for the replay.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// The key the write was sent with; a replay reuses it.
    pub idempotency_key: Option<String>,
    /// The latest error.
    pub error: String,
    /// The latest error's code.
    pub error_code: String,
    /// Attempts so far.
    pub attempts: u32,
    /// RFC 3339.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// `pending`, `replayed` or `discarded`.
    pub status: String,
    /// The support conversation, when known.
    pub conversation_id: Option<String>,
    /// The hub request that failed.
    pub request_id: Option<String>,
    /// The W3C trace id (32 lower-case hex digits) of the failed write's trace, when it
    /// was traced; a replay's span links to that write's span.
    pub trace_id: Option<String>,
    /// The replay's result, once `replayed`.
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    /// Why it was discarded, once `discarded`.
    pub reason: Option<String>,
    /// Who last acted on it.
    pub acted_by: Option<String>,
    /// When, RFC 3339.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acted_at: Option<OffsetDateTime>,
}

/// The entry as shown ([`DlqEntry::shown`]): secret-named payload and result keys redacted.
impl From<DlqEntry> for DlqEntryBody {
    fn from(e: DlqEntry) -> Self {
        let e = e.shown();
        let f = e.failure;
        Self {
            id: e.id.into(),
            adapter: f.adapter,
            operation: f.operation,
            payload: f.payload,
            idempotency_key: f.idempotency_key,
            error: f.error,
            error_code: f.error_code,
            attempts: f.attempts,
            created_at: e.created_at,
            status: e.status.as_str().to_owned(),
            conversation_id: f.conversation_id,
            request_id: f.request_id,
            trace_id: f.traceparent.map(|t| t.trace_id().to_string()),
            result: e.result,
            reason: e.reason,
            acted_by: e.acted_by,
            acted_at: e.acted_at,
        }
    }
}

/// A page of dead-letter entries.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DlqPage {
    /// Newest first.
    pub items: Vec<DlqEntryBody>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// One audit record.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditRecordBody {
    /// When the call began, RFC 3339.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    /// The adapter.
    pub adapter: String,
    /// The operation.
    pub operation: String,
    /// `success`, `failure`, `rejected`, or `started` (a write's record made before it
    /// was sent; its ending is a later record with the same request id).
    pub outcome: String,
    /// The last upstream HTTP status.
    pub http_status: Option<u16>,
    /// Attempts made.
    pub attempts: u32,
    /// Duration of all attempts.
    pub duration_ms: u64,
    /// The hub request.
    pub request_id: Option<String>,
    /// The support conversation.
    pub conversation_id: Option<String>,
    /// Redacted parameters.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// The error, on failure.
    pub error: Option<String>,
    /// The W3C trace id (32 lower-case hex digits) of the request or replay that made
    /// the call, when it was traced; null untraced and in older records.
    pub trace_id: Option<String>,
    /// How many calls the record stands for: 1, or for refusals by the hub itself (an
    /// open circuit, a spent rate budget) past the first of a second, their number.
    pub calls: u32,
}

impl From<AuditRecord> for AuditRecordBody {
    fn from(r: AuditRecord) -> Self {
        let mut params = r.params;
        // Records are redacted when written; redact again so a store bug cannot leak here.
        hub_core::redact::redact_in_place(&mut params);
        Self {
            at: r.at,
            adapter: r.adapter,
            operation: r.operation,
            outcome: r.outcome.as_str().to_owned(),
            http_status: r.http_status,
            attempts: r.attempts,
            duration_ms: r.duration_ms,
            request_id: r.request_id,
            conversation_id: r.conversation_id,
            params,
            error: r.error,
            trace_id: r.trace_id,
            calls: r.calls,
        }
    }
}

/// A page of audit records.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditPage {
    /// Newest first.
    pub items: Vec<AuditRecordBody>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// `/healthz`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HealthBody {
    /// `ok`.
    pub status: String,
}

/// One adapter in `/readyz`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdapterReadiness {
    /// `closed`, `open` or `half_open`.
    pub circuit: String,
    /// Its upstream rate budget, when it has one (`[adapters.X.rate]`): `store` (`redis` or
    /// `local`), the configured `requests_per_s` and `burst`, the `effective_requests_per_s`,
    /// `remaining`, `paused_for_ms`, and what the vendor's headers taught it:
    /// `learned_requests_per_s`, `window_requests_per_s`, `window_resets_in_ms`. A spent or
    /// paused budget never makes the hub unready.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub rate: Option<hub_app::health::BudgetView>,
}

/// `/readyz`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReadyBody {
    /// `ready` or `not_ready`.
    pub status: String,
    /// Store name → `ok` or an error code.
    pub stores: BTreeMap<String, String>,
    /// Adapter name → its circuit.
    pub adapters: BTreeMap<String, AdapterReadiness>,
}

pub use hub_app::dlq::filter_value as query_token;

/// An RFC 3339 timestamp from a query string.
pub fn query_time(raw: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
        .map_err(|_| "must be an RFC 3339 timestamp".to_owned())
}

/// Used by handlers that need a problem for a missing extension (a wiring bug).
pub fn wiring_problem(what: &str) -> Problem {
    tracing::error!(missing = what, "request extension missing: the router is miswired");
    Problem::new(ProblemCode::Internal, "the server is misconfigured")
}

/// `POST /webhooks/transaction_updated` (documentation only: the body is read by
/// [`hub_app::webhooks::parse_body`], which allows other fields).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransactionWebhook {
    /// The transaction (the contract's id rule).
    pub transaction_id: String,
    /// Its new status, as the sender names it.
    pub status: String,
    /// Its customer: their cached history is invalidated too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// When it changed (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// `POST /webhooks/ticket_updated` (documentation only, as [`TransactionWebhook`]).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TicketWebhook {
    /// The ticket (the contract's id rule).
    pub ticket_id: String,
    /// Its new status, as the sender names it.
    pub status: String,
    /// When it changed (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// One WebSocket text message of `GET /v1/events` (`hub_core::Event` as serialised).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventMessage {
    /// Unique: the `webhook-id` for `*.updated`, generated otherwise.
    pub id: String,
    /// `transaction.updated`, `ticket.updated`, `dlq.enqueued` or `circuit.changed`.
    pub event: String,
    /// When it happened (RFC 3339).
    pub at: String,
    /// The webhook's payload for `*.updated`; `{dlq_id, adapter, operation}` for
    /// `dlq.enqueued`; `{adapter, from, to}` for `circuit.changed`.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use hub_core::{Amount, Currency, Transaction, TransactionId};
    use proptest::prelude::*;
    use time::OffsetDateTime;

    use super::TransactionBody;

    proptest! {
        /// The transaction read answers the cache's bytes as they are: that is only right
        /// while the domain transaction's JSON is the answer body's, byte for byte.
        #[test]
        fn the_domain_transaction_encodes_as_the_answer_body(
            id in "[A-Za-z0-9][A-Za-z0-9._:-]{0,20}",
            status in prop_oneof!["completed", "pending", "failed", "refunded", "[a-z_]{1,12}"],
            cents in 0u64..10_000_000_000,
            currency in prop_oneof!["USD", "EUR", "JPY"],
            created in 0i64..4_000_000_000,
            completed in proptest::option::of(0i64..4_000_000_000),
            nanos in 0u32..1_000_000_000,
        ) {
            let t = Transaction {
                transaction_id: TransactionId::parse(&id).unwrap(),
                status: serde_json::from_value(serde_json::Value::String(status)).unwrap(),
                amount: format!("{}.{:02}", cents / 100, cents % 100).parse::<Amount>().unwrap(),
                currency: Currency::parse(&currency).unwrap(),
                created_at: OffsetDateTime::from_unix_timestamp(created).unwrap().replace_nanosecond(nanos).unwrap(),
                completed_at: completed.map(|c| OffsetDateTime::from_unix_timestamp(c).unwrap()),
            };
            let domain = serde_json::to_vec(&t).unwrap();
            let body = serde_json::to_vec(&TransactionBody::from(t)).unwrap();
            prop_assert_eq!(String::from_utf8(domain).unwrap(), String::from_utf8(body).unwrap());
        }
    }
}
