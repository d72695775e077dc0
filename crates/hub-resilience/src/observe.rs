//! What the primitives report, gathered in one observer trait an adapter implements once for metrics, logs and audit.

use crate::breaker::{BreakerObserver, Transition};
use crate::cache::CacheObserver;
use crate::retry::RetryObserver;

/// Everything an [`Upstream`](crate::compose::Upstream) reports: attempts and retries,
/// and breaker transitions. (A [`CacheManager`](crate::cache::CacheManager) reports to a
/// [`CacheObserver`] of its own.)
///
/// Implemented for every type that implements both parts; each part's methods
/// default to doing nothing except [`BreakerObserver::on_transition`].
///
/// ```
/// use hub_resilience::breaker::{BreakerObserver, Transition};
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
/// let _: &dyn Observer = &Metrics;
/// ```
pub trait Observer: RetryObserver + BreakerObserver {}

impl<T: RetryObserver + BreakerObserver> Observer for T {}

/// An observer that ignores everything (the default of the upstream, the breaker and the cache manager).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopObserver;

impl BreakerObserver for NoopObserver {
    fn on_transition(&self, _: &Transition) {}
}

impl RetryObserver for NoopObserver {}

impl CacheObserver for NoopObserver {}
