//! Distributed tracing: hub spans exported over OTLP/HTTP (protobuf) in the background,
//! sampled parent-based by trace-id ratio, with W3C `traceparent` in and out.
//!
//! Only when [`start`] is called (an OTLP endpoint is configured) does the subscriber get
//! an OpenTelemetry layer ([`Tracing::layer`]); without it no span of the hub is enabled,
//! so the helpers of [`spans`] return disabled spans and cost one callsite check. The
//! layer is the hub's own span recorder (`record`): each span's record becomes the SDK's
//! span data when it closes, with no SDK span or OpenTelemetry context built per span.
//!
//! The exporter sends through an [`HttpClient`] the embedding binary supplies (the hub's
//! own hyper client), so this crate carries no HTTP stack. A collector that is down or
//! slow costs no request anything: spans wait in a bounded queue, are sent in batches by
//! a background thread, and those that cannot be sent are dropped and counted in
//! `integration_telemetry_spans_dropped_total` ([`batch`]).

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Uri};
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanProcessor;
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

pub mod batch;
mod ids;
pub mod otlp;
mod protobuf;
mod record;
mod sampling;
pub mod spans;
#[cfg(test)]
mod testing;

pub use opentelemetry_http::{HttpClient, HttpError};
pub(crate) use record::Recorder;

/// What [`start`] needs: where and how to export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSettings {
    /// The collector's OTLP/HTTP base URL (`http://collector:4318`); spans go to `/v1/traces` under it.
    pub endpoint: String,
    /// The `service.name` resource attribute.
    pub service_name: String,
    /// The share of new traces sampled, 0.0 to 1.0; a trace with a sampled parent follows its parent.
    pub sample_ratio: f64,
    /// The most spans sent in one export.
    pub batch_size: usize,
    /// The most spans waiting to be sent; more are dropped and counted.
    pub queue_size: usize,
    /// Extra headers on every export (a collector's API key, say): see
    /// [`otlp::headers_from_env`].
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// Why tracing could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The endpoint is not a URL.
    #[error("the OTLP endpoint {url:?} is not a URL: {source}")]
    Endpoint {
        /// The traces' URL made from the endpoint.
        url: String,
        /// Why it is not one.
        source: http::uri::InvalidUri,
    },
    /// The export thread could not be started.
    #[error("the trace export thread could not be started: {0}")]
    Thread(std::io::Error),
}

/// The running export: the span processor the layer hands ended spans to. Call
/// [`Tracing::shutdown`] at the end of the process to send what is queued.
#[derive(Debug, Clone)]
pub struct Tracing {
    processor: Arc<dyn SpanProcessor>,
    sample_ratio: f64,
}

/// The spans' instrumentation scope.
const SCOPE: &str = "integration-hub";

/// Starts the exporter's background thread; `client` sends the batches (and abandons one
/// that takes too long: its spans are then counted as dropped).
///
/// Sampling is parent-based: a caller's sampled `traceparent` is always followed, a new
/// trace is kept with probability `sample_ratio`. A request's server span is only built
/// once [`spans::request`] has made that decision (it is the request's own record, not a
/// `tracing` span, and the parent of the hub spans opened outside any other while the
/// request is served); another span without a parent (a background task's) is sampled by
/// the same ratio, and a child follows its parent.
pub fn start(settings: &ExportSettings, client: Arc<dyn HttpClient>) -> Result<Tracing, StartError> {
    let url = format!("{}/v1/traces", settings.endpoint.trim_end_matches('/'));
    let uri = Uri::try_from(url.as_str()).map_err(|source| StartError::Endpoint { url, source })?;
    let exporter = otlp::OtlpExporter::new(client, uri, settings.headers.clone());
    let mut processor = batch::Batch::start(
        exporter,
        batch::BatchSettings {
            batch_size: settings.batch_size,
            queue_size: settings.queue_size,
            delay: schedule_delay(),
        },
    )
    .map_err(StartError::Thread)?;
    processor.set_resource(
        &Resource::builder_empty()
            .with_service_name(settings.service_name.clone())
            .build(),
    );
    Ok(Tracing {
        processor: Arc::new(processor),
        sample_ratio: settings.sample_ratio,
    })
}

/// The longest a span waits for its batch to fill: `OTEL_BSP_SCHEDULE_DELAY` (milliseconds),
/// as OpenTelemetry's batch processors read it, else their default of five seconds.
fn schedule_delay() -> Duration {
    const DEFAULT: Duration = Duration::from_secs(5);
    std::env::var("OTEL_BSP_SCHEDULE_DELAY")
        .ok()
        .and_then(|ms| ms.trim().parse().ok())
        .map_or(DEFAULT, Duration::from_millis)
}

impl Tracing {
    /// The OpenTelemetry layer for the hub's subscriber: it records the hub's own spans
    /// (targets `hub_*`) and no event (log lines stay log lines), and turns the hub's spans
    /// off while a request whose trace is not sampled is served ([`spans::request`], which
    /// finds the sample ratio through this layer). Spans carry no source location, thread
    /// or busy/idle attributes: they would cost six attributes per span and work on every
    /// poll.
    ///
    /// Every other span and event it leaves to the subscriber's other layers: give it one
    /// that filters them, as [`crate::logging::with_traces`] does with the hub's log layer
    /// (alone, as in [`Tracing::install_alone`], a filter keeps the hub's spans only).
    ///
    /// The subscriber's base must be tracing-subscriber's `Registry`: the helpers of
    /// [`spans`] find a span's record through it.
    pub fn layer<S>(&self) -> impl Layer<S> + use<S>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + 'static,
    {
        Recorder::new(
            self.processor.clone(),
            InstrumentationScope::builder(SCOPE).build(),
            self.sample_ratio,
        )
    }

    /// Installs this layer alone as the process's subscriber, for a command whose standard
    /// output is its answer: its spans are exported, and no log line is written (nor any
    /// other span or event built). A subscriber already installed is kept.
    pub fn install_alone(&self) {
        drop(
            tracing_subscriber::registry()
                .with(self.layer())
                .with(filter_fn(crate::hub_span))
                .try_init(),
        );
    }

    /// Sends what is queued now. Blocks like [`Tracing::shutdown`].
    pub fn force_flush(&self) {
        if let Err(e) = self.processor.force_flush() {
            tracing::warn!(error = %e, "trace export did not finish");
        }
    }

    /// Sends what is queued and stops the exporter, waiting at most `grace`. Blocks: call
    /// it off the async runtime's workers (`spawn_blocking`), or after the server is done.
    pub fn shutdown(&self, grace: Duration) {
        if let Err(e) = self.processor.shutdown_with_timeout(grace) {
            tracing::warn!(error = %e, "trace export did not finish within the grace period");
        }
    }
}
