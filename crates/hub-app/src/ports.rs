//! The ports the use cases run over, grouped: the upstreams, and the hub's own services.

use std::sync::Arc;

use hub_core::{
    AuditLog, DeadLetterQueue, EventPublisher, IdempotencyStore, TicketingPort, TransactionCreatePort,
    TransactionStatusPort,
};

/// The three upstream ports.
#[derive(Clone)]
pub struct Ports {
    /// Tickets (generic, Zendesk or Jira).
    pub ticketing: Arc<dyn TicketingPort>,
    /// Transaction reads.
    pub transaction_status: Arc<dyn TransactionStatusPort>,
    /// Drafts, commits and cancels.
    pub transaction_create: Arc<dyn TransactionCreatePort>,
}

/// The hub's own services.
#[derive(Clone)]
pub struct Services {
    /// Idempotency keys and their answers.
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// Failed writes.
    pub dlq: Arc<dyn DeadLetterQueue>,
    /// The audit trail.
    pub audit: Arc<dyn AuditLog>,
    /// Live events (`dlq.enqueued`, webhooks).
    pub events: Arc<dyn EventPublisher>,
}
