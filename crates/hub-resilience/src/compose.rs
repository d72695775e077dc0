//! One way to run an upstream call: cache → (per attempt: breaker → timeout) inside retry, under one deadline.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use hub_core::{Cache, CacheOutcome, Error, Fetched};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::breaker::{BreakerConfig, CircuitBreaker};
use crate::budget::{BudgetConfig, RetryBudget};
use crate::cache::{CacheConfig, CacheManager, Lookup};
use crate::clock::{Clock, TokioClock};
use crate::observe::{NoopObserver, Observer};
use crate::retry::{Attempt, Idempotency, Outcome, Reauthenticate, Retry, RetryPolicy};

/// One upstream's resilience: its breaker, retry budget, retry policy, optional read
/// cache, optional re-authentication hook and observer, applied in one fixed order.
///
/// For a read: the cache first (a hit costs nothing else; a failed refresh can fall
/// back on a stale entry, also when the breaker or the budget said no); then the retry
/// engine under the call's deadline; each attempt is admitted by the breaker (so a
/// retry that meets an open circuit stops and every attempt counts towards opening it)
/// and bounded by the smaller of the per-attempt timeout and the time left.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use hub_core::{CacheOutcome, Error};
/// use hub_resilience::cache::{CacheConfig, Lookup, keys};
/// use hub_resilience::compose::Upstream;
/// use hub_resilience::memory_store::MemoryCache;
/// use hub_resilience::retry::Idempotency;
///
/// let upstream = Upstream::builder("ticketing")
///     .cache(Arc::new(MemoryCache::default()), CacheConfig::default())
///     .build();
///
/// let key = keys::ticket_status("42");
/// let lookup = Lookup { operation: keys::TICKET_STATUS, key: &key, tags: &[], ttl: Duration::from_secs(300) };
/// let read = upstream.read(&lookup, |_attempt| async { Ok::<_, Error>("open".to_owned()) }).await;
/// assert_eq!(read.attempts, 1);
/// assert_eq!(read.result.unwrap().cache, CacheOutcome::Miss);
///
/// let write = upstream
///     .call("add_comment", Idempotency::Keyed, |_attempt| async { Ok::<_, Error>(7) })
///     .await;
/// assert_eq!((write.result, write.attempts), (Ok(7), 1));
/// # }
/// ```
pub struct Upstream {
    name: String,
    policy: RetryPolicy,
    breaker: CircuitBreaker,
    budget: RetryBudget,
    cache: Option<Arc<CacheManager>>,
    reauth: Option<Arc<dyn Reauthenticate>>,
    observer: Arc<dyn Observer>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("name", &self.name)
            .field("policy", &self.policy)
            .field("breaker", &self.breaker)
            .field("cached", &self.cache.is_some())
            .finish_non_exhaustive()
    }
}

/// Builds an [`Upstream`]; every part has the contract's default.
pub struct UpstreamBuilder {
    name: String,
    policy: RetryPolicy,
    breaker: BreakerConfig,
    budget: BudgetConfig,
    cache: Option<CacheChoice>,
    reauth: Option<Arc<dyn Reauthenticate>>,
    observer: Arc<dyn Observer>,
    clock: Arc<dyn Clock>,
}

enum CacheChoice {
    Store(Arc<dyn Cache>, CacheConfig),
    Shared(Arc<CacheManager>),
}

impl UpstreamBuilder {
    /// Retry policy (3 attempts, 2 s ×2 to 10 s, 10 s per attempt, 30 s deadline).
    pub fn policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Breaker thresholds (5 failures, 60 s).
    pub fn breaker(mut self, config: BreakerConfig) -> Self {
        self.breaker = config;
        self
    }

    /// Retry budget (20 % of requests plus 10 per second).
    pub fn budget(mut self, config: BudgetConfig) -> Self {
        self.budget = config;
        self
    }

    /// Caches reads in `store` through a manager of this upstream's own, reporting to its observer.
    pub fn cache(mut self, store: Arc<dyn Cache>, config: CacheConfig) -> Self {
        self.cache = Some(CacheChoice::Store(store, config));
        self
    }

    /// Caches reads through an existing manager (shared with the webhook handlers, say).
    pub fn cache_manager(mut self, manager: Arc<CacheManager>) -> Self {
        self.cache = Some(CacheChoice::Shared(manager));
        self
    }

    /// Runs `hook` before the one retry a 401 earns.
    pub fn reauth(mut self, hook: Arc<dyn Reauthenticate>) -> Self {
        self.reauth = Some(hook);
        self
    }

    /// Who is told of attempts, retries, transitions and cache lookups.
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    /// The clock of the breaker, the budget and the cache (default: [`TokioClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The upstream, its circuit closed.
    pub fn build(self) -> Upstream {
        let cache = self.cache.map(|choice| match choice {
            CacheChoice::Shared(manager) => manager,
            CacheChoice::Store(store, config) => Arc::new(
                CacheManager::builder(store)
                    .config(config)
                    .clock(self.clock.clone())
                    .observer(self.observer.clone())
                    .build(),
            ),
        });
        Upstream {
            name: self.name,
            policy: self.policy,
            breaker: CircuitBreaker::builder()
                .config(self.breaker)
                .clock(self.clock.clone())
                .observer(self.observer.clone())
                .build(),
            budget: RetryBudget::new(self.budget, self.clock),
            cache,
            reauth: self.reauth,
            observer: self.observer,
        }
    }
}

impl Upstream {
    /// A builder for the upstream called `name` (the adapter's name, for labels).
    pub fn builder(name: impl Into<String>) -> UpstreamBuilder {
        UpstreamBuilder {
            name: name.into(),
            policy: RetryPolicy::default(),
            breaker: BreakerConfig::default(),
            budget: BudgetConfig::default(),
            cache: None,
            reauth: None,
            observer: Arc::new(NoopObserver),
            clock: Arc::new(TokioClock::new()),
        }
    }

    /// The upstream's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its breaker (for `/readyz` and the state gauge).
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    /// Its retry budget.
    pub fn budget(&self) -> &RetryBudget {
        &self.budget
    }

    /// Its retry policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Its cache manager, for invalidation, when reads are cached.
    pub fn cache(&self) -> Option<&Arc<CacheManager>> {
        self.cache.as_ref()
    }

    fn retry<'a>(&'a self, operation: &'a str) -> Retry<'a> {
        let retry = Retry::new(&self.policy)
            .breaker(&self.breaker)
            .budget(&self.budget)
            .observer(&*self.observer)
            .operation(operation);
        match &self.reauth {
            Some(hook) => retry.reauth(&**hook),
            None => retry,
        }
    }

    /// Runs an uncached call (a write, or a read that must not be cached) with the
    /// given idempotency: breaker per attempt, retries, per-attempt timeout, deadline.
    pub async fn call<T, F, Fut>(&self, operation: &str, idempotency: Idempotency, op: F) -> Outcome<T>
    where
        F: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        self.retry(operation).run(idempotency, op).await
    }

    /// Runs an idempotent read through the cache (when configured), then as [`Upstream::call`].
    ///
    /// `attempts` counts the attempts this caller made: 0 for a hit, a stale answer
    /// after an open circuit, or a caller that shared another's fetch.
    pub async fn read<T, F, Fut>(&self, lookup: &Lookup<'_>, op: F) -> Outcome<Fetched<T>>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let Some(cache) = &self.cache else {
            return self
                .call(lookup.operation, Idempotency::Idempotent, op)
                .await
                .map(|v| Fetched::new(v, CacheOutcome::Bypass));
        };
        let attempts = AtomicU32::new(0);
        let result = cache
            .get_or_fetch(lookup, || async {
                let outcome = self.call(lookup.operation, Idempotency::Idempotent, op).await;
                attempts.store(outcome.attempts, Ordering::Relaxed);
                outcome.result
            })
            .await;
        Outcome {
            result,
            attempts: attempts.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests;
