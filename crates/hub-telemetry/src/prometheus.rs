//! The process-wide Prometheus recorder behind `/metrics`, with latency buckets from 1 ms to 30 s.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Histogram buckets, in seconds, for upstream and HTTP server latencies (1 ms – 30 s).
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder once per process and returns its handle; `None` when another
/// recorder was installed first (metrics then go there, and `/metrics` is empty).
pub fn handle() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)
                .ok()?;
            let handle = builder.install_recorder().ok()?;
            describe();
            Some(handle)
        })
        .clone()
}

/// Renders `/metrics` (Prometheus text exposition); implemented over the metrics recorder.
pub trait MetricsRender: Send + Sync {
    /// The exposition text.
    fn render(&self) -> String;
}

/// Any function rendering the exposition is a renderer (e.g. `move || handle.render()`
/// over a Prometheus recorder's handle).
impl<F: Fn() -> String + Send + Sync> MetricsRender for F {
    fn render(&self) -> String {
        self()
    }
}

/// No metrics recorder installed: an empty exposition.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMetrics;

impl MetricsRender for NoMetrics {
    fn render(&self) -> String {
        String::new()
    }
}

/// Every metric the hub emits, with its `# HELP` text (`promtool check metrics` wants one).
pub const METRICS: &[(&str, &str)] = &[
    (
        "integration_requests_total",
        "Upstream calls by adapter, operation and outcome status.",
    ),
    (
        "integration_latency_seconds",
        "Duration of upstream calls, every attempt and wait included.",
    ),
    (
        "integration_retries_total",
        "Upstream retries by adapter, operation and reason.",
    ),
    (
        "integration_circuit_breaker_state",
        "Circuit state per adapter: 0 closed, 1 open, 2 half-open.",
    ),
    (
        "integration_circuit_breaker_transitions_total",
        "Circuit state changes per adapter.",
    ),
    (
        "integration_cache_requests_total",
        "Cached reads by adapter, operation and result (hit, miss, stale, bypass).",
    ),
    (
        "integration_cache_store_errors_total",
        "Cache store failures the read went on without.",
    ),
    ("integration_dlq_pending", "Dead-letter entries awaiting review."),
    ("integration_token_refreshes_total", "OAuth2 token requests made."),
    (
        "integration_audit_write_failures_total",
        "Audit records that could not be written.",
    ),
    (
        "integration_idempotent_replays_total",
        "Writes answered again from their Idempotency-Key record.",
    ),
    (
        "integration_writes_refused_total",
        "Writes refused unsent because server.max_write_tasks were already running.",
    ),
    (
        "integration_store_pruned_total",
        "Audit records and settled dead-letter entries removed past their retention, by store.",
    ),
    (
        "integration_idempotency_takeovers_total",
        "Lapsed Idempotency-Key claims taken over; the write is resent only where that cannot duplicate it.",
    ),
    (
        "integration_idempotency_record_failures_total",
        "Finished writes whose outcome could not be recorded for their Idempotency-Key (the claim lapses into a takeover).",
    ),
    (
        "integration_webhook_verification_failures_total",
        "Webhooks refused, by reason (missing_header, bad_timestamp, stale, bad_signature).",
    ),
    (
        "integration_webhooks_total",
        "Signed webhooks by event and result (processed, duplicate, invalid).",
    ),
    (
        "integration_webhook_invalidation_failures_total",
        "Webhooks whose cache invalidation failed.",
    ),
    (
        "integration_supervisor_notifications_total",
        "Supervisor alerts by channel (log, webhook) and result.",
    ),
    (
        "integration_admin_signin_throttled_total",
        "Sign-ins to the supervisor's page refused with 429 after repeated failures, by scope (address, account).",
    ),
    ("integration_event_subscribers", "Open /v1/events connections."),
    (
        "integration_event_subscribers_refused_total",
        "/v1/events subscriptions refused because the hub serves its limit of them.",
    ),
    (
        "integration_connections_refused_total",
        "Client connections closed as soon as accepted because the hub holds its limit of them.",
    ),
    (
        "integration_event_subscribers_dropped_total",
        "/v1/events connections closed by the hub, by reason (lagged, slow, silent).",
    ),
    (
        "integration_rate_budget_fallback_total",
        "Rate budget calls answered by the local budget (rate / instances_hint) because Redis did not answer in time, by adapter.",
    ),
    (
        "integration_rate_budget_remaining",
        "Writes the adapter's rate budget would send at once, after its latest admission, by adapter.",
    ),
    (
        "integration_rate_limited_total",
        "Calls stopped by rate limiting, by adapter and source: hub (the hub's budget refused to send) or upstream (the upstream answered 429 and the budget was paused).",
    ),
    (
        "integration_telemetry_spans_dropped_total",
        "Trace spans dropped unsent: the export queue was full, or the collector failed or did not answer in time.",
    ),
    (
        "http_server_requests_total",
        "Requests the hub answered, by method, route and status.",
    ),
    (
        "http_server_request_duration_seconds",
        "Time the hub took to answer, by method, route and status.",
    ),
];

/// Registers [`METRICS`]' help texts with the installed recorder.
fn describe() {
    for (name, help) in METRICS {
        if name.ends_with("_seconds") {
            metrics::describe_histogram!(*name, metrics::Unit::Seconds, *help);
        } else if name.ends_with("_total") {
            metrics::describe_counter!(*name, *help);
        } else {
            metrics::describe_gauge!(*name, *help);
        }
    }
}

#[cfg(test)]
mod tests;
