//! The hub's HTTP answers to writes: the contract's JSON bodies for successes, RFC 9457
//! problems for failures, and a `hub_app::WriteAnswer` as a response.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use hub_app::{AnswerFormat, Failed, Failure, Rendered, WriteAnswer, Written};
use hub_core::{DlqId, Operation, StoredResponse};
use serde_json::Value;

use crate::idempotency::IDEMPOTENT_REPLAYED;
use crate::problem::{PROBLEM_JSON, Problem, ProblemCode, STORE_RETRY_AFTER_S};
use crate::wire::{CancelBody, CommentBody, CommitBody, CreatedTicketBody, DraftBody};

/// Writes answers as the contract's JSON and problem documents.
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpAnswers;

/// The status a write's route answers when it succeeds.
pub fn success_status(operation: Operation) -> StatusCode {
    match operation {
        Operation::CommitTransaction | Operation::CancelDraft => StatusCode::OK,
        _ => StatusCode::CREATED,
    }
}

fn json<T: serde::Serialize>(v: T) -> Value {
    // The wire DTOs are strings, numbers and maps: they always serialise.
    serde_json::to_value(v).unwrap_or(Value::Null)
}

impl AnswerFormat for HttpAnswers {
    fn body(&self, written: &Written) -> Value {
        match written.clone() {
            Written::Ticket(t) => json(CreatedTicketBody::from(t)),
            Written::Comment(c) => json(CommentBody::from(c)),
            Written::Draft(d) => json(DraftBody::from(d)),
            Written::Commit(c) => json(CommitBody::from(c)),
            Written::Cancel(c) => json(CancelBody::from(c)),
        }
    }

    fn success(&self, operation: Operation, body: &Value) -> StoredResponse {
        StoredResponse {
            status: success_status(operation).as_u16(),
            content_type: "application/json".to_owned(),
            body: Bytes::from(serde_json::to_vec(body).unwrap_or_default()),
        }
    }

    fn failure(&self, failed: &Failed<'_>) -> Rendered {
        let p = problem(failed);
        Rendered {
            response: StoredResponse {
                status: p.status,
                content_type: PROBLEM_JSON.to_owned(),
                body: Bytes::from(p.body()),
            },
            retry_after_s: p.retry_after_s,
        }
    }

    fn dead_letter_of(&self, stored: &StoredResponse) -> Option<DlqId> {
        let v: Value = serde_json::from_slice(&stored.body).ok()?;
        DlqId::parse(v.get("dlq_id")?.as_str()?).ok()
    }

    fn held(&self, stored: StoredResponse) -> StoredResponse {
        let Ok(mut body) = serde_json::from_slice::<Value>(&stored.body) else {
            return stored;
        };
        match body.as_object_mut().and_then(|m| m.remove("retry_after_s")) {
            Some(_) => StoredResponse {
                body: Bytes::from(serde_json::to_vec(&body).unwrap_or_default()),
                ..stored
            },
            None => stored,
        }
    }
}

/// The problem a failed write is answered with.
fn problem(failed: &Failed<'_>) -> Problem {
    let operation = failed.operation;
    let named = |p: Problem| p.naming(operation);
    let p = match failed.failure {
        Failure::Overloaded => {
            let mut p = Problem::new(
                ProblemCode::Overloaded,
                "the hub is running as many writes as it allows; nothing was sent, retry with the same Idempotency-Key",
            );
            p.retry_after_s = Some(1);
            p
        }
        Failure::KeysUnavailable(e) => {
            let mut p = Problem::store("idempotency", e);
            p.retry_after_s = Some(STORE_RETRY_AFTER_S);
            p
        }
        Failure::InFlight => Problem::new(
            ProblemCode::IdempotencyInFlight,
            "a request with this Idempotency-Key is still running; retry later",
        ),
        Failure::Mismatch => Problem::new(
            ProblemCode::IdempotencyMismatch,
            "this Idempotency-Key was used for a different request (caller, route, ids or body)",
        ),
        Failure::Upstream { error, dlq_id } => {
            let p = Problem::upstream(error, operation);
            match dlq_id {
                Some(id) => p.with_dlq_id(id),
                None => p,
            }
        }
        Failure::OutcomeUnknown { dlq_id } => named(Problem::new(
            ProblemCode::IdempotencyInFlight,
            "the first request with this Idempotency-Key may have taken effect and the upstream can neither \
             deduplicate it nor be asked; nothing was sent again: it awaits the supervisor (see dlq_id)",
        ))
        .with_dlq_id(dlq_id),
        Failure::NotKept { error } => named(Problem::new(
            ProblemCode::StoreUnavailable,
            format!(
                "the write failed ({}) and could not be kept for replay; retry it with the same Idempotency-Key",
                error.code()
            ),
        )),
        Failure::DeadLettersUnavailable(e) => Problem::store("dlq", e),
        Failure::Discarded { dlq_id, reason } => named(Problem::new(
            ProblemCode::DlqConflict,
            format!(
                "the write was dead-lettered and the supervisor discarded it: {}",
                reason.as_deref().unwrap_or("no reason given")
            ),
        ))
        .with_dlq_id(dlq_id),
        Failure::Internal => Problem::new(ProblemCode::Internal, "the write could not be completed"),
    };
    p.with_request_id(failed.request_id)
}

/// The response for a write's answer: its stored status, type and body, `Retry-After`
/// when the caller is invited to retry, `Idempotent-Replayed` on a repeat.
pub fn respond(answer: WriteAnswer) -> Response {
    let WriteAnswer {
        response,
        retry_after_s,
        replayed,
    } = answer;
    let mut res = Response::new(Body::from(response.body));
    *res.status_mut() = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = res.headers_mut();
    let content_type =
        HeaderValue::from_str(&response.content_type).unwrap_or(HeaderValue::from_static("application/json"));
    headers.insert(header::CONTENT_TYPE, content_type);
    if replayed {
        headers.insert(IDEMPOTENT_REPLAYED.clone(), HeaderValue::from_static("true"));
    }
    if let Some(s) = retry_after_s
        && let Ok(v) = HeaderValue::from_str(&s.to_string())
    {
        headers.insert(header::RETRY_AFTER, v);
    }
    res
}
