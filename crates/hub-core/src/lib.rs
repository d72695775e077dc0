//! Integration Hub's domain: validated types, the error taxonomy and the port traits.
//!
//! This crate does no I/O. Adapters (`hub-ticketing`, `hub-transactions`) implement
//! the upstream ports; stores (`hub-store`) implement the service ports; the server
//! composes them as `Arc<dyn Port>`.

pub mod clock;
pub mod context;
pub mod error;
pub mod fingerprint;
pub mod id;
pub mod money;
pub mod names;
pub mod ports;
pub mod redact;
pub mod store_error;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod ticket;
pub mod trace;
pub mod transaction;

pub use clock::Clock;
pub use context::{AttemptCount, CallContext, ConversationId, IdempotencyKey, RequestId, TokenError};
pub use error::{Classification, ConnectCause, Delivery, Error};
pub use id::{CommentId, CustomerId, DlqId, DraftId, IdError, TicketId, TransactionId};
pub use money::{Amount, Currency, Money, MoneyError};
pub use names::{Adapter, Operation};
pub use ports::Page;
pub use ports::audit::{AuditLog, AuditOutcome, AuditQuery, AuditRecord};
pub use ports::cache::{Cache, CacheEntry, CacheOutcome, Encoded, Fetched};
pub use ports::dlq::{
    DeadLetterQueue, DlqEntry, DlqError, DlqFilter, DlqStatus, NewDlqEntry, ReplayClaim, ReplayOutcome,
};
pub use ports::events::{Event, EventPublisher, EventStream, Lagged, Topic};
pub use ports::idempotency::{Claim, ClaimToken, Fingerprint, IdempotencyStore, StoredResponse};
pub use ports::invalidation::{Change, ReadInvalidation};
pub use ports::notify::{Alert, Notifier};
pub use ports::secrets::{SecretError, SecretRef, SecretSource};
pub use ports::sessions::{NewSession, Session, SessionStore};
pub use ports::ticketing::{CommentLookup, TicketLookup, TicketingPort};
pub use ports::trace_context::{KeptSpan, SpawnedTask, TraceContext, Untraced, UseCaseSpan};
pub use ports::transactions::{HistoryLimit, LimitError, TransactionCreatePort, TransactionStatusPort};
pub use ports::webhook_ids::WebhookIds;
pub use store_error::StoreError;
pub use ticket::{CreatedComment, CreatedTicket, NewComment, NewTicket, Priority, Ticket, TicketStatus};
pub use trace::{TraceParent, TraceParentError};
pub use transaction::{CancelResult, CommitResult, Draft, DraftStatus, NewDraft, Transaction, TransactionStatus};

/// Mock implementations of every port, for unit tests in other crates (feature `mock`).
#[cfg(any(test, feature = "mock"))]
pub mod mock {
    pub use crate::ports::audit::MockAuditLog;
    pub use crate::ports::cache::MockCache;
    pub use crate::ports::dlq::MockDeadLetterQueue;
    pub use crate::ports::events::MockEventPublisher;
    pub use crate::ports::idempotency::MockIdempotencyStore;
    pub use crate::ports::invalidation::MockReadInvalidation;
    pub use crate::ports::notify::MockNotifier;
    pub use crate::ports::secrets::MockSecretSource;
    pub use crate::ports::sessions::MockSessionStore;
    pub use crate::ports::ticketing::MockTicketingPort;
    pub use crate::ports::trace_context::MockTraceContext;
    pub use crate::ports::transactions::{MockTransactionCreatePort, MockTransactionStatusPort};
    pub use crate::ports::webhook_ids::MockWebhookIds;
}

/// The README's example, run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
