//! Which failed writes go to the dead-letter queue, and putting them there.

use std::sync::Arc;

use hub_core::{CallContext, DeadLetterQueue, DlqEntry, Error, Event, NewDlqEntry, StoreError, Topic};
use time::OffsetDateTime;

use crate::dlq_payload;
use crate::hub::Hub;
use crate::operation::WriteOp;

/// The supervisor alert's summary for writes that took effect but whose answer could not
/// be read: they need reconciling with the upstream, not replaying.
pub const APPLIED_UNREADABLE: &str =
    "writes applied upstream with unreadable answers: reconcile them (audit outcome applied_unreadable)";

/// The supervisor alert's summary for dead-lettered writes.
pub const DEAD_LETTERED: &str = "writes dead-lettered";

/// Whether a failed write is kept for replay.
///
/// Yes when the hub or the upstream failed and the same request may succeed later:
/// connect errors, timeouts, broken connections, 5xx, undecodable answers, spent retry
/// budgets and deadlines, rate limiting that outlasted the retries, an open circuit,
/// and the hub's own credentials being refused (an operator fixes them, then replays).
/// No when the request itself is at fault and would fail again unchanged: the
/// upstream's 404 and 4xx rejections, and input refused before any call.
///
/// ```
/// use hub_core::{ConnectCause, Error};
/// use hub_app::dead_letter::should_dead_letter;
/// assert!(should_dead_letter(&Error::Connect(ConnectCause::Refused)));
/// assert!(!should_dead_letter(&Error::Rejected { status: 422, reason: None }));
/// ```
pub fn should_dead_letter(err: &Error) -> bool {
    match err {
        // The upstream accepted it: a replay could only do it twice.
        Error::AnswerUnreadable { .. } => false,
        // Nothing was sent and the client was told to retry with its key.
        Error::NotRecorded { .. } | Error::RateBudgetSpent { .. } => false,
        Error::NotFound | Error::Rejected { .. } | Error::InvalidInput { .. } => false,
        Error::RetryBudgetExhausted { last } | Error::DeadlineExceeded { last } => !matches!(
            **last,
            Error::NotFound | Error::Rejected { .. } | Error::InvalidInput { .. }
        ),
        _ => true,
    }
}

/// Stores the failed write durably (committed when this returns), then publishes
/// `dlq.enqueued` on a best-effort basis.
pub async fn enqueue(
    hub: &Hub,
    ctx: &CallContext,
    op: &WriteOp,
    err: &Error,
    actor: Option<&str>,
) -> Result<DlqEntry, StoreError> {
    enqueue_as(hub, ctx, op, (&err.to_string(), err.code()), actor).await
}

/// The error code of an entry whose write may have taken effect at an upstream that can
/// neither deduplicate it nor be asked: replayed only when forced.
pub const OUTCOME_UNKNOWN: &str = "outcome_unknown";

/// Why an entry is `outcome_unknown`, said after the failure that made it so.
pub const OUTCOME_UNKNOWN_REASON: &str = "it may have taken effect and the upstream can neither deduplicate it nor be \
                                          asked: check upstream, then replay with force or discard";

/// Dead-letters a write the hub lost track of: its claim lapsed (the first request's
/// holder stopped, or could not record how it ended) and its upstream can neither
/// deduplicate it nor be asked whether it took effect.
pub async fn enqueue_outcome_unknown(
    hub: &Hub,
    ctx: &CallContext,
    op: &WriteOp,
    actor: Option<&str>,
) -> Result<DlqEntry, StoreError> {
    let error = "the first request with this key may have taken effect (its claim lapsed without an outcome) \
                 and the upstream can neither deduplicate it nor be asked: check upstream, then replay with force \
                 or discard";
    enqueue_as(hub, ctx, op, (error, OUTCOME_UNKNOWN), actor).await
}

async fn enqueue_as(
    hub: &Hub,
    ctx: &CallContext,
    op: &WriteOp,
    (error, error_code): (&str, &str),
    actor: Option<&str>,
) -> Result<DlqEntry, StoreError> {
    let operation = op.operation();
    let adapter = operation.adapter();
    let entry = NewDlqEntry {
        adapter: adapter.as_str().to_owned(),
        operation: operation.as_str().to_owned(),
        payload: dlq_payload::encode(op),
        idempotency_key: ctx.idempotency_key.as_ref().map(|k| k.as_str().to_owned()),
        error: error.to_owned(),
        error_code: error_code.to_owned(),
        // Filled in by the adapter: 0 when nothing was sent (an open circuit).
        attempts: ctx.attempts.get(),
        request_id: Some(ctx.request_id.as_str().to_owned()),
        conversation_id: ctx.conversation_id.as_ref().map(|c| c.as_str().to_owned()),
        // The span the write ran in: a replay's span links to it.
        traceparent: hub.trace.current(),
    };
    let stored = hub.services.dlq.enqueue(entry, actor.map(str::to_owned)).await?;
    tracing::warn!(
        dlq_id = %stored.id,
        adapter = adapter.as_str(),
        operation = operation.as_str(),
        error_code,
        "write dead-lettered"
    );
    let event = Event {
        id: uuid::Uuid::now_v7().to_string(),
        topic: Topic::DlqEnqueued,
        at: OffsetDateTime::now_utc(),
        data: serde_json::json!({
            "dlq_id": stored.id.as_str(),
            "adapter": adapter.as_str(),
            "operation": operation.as_str(),
        }),
    };
    if let Err(e) = hub.services.events.publish(event).await {
        tracing::warn!(error = %e, "could not publish dlq.enqueued");
    }
    hub.supervisor
        .record(operation, DEAD_LETTERED, Some(stored.id.as_str()));
    refresh_pending_gauge(&hub.services.dlq);
    Ok(stored)
}

/// Sets `integration_dlq_pending` from the queue now (after an enqueue, replay or
/// discard), off the request's path; the wiring also refreshes it every few seconds.
pub fn refresh_pending_gauge(dlq: &Arc<dyn DeadLetterQueue>) {
    let dlq = Arc::clone(dlq);
    tokio::spawn(async move {
        if let Ok(n) = dlq.pending_count().await {
            // A gauge is an f64; counts this large lose nothing that matters.
            #[allow(clippy::cast_precision_loss)]
            metrics::gauge!("integration_dlq_pending").set(n as f64);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_core::ConnectCause;
    use std::time::Duration;

    #[test]
    fn the_decision_table() {
        for (err, expected) in [
            (Error::Connect(ConnectCause::Refused), true),
            (Error::Timeout, true),
            (Error::ConnectionLost, true),
            (
                Error::Upstream {
                    status: 500,
                    retry_after: None,
                },
                true,
            ),
            (Error::RateLimited { retry_after: None }, true),
            (
                Error::CircuitOpen {
                    retry_in: Duration::from_secs(1),
                },
                true,
            ),
            (Error::Unauthorized, true),
            (Error::Forbidden, true),
            (Error::Credentials { reason: "x".into() }, true),
            (Error::Decode { reason: "x".into() }, true),
            (
                Error::AnswerUnreadable {
                    status: 200,
                    reason: "x".into(),
                },
                false,
            ),
            (Error::NotRecorded { reason: "x".into() }, false),
            (
                Error::RateBudgetSpent {
                    retry_after: Duration::from_secs(2),
                },
                false,
            ),
            (
                Error::RetryBudgetExhausted {
                    last: Box::new(Error::Timeout),
                },
                true,
            ),
            (
                Error::DeadlineExceeded {
                    last: Box::new(Error::Timeout),
                },
                true,
            ),
            (
                Error::DeadlineExceeded {
                    last: Box::new(Error::NotFound),
                },
                false,
            ),
            (Error::NotFound, false),
            (
                Error::Rejected {
                    status: 409,
                    reason: None,
                },
                false,
            ),
            (
                Error::InvalidInput {
                    field: "f".into(),
                    reason: "r".into(),
                },
                false,
            ),
        ] {
            assert_eq!(should_dead_letter(&err), expected, "{err:?}");
        }
    }
}
