//! Replaying dead-lettered writes: a DLQ entry's operation and payload mapped back to the port call.

use std::sync::Arc;

use async_trait::async_trait;
use hub_core::{
    CallContext, CommentLookup, ConversationId, DeadLetterQueue, Delivery, DlqEntry, DlqError, DlqId, Error,
    IdempotencyKey, Operation, ReplayClaim, ReplayOutcome, TicketLookup,
};
use tracing::Instrument as _;

use crate::answer::AnswerFormat;
use crate::dead_letter::{APPLIED_UNREADABLE, OUTCOME_UNKNOWN};
use crate::dlq_payload::{self, UnreplayableError};
use crate::hub::Hub;
use crate::operation::{WriteOp, Written, resend_is_safe};
use crate::ports::Ports;

/// Why a replay did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The entry cannot be run again (unknown operation, bad payload).
    #[error(transparent)]
    Unreplayable(#[from] UnreplayableError),
    /// The upstream failed again.
    #[error(transparent)]
    Upstream(#[from] Error),
    /// The write may already have taken effect, the upstream ignores idempotency keys and
    /// cannot be asked: running it again may do it twice, so only a forced replay does.
    #[error(
        "the write's outcome is unknown and the upstream can neither deduplicate it nor be asked whether it \
         took effect; replaying it may do it twice: replay with force to accept that risk"
    )]
    OutcomeUnknown,
}

impl ReplayError {
    /// The short code recorded in the entry.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unreplayable(_) => "unreplayable",
            Self::Upstream(e) => e.code(),
            Self::OutcomeUnknown => "outcome_unknown",
        }
    }
}

/// Runs a dead-lettered write again.
///
/// `ctx` carries the entry's idempotency key, so the upstream sees the same key as the
/// first attempt and applies the write at most once.
#[async_trait]
pub trait Replayer: Send + Sync {
    /// Runs the entry's operation; on success, the body the original route would have answered.
    ///
    /// A write to an upstream that ignores keys (a comment) is first looked for upstream:
    /// found, it is not sent again and its answer is the one found; when it cannot be
    /// looked for, only `force` sends it. A ticket create is looked for too where the
    /// upstream can be asked (Zendesk, which forgets idempotency keys after some hours).
    async fn replay(&self, entry: &DlqEntry, ctx: &CallContext, force: bool) -> Result<serde_json::Value, ReplayError>;
}

/// Replays through the same ports the writes use.
#[derive(Clone)]
pub struct PortReplayer {
    ports: Ports,
    format: Arc<dyn AnswerFormat>,
}

impl PortReplayer {
    /// A replayer over `ports`, whose results are the bodies `format` writes.
    pub fn new(ports: Ports, format: Arc<dyn AnswerFormat>) -> Self {
        Self { ports, format }
    }
}

#[async_trait]
impl Replayer for PortReplayer {
    async fn replay(&self, entry: &DlqEntry, ctx: &CallContext, force: bool) -> Result<serde_json::Value, ReplayError> {
        let op = dlq_payload::decode(&entry.failure.operation, &entry.failure.payload)?;
        if matches!(op, WriteOp::Commit(_)) && ctx.idempotency_key.is_none() {
            return Err(UnreplayableError::MissingKey.into());
        }
        let unknown = entry.failure.error_code == OUTCOME_UNKNOWN;
        if let WriteOp::AddComment { ticket_id, .. } = &op {
            match self.ports.ticketing.find_comment(ctx, ticket_id).await? {
                CommentLookup::Found(found) => {
                    tracing::info!(dlq_id = %entry.id, "the dead-lettered comment was found upstream; not sent again");
                    return Ok(self.format.body(&Written::Comment(found)));
                }
                CommentLookup::Uncheckable if !force => return Err(ReplayError::OutcomeUnknown),
                CommentLookup::Absent | CommentLookup::KeyHonoured | CommentLookup::Uncheckable => {}
            }
        } else if let WriteOp::CreateTicket(_) = &op {
            match self.ports.ticketing.find_ticket(ctx).await? {
                TicketLookup::Found(found) => {
                    tracing::info!(dlq_id = %entry.id, ticket_id = %found.ticket_id, "the dead-lettered ticket was found upstream; not created again");
                    return Ok(self.format.body(&Written::Ticket(found)));
                }
                TicketLookup::Uncheckable if unknown && !force => return Err(ReplayError::OutcomeUnknown),
                TicketLookup::Absent | TicketLookup::Uncheckable => {}
            }
        } else if unknown && !force {
            return Err(ReplayError::OutcomeUnknown);
        }
        let written = op.call(&self.ports, ctx).await?;
        Ok(self.format.body(&written))
    }
}

/// How a claimed replay ended.
#[derive(Debug)]
pub enum Replayed {
    /// It succeeded: the entry, now `replayed`, holds the result.
    Done(Box<DlqEntry>),
    /// It failed again (the entry stays `pending` with the new error and attempts), or
    /// the entry cannot be replayed.
    Failed {
        /// Why.
        error: ReplayError,
        /// The entry's adapter.
        adapter: String,
        /// The entry's operation.
        operation: String,
    },
}

impl Hub {
    /// Claims entry `id` for `actor`, runs it again with its own idempotency key and
    /// conversation (filled into `ctx` when missing), and records the outcome — the one
    /// replay flow of the API, the supervisor's page and the command line. `force`
    /// sends a write whose earlier outcome cannot be checked (see [`Replayer::replay`]).
    ///
    /// It runs in a `replay` use case span, linked to the span the write failed in when
    /// the entry kept its trace context ([`hub_core::NewDlqEntry::traceparent`]).
    pub async fn replay(&self, id: &DlqId, actor: &str, ctx: CallContext, force: bool) -> Result<Replayed, DlqError> {
        let replayed = replay_entry(self, id, actor, ctx, force)
            .instrument(crate::spans::replay(id.as_str()))
            .await;
        crate::dead_letter::refresh_pending_gauge(&self.services.dlq);
        replayed
    }
}

async fn replay_entry(
    hub: &Hub,
    id: &DlqId,
    actor: &str,
    mut ctx: CallContext,
    force: bool,
) -> Result<Replayed, DlqError> {
    let dlq = &hub.services.dlq;
    let claim = dlq.claim_replay(id, actor, hub.settings.replay_lease).await?;
    let failure = &claim.entry.failure;
    if let Some(original) = &failure.traceparent {
        follow(hub, original);
    }
    if ctx.conversation_id.is_none()
        && let Some(c) = failure
            .conversation_id
            .as_deref()
            .and_then(|c| ConversationId::parse(c).ok())
    {
        ctx = ctx.with_conversation_id(c);
    }
    if let Some(k) = failure
        .idempotency_key
        .as_deref()
        .and_then(|k| IdempotencyKey::parse(k).ok())
    {
        ctx = ctx.with_idempotency_key(k);
    }
    // The claim outlives a long replay: renewed at a third of the lease while the write
    // runs, so no second replay can take the entry meanwhile.
    let lease = hub.settings.replay_lease;
    let replay = hub.replayer.replay(&claim.entry, &ctx, force);
    tokio::pin!(replay);
    let outcome = loop {
        tokio::select! {
            outcome = &mut replay => break outcome,
            () = tokio::time::sleep(lease / 3) => {
                if let Err(e) = dlq.renew_replay(&claim, lease).await {
                    tracing::warn!(dlq_id = %id, error = %e, "could not renew a replay's claim");
                }
            }
        }
    };
    match outcome {
        Ok(result) => {
            let entry = finish(dlq.as_ref(), &claim, ReplayOutcome::Succeeded { result }).await?;
            tracing::info!(dlq_id = %id, actor, "dead-letter entry replayed");
            Ok(Replayed::Done(Box::new(entry)))
        }
        Err(ReplayError::Upstream(err)) if err.delivery() == Delivery::Applied => {
            // The upstream did it again-or-for-the-first-time; only its answer is
            // unusable. The entry is settled (a second replay could only repeat it) and
            // its result says what a person must reconcile.
            let result = serde_json::json!({
                "applied": true,
                "answer_unreadable": err.to_string(),
            });
            let entry = finish(dlq.as_ref(), &claim, ReplayOutcome::Succeeded { result }).await?;
            tracing::error!(dlq_id = %id, actor, error = %err, "dead-letter replay took effect but its answer could not be read; reconcile it");
            if let Some(operation) = Operation::parse(&failure.operation) {
                hub.supervisor.record(operation, APPLIED_UNREADABLE, Some(id.as_str()));
            }
            Ok(Replayed::Done(Box::new(entry)))
        }
        Err(err) => {
            let (mut error, mut error_code, attempts) = match &err {
                ReplayError::Upstream(_) => (err.to_string(), err.code(), ctx.attempts.get()),
                ReplayError::Unreplayable(_) | ReplayError::OutcomeUnknown => (err.to_string(), err.code(), 0),
            };
            if landed_where_unsafe(hub, &err, failure) {
                // This replay may have taken effect where a resend could do it twice:
                // from now on the entry is replayed only when forced, as on the write path.
                error = format!("{err}; {}", crate::dead_letter::OUTCOME_UNKNOWN_REASON);
                error_code = OUTCOME_UNKNOWN;
            }
            let outcome = ReplayOutcome::Failed {
                error,
                error_code: error_code.to_owned(),
                attempts,
            };
            tracing::warn!(dlq_id = %id, actor, error = %err, "dead-letter replay failed");
            finish(dlq.as_ref(), &claim, outcome).await?;
            Ok(Replayed::Failed {
                error: err,
                adapter: failure.adapter.clone(),
                operation: failure.operation.clone(),
            })
        }
    }
}

/// Links the replay's span to `original`, the span its write failed in, and names that
/// span's trace on it (neither when the span is off: tracing off, or not sampled).
fn follow(hub: &Hub, original: &hub_core::TraceParent) {
    tracing::Span::current().record(
        "hub.replay.original_trace_id",
        tracing::field::display(original.trace_id()),
    );
    hub.trace.link_current(original);
}

/// Whether a replay that failed with `err` may have taken effect at an upstream that can
/// neither deduplicate a resend nor be asked whether it landed.
///
/// The stored operation's name decides it, so the payload the replayer decoded is not
/// decoded again (an upstream failure means it did decode).
fn landed_where_unsafe(hub: &Hub, err: &ReplayError, failure: &hub_core::NewDlqEntry) -> bool {
    let ReplayError::Upstream(e) = err else {
        return false;
    };
    e.delivery() == Delivery::Unknown
        && Operation::parse(&failure.operation).is_some_and(|op| !resend_is_safe(op, &hub.ports))
}

/// Pauses before retrying to record a replay's outcome: a database blip must not leave a
/// replay that took effect `pending` (it would be replayed again).
const FINISH_RETRY_DELAYS: [std::time::Duration; 3] = [
    std::time::Duration::from_millis(50),
    std::time::Duration::from_millis(250),
    std::time::Duration::from_millis(1000),
];

/// Records a replay's outcome, retrying a store that is briefly unavailable.
async fn finish(dlq: &dyn DeadLetterQueue, claim: &ReplayClaim, outcome: ReplayOutcome) -> Result<DlqEntry, DlqError> {
    let mut delays = FINISH_RETRY_DELAYS.iter();
    loop {
        match dlq.finish_replay(claim, outcome.clone()).await {
            Err(DlqError::Store(e)) if e.is_transient() => match delays.next() {
                Some(delay) => tokio::time::sleep(*delay).await,
                None => return Err(DlqError::Store(e)),
            },
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests;
