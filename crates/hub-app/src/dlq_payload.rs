//! The dead-letter payload format: what an entry stores to run its write again, as
//! versioned DTOs of its own, so an entry written today replays after the domain types
//! change.
//!
//! Version 1 is the layout entries had before the format carried a version, so an
//! entry without `version` reads as version 1. A new layout is a new version with its
//! own DTOs; readers keep every old one.

use hub_core::{
    Amount, Currency, DraftId, IdError, Money, MoneyError, NewComment, NewDraft, NewTicket, Operation, Priority,
    TicketId,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::operation::WriteOp;

/// The version [`encode`] writes.
pub const CURRENT_VERSION: u64 = 1;

/// The payload field that names its version.
const VERSION_FIELD: &str = "version";

/// Why a stored payload cannot be run again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnreplayableError {
    /// The operation is not a write the hub performs.
    #[error("unknown operation {0:?}")]
    UnknownOperation(String),
    /// A payload version this build does not know (written by a newer hub).
    #[error("payload version {0} is not known to this hub")]
    UnknownVersion(u64),
    /// The payload does not hold what the operation needs.
    #[error("the payload of {operation} is not valid: {reason}")]
    BadPayload {
        /// The operation.
        operation: &'static str,
        /// Why (names the field; never repeats a value).
        reason: String,
    },
    /// A commit without the idempotency key it must be replayed with.
    #[error("a commit cannot be replayed without its idempotency key")]
    MissingKey,
}

/// `create_ticket`, version 1.
#[derive(Debug, Serialize, Deserialize)]
struct TicketV1 {
    customer_id: String,
    subject: String,
    description: String,
    #[serde(default)]
    priority: Priority,
}

/// `add_comment`, version 1.
#[derive(Debug, Serialize, Deserialize)]
struct CommentV1 {
    ticket_id: String,
    comment: CommentTextV1,
}

/// The comment of `add_comment`, version 1.
#[derive(Debug, Serialize, Deserialize)]
struct CommentTextV1 {
    body: String,
    #[serde(default = "public_by_default")]
    public: bool,
}

fn public_by_default() -> bool {
    true
}

/// `create_draft_transaction`, version 1.
#[derive(Debug, Serialize, Deserialize)]
struct DraftV1 {
    customer_id: String,
    money: MoneyV1,
    description: String,
    #[serde(default)]
    metadata: Map<String, Value>,
}

/// An amount and its currency, version 1 (the amount as a decimal string).
#[derive(Debug, Serialize, Deserialize)]
struct MoneyV1 {
    amount: Amount,
    currency: String,
}

/// `commit_transaction` and `cancel_draft`, version 1.
#[derive(Debug, Serialize, Deserialize)]
struct OnDraftV1 {
    draft_id: String,
}

/// The payload of `op` without its version: the business data only, never a credential.
/// It is also what an idempotency fingerprint covers.
pub fn body(op: &WriteOp) -> Value {
    let v = match op {
        WriteOp::CreateTicket(t) => serde_json::to_value(TicketV1 {
            customer_id: t.customer_id.as_str().to_owned(),
            subject: t.subject.clone(),
            description: t.description.clone(),
            priority: t.priority,
        }),
        WriteOp::AddComment { ticket_id, comment } => serde_json::to_value(CommentV1 {
            ticket_id: ticket_id.as_str().to_owned(),
            comment: CommentTextV1 {
                body: comment.body.clone(),
                public: comment.public,
            },
        }),
        WriteOp::CreateDraft(d) => serde_json::to_value(DraftV1 {
            customer_id: d.customer_id.as_str().to_owned(),
            money: MoneyV1 {
                amount: d.money.amount,
                currency: d.money.currency.as_str().to_owned(),
            },
            description: d.description.clone(),
            metadata: d.metadata.clone(),
        }),
        WriteOp::Commit(draft) | WriteOp::Cancel(draft) => serde_json::to_value(OnDraftV1 {
            draft_id: draft.as_str().to_owned(),
        }),
    };
    // Plain strings, numbers and maps always serialise.
    v.unwrap_or(Value::Null)
}

/// The payload a dead-letter entry stores for `op`: [`body`] with its version.
///
/// ```
/// use hub_app::{WriteOp, dlq_payload};
/// let op = WriteOp::Cancel("D-1".parse().unwrap());
/// let stored = dlq_payload::encode(&op);
/// assert_eq!(stored["version"], 1);
/// assert_eq!(dlq_payload::decode("cancel_draft", &stored).unwrap(), op);
/// ```
pub fn encode(op: &WriteOp) -> Value {
    let mut v = body(op);
    if let Value::Object(map) = &mut v {
        map.insert(VERSION_FIELD.to_owned(), Value::from(CURRENT_VERSION));
    }
    v
}

/// Rebuilds the write of a stored entry from its `operation` and `payload`, whatever
/// version wrote it.
pub fn decode(operation: &str, payload: &Value) -> Result<WriteOp, UnreplayableError> {
    let op = Operation::parse(operation).ok_or_else(|| UnreplayableError::UnknownOperation(operation.to_owned()))?;
    let version = match payload.get(VERSION_FIELD) {
        None => 1,
        Some(v) => v.as_u64().ok_or_else(|| bad(op, "version: not a whole number"))?,
    };
    if version != 1 {
        return Err(UnreplayableError::UnknownVersion(version));
    }
    decode_v1(op, payload)
}

fn decode_v1(op: Operation, payload: &Value) -> Result<WriteOp, UnreplayableError> {
    Ok(match op {
        Operation::CreateTicket => {
            let t: TicketV1 = de(op, payload)?;
            WriteOp::CreateTicket(NewTicket {
                customer_id: id(op, "customer_id", &t.customer_id)?,
                subject: t.subject,
                description: t.description,
                priority: t.priority,
            })
        }
        Operation::AddComment => {
            let c: CommentV1 = de(op, payload)?;
            WriteOp::AddComment {
                ticket_id: id::<TicketId>(op, "ticket_id", &c.ticket_id)?,
                comment: NewComment {
                    body: c.comment.body,
                    public: c.comment.public,
                },
            }
        }
        Operation::CreateDraftTransaction => {
            let d: DraftV1 = de(op, payload)?;
            let currency =
                Currency::parse(&d.money.currency).map_err(|e: MoneyError| bad(op, format!("currency: {e}")))?;
            WriteOp::CreateDraft(NewDraft {
                customer_id: id(op, "customer_id", &d.customer_id)?,
                money: Money::new(d.money.amount, currency),
                description: d.description,
                metadata: d.metadata,
            })
        }
        Operation::CommitTransaction => {
            WriteOp::Commit(id::<DraftId>(op, "draft_id", &de::<OnDraftV1>(op, payload)?.draft_id)?)
        }
        Operation::CancelDraft => {
            WriteOp::Cancel(id::<DraftId>(op, "draft_id", &de::<OnDraftV1>(op, payload)?.draft_id)?)
        }
        other => return Err(UnreplayableError::UnknownOperation(other.as_str().to_owned())),
    })
}

fn de<T: DeserializeOwned>(op: Operation, payload: &Value) -> Result<T, UnreplayableError> {
    serde_json::from_value(payload.clone()).map_err(|e| bad(op, e))
}

fn id<T: std::str::FromStr<Err = IdError>>(op: Operation, field: &str, raw: &str) -> Result<T, UnreplayableError> {
    raw.parse().map_err(|e: IdError| bad(op, format!("{field}: {e}")))
}

fn bad(op: Operation, reason: impl std::fmt::Display) -> UnreplayableError {
    UnreplayableError::BadPayload {
        operation: op.as_str(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests;
