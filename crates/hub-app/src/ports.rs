//! The ports the use cases run over, grouped: the upstreams, and the hub's own services.

use std::sync::Arc;

use async_trait::async_trait;
use hub_core::{
    Adapter, AuditLog, CallContext, CancelResult, CommitResult, CreatedComment, CreatedTicket, CustomerId,
    DeadLetterQueue, Draft, DraftId, Error, EventPublisher, Fetched, HistoryLimit, IdempotencyKey, IdempotencyStore,
    NewComment, NewDraft, NewTicket, Ticket, TicketId, TicketingPort, Transaction, TransactionCreatePort,
    TransactionId, TransactionStatusPort,
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

impl Default for Ports {
    /// No upstream configured: every call is refused unsent ([`Absent`]).
    fn default() -> Self {
        Self {
            ticketing: Arc::new(Absent(Adapter::Ticketing)),
            transaction_status: Arc::new(Absent(Adapter::TransactionStatus)),
            transaction_create: Arc::new(Absent(Adapter::TransactionCreate)),
        }
    }
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

/// An upstream this hub was composed without: every call is refused before anything is
/// sent, naming the adapter (never dead-lettered, never retried).
#[derive(Debug, Clone, Copy)]
pub struct Absent(pub Adapter);

impl Absent {
    fn refuse<T>(&self) -> Result<T, Error> {
        Err(Error::InvalidInput {
            field: self.0.as_str().to_owned(),
            reason: "this hub has no such upstream configured".to_owned(),
        })
    }
}

#[async_trait]
impl TicketingPort for Absent {
    async fn create_ticket(&self, _: &CallContext, _: &NewTicket) -> Result<CreatedTicket, Error> {
        self.refuse()
    }
    async fn get_ticket_status(&self, _: &CallContext, _: &TicketId) -> Result<Fetched<Ticket>, Error> {
        self.refuse()
    }
    async fn add_comment(&self, _: &CallContext, _: &TicketId, _: &NewComment) -> Result<CreatedComment, Error> {
        self.refuse()
    }
}

#[async_trait]
impl TransactionStatusPort for Absent {
    async fn get_transaction_status(&self, _: &CallContext, _: &TransactionId) -> Result<Fetched<Transaction>, Error> {
        self.refuse()
    }
    async fn get_transaction_history(
        &self,
        _: &CallContext,
        _: &CustomerId,
        _: HistoryLimit,
    ) -> Result<Fetched<Vec<Transaction>>, Error> {
        self.refuse()
    }
}

#[async_trait]
impl TransactionCreatePort for Absent {
    async fn create_draft_transaction(&self, _: &CallContext, _: &NewDraft) -> Result<Draft, Error> {
        self.refuse()
    }
    async fn commit_transaction(
        &self,
        _: &CallContext,
        _: &DraftId,
        _: &IdempotencyKey,
    ) -> Result<CommitResult, Error> {
        self.refuse()
    }
    async fn cancel_draft(&self, _: &CallContext, _: &DraftId) -> Result<CancelResult, Error> {
        self.refuse()
    }
}
