//! Transport-agnostic resilience primitives: retry, circuit breaker, cache, budgets.
//!
//! Each piece stands on its own and is driven by `hub_core::Error`'s classification:
//!
//! - [`retry_after`] parses `Retry-After` and `X-RateLimit-Reset`;
//! - [`backoff`] computes exponential delays with a choice of jitter;
//! - [`breaker`] is a circuit breaker that admits exactly one half-open probe;
//! - [`retry`] runs an operation under one deadline, retrying what is safe to retry;
//! - [`budget`] caps retries at a share of recent requests;
//! - [`cache`] coalesces concurrent misses and serves stale entries when the upstream fails,
//!   over any `hub_core::Cache`; [`memory_store`] is the bounded in-process store;
//! - [`compose`] puts them together in one order for an adapter: [`Upstream`];
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
pub mod retry;
pub mod retry_after;

pub use backoff::{Backoff, Jitter};
pub use breaker::{BreakerConfig, BreakerObserver, CircuitBreaker, CircuitState, Permit, Transition};
pub use budget::{BudgetConfig, RetryBudget};
pub use cache::{CacheConfig, CacheManager, CacheObserver, Lookup};
pub use clock::{Clock, ManualClock, TokioClock};
pub use compose::{Upstream, UpstreamBuilder};
pub use memory_store::MemoryCache;
pub use observe::{NoopObserver, Observer};
pub use retry::{Attempt, Idempotency, Outcome, Reauthenticate, Retry, RetryObserver, RetryPolicy};
