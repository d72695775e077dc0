//! The writes the API performs, as values: what the route calls, what a DLQ entry
//! stores, and what a replay runs again.

use axum::http::StatusCode;
use hub_core::{CallContext, DraftId, Error, IdempotencyKey, NewComment, NewDraft, NewTicket, TicketId};
use serde::{Deserialize, Serialize};

use crate::state::Ports;
use crate::wire::{CancelBody, CommentBody, CommitBody, CreatedTicketBody, DraftBody};

/// The ticketing adapter's name (DLQ, audit, problems).
pub const TICKETING: &str = "ticketing";
/// The transaction-status adapter's name.
pub const TRANSACTION_STATUS: &str = "transaction_status";
/// The transaction-create adapter's name.
pub const TRANSACTION_CREATE: &str = "transaction_create";

/// A comment on a ticket, as a DLQ payload holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentOnTicket {
    /// The ticket.
    pub ticket_id: TicketId,
    /// The comment.
    pub comment: NewComment,
}

/// A draft to act on, as a DLQ payload holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnDraft {
    /// The draft.
    pub draft_id: DraftId,
}

/// One write, with everything needed to run it (again).
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    /// `create_ticket`.
    CreateTicket(NewTicket),
    /// `add_comment`.
    AddComment(CommentOnTicket),
    /// `create_draft_transaction`.
    CreateDraft(NewDraft),
    /// `commit_transaction`.
    Commit(OnDraft),
    /// `cancel_draft`.
    Cancel(OnDraft),
}

/// Why a stored operation cannot be run again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnreplayableError {
    /// The operation name is not one the hub writes.
    #[error("unknown operation {0:?}")]
    UnknownOperation(String),
    /// The payload does not hold what the operation needs.
    #[error("the payload of {operation} is not valid: {reason}")]
    BadPayload {
        /// The operation.
        operation: String,
        /// Why.
        reason: String,
    },
    /// A commit without the idempotency key it must be replayed with.
    #[error("a commit cannot be replayed without its idempotency key")]
    MissingKey,
}

impl WriteOp {
    /// The operation's name (`create_ticket`, …).
    pub fn operation(&self) -> &'static str {
        match self {
            Self::CreateTicket(_) => "create_ticket",
            Self::AddComment(_) => "add_comment",
            Self::CreateDraft(_) => "create_draft_transaction",
            Self::Commit(_) => "commit_transaction",
            Self::Cancel(_) => "cancel_draft",
        }
    }

    /// The status the route answers when the write succeeds.
    pub fn success_status(&self) -> StatusCode {
        match self {
            Self::CreateTicket(_) | Self::AddComment(_) | Self::CreateDraft(_) => StatusCode::CREATED,
            Self::Commit(_) | Self::Cancel(_) => StatusCode::OK,
        }
    }

    /// The adapter it goes through.
    pub fn adapter(&self) -> &'static str {
        match self {
            Self::CreateTicket(_) | Self::AddComment(_) => TICKETING,
            Self::CreateDraft(_) | Self::Commit(_) | Self::Cancel(_) => TRANSACTION_CREATE,
        }
    }

    /// The DLQ payload: the business data only, never a credential.
    pub fn payload(&self) -> serde_json::Value {
        let v = match self {
            Self::CreateTicket(t) => serde_json::to_value(t),
            Self::AddComment(c) => serde_json::to_value(c),
            Self::CreateDraft(d) => serde_json::to_value(d),
            Self::Commit(d) | Self::Cancel(d) => serde_json::to_value(d),
        };
        // These types are plain data and always serialise.
        v.unwrap_or(serde_json::Value::Null)
    }

    /// Rebuilds an operation from a DLQ entry's `operation` and `payload`.
    ///
    /// ```
    /// use hub_server::operations::WriteOp;
    /// let op = WriteOp::from_entry("cancel_draft", &serde_json::json!({"draft_id": "D-1"})).unwrap();
    /// assert_eq!(op.operation(), "cancel_draft");
    /// assert!(WriteOp::from_entry("drop_tables", &serde_json::json!({})).is_err());
    /// ```
    pub fn from_entry(operation: &str, payload: &serde_json::Value) -> Result<Self, UnreplayableError> {
        fn de<T: serde::de::DeserializeOwned>(op: &str, v: &serde_json::Value) -> Result<T, UnreplayableError> {
            serde_json::from_value(v.clone()).map_err(|e| UnreplayableError::BadPayload {
                operation: op.to_owned(),
                reason: e.to_string(),
            })
        }
        Ok(match operation {
            "create_ticket" => Self::CreateTicket(de(operation, payload)?),
            "add_comment" => Self::AddComment(de(operation, payload)?),
            "create_draft_transaction" => Self::CreateDraft(de(operation, payload)?),
            "commit_transaction" => Self::Commit(de(operation, payload)?),
            "cancel_draft" => Self::Cancel(de(operation, payload)?),
            other => return Err(UnreplayableError::UnknownOperation(other.to_owned())),
        })
    }

    /// Runs the write through its port; on success, the status and body the API answers with.
    /// `ctx` carries the idempotency key (a commit sends it as its key too).
    pub async fn call(&self, ports: &Ports, ctx: &CallContext) -> Result<(StatusCode, serde_json::Value), Error> {
        fn body<T: Serialize>(status: StatusCode, v: T) -> (StatusCode, serde_json::Value) {
            (status, serde_json::to_value(v).unwrap_or(serde_json::Value::Null))
        }
        match self {
            Self::CreateTicket(t) => {
                let created = ports.ticketing.create_ticket(ctx, t).await?;
                Ok(body(StatusCode::CREATED, CreatedTicketBody::from(created)))
            }
            Self::AddComment(c) => {
                let created = ports.ticketing.add_comment(ctx, &c.ticket_id, &c.comment).await?;
                Ok(body(StatusCode::CREATED, CommentBody::from(created)))
            }
            Self::CreateDraft(d) => {
                let draft = ports.transaction_create.create_draft_transaction(ctx, d).await?;
                Ok(body(StatusCode::CREATED, DraftBody::from(draft)))
            }
            Self::Commit(d) => {
                let key = ctx.idempotency_key.clone().ok_or_else(|| Error::InvalidInput {
                    field: "Idempotency-Key".to_owned(),
                    reason: "a commit needs an idempotency key".to_owned(),
                })?;
                let result = commit(ports, ctx, &d.draft_id, &key).await?;
                Ok(body(StatusCode::OK, CommitBody::from(result)))
            }
            Self::Cancel(d) => {
                let result = ports.transaction_create.cancel_draft(ctx, &d.draft_id).await?;
                Ok(body(StatusCode::OK, CancelBody::from(result)))
            }
        }
    }
}

async fn commit(
    ports: &Ports,
    ctx: &CallContext,
    draft: &DraftId,
    key: &IdempotencyKey,
) -> Result<hub_core::CommitResult, Error> {
    ports.transaction_create.commit_transaction(ctx, draft, key).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_core::{Amount, Currency, CustomerId, Money, Priority};

    fn ops() -> Vec<WriteOp> {
        let money = Money::new("500.10".parse::<Amount>().unwrap(), Currency::parse("EUR").unwrap());
        vec![
            WriteOp::CreateTicket(NewTicket {
                customer_id: CustomerId::parse("C-1").unwrap(),
                subject: "s".into(),
                description: "d".into(),
                priority: Priority::High,
            }),
            WriteOp::AddComment(CommentOnTicket {
                ticket_id: TicketId::parse("T-1").unwrap(),
                comment: NewComment {
                    body: "b".into(),
                    public: false,
                },
            }),
            WriteOp::CreateDraft(NewDraft {
                customer_id: CustomerId::parse("C-1").unwrap(),
                money,
                description: "d".into(),
                metadata: serde_json::Map::new(),
            }),
            WriteOp::Commit(OnDraft {
                draft_id: DraftId::parse("D-1").unwrap(),
            }),
            WriteOp::Cancel(OnDraft {
                draft_id: DraftId::parse("D-1").unwrap(),
            }),
        ]
    }

    #[test]
    fn every_operation_round_trips_through_a_dlq_payload() {
        for op in ops() {
            let back = WriteOp::from_entry(op.operation(), &op.payload()).unwrap();
            assert_eq!(back, op);
        }
    }

    #[test]
    fn amounts_stay_exact_in_payloads() {
        let draft = &ops()[2];
        assert_eq!(draft.payload()["money"]["amount"], "500.10");
    }

    #[test]
    fn bad_payloads_are_refused() {
        assert!(matches!(
            WriteOp::from_entry("cancel_draft", &serde_json::json!({"draft_id": "../x"})),
            Err(UnreplayableError::BadPayload { .. })
        ));
    }
}
