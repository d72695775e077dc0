//! Metrics and log lines for one adapter's retries and circuit transitions: the observer its `Upstream` reports to.

use std::sync::Arc;

use hub_resilience::breaker::{BreakerObserver, Transition};
use hub_resilience::retry::{RetryObserver, RetryReport};

/// Counts retries (`integration_retries_total{adapter,operation,reason}`) and logs them;
/// sets the circuit gauge (`integration_circuit_breaker_state{adapter}`: 0 closed, 1 open,
/// 2 half-open), counts transitions (`integration_circuit_breaker_transitions_total{adapter,from,to}`),
/// logs each one, and passes it on to another observer (the server publishes `circuit.changed`).
pub struct AdapterMetrics {
    adapter: Arc<str>,
    next: Option<Arc<dyn BreakerObserver>>,
}

impl std::fmt::Debug for AdapterMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdapterMetrics")
            .field("adapter", &self.adapter)
            .finish_non_exhaustive()
    }
}

impl AdapterMetrics {
    /// For the adapter named `adapter`, passing transitions on to `next`.
    pub fn new(adapter: &str, next: Option<Arc<dyn BreakerObserver>>) -> Self {
        metrics::gauge!("integration_circuit_breaker_state", "adapter" => adapter.to_owned()).set(0.0);
        Self {
            adapter: adapter.into(),
            next,
        }
    }
}

impl RetryObserver for AdapterMetrics {
    fn on_retry(&self, report: &RetryReport<'_>) {
        metrics::counter!("integration_retries_total",
            "adapter" => self.adapter.to_string(), "operation" => report.operation.to_owned(), "reason" => report.reason)
        .increment(1);
        tracing::debug!(adapter = %self.adapter, operation = report.operation, attempt = report.attempt,
            reason = report.reason, wait_ms = u64::try_from(report.wait.as_millis()).unwrap_or(u64::MAX), "retrying");
    }
}

impl BreakerObserver for AdapterMetrics {
    fn on_transition(&self, t: &Transition) {
        metrics::gauge!("integration_circuit_breaker_state", "adapter" => self.adapter.to_string())
            .set(f64::from(t.to.gauge()));
        metrics::counter!("integration_circuit_breaker_transitions_total",
            "adapter" => self.adapter.to_string(), "from" => t.from.as_str(), "to" => t.to.as_str())
        .increment(1);
        tracing::warn!(adapter = %self.adapter, from = t.from.as_str(), to = t.to.as_str(),
            consecutive_failures = t.consecutive_failures, "circuit changed");
        let span = tracing::Span::current();
        crate::spans::breaker_transition(&span, &self.adapter, t.from.as_str(), t.to.as_str());
        if let Some(next) = &self.next {
            next.on_transition(t);
        }
    }
}
