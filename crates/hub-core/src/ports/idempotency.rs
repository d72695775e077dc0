//! The port to the store of idempotency keys and the responses they produced.
//!
//! A key moves `in_flight` → `completed` (success, or a failure answered with a
//! `dlq_id`). A second claim of an in-flight key is a conflict, unless the first
//! claim's lease lapsed (its process died): then the new claimant takes over, which is
//! safe because the same key goes upstream. A claim with another fingerprint is a
//! mismatch. Records expire after the store's retention.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::context::IdempotencyKey;
use crate::store_error::StoreError;

/// A digest of what a key was first used for (route, path ids, body), as hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fingerprint(pub String);

/// A response kept to answer replays with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: String,
    /// The body.
    pub body: Bytes,
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new (or its previous claim lapsed): the caller runs the request.
    Acquired,
    /// Another request with this key is running.
    InFlight,
    /// The key was used with another fingerprint.
    Mismatch,
    /// The key already completed: answer with this response again.
    Completed(StoredResponse),
}

/// Claims keys atomically (across processes) and remembers their responses.
///
/// ```
/// use std::time::Duration;
/// use hub_core::{Claim, Fingerprint, IdempotencyKey, IdempotencyStore, StoreError};
/// async fn first_time(store: &dyn IdempotencyStore, key: &IdempotencyKey) -> Result<bool, StoreError> {
///     let fp = Fingerprint("ab12".into());
///     Ok(matches!(store.claim(key, &fp, Duration::from_secs(60)).await?, Claim::Acquired))
/// }
/// ```
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for a request with `fingerprint`, for at most `lease` unless completed.
    async fn claim(
        &self,
        key: &IdempotencyKey,
        fingerprint: &Fingerprint,
        lease: Duration,
    ) -> Result<Claim, StoreError>;

    /// Stores the response of the request holding the claim; replays get it from now on.
    async fn complete(&self, key: &IdempotencyKey, response: &StoredResponse) -> Result<(), StoreError>;

    /// Forgets an in-flight claim whose request provably did nothing, so the key can be used again.
    async fn release(&self, key: &IdempotencyKey) -> Result<(), StoreError>;

    /// Removes records older than the retention; returns how many went.
    async fn sweep(&self) -> Result<u64, StoreError>;
}
