//! The ports to the transaction-status and transaction-create (sales) systems.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::context::CallContext;
use crate::error::Error;
use crate::id::{CustomerId, DraftId, TransactionId};
use crate::ports::cache::{Encoded, Fetched};
use crate::transaction::{CancelResult, CommitResult, Draft, NewDraft, Transaction};

/// How many transactions a history page holds: 1 to 100, 10 by default.
///
/// ```
/// use hub_core::HistoryLimit;
/// assert_eq!(HistoryLimit::default().get(), 10);
/// assert!(HistoryLimit::new(0).is_err());
/// assert!(HistoryLimit::new(101).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct HistoryLimit(u32);

/// A history limit outside 1..=100.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("limit must be between {} and {}", HistoryLimit::MIN, HistoryLimit::MAX)]
pub struct LimitError;

impl HistoryLimit {
    /// The smallest limit.
    pub const MIN: u32 = 1;
    /// The largest limit.
    pub const MAX: u32 = 100;

    /// Checks the range.
    pub fn new(n: u32) -> Result<Self, LimitError> {
        if (Self::MIN..=Self::MAX).contains(&n) {
            Ok(Self(n))
        } else {
            Err(LimitError)
        }
    }

    /// The limit.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for HistoryLimit {
    fn default() -> Self {
        Self(10)
    }
}

impl TryFrom<u32> for HistoryLimit {
    type Error = LimitError;
    fn try_from(n: u32) -> Result<Self, LimitError> {
        Self::new(n)
    }
}

impl From<HistoryLimit> for u32 {
    fn from(l: HistoryLimit) -> u32 {
        l.0
    }
}

/// Reads transactions.
///
/// ```
/// use hub_core::{CallContext, CustomerId, Error, HistoryLimit, TransactionStatusPort};
/// async fn recent(port: &dyn TransactionStatusPort, ctx: &CallContext) -> Result<usize, Error> {
///     let customer = CustomerId::parse("CUST-1").unwrap();
///     Ok(port.get_transaction_history(ctx, &customer, HistoryLimit::default()).await?.value.len())
/// }
/// ```
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait TransactionStatusPort: Send + Sync {
    /// One transaction, from the cache when fresh.
    async fn get_transaction_status(
        &self,
        ctx: &CallContext,
        transaction_id: &TransactionId,
    ) -> Result<Fetched<Transaction>, Error>;

    /// One transaction as its JSON: a cached read answers the bytes it holds, neither
    /// decoded nor encoded again. By default, [`get_transaction_status`](Self::get_transaction_status) encoded.
    async fn get_transaction_status_encoded(
        &self,
        ctx: &CallContext,
        transaction_id: &TransactionId,
    ) -> Result<Fetched<Encoded<Transaction>>, Error> {
        let fetched = self.get_transaction_status(ctx, transaction_id).await?;
        Ok(Fetched::new(Encoded::encode(&fetched.value)?, fetched.cache))
    }

    /// A customer's most recent transactions, newest first, from the cache when fresh.
    async fn get_transaction_history(
        &self,
        ctx: &CallContext,
        customer_id: &CustomerId,
        limit: HistoryLimit,
    ) -> Result<Fetched<Vec<Transaction>>, Error>;
}

/// Creates, commits and cancels draft transactions.
///
/// ```
/// use hub_core::{CallContext, CommitResult, DraftId, Error, IdempotencyKey, TransactionCreatePort};
/// async fn commit(port: &dyn TransactionCreatePort, ctx: &CallContext) -> Result<CommitResult, Error> {
///     let draft = DraftId::parse("DRAFT-1").unwrap();
///     port.commit_transaction(ctx, &draft, &IdempotencyKey::parse("commit-DRAFT-1").unwrap()).await
/// }
/// ```
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait TransactionCreatePort: Send + Sync {
    /// Creates a draft that expires unless committed.
    async fn create_draft_transaction(&self, ctx: &CallContext, draft: &NewDraft) -> Result<Draft, Error>;

    /// Commits a draft; the key makes a repeated commit return the first result.
    async fn commit_transaction(
        &self,
        ctx: &CallContext,
        draft_id: &DraftId,
        idempotency_key: &crate::context::IdempotencyKey,
    ) -> Result<CommitResult, Error>;

    /// Cancels a draft.
    async fn cancel_draft(&self, ctx: &CallContext, draft_id: &DraftId) -> Result<CancelResult, Error>;
}
