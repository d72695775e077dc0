//! The port that forgets cached reads an upstream change made stale.

use async_trait::async_trait;

use crate::id::{CustomerId, TicketId, TransactionId};
use crate::store_error::StoreError;

/// What an upstream says changed: the cached reads to forget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A transaction's status (and, when the sender names the customer, their history).
    Transaction {
        /// The transaction.
        transaction_id: TransactionId,
        /// Its customer, when known.
        customer_id: Option<CustomerId>,
    },
    /// A ticket's status.
    Ticket {
        /// The ticket.
        ticket_id: TicketId,
    },
}

/// Forgets the cached reads a change touches, so every instance's next read misses.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait ReadInvalidation: Send + Sync {
    /// Invalidates every cached read `change` makes stale.
    async fn invalidate(&self, change: &Change) -> Result<(), StoreError>;
}
