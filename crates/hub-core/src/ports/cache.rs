//! The port to a read cache store (in-process or shared), and what a cached read reports.

use async_trait::async_trait;
use std::marker::PhantomData;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::fingerprint::Fnv1a;
use crate::store_error::StoreError;

/// Where a read's answer came from, for `Cache-Status` (RFC 9211) and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheOutcome {
    /// Served from a fresh cache entry.
    Hit,
    /// Fetched from the upstream (and stored).
    Miss,
    /// Served from an expired entry because the upstream failed or its circuit is open.
    Stale,
    /// The cache was not consulted (disabled, or unreachable).
    Bypass,
}

impl CacheOutcome {
    /// The metrics label: `hit`, `miss`, `stale` or `bypass`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Stale => "stale",
            Self::Bypass => "bypass",
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched<T> {
    /// The value.
    pub value: T,
    /// Whether it was a hit, a miss, stale or uncached.
    pub cache: CacheOutcome,
}

impl<T> Fetched<T> {
    /// Wraps a value with its cache outcome.
    pub fn new(value: T, cache: CacheOutcome) -> Self {
        Self { value, cache }
    }

    /// Transforms the value, keeping the outcome.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Fetched<U> {
        Fetched {
            value: f(self.value),
            cache: self.cache,
        }
    }
}

/// A value's JSON as the read cache holds it: answered as it is, decoded on demand.
///
/// ```
/// use hub_core::Encoded;
/// let encoded = Encoded::encode(&vec![1u8, 2]).unwrap();
/// assert_eq!(&encoded.json()[..], b"[1,2]");
/// assert_eq!(encoded.decode().unwrap(), vec![1u8, 2]);
/// ```
pub struct Encoded<T> {
    json: Bytes,
    /// [`Fnv1a`] of `json`.
    fingerprint: u64,
    of: PhantomData<fn() -> T>,
}

impl<T> Encoded<T> {
    /// Bytes that are the JSON of a `T` (as a cache entry written for `T` holds).
    pub fn from_json(json: Bytes) -> Self {
        let fingerprint = Fnv1a::of(&json);
        Self {
            json,
            fingerprint,
            of: PhantomData,
        }
    }

    /// A cache entry's value, which is the JSON of a `T`, with the fingerprint it keeps.
    pub fn from_entry(entry: &CacheEntry) -> Self {
        Self {
            json: entry.value.clone(),
            fingerprint: entry.fingerprint,
            of: PhantomData,
        }
    }

    /// The JSON.
    pub fn json(&self) -> &Bytes {
        &self.json
    }

    /// The JSON's [`Fnv1a`] fingerprint (an entity tag's material).
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The JSON, owned.
    pub fn into_json(self) -> Bytes {
        self.json
    }
}

impl<T: Serialize> Encoded<T> {
    /// `value`'s JSON.
    pub fn encode(value: &T) -> Result<Self, Error> {
        serde_json::to_vec(value)
            .map(|v| Self::from_json(Bytes::from(v)))
            .map_err(|e| Error::Decode { reason: e.to_string() })
    }
}

impl<T: DeserializeOwned> Encoded<T> {
    /// The value.
    pub fn decode(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.json).map_err(|e| Error::Decode { reason: e.to_string() })
    }
}

impl<T> Clone for Encoded<T> {
    fn clone(&self) -> Self {
        Self {
            json: self.json.clone(),
            fingerprint: self.fingerprint,
            of: PhantomData,
        }
    }
}

impl<T> PartialEq for Encoded<T> {
    fn eq(&self, other: &Self) -> bool {
        self.json == other.json
    }
}

impl<T> Eq for Encoded<T> {}

impl<T> std::fmt::Debug for Encoded<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Encoded")
            .field(&String::from_utf8_lossy(&self.json))
            .finish()
    }
}

/// One stored value with its lifetimes, in Unix milliseconds of wall-clock time so
/// that several instances sharing a store agree on them, and the value's fingerprint,
/// computed once when the entry is made ([`CacheEntry::new`]) so that a hit does not hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    /// The serialised value.
    value: Bytes,
    /// [`Fnv1a`] of `value`.
    fingerprint: u64,
    /// When the upstream read that produced the value began.
    pub fetched_at_ms: u64,
    /// Until when the value is fresh.
    pub fresh_until_ms: u64,
    /// Until when the value may still be served stale; the store may drop it after.
    pub stale_until_ms: u64,
}

impl CacheEntry {
    /// `value` with its lifetimes.
    ///
    /// ```
    /// use hub_core::CacheEntry;
    /// use hub_core::fingerprint::Fnv1a;
    /// let entry = CacheEntry::new("{}".into(), 1, 2, 3);
    /// assert_eq!(&entry.value()[..], b"{}");
    /// assert_eq!(entry.fingerprint(), Fnv1a::of(b"{}"));
    /// ```
    pub fn new(value: Bytes, fetched_at_ms: u64, fresh_until_ms: u64, stale_until_ms: u64) -> Self {
        Self {
            fingerprint: Fnv1a::of(&value),
            value,
            fetched_at_ms,
            fresh_until_ms,
            stale_until_ms,
        }
    }

    /// The serialised value.
    pub fn value(&self) -> &Bytes {
        &self.value
    }

    /// The value's [`Fnv1a`] fingerprint.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }
}

/// A key-value store for cached reads, with invalidation by key and by tag.
///
/// **No resurrection.** A store must refuse (silently) a `put` whose
/// [`CacheEntry::fetched_at_ms`] is not later than the last invalidation of its key or
/// of one of its tags: a read that began before a webhook invalidated the resource
/// must not write its older answer back.
///
/// ```
/// use hub_core::{Cache, StoreError};
/// async fn forget_customer(cache: &dyn Cache, customer: &str) -> Result<(), StoreError> {
///     cache.invalidate_tag(&format!("customer:{customer}")).await
/// }
/// ```
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait Cache: Send + Sync {
    /// The entry under `key`, fresh or stale, if the store still holds it.
    async fn get(&self, key: &str) -> Result<Option<CacheEntry>, StoreError>;

    /// Stores `entry` under `key`, attached to `tags` for group invalidation.
    async fn put(&self, key: &str, entry: CacheEntry, tags: &[String]) -> Result<(), StoreError>;

    /// Removes `key` and remembers when, so an older read cannot put it back.
    async fn invalidate(&self, key: &str) -> Result<(), StoreError>;

    /// Removes every key attached to `tag` and remembers when.
    async fn invalidate_tag(&self, tag: &str) -> Result<(), StoreError>;

    /// Whether the store answers (for readiness).
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
