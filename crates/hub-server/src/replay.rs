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
