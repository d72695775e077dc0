//! A ready [`AnswerFormat`] for callers that are not the HTTP API (a queue consumer, a
//! command line): the domain value as the body, a failure as a small JSON document.

use bytes::Bytes;
use hub_core::{DlqId, Operation, StoredResponse};
use serde_json::{Value, json};

use super::{AnswerFormat, Failed, Failure, Rendered};
use crate::operation::Written;

/// The content type of every plain answer.
const JSON: &str = "application/json";

/// Plain JSON answers: a success is `200` with the domain value (`CreatedTicket`,
/// `Draft`, `CommitResult`, …); a failure is `{"failure", "detail", "operation",
/// "request_id", "dlq_id", "retry_after_s"}` with status `409` when the caller should
/// wait for another request or the supervisor, `422` when it must change the request,
/// `429` when the upstream's rate limit stopped it, else `503`.
///
/// ```
/// use hub_app::answer::{AnswerFormat, PlainAnswers};
/// use hub_app::Written;
/// let body = PlainAnswers.body(&Written::Comment(hub_core::CreatedComment { comment_id: "C-1".parse().unwrap() }));
/// assert_eq!(body["comment_id"], "C-1");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainAnswers;

fn stored(status: u16, body: &Value) -> StoredResponse {
    StoredResponse {
        status,
        content_type: JSON.to_owned(),
        body: Bytes::from(serde_json::to_vec(body).unwrap_or_default()),
    }
}

impl AnswerFormat for PlainAnswers {
    fn body(&self, written: &Written) -> Value {
        let v = match written {
            Written::Ticket(t) => serde_json::to_value(t),
            Written::Comment(c) => serde_json::to_value(c),
            Written::Draft(d) => serde_json::to_value(d),
            Written::Commit(c) => serde_json::to_value(c),
            Written::Cancel(c) => serde_json::to_value(c),
        };
        // Domain values are strings, numbers and maps: they always serialise.
        v.unwrap_or(Value::Null)
    }

    fn success(&self, _: Operation, body: &Value) -> StoredResponse {
        stored(200, body)
    }

    fn failure(&self, failed: &Failed<'_>) -> Rendered {
        let (name, status, dlq_id, retry) = match failed.failure {
            Failure::Overloaded => ("overloaded", 503, None, Some(1)),
            Failure::KeysUnavailable(_) => ("keys_unavailable", 503, None, Some(2)),
            Failure::InFlight => ("in_flight", 409, None, None),
            Failure::Mismatch => ("key_mismatch", 422, None, None),
            Failure::Upstream { error, dlq_id } => {
                let caller_must_change = matches!(
                    error,
                    hub_core::Error::InvalidInput { .. } | hub_core::Error::Rejected { .. } | hub_core::Error::NotFound
                );
                let rate_limited = matches!(
                    error,
                    hub_core::Error::RateBudgetSpent { .. } | hub_core::Error::RateLimited { .. }
                );
                let status = if caller_must_change {
                    422
                } else if rate_limited {
                    429
                } else {
                    503
                };
                (
                    error.code(),
                    status,
                    dlq_id.as_ref(),
                    error
                        .retry_after()
                        .map(|d| (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)),
                )
            }
            Failure::OutcomeUnknown { dlq_id } => ("outcome_unknown", 409, Some(dlq_id), None),
            Failure::NotKept { .. } => ("not_kept", 503, None, None),
            Failure::DeadLettersUnavailable(_) => ("dead_letters_unavailable", 503, None, Some(2)),
            Failure::Discarded { dlq_id, .. } => ("discarded", 409, Some(dlq_id), None),
            Failure::Internal => ("internal", 500, None, None),
        };
        let detail = match failed.failure {
            Failure::Upstream { error, .. } | Failure::NotKept { error } => error.to_string(),
            Failure::KeysUnavailable(e) | Failure::DeadLettersUnavailable(e) => e.to_string(),
            Failure::Discarded { reason, .. } => reason.clone().unwrap_or_default(),
            _ => String::new(),
        };
        let body = json!({
            "failure": name,
            "detail": detail,
            "operation": failed.operation.as_str(),
            "request_id": failed.request_id,
            "dlq_id": dlq_id.map(DlqId::as_str),
            "retry_after_s": retry,
        });
        Rendered {
            response: stored(status, &body),
            retry_after_s: retry,
        }
    }

    fn dead_letter_of(&self, stored: &StoredResponse) -> Option<DlqId> {
        let v: Value = serde_json::from_slice(&stored.body).ok()?;
        DlqId::parse(v.get("dlq_id")?.as_str()?).ok()
    }

    fn held(&self, s: StoredResponse) -> StoredResponse {
        let Ok(mut v) = serde_json::from_slice::<Value>(&s.body) else {
            return s;
        };
        match v.as_object_mut().and_then(|m| m.remove("retry_after_s")) {
            Some(_) => stored(s.status, &v),
            None => s,
        }
    }
}
