//! What the primitives report, gathered in one observer trait an adapter implements once for metrics, logs and audit.

use crate::breaker::{BreakerObserver, Transition};
use crate::cache::CacheObserver;
use crate::retry::RetryObserver;

/// Everything an [`Upstream`](crate::compose::Upstream) reports: attempts and retries,
/// breaker transitions, cache lookups and cache-store failures.
///
/// Implemented for every type that implements the three parts; each part's methods
/// default to doing nothing except [`BreakerObserver::on_transition`].
///
/// ```
/// use hub_resilience::breaker::{BreakerObserver, Transition};
/// use hub_resilience::cache::CacheObserver;
/// use hub_resilience::observe::Observer;
/// use hub_resilience::retry::{RetryObserver, RetryReport};
///
/// struct Metrics;
/// impl RetryObserver for Metrics {
///     fn on_retry(&self, r: &RetryReport<'_>) {
///         // integration_retries_total{operation=r.operation, reason=r.reason} += 1
///     }
/// }
/// impl BreakerObserver for Metrics {
///     fn on_transition(&self, t: &Transition) {
///         // integration_circuit_breaker_state = t.to.gauge()
///     }
/// }
/// impl CacheObserver for Metrics {}
/// let _: &dyn Observer = &Metrics;
/// ```
pub trait Observer: RetryObserver + BreakerObserver + CacheObserver {}

impl<T: RetryObserver + BreakerObserver + CacheObserver> Observer for T {}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopObserver;

impl BreakerObserver for NoopObserver {
    fn on_transition(&self, _: &Transition) {}
}

impl RetryObserver for NoopObserver {}

impl CacheObserver for NoopObserver {}
