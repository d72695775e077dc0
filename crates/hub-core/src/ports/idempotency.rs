//! The port to the store of idempotency keys and the responses they produced.
//!
//! A key moves `in_flight` → `completed` (success, or a failure answered with a
//! `dlq_id`). A second claim of an in-flight key is a conflict, unless the first
//! claim's lease lapsed (its process died, or it could not record its outcome): then the
//! new claimant takes over ([`Claim::TakenOver`]) and must find out whether the first
//! request took effect before it sends anything the upstream would not deduplicate.
//! Every claim carries a fencing token: only the current holder can complete or release
//! it. A claim with another fingerprint is a mismatch. Records expire after the store's
//! retention.

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

/// The fencing token of one claim, chosen by the store: [`IdempotencyStore::complete`]
/// and [`IdempotencyStore::release`] succeed only with the current holder's token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClaimToken(pub String);

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new: the caller runs the request.
    Acquired(ClaimToken),
    /// An earlier claim of the same request lapsed without an outcome (its holder
    /// stopped, or could not record how it ended): the caller holds the key now, but the
    /// earlier request may have taken effect.
    TakenOver(ClaimToken),
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
///     Ok(matches!(store.claim(key, &fp, Duration::from_secs(60)).await?, Claim::Acquired(_)))
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

    /// Stores the response of the request holding the claim `token`; replays get it from
    /// now on. A token that no longer holds the key (its lease lapsed and another claim
    /// took over) is a conflict: a stale holder never completes a newer claim.
    async fn complete(
        &self,
        key: &IdempotencyKey,
        token: &ClaimToken,
        response: &StoredResponse,
    ) -> Result<(), StoreError>;

    /// Forgets the in-flight claim `token` whose request provably did nothing, so the key
    /// can be used again; a conflict when `token` no longer holds it.
    async fn release(&self, key: &IdempotencyKey, token: &ClaimToken) -> Result<(), StoreError>;

    /// Removes records older than the retention; returns how many went.
    async fn sweep(&self) -> Result<u64, StoreError>;
}
