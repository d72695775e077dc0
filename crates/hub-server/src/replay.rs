//! Replaying dead-lettered writes: a DLQ entry's operation and payload mapped back to the port call.

use async_trait::async_trait;
use hub_core::{CallContext, DlqEntry, Error};

use crate::operations::{UnreplayableError, WriteOp};
use crate::state::Ports;

/// Why a replay did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The entry cannot be run again (unknown operation, bad payload).
    #[error(transparent)]
    Unreplayable(#[from] UnreplayableError),
    /// The upstream failed again.
    #[error(transparent)]
    Upstream(#[from] Error),
}

/// Runs a dead-lettered write again.
///
/// `ctx` carries the entry's idempotency key, so the upstream sees the same key as the
/// first attempt and applies the write at most once.
#[async_trait]
pub trait Replayer: Send + Sync {
    /// Runs the entry's operation; on success, the body the original route would have answered.
    async fn replay(&self, entry: &DlqEntry, ctx: &CallContext) -> Result<serde_json::Value, ReplayError>;
}

/// Replays through the same ports the API uses.
#[derive(Clone)]
pub struct PortReplayer {
    ports: Ports,
}

impl PortReplayer {
    /// A replayer over `ports`.
    pub fn new(ports: Ports) -> Self {
        Self { ports }
    }
}

#[async_trait]
impl Replayer for PortReplayer {
    async fn replay(&self, entry: &DlqEntry, ctx: &CallContext) -> Result<serde_json::Value, ReplayError> {
        let op = WriteOp::from_entry(&entry.failure.operation, &entry.failure.payload)?;
        if matches!(op, WriteOp::Commit(_)) && ctx.idempotency_key.is_none() {
            return Err(UnreplayableError::MissingKey.into());
        }
        let (_, body) = op.call(&self.ports, ctx).await?;
        Ok(body)
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

/// Claims entry `id` for `actor`, runs it again with its own idempotency key and
/// conversation (filled into `ctx` when missing), and records the outcome — the one
/// replay flow of the API route and of the command line.
pub async fn replay_entry(
    state: &crate::state::AppState,
    id: &hub_core::DlqId,
    actor: &str,
    mut ctx: CallContext,
) -> Result<Replayed, hub_core::DlqError> {
    let dlq = &state.services.dlq;
    let claim = dlq.claim_replay(id, actor, state.settings.replay_lease).await?;
    let failure = &claim.entry.failure;
    if ctx.conversation_id.is_none()
        && let Some(c) = failure
            .conversation_id
            .as_deref()
            .and_then(|c| hub_core::ConversationId::parse(c).ok())
    {
        ctx = ctx.with_conversation_id(c);
    }
    if let Some(k) = failure
        .idempotency_key
        .as_deref()
        .and_then(|k| hub_core::IdempotencyKey::parse(k).ok())
    {
        ctx = ctx.with_idempotency_key(k);
    }
    match state.replayer.replay(&claim.entry, &ctx).await {
        Ok(result) => {
            let entry = dlq
                .finish_replay(&claim, hub_core::ReplayOutcome::Succeeded { result })
                .await?;
            tracing::info!(dlq_id = %id, actor, "dead-letter entry replayed");
            Ok(Replayed::Done(Box::new(entry)))
        }
        Err(ReplayError::Upstream(err)) if err.delivery() == hub_core::Delivery::Applied => {
            // The upstream did it again-or-for-the-first-time; only its answer is
            // unusable. The entry is settled (a second replay could only repeat it) and
            // its result says what a person must reconcile.
            let result = serde_json::json!({
                "applied": true,
                "answer_unreadable": err.to_string(),
            });
            let entry = dlq
                .finish_replay(&claim, hub_core::ReplayOutcome::Succeeded { result })
                .await?;
            tracing::error!(dlq_id = %id, actor, error = %err, "dead-letter replay took effect but its answer could not be read; reconcile it");
            state.supervisor.record(
                &failure.adapter,
                &failure.operation,
                crate::dead_letter::APPLIED_UNREADABLE,
                Some(id.as_str()),
            );
            Ok(Replayed::Done(Box::new(entry)))
        }
        Err(err) => {
            let (error_code, attempts) = match &err {
                ReplayError::Upstream(e) => (e.code(), ctx.attempts.get()),
                ReplayError::Unreplayable(_) => ("unreplayable", 0),
            };
            let outcome = hub_core::ReplayOutcome::Failed {
                error: err.to_string(),
                error_code: error_code.to_owned(),
                attempts,
            };
            tracing::warn!(dlq_id = %id, actor, error = %err, "dead-letter replay failed");
            dlq.finish_replay(&claim, outcome).await?;
            Ok(Replayed::Failed {
                error: err,
                adapter: failure.adapter.clone(),
                operation: failure.operation.clone(),
            })
        }
    }
}
