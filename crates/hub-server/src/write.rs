//! One write, start to finish: claim the idempotency key, call the port, dead-letter a
//! failure, store the answer for replays, answer.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hub_core::{Claim, ClaimToken, CommentLookup, Delivery, Fingerprint, IdempotencyKey, StoredResponse};

use crate::auth::Principal;
use crate::correlation::Correlation;
use crate::dead_letter;
use crate::idempotency::{IDEMPOTENT_REPLAYED, KeySource, for_caller};
use crate::operations::WriteOp;
use crate::problem::{PROBLEM_JSON, Problem, ProblemCode};
use crate::state::AppState;

/// What becomes of the idempotency claim once the write is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disposition {
    /// Store the answer: replays get it again.
    Complete,
    /// Forget the claim: the write provably did nothing, the key may be used again.
    Release,
    /// Leave the claim to lapse: the outcome is unknown and nothing durable records it.
    Leave,
}

struct Answer {
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
    retry_after: Option<u64>,
    disposition: Disposition,
    /// A stored response answered again (content type kept as stored).
    replay: Option<StoredResponse>,
}

impl Answer {
    fn json(status: StatusCode, body: &serde_json::Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: Bytes::from(serde_json::to_vec(body).unwrap_or_default()),
            retry_after: None,
            disposition: Disposition::Complete,
            replay: None,
        }
    }

    fn replayed(stored: StoredResponse) -> Self {
        Self {
            status: StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK),
            content_type: "application/json",
            body: stored.body.clone(),
            retry_after: None,
            disposition: Disposition::Leave,
            replay: Some(stored),
        }
    }

    fn problem(p: &Problem, disposition: Disposition) -> Self {
        Self {
            status: p.http_status(),
            content_type: PROBLEM_JSON,
            body: Bytes::from(p.body()),
            retry_after: p.retry_after_s,
            disposition,
            replay: None,
        }
    }

    fn into_response(self) -> Response {
        let mut res = Response::new(Body::from(self.body));
        *res.status_mut() = self.status;
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        if let Some(stored) = &self.replay {
            if let Ok(v) = HeaderValue::from_str(&stored.content_type) {
                res.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            res.headers_mut()
                .insert(IDEMPOTENT_REPLAYED.clone(), HeaderValue::from_static("true"));
        }
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}

/// Runs `op` as one idempotent write and answers.
///
/// The write runs in its own task, so a client that disconnects mid-write cannot cut it
/// short between the upstream call and the dead-letter queue or the idempotency record.
pub async fn execute(
    state: &AppState,
    corr: &Correlation,
    principal: Option<&Principal>,
    key: KeySource,
    fingerprint: Fingerprint,
    op: WriteOp,
) -> Response {
    // Write tasks outlive clients that hang up, so they are counted: beyond the cap, a
    // write is refused before anything is claimed, recorded or sent.
    let Ok(slot) = state.write_slots.clone().try_acquire_owned() else {
        metrics::counter!("integration_writes_refused_total").increment(1);
        let mut p = Problem::new(
            ProblemCode::Overloaded,
            "the hub is running as many writes as it allows; nothing was sent, retry with the same Idempotency-Key",
        )
        .with_request_id(corr.request_id.as_str());
        p.retry_after_s = Some(1);
        return p.into_response();
    };
    let (state, corr, principal) = (state.clone(), corr.clone(), principal.cloned());
    let rid = corr.request_id.clone();
    let task = tokio::spawn(async move {
        let answer = run(&state, &corr, principal.as_ref(), key, fingerprint, op).await;
        drop(slot);
        answer
    });
    match task.await {
        Ok(answer) => answer.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "the write task failed");
            Problem::new(ProblemCode::Internal, "the write could not be completed")
                .with_request_id(rid.as_str())
                .into_response()
        }
    }
}

async fn run(
    state: &AppState,
    corr: &Correlation,
    principal: Option<&Principal>,
    key: KeySource,
    fingerprint: Fingerprint,
    op: WriteOp,
) -> Answer {
    let rid = corr.request_id.as_str();
    let ctx = corr.call_context().with_idempotency_key(key.key().clone());
    let store = &state.services.idempotency;
    // A key is bound to its caller: another caller's use of it is a mismatch.
    let fingerprint = for_caller(&fingerprint, principal.map(|p| p.name.as_str()));
    let mut held: Option<(&IdempotencyKey, ClaimToken)> = None;
    let mut earlier = None;
    if let KeySource::Client(k) = &key {
        match store.claim(k, &fingerprint, state.settings.idempotency_lease).await {
            Err(e) => {
                // Nothing was sent: the client retries with the same key.
                let mut p = Problem::store("idempotency", &e).with_request_id(rid);
                p.retry_after_s = Some(crate::problem::STORE_RETRY_AFTER_S);
                return Answer::problem(&p, Disposition::Leave);
            }
            Ok(Claim::InFlight) => {
                let p = Problem::new(
                    ProblemCode::IdempotencyInFlight,
                    "a request with this Idempotency-Key is still running; retry later",
                );
                return Answer::problem(&p.with_request_id(rid), Disposition::Leave);
            }
            Ok(Claim::Mismatch) => {
                let p = Problem::new(
                    ProblemCode::IdempotencyMismatch,
                    "this Idempotency-Key was used for a different request (caller, route, ids or body)",
                );
                return Answer::problem(&p.with_request_id(rid), Disposition::Leave);
            }
            Ok(Claim::Completed(stored)) => {
                metrics::counter!("integration_idempotent_replays_total",
                    "adapter" => op.adapter(), "operation" => op.operation())
                .increment(1);
                return follow_dead_letter(state, &op, stored).await;
            }
            Ok(Claim::Acquired(token)) => held = Some((k, token)),
            Ok(Claim::TakenOver(token)) => {
                held = Some((k, token));
                earlier = Some(after_takeover(state, &ctx, &op, principal, rid).await);
            }
        }
    }

    let answer = match earlier {
        // The earlier request's outcome decided the answer: nothing is sent.
        Some(Some(answer)) => answer,
        Some(None) | None => perform(state, &ctx, &op, principal, rid).await,
    };

    if let Some((k, token)) = held {
        record_outcome(store.as_ref(), k, &token, &answer).await;
    }
    answer
}

/// A key's stored answer, or — when that answer dead-lettered the write — what became of
/// the entry since: still pending, the stored failure without its invitation to retry
/// (no `Retry-After`, no `retry_after_s`: the supervisor holds the write); replayed, the
/// replay's result as the route answers success; discarded, 409 `dlq_conflict` with the
/// supervisor's reason. Always `Idempotent-Replayed`.
async fn follow_dead_letter(state: &AppState, op: &WriteOp, stored: StoredResponse) -> Answer {
    let dlq_id = serde_json::from_slice::<serde_json::Value>(&stored.body)
        .ok()
        .and_then(|v| v.get("dlq_id").and_then(serde_json::Value::as_str).map(str::to_owned))
        .and_then(|id| hub_core::DlqId::parse(&id).ok());
    let Some(id) = dlq_id else {
        return Answer::replayed(stored);
    };
    // The entry is gone (pruned) or the store cannot say: the stored answer stands.
    let Ok(Some(entry)) = state.services.dlq.get(&id).await else {
        return Answer::replayed(stored);
    };
    match entry.status {
        hub_core::DlqStatus::Pending => {
            // The stored answer as it was, less any invitation to retry (a circuit's
            // `retry_after_s`): the supervisor holds the write now.
            let mut body: serde_json::Value = serde_json::from_slice(&stored.body).unwrap_or_default();
            let invited = body.as_object_mut().and_then(|m| m.remove("retry_after_s")).is_some();
            let stored = if invited {
                StoredResponse {
                    body: Bytes::from(serde_json::to_vec(&body).unwrap_or_default()),
                    ..stored
                }
            } else {
                stored
            };
            Answer::replayed(stored)
        }
        hub_core::DlqStatus::Replayed => {
            let status = op.success_status().as_u16();
            Answer::replayed(StoredResponse {
                status,
                content_type: "application/json".to_owned(),
                body: Bytes::from(serde_json::to_vec(&entry.result.unwrap_or_default()).unwrap_or_default()),
            })
        }
        hub_core::DlqStatus::Discarded => {
            let reason = entry.reason.unwrap_or_else(|| "no reason given".to_owned());
            let mut p = Problem::new(
                ProblemCode::DlqConflict,
                format!("the write was dead-lettered and the supervisor discarded it: {reason}"),
            )
            .with_dlq_id(&id);
            name_the_write(&mut p, op);
            let mut answer = Answer::problem(&p, Disposition::Leave);
            answer.replay = Some(StoredResponse {
                status: answer.status.as_u16(),
                content_type: PROBLEM_JSON.to_owned(),
                body: answer.body.clone(),
            });
            answer
        }
    }
}

/// Pauses between attempts to record a claim's outcome: a database blip must not leave
/// a finished write's key in flight (its lease would lapse into a takeover).
const RECORD_RETRY_DELAYS: [std::time::Duration; 3] = [
    std::time::Duration::from_millis(50),
    std::time::Duration::from_millis(250),
    std::time::Duration::from_millis(1000),
];

/// Completes or releases the claim `token` of `key` as `answer` says, retrying a store
/// that is briefly unavailable; a holder whose claim was taken over records nothing.
async fn record_outcome(
    store: &dyn hub_core::IdempotencyStore,
    key: &IdempotencyKey,
    token: &ClaimToken,
    answer: &Answer,
) {
    let stored = StoredResponse {
        status: answer.status.as_u16(),
        content_type: answer.content_type.to_owned(),
        body: answer.body.clone(),
    };
    let mut delays = RECORD_RETRY_DELAYS.iter();
    loop {
        let outcome = match answer.disposition {
            Disposition::Complete => store.complete(key, token, &stored).await,
            Disposition::Release => store.release(key, token).await,
            Disposition::Leave => Ok(()),
        };
        match outcome {
            Ok(()) => return,
            Err(e) if e.is_transient() => {
                if let Some(delay) = delays.next() {
                    tokio::time::sleep(*delay).await;
                    continue;
                }
                // The key stays in flight until its lease lapses; the next claim is then a
                // takeover, which finds out what this write did before sending anything.
                metrics::counter!("integration_idempotency_record_failures_total").increment(1);
                tracing::error!(error = %e, "could not record the idempotency outcome");
                return;
            }
            Err(e) => {
                metrics::counter!("integration_idempotency_record_failures_total").increment(1);
                tracing::error!(error = %e, "could not record the idempotency outcome");
                return;
            }
        }
    }
}

/// After taking over a lapsed claim: the first request may have taken effect. Keyed
/// upstreams deduplicate a resend (`None`: send). A comment is looked for upstream:
/// found, it is the answer; absent, it is sent. Where nothing can be checked, nothing is
/// sent: the write goes to the supervisor as `outcome_unknown`.
async fn after_takeover(
    state: &AppState,
    ctx: &hub_core::CallContext,
    op: &WriteOp,
    principal: Option<&Principal>,
    rid: &str,
) -> Option<Answer> {
    metrics::counter!("integration_idempotency_takeovers_total",
        "adapter" => op.adapter(), "operation" => op.operation())
    .increment(1);
    let safe = match op {
        WriteOp::AddComment(c) => match state.ports.ticketing.find_comment(ctx, &c.ticket_id).await {
            Ok(CommentLookup::Found(found)) => {
                let body = serde_json::to_value(crate::wire::CommentBody::from(found)).unwrap_or_default();
                return Some(Answer::json(StatusCode::CREATED, &body));
            }
            Ok(CommentLookup::Absent | CommentLookup::KeyHonoured) => true,
            Ok(CommentLookup::Uncheckable) => false,
            Err(e) => {
                // Cannot look now: answer the failure and leave the claim to lapse again.
                let p = Problem::upstream(&e, op.adapter(), op.operation()).with_request_id(rid);
                return Some(Answer::problem(&p, Disposition::Leave));
            }
        },
        other => dead_letter::resend_is_safe(other, &state.ports),
    };
    if safe {
        return None;
    }
    let actor = principal.map(|p| p.name.as_str());
    Some(
        match dead_letter::enqueue_outcome_unknown(state, ctx, op, actor).await {
            Ok(entry) => {
                let mut p = Problem::new(
                    ProblemCode::IdempotencyInFlight,
                    "the first request with this Idempotency-Key may have taken effect and the upstream can neither \
                 deduplicate it nor be asked; nothing was sent again: it awaits the supervisor (see dlq_id)",
                )
                .with_request_id(rid)
                .with_dlq_id(&entry.id);
                name_the_write(&mut p, op);
                Answer::problem(&p, Disposition::Complete)
            }
            Err(e) => Answer::problem(&Problem::store("dlq", &e).with_request_id(rid), Disposition::Leave),
        },
    )
}

async fn perform(
    state: &AppState,
    ctx: &hub_core::CallContext,
    op: &WriteOp,
    principal: Option<&Principal>,
    rid: &str,
) -> Answer {
    let err = match op.call(&state.ports, ctx).await {
        Ok((status, body)) => return Answer::json(status, &body),
        Err(err) => err,
    };
    let problem = Problem::upstream(&err, op.adapter(), op.operation()).with_request_id(rid);
    if err.delivery() == Delivery::Applied {
        // The upstream did it; only its answer is unusable. Never sent again, never
        // dead-lettered: the answer is kept for the key, and a person reconciles it.
        tracing::error!(
            adapter = op.adapter(),
            operation = op.operation(),
            request_id = rid,
            error = %err,
            "a write took effect but its answer could not be read; reconcile it with the upstream"
        );
        state
            .supervisor
            .record(op.adapter(), op.operation(), dead_letter::APPLIED_UNREADABLE, None);
        return Answer::problem(&problem, Disposition::Complete);
    }
    if dead_letter::should_dead_letter(&err) {
        let actor = principal.map(|p| p.name.as_str());
        // A write that may have landed at an upstream that would not deduplicate a
        // resend, and that cannot be checked: its replay must be forced.
        let unknown = err.delivery() == Delivery::Unknown && !dead_letter::resend_is_safe(op, &state.ports);
        let stored = if unknown {
            dead_letter::enqueue_outcome_unknown(state, ctx, op, actor).await
        } else {
            dead_letter::enqueue(state, ctx, op, &err, actor).await
        };
        return match stored {
            Ok(entry) => Answer::problem(&problem.with_dlq_id(&entry.id), Disposition::Complete),
            Err(store_err) => {
                tracing::error!(error = %store_err, error_code = err.code(), "a failed write could not be dead-lettered");
                let mut p = Problem::new(
                    ProblemCode::StoreUnavailable,
                    format!(
                        "the write failed ({}) and could not be kept for replay; retry it with the same Idempotency-Key",
                        err.code()
                    ),
                )
                .with_request_id(rid);
                name_the_write(&mut p, op);
                Answer::problem(&p, Disposition::Leave)
            }
        };
    }
    let disposition = if err.delivery() == Delivery::NotSent {
        Disposition::Release
    } else {
        Disposition::Complete
    };
    Answer::problem(&problem, disposition)
}

/// Names the write's adapter and operation in a problem about it.
fn name_the_write(p: &mut Problem, op: &WriteOp) {
    p.adapter = Some(op.adapter().to_owned());
    p.operation = Some(op.operation().to_owned());
}
