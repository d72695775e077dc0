//! One way to run an upstream call: (per attempt: breaker → timeout) inside retry, under one deadline.

use std::future::Future;
use std::sync::Arc;

use hub_core::Error;

use crate::breaker::{BreakerConfig, CircuitBreaker};
use crate::budget::{BudgetConfig, RetryBudget};
use crate::clock::{MonotonicClock, TokioClock};
use crate::observe::{NoopObserver, Observer};
use crate::retry::{Attempt, Idempotency, Outcome, Reauthenticate, Retry, RetryPolicy};

/// One upstream's resilience: its breaker, retry budget, retry policy, optional
/// re-authentication hook and observer, applied in one fixed order.
///
/// The retry engine runs under the call's deadline; each attempt is admitted by the
/// breaker (so a retry that meets an open circuit stops and every attempt counts towards
/// opening it) and bounded by the smaller of the per-attempt timeout and the time left.
/// A cached read wraps the whole call in [`read_through`](crate::cache::read_through),
/// so that a refresh refused by the breaker or the budget can still be answered stale.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use hub_core::{CacheOutcome, Error};
/// use hub_resilience::cache::{CacheManager, Lookup, keys, read_through};
/// use hub_resilience::compose::Upstream;
/// use hub_resilience::memory_store::MemoryCache;
/// use hub_resilience::retry::Idempotency;
///
/// let upstream = Arc::new(Upstream::builder("ticketing").build());
/// let cache = CacheManager::builder(Arc::new(MemoryCache::default())).build();
///
/// let key = keys::key("item_status", &[("id", "42")]);
/// let lookup = Lookup { operation: "item_status", key: &key, tags: &[], ttl: Duration::from_secs(300) };
/// // The fetch owns what it uses: the cache may also run it as a background refresh.
/// let fetch = || {
///     let upstream = upstream.clone();
///     async move {
///         upstream.call("item_status", Idempotency::Idempotent, |_attempt| async { Ok::<_, Error>("open".to_owned()) })
///             .await
///             .result
///     }
/// };
/// let read = read_through(Some(&cache), &lookup, fetch).await;
/// assert_eq!(read.unwrap().cache, CacheOutcome::Miss);
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
    reauth: Option<Arc<dyn Reauthenticate>>,
    observer: Arc<dyn Observer>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("name", &self.name)
            .field("policy", &self.policy)
            .field("breaker", &self.breaker)
            .finish_non_exhaustive()
    }
}

/// Builds an [`Upstream`]; every part has the contract's default.
pub struct UpstreamBuilder {
    name: String,
    policy: RetryPolicy,
    breaker: BreakerConfig,
    budget: BudgetConfig,
    reauth: Option<Arc<dyn Reauthenticate>>,
    observer: Arc<dyn Observer>,
    clock: Arc<dyn MonotonicClock>,
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

    /// Runs `hook` before the one retry a 401 earns.
    pub fn reauth(mut self, hook: Arc<dyn Reauthenticate>) -> Self {
        self.reauth = Some(hook);
        self
    }

    /// Who is told of attempts, retries and transitions.
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    /// The clock of the breaker and the budget (default: [`TokioClock`]).
    pub fn clock(mut self, clock: Arc<dyn MonotonicClock>) -> Self {
        self.clock = clock;
        self
    }

    /// The upstream, its circuit closed.
    pub fn build(self) -> Upstream {
        Upstream {
            name: self.name,
            policy: self.policy,
            breaker: CircuitBreaker::builder()
                .config(self.breaker)
                .clock(self.clock.clone())
                .observer(self.observer.clone())
                .build(),
            budget: RetryBudget::new(self.budget, self.clock),
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

    /// Runs a call with the given idempotency: breaker per attempt, retries, per-attempt
    /// timeout, deadline.
    pub async fn call<T, F, Fut>(&self, operation: &str, idempotency: Idempotency, op: F) -> Outcome<T>
    where
        F: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        self.retry(operation).run(idempotency, op).await
    }
}

#[cfg(test)]
mod tests;
