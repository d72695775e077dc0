//! Transport-agnostic resilience primitives: retry, circuit breaker, cache, budgets.
//!
//! Each piece stands on its own, is driven by `hub_core::Error`'s classification, and
//! knows no domain and no protocol (which reads are cached under which keys, and how an
//! upstream says how long to wait, belong to the crates that know them):
//!
//! - [`backoff`] computes exponential delays with a choice of jitter;
//! - [`breaker`] is a circuit breaker that admits exactly one half-open probe;
//! - [`retry`] runs an operation under one deadline, retrying what is safe to retry;
//! - [`budget`] caps retries at a share of recent requests;
//! - [`rate_budget`] keeps calls within an upstream's rate (GCRA), narrowed by what it says;
//! - [`cache`] coalesces concurrent misses and serves stale entries when the upstream fails,
//!   over any `hub_core::Cache`, with keys and tags laid out one way ([`cache::keys`]);
//!   [`memory_store`] is the bounded in-process store;
//! - [`compose`] puts breaker, budget and retry together in one order: [`Upstream`]; a
//!   cached read wraps its call in [`cache::read_through`];
//! - `layer` (feature `tower`) offers the same path as a `tower::Layer`;
//! - [`observe`] gathers what they report in one trait;
//! - [`clock`] injects time, so everything runs under tokio's paused clock in tests.

pub mod backoff;
pub mod breaker;
pub mod budget;
pub mod cache;
pub mod clock;
pub mod compose;
#[cfg(feature = "tower")]
pub mod layer;
pub mod memory_store;
pub mod observe;
pub mod rate_budget;
pub mod retry;

/// The README's example, run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub use backoff::{Backoff, Jitter};
pub use breaker::{BreakerConfig, BreakerObserver, CircuitBreaker, CircuitState, Permit, Transition};
pub use budget::{BudgetConfig, RetryBudget};
pub use cache::{CacheConfig, CacheManager, CacheObserver, Lookup, read_through};
pub use clock::{Clock, ManualClock, TokioClock};
pub use compose::{Upstream, UpstreamBuilder};
pub use memory_store::MemoryCache;
pub use observe::{NoopObserver, Observer};
pub use rate_budget::{Admission, BudgetKey, LearnedPolicy, LocalBudget, RateBudget, RateConfig};
pub use retry::{Attempt, Idempotency, Outcome, Reauthenticate, Retry, RetryObserver, RetryPolicy};
