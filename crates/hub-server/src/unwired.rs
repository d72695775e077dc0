//! Stand-ins for the adapters and stores until the composition wires the real ones:
//! every upstream call fails as unreachable and every store as unavailable, so the
//! server runs, answers honestly and reports itself not ready.

use std::time::Duration;

use async_trait::async_trait;
use hub_core::{
    AuditLog, AuditQuery, AuditRecord, CallContext, CancelResult, Claim, CommitResult, ConnectCause, CreatedComment,
    CreatedTicket, CustomerId, DeadLetterQueue, DlqEntry, DlqError, DlqFilter, DlqId, Draft, DraftId, Error, Event,
    EventPublisher, EventStream, Fetched, Fingerprint, HistoryLimit, IdempotencyKey, IdempotencyStore, NewComment,
    NewDlqEntry, NewDraft, NewTicket, Page, ReplayClaim, ReplayOutcome, StoreError, StoredResponse, Ticket, TicketId,
    TicketingPort, Transaction, TransactionCreatePort, TransactionId, TransactionStatusPort,
};

/// Implements every port, failing each call.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unwired;

fn upstream() -> Error {
    Error::Connect(ConnectCause::Other)
}

fn store() -> StoreError {
    StoreError::Unavailable {
        reason: "not wired in this build".to_owned(),
    }
}

#[async_trait]
impl TicketingPort for Unwired {
    async fn create_ticket(&self, _: &CallContext, _: &NewTicket) -> Result<CreatedTicket, Error> {
        Err(upstream())
    }
    async fn get_ticket_status(&self, _: &CallContext, _: &TicketId) -> Result<Fetched<Ticket>, Error> {
        Err(upstream())
    }
    async fn add_comment(&self, _: &CallContext, _: &TicketId, _: &NewComment) -> Result<CreatedComment, Error> {
        Err(upstream())
    }
}

#[async_trait]
impl TransactionStatusPort for Unwired {
    async fn get_transaction_status(&self, _: &CallContext, _: &TransactionId) -> Result<Fetched<Transaction>, Error> {
        Err(upstream())
    }
    async fn get_transaction_history(
        &self,
        _: &CallContext,
        _: &CustomerId,
        _: HistoryLimit,
    ) -> Result<Fetched<Vec<Transaction>>, Error> {
        Err(upstream())
    }
}

#[async_trait]
impl TransactionCreatePort for Unwired {
    async fn create_draft_transaction(&self, _: &CallContext, _: &NewDraft) -> Result<Draft, Error> {
        Err(upstream())
    }
    async fn commit_transaction(
        &self,
        _: &CallContext,
        _: &DraftId,
        _: &IdempotencyKey,
    ) -> Result<CommitResult, Error> {
        Err(upstream())
    }
    async fn cancel_draft(&self, _: &CallContext, _: &DraftId) -> Result<CancelResult, Error> {
        Err(upstream())
    }
}

#[async_trait]
impl IdempotencyStore for Unwired {
    async fn claim(&self, _: &IdempotencyKey, _: &Fingerprint, _: Duration) -> Result<Claim, StoreError> {
        Err(store())
    }
    async fn complete(&self, _: &IdempotencyKey, _: &StoredResponse) -> Result<(), StoreError> {
        Err(store())
    }
    async fn release(&self, _: &IdempotencyKey) -> Result<(), StoreError> {
        Err(store())
    }
    async fn sweep(&self) -> Result<u64, StoreError> {
        Err(store())
    }
}

#[async_trait]
impl DeadLetterQueue for Unwired {
    async fn enqueue(&self, _: NewDlqEntry, _: Option<String>) -> Result<DlqEntry, StoreError> {
        Err(store())
    }
    async fn get(&self, _: &DlqId) -> Result<Option<DlqEntry>, StoreError> {
        Err(store())
    }
    async fn list(&self, _: &DlqFilter) -> Result<Page<DlqEntry>, StoreError> {
        Err(store())
    }
    async fn claim_replay(&self, _: &DlqId, _: &str, _: Duration) -> Result<ReplayClaim, DlqError> {
        Err(store().into())
    }
    async fn finish_replay(&self, _: &ReplayClaim, _: ReplayOutcome) -> Result<DlqEntry, DlqError> {
        Err(store().into())
    }
    async fn discard(&self, _: &DlqId, _: &str, _: Option<String>) -> Result<DlqEntry, DlqError> {
        Err(store().into())
    }
    async fn pending_count(&self) -> Result<u64, StoreError> {
        Err(store())
    }
}

#[async_trait]
impl AuditLog for Unwired {
    async fn record(&self, _: AuditRecord) -> Result<(), StoreError> {
        Err(store())
    }
    async fn query(&self, _: &AuditQuery) -> Result<Page<AuditRecord>, StoreError> {
        Err(store())
    }
}

#[async_trait]
impl EventPublisher for Unwired {
    async fn publish(&self, _: Event) -> Result<(), StoreError> {
        Ok(())
    }
    fn subscribe(&self) -> EventStream {
        Box::pin(futures_util::stream::empty())
    }
}
