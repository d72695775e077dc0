//! The cache manager: single-flight misses and stale-if-error over any `hub_core::Cache`, and the one way a read goes through it or around it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use hub_core::{Cache, CacheEntry, CacheOutcome, Encoded, Error, Fetched, StoreError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::clock::{Clock, TokioClock, duration_ms};
use crate::observe::NoopObserver;

pub mod keys;

/// Told of every cached lookup and every failure of the cache store.
pub trait CacheObserver: Send + Sync {
    /// A lookup ended (`integration_cache_requests_total{operation, result}`).
    fn on_lookup(&self, _operation: &str, _outcome: CacheOutcome) {}
    /// The store failed; `action` is `get`, `put`, `decode`, `invalidate` or `invalidate_tag`.
    /// The read went on without the cache.
    fn on_store_error(&self, _action: &'static str, _error: &StoreError) {}
}

/// The lifetimes of cached reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// How long past its TTL an entry may still be served when the upstream fails.
    pub max_stale: Duration,
    /// The last part of an entry's TTL, in percent, in which a hit starts one background
    /// refresh of the key (0: never; readers are served meanwhile).
    pub refresh_ahead_percent: u8,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_stale: Duration::from_secs(600),
            refresh_ahead_percent: 20,
        }
    }
}

/// One cached read: what to look up and how long its answer stays fresh.
#[derive(Debug, Clone, Copy)]
pub struct Lookup<'a> {
    /// The operation, for metrics (`integration_cache_requests_total{operation}`).
    pub operation: &'a str,
    /// The key, built with [`keys::key`].
    pub key: &'a str,
    /// Tags for group invalidation, built with [`keys::tag`].
    pub tags: &'a [String],
    /// How long a fetched answer is fresh.
    pub ttl: Duration,
}

/// What a flight shares with the callers that joined it.
type Shared = Result<Bytes, Error>;

struct Flight {
    id: u64,
    tags: Vec<String>,
    /// Set when an invalidation touched the key while the flight was out: its answer
    /// goes to the callers that joined it, never into the store.
    detached: AtomicBool,
    tx: watch::Sender<Option<Shared>>,
}

/// Reads through a [`hub_core::Cache`] with single-flight misses and stale-if-error.
///
/// - **Hit**: a fresh entry is decoded and returned; no upstream call.
/// - **Miss**: the first caller for a key runs the fetch; concurrent callers for the
///   same key wait for its result — success *or* error — instead of calling again. A
///   caller that gives up (is dropped) hands the fetch to the next waiter.
/// - **Stale**: when the fetch fails with an upstream or availability error (any
///   retryable error, an open circuit, a spent budget or deadline, missing
///   credentials) and an entry no older than `max_stale` past its TTL exists, that
///   entry is returned, marked [`CacheOutcome::Stale`].
/// - **Bypass**: when the store fails, the read goes to the upstream and never fails
///   because of the cache; the failure is reported to the observer.
///
/// Invalidation goes to the store and also detaches an in-flight fetch of the key (or
/// tag), so callers arriving afterwards start a new fetch and the old one's answer is
/// not written back — on top of the store's own no-resurrection rule.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use hub_core::{CacheOutcome, Error};
/// use hub_resilience::cache::{CacheManager, Lookup, keys};
/// use hub_resilience::memory_store::MemoryCache;
///
/// let cache = CacheManager::builder(Arc::new(MemoryCache::default())).build();
/// let key = keys::key("item_status", &[("id", "42")]);
/// let lookup = Lookup { operation: "item_status", key: &key, tags: &[], ttl: Duration::from_secs(300) };
///
/// let first = cache.get_or_fetch(&lookup, || async { Ok::<_, Error>("open".to_owned()) }).await.unwrap();
/// assert_eq!(first.cache, CacheOutcome::Miss);
/// let second = cache.get_or_fetch(&lookup, || async { Ok::<_, Error>("unused".to_owned()) }).await.unwrap();
/// assert_eq!((second.value.as_str(), second.cache), ("open", CacheOutcome::Hit));
///
/// cache.invalidate(&key).await.unwrap();
/// # }
/// ```
pub struct CacheManager {
    store: Arc<dyn Cache>,
    clock: Arc<dyn Clock>,
    observer: Arc<dyn CacheObserver>,
    config: CacheConfig,
    flights: Arc<Flights>,
    next_flight: AtomicU64,
}

/// The fetches out, by key, and the entries whose background refresh already started.
#[derive(Default)]
struct Flights {
    out: Mutex<HashMap<String, Arc<Flight>>>,
    /// Per key, the `fetched_at_ms` of the entry a background refresh was started for:
    /// one refresh per entry, even when it fails.
    refreshed: Mutex<HashMap<String, u64>>,
}

/// Keys remembered in [`Flights::refreshed`] at most; past it the memory starts over.
const REFRESHED_MAX: usize = 100_000;

impl Flights {
    fn out(&self) -> MutexGuard<'_, HashMap<String, Arc<Flight>>> {
        self.out.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a background refresh of `key`'s entry fetched at `fetched_at_ms` should
    /// start now (and remembers that it did).
    fn claim_refresh(&self, key: &str, fetched_at_ms: u64) -> bool {
        let mut refreshed = self.refreshed.lock().unwrap_or_else(PoisonError::into_inner);
        if refreshed.get(key).is_some_and(|at| *at >= fetched_at_ms) {
            return false;
        }
        if refreshed.len() >= REFRESHED_MAX {
            refreshed.clear();
        }
        refreshed.insert(key.to_owned(), fetched_at_ms);
        true
    }
}

impl std::fmt::Debug for CacheManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheManager")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Builds a [`CacheManager`].
pub struct CacheManagerBuilder {
    store: Arc<dyn Cache>,
    clock: Option<Arc<dyn Clock>>,
    observer: Option<Arc<dyn CacheObserver>>,
    config: CacheConfig,
}

impl CacheManagerBuilder {
    /// Lifetimes (default: `max_stale` 10 minutes).
    pub fn config(mut self, config: CacheConfig) -> Self {
        self.config = config;
        self
    }

    /// The wall clock for entry lifetimes (default: the system's).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Who is told of lookups and store failures (default: nobody).
    pub fn observer(mut self, observer: Arc<dyn CacheObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The manager.
    pub fn build(self) -> CacheManager {
        CacheManager {
            store: self.store,
            clock: self.clock.unwrap_or_else(|| Arc::new(TokioClock::new())),
            observer: self.observer.unwrap_or_else(|| Arc::new(NoopObserver)),
            config: self.config,
            flights: Arc::default(),
            next_flight: AtomicU64::new(0),
        }
    }
}

/// Whether a failed refresh may be answered with a stale entry: the upstream or the
/// path to it is unwell, as opposed to an answer about the resource (404, 403, 422).
pub fn serves_stale(err: &Error) -> bool {
    err.classify().retryable
        || matches!(
            err,
            Error::CircuitOpen { .. }
                | Error::RateBudgetSpent { .. }
                | Error::RetryBudgetExhausted { .. }
                | Error::DeadlineExceeded { .. }
                | Error::Credentials { .. }
        )
}

impl CacheManager {
    /// A builder over `store`.
    pub fn builder(store: Arc<dyn Cache>) -> CacheManagerBuilder {
        CacheManagerBuilder {
            store,
            clock: None,
            observer: None,
            config: CacheConfig::default(),
        }
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<dyn Cache> {
        &self.store
    }

    /// The value under `lookup.key`, from the cache when fresh, else from `fetch`
    /// (once for all concurrent callers), else stale if the fetch failed and an entry
    /// is young enough. A hit in the last [`CacheConfig::refresh_ahead_percent`] of the
    /// entry's TTL also starts one background refresh of the key (a Tokio task running
    /// the future `fetch` returns), so that under steady reads no reader waits for the
    /// upstream.
    pub async fn get_or_fetch<T, F, Fut>(&self, lookup: &Lookup<'_>, fetch: F) -> Result<Fetched<T>, Error>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
    {
        self.observed::<_, Decoded, _, _>(lookup, fetch).await
    }

    /// [`get_or_fetch`](Self::get_or_fetch), answering the value's JSON as the cache
    /// holds it: a hit is neither decoded nor encoded again. (An entry that is not the
    /// JSON of a `T` is served as it is: only the hub writes entries, under keys that
    /// name what they hold.)
    pub async fn get_or_fetch_encoded<T, F, Fut>(
        &self,
        lookup: &Lookup<'_>,
        fetch: F,
    ) -> Result<Fetched<Encoded<T>>, Error>
    where
        T: Serialize + Send + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
    {
        self.observed::<_, AsEncoded, _, _>(lookup, fetch).await
    }

    /// A lookup answered in `form`, reported to the observer.
    async fn observed<T, A, F, Fut>(&self, lookup: &Lookup<'_>, fetch: F) -> Result<Fetched<A::Out>, Error>
    where
        T: Serialize + Send + 'static,
        A: Form<T>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
    {
        let store_ok = AtomicBool::new(true);
        let result = self.lookup::<T, A, F, Fut>(lookup, fetch, &store_ok).await;
        let outcome = match &result {
            Ok(f) => f.cache,
            Err(_) => miss_or_bypass(store_ok.load(Ordering::Relaxed)),
        };
        self.observer.on_lookup(lookup.operation, outcome);
        result
    }

    async fn lookup<T, A, F, Fut>(
        &self,
        lookup: &Lookup<'_>,
        fetch: F,
        store_answered: &AtomicBool,
    ) -> Result<Fetched<A::Out>, Error>
    where
        T: Serialize + Send + 'static,
        A: Form<T>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
    {
        let (flight, stale, store_ok) = loop {
            let (entry, store_ok) = match self.store.get(lookup.key).await {
                Ok(entry) => (entry, true),
                Err(e) => {
                    self.observer.on_store_error("get", &e);
                    store_answered.store(false, Ordering::Relaxed);
                    (None, false)
                }
            };
            let now = self.clock.unix_ms();
            let max_stale = duration_ms(self.config.max_stale);
            let mut stale =
                entry.filter(|e| e.stale_until_ms > now && e.fresh_until_ms.saturating_add(max_stale) > now);
            if let Some(entry) = &stale
                && entry.fresh_until_ms > now
            {
                match A::cached(entry) {
                    Ok(value) => {
                        if self.refresh_due(entry, now) {
                            self.refresh_in_background(lookup, entry.fetched_at_ms, fetch);
                        }
                        return Ok(Fetched::new(value, CacheOutcome::Hit));
                    }
                    Err(e) => {
                        self.observer.on_store_error("decode", &e);
                        stale = None;
                    }
                }
            }
            match self.join(lookup) {
                Ok(flight) => break (flight, stale, store_ok),
                Err(mut rx) => {
                    let shared = match rx.wait_for(Option::is_some).await {
                        Ok(shared) => shared.clone(),
                        // The leader gave up without an answer: look again (and maybe lead).
                        Err(_) => continue,
                    };
                    if let Some(shared) = shared {
                        return self.answer::<T, A>(shared, stale, miss_or_bypass(store_ok));
                    }
                }
            }
        };

        let guard = FlightGuard {
            flights: self.flights.clone(),
            key: lookup.key.to_owned(),
            flight,
        };
        let fetched_at_ms = self.clock.unix_ms();
        // Boxed: the whole upstream call inline would make every lookup's future (a hit's
        // too) as large as it, and a hit would copy all of it when the port boxes it.
        let (shared, value) = encode(Box::pin(fetch()).await);
        self.landing(lookup)
            .land(&guard, store_ok, fetched_at_ms, &shared)
            .await;
        drop(guard);
        match (shared, value) {
            (Ok(bytes), Some(value)) => Ok(Fetched::new(A::fetched(value, bytes), miss_or_bypass(store_ok))),
            (shared, _) => self.answer::<T, A>(shared, stale, miss_or_bypass(store_ok)),
        }
    }

    /// Whether a hit on `entry` at `now` falls in its refresh-ahead window.
    fn refresh_due(&self, entry: &CacheEntry, now: u64) -> bool {
        let percent = u64::from(self.config.refresh_ahead_percent.min(100));
        if percent == 0 {
            return false;
        }
        let ttl = entry.fresh_until_ms.saturating_sub(entry.fetched_at_ms);
        let window = ttl.saturating_mul(percent) / 100;
        now >= entry.fresh_until_ms.saturating_sub(window)
    }

    /// Starts one background fetch of `lookup.key` that stores its answer, unless a
    /// fetch of the key is out or this entry's refresh already started. Without a Tokio
    /// runtime, nothing starts (the entry expires and the next reader fetches).
    fn refresh_in_background<T, F, Fut>(&self, lookup: &Lookup<'_>, entry_fetched_at_ms: u64, fetch: F)
    where
        T: Serialize + Send + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if !self.flights.claim_refresh(lookup.key, entry_fetched_at_ms) {
            return;
        }
        let Ok(flight) = self.join(lookup) else {
            return;
        };
        let guard = FlightGuard {
            flights: self.flights.clone(),
            key: lookup.key.to_owned(),
            flight,
        };
        let landing = self.landing(lookup);
        let fetched = fetch();
        runtime.spawn(async move {
            let fetched_at_ms = landing.clock.unix_ms();
            let (shared, _) = encode(fetched.await);
            landing.land(&guard, true, fetched_at_ms, &shared).await;
            drop(guard);
        });
    }

    /// What storing an answer for `lookup` needs, owned (a background refresh keeps it).
    fn landing(&self, lookup: &Lookup<'_>) -> Landing {
        Landing {
            store: self.store.clone(),
            observer: self.observer.clone(),
            clock: self.clock.clone(),
            max_stale: self.config.max_stale,
            ttl: lookup.ttl,
            tags: lookup.tags.to_vec(),
        }
    }

    /// Joins the key's flight (`Err` with its receiver) or starts one (`Ok`).
    fn join(&self, lookup: &Lookup<'_>) -> Result<Arc<Flight>, watch::Receiver<Option<Shared>>> {
        let mut flights = self.flights.out();
        if let Some(flight) = flights.get(lookup.key) {
            return Err(flight.tx.subscribe());
        }
        let flight = Arc::new(Flight {
            id: self.next_flight.fetch_add(1, Ordering::Relaxed),
            tags: lookup.tags.to_vec(),
            detached: AtomicBool::new(false),
            tx: watch::channel(None).0,
        });
        flights.insert(lookup.key.to_owned(), flight.clone());
        Ok(flight)
    }

    /// A flight's answer in `A`'s form, or its error answered with the stale entry when allowed.
    fn answer<T, A: Form<T>>(
        &self,
        shared: Shared,
        stale: Option<CacheEntry>,
        fresh: CacheOutcome,
    ) -> Result<Fetched<A::Out>, Error> {
        match shared {
            Ok(bytes) => A::shared(&bytes)
                .map(|value| Fetched::new(value, fresh))
                .map_err(|e| Error::Decode { reason: e.to_string() }),
            Err(err) => match stale {
                Some(entry) if serves_stale(&err) => match A::cached(&entry) {
                    Ok(value) => Ok(Fetched::new(value, CacheOutcome::Stale)),
                    Err(e) => {
                        self.observer.on_store_error("decode", &e);
                        Err(err)
                    }
                },
                _ => Err(err),
            },
        }
    }

    /// Forgets `key` everywhere (a webhook said the resource changed).
    pub async fn invalidate(&self, key: &str) -> Result<(), StoreError> {
        if let Some(flight) = self.flights.out().remove(key) {
            flight.detached.store(true, Ordering::Release);
        }
        let result = self.store.invalidate(key).await;
        if let Err(e) = &result {
            self.observer.on_store_error("invalidate", e);
        }
        result
    }

    /// Forgets every key attached to `tag` (every page of a listing, say).
    pub async fn invalidate_tag(&self, tag: &str) -> Result<(), StoreError> {
        self.flights.out().retain(|_, flight| {
            let hit = flight.tags.iter().any(|t| t == tag);
            if hit {
                flight.detached.store(true, Ordering::Release);
            }
            !hit
        });
        let result = self.store.invalidate_tag(tag).await;
        if let Err(e) = &result {
            self.observer.on_store_error("invalidate_tag", e);
        }
        result
    }
}

/// Removes a flight from the table when its leader finishes or is dropped, so waiters
/// of an abandoned flight wake up (the sender is gone) and try again.
struct FlightGuard {
    flights: Arc<Flights>,
    key: String,
    flight: Arc<Flight>,
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        let mut flights = self.flights.out();
        if flights.get(&self.key).is_some_and(|f| f.id == self.flight.id) {
            flights.remove(&self.key);
        }
    }
}

/// What storing a flight's answer needs, owned, so a background refresh can do it too.
struct Landing {
    store: Arc<dyn Cache>,
    observer: Arc<dyn CacheObserver>,
    clock: Arc<dyn Clock>,
    max_stale: Duration,
    ttl: Duration,
    tags: Vec<String>,
}

impl Landing {
    /// Stores a flight's answer (unless it failed, the store failed on the way in or an
    /// invalidation detached the flight) and hands it to the callers that joined.
    async fn land(&self, guard: &FlightGuard, store_ok: bool, fetched_at_ms: u64, shared: &Shared) {
        if let Ok(bytes) = shared
            && store_ok
            && !guard.flight.detached.load(Ordering::Acquire)
        {
            self.put(&guard.key, bytes, fetched_at_ms).await;
        }
        guard.flight.tx.send_replace(Some(shared.clone()));
    }

    async fn put(&self, key: &str, bytes: &Bytes, fetched_at_ms: u64) {
        let fresh_until_ms = fetched_at_ms.saturating_add(duration_ms(self.ttl));
        let stale_until_ms = fresh_until_ms.saturating_add(duration_ms(self.max_stale));
        let entry = CacheEntry::new(bytes.clone(), fetched_at_ms, fresh_until_ms, stale_until_ms);
        if let Err(e) = self.store.put(key, entry, &self.tags).await {
            self.observer.on_store_error("put", &e);
        }
    }
}

/// The form a lookup answers in: from a cached entry, from the bytes of a flight this
/// caller joined, or from the value this caller fetched (and its bytes).
trait Form<T> {
    type Out;
    fn cached(entry: &CacheEntry) -> Result<Self::Out, StoreError> {
        Self::shared(entry.value())
    }
    fn shared(bytes: &Bytes) -> Result<Self::Out, StoreError>;
    fn fetched(value: T, bytes: Bytes) -> Self::Out;
}

/// The value, decoded.
struct Decoded;

impl<T: DeserializeOwned> Form<T> for Decoded {
    type Out = T;

    fn shared(bytes: &Bytes) -> Result<T, StoreError> {
        serde_json::from_slice(bytes).map_err(|e| corrupt(&e))
    }

    fn fetched(value: T, _bytes: Bytes) -> T {
        value
    }
}

/// The value's JSON, as stored.
struct AsEncoded;

impl<T> Form<T> for AsEncoded {
    type Out = Encoded<T>;

    /// The entry's fingerprint comes along: a hit hashes nothing.
    fn cached(entry: &CacheEntry) -> Result<Encoded<T>, StoreError> {
        Ok(Encoded::from_entry(entry))
    }

    fn shared(bytes: &Bytes) -> Result<Encoded<T>, StoreError> {
        Ok(Encoded::from_json(bytes.clone()))
    }

    fn fetched(_value: T, bytes: Bytes) -> Encoded<T> {
        Encoded::from_json(bytes)
    }
}

/// A fetch's answer as a flight shares it, and the value when it encoded.
fn encode<T: Serialize>(fetched: Result<T, Error>) -> (Shared, Option<T>) {
    match fetched {
        Ok(value) => match serde_json::to_vec(&value) {
            Ok(bytes) => (Ok(Bytes::from(bytes)), Some(value)),
            Err(e) => (Err(Error::Decode { reason: e.to_string() }), None),
        },
        Err(e) => (Err(e), None),
    }
}

/// Reads through `cache` when there is one ([`CacheManager::get_or_fetch`]); without one,
/// runs `fetch` and marks its answer [`CacheOutcome::Bypass`] (no lookup is reported).
///
/// The fetch is the whole resilient call (retry, breaker, deadline), so the cache sits
/// outside it: a hit costs nothing else, and a refresh that fails for availability
/// reasons (an open circuit too) can be answered with a stale entry.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use hub_core::{CacheOutcome, Error};
/// use hub_resilience::cache::{CacheManager, Lookup, keys, read_through};
/// use hub_resilience::memory_store::MemoryCache;
///
/// let key = keys::key("item_status", &[("id", "42")]);
/// let lookup = Lookup { operation: "item_status", key: &key, tags: &[], ttl: Duration::from_secs(300) };
/// let uncached = read_through(None, &lookup, || async { Ok::<_, Error>(1u8) }).await.unwrap();
/// assert_eq!(uncached.cache, CacheOutcome::Bypass);
///
/// let cache = CacheManager::builder(Arc::new(MemoryCache::default())).build();
/// let cached = read_through(Some(&cache), &lookup, || async { Ok::<_, Error>(1u8) }).await.unwrap();
/// assert_eq!(cached.cache, CacheOutcome::Miss);
/// # }
/// ```
pub async fn read_through<T, F, Fut>(
    cache: Option<&CacheManager>,
    lookup: &Lookup<'_>,
    fetch: F,
) -> Result<Fetched<T>, Error>
where
    T: Serialize + DeserializeOwned + Send + 'static,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, Error>> + Send + 'static,
{
    match cache {
        Some(cache) => cache.get_or_fetch(lookup, fetch).await,
        None => Ok(Fetched::new(fetch().await?, CacheOutcome::Bypass)),
    }
}

fn miss_or_bypass(store_ok: bool) -> CacheOutcome {
    if store_ok {
        CacheOutcome::Miss
    } else {
        CacheOutcome::Bypass
    }
}

fn corrupt(e: &serde_json::Error) -> StoreError {
    StoreError::Corrupt {
        reason: format!("cached value does not decode: {e}"),
    }
}

#[cfg(test)]
mod tests;
