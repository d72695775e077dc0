//! The hub's observability setup, for any binary that embeds the hub's crates.
//!
//! - [`logging`] installs the `tracing` subscriber (JSON, or human-readable on a
//!   terminal, at the configured level) and writes its lines from a background thread;
//! - [`prometheus`] installs the process-wide Prometheus recorder, registers the help
//!   text of every metric the hub records ([`prometheus::METRICS`]) and renders the
//!   exposition text;
//! - [`tracing_export`] (feature `otel`) exports the hub's spans over OTLP/HTTP and carries
//!   W3C trace context in and out.
//!
//! It knows no HTTP framework: serving the rendered text (`/metrics`) and the
//! per-request metrics are the server's.
//!
//! ```no_run
//! let _logs = hub_telemetry::logging::init(&hub_telemetry::logging::LogConfig::default());
//! if let Some(handle) = hub_telemetry::prometheus::handle() {
//!     metrics::counter!("integration_requests_total").increment(1);
//!     let exposition: String = handle.render();
//!     assert!(exposition.contains("# HELP integration_requests_total"));
//! }
//! ```

pub mod logging;
pub mod prometheus;
#[cfg(feature = "otel")]
pub mod tracing_export;

/// Whether `meta` is a span of the hub's own code (targets `hub_*`): the only spans an
/// exporter records, and the only ones the hub's log layer lets through to it.
fn hub_span(meta: &tracing::Metadata<'_>) -> bool {
    meta.is_span() && meta.target().starts_with("hub_")
}

/// The README's example, run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
