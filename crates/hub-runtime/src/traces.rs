//! Distributed tracing from the `[telemetry]` section: the OTLP exporter sending through
//! the hub's own HTTP client (hyper over rustls, the adapters' client), or nothing at all
//! when no endpoint is configured; and the use cases' view of the running trace
//! ([`Spans`], hub-core's `TraceContext` port).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hub_config::TelemetryConfig;
use hub_core::UseCaseSpan;
use hub_core::trace::{SpanId, TraceId, TraceParent};
pub use hub_telemetry::tracing_export::Tracing;
use hub_telemetry::tracing_export::spans::UseCaseTrace;
use hub_telemetry::tracing_export::{self, ExportSettings, HttpClient, HttpError, StartError};
use hub_upstream::{ClientConfig, HttpClient as UpstreamClient};

/// Why tracing could not be started.
#[derive(Debug, thiserror::Error)]
pub enum TracesError {
    /// The HTTP client could not be built.
    #[error("the trace exporter's HTTP client: {0}")]
    Client(#[from] hub_upstream::client::BuildError),
    /// The exporter refused its settings.
    #[error(transparent)]
    Start(#[from] StartError),
    /// No Tokio runtime to send on.
    #[error("tracing must be started inside a Tokio runtime")]
    NoRuntime,
}

/// Starts the export `config` asks for; `Ok(None)` when `otlp_endpoint` is absent (then
/// the subscriber gets no OpenTelemetry layer). Call it inside the Tokio runtime: exports
/// are sent on it.
pub fn start(config: &TelemetryConfig) -> Result<Option<Tracing>, TracesError> {
    let Some(endpoint) = &config.otlp_endpoint else {
        return Ok(None);
    };
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| TracesError::NoRuntime)?;
    let timeout = Duration::from_millis(config.export_timeout_ms);
    let client = OtlpClient {
        client: UpstreamClient::new(&ClientConfig::default())?,
        runtime,
        timeout,
    };
    let settings = ExportSettings {
        endpoint: endpoint.clone(),
        service_name: config.service_name.clone(),
        sample_ratio: config.sample_ratio,
        headers: tracing_export::otlp::headers_from_env(),
        batch_size: config.batch_size,
        queue_size: config.queue_size,
    };
    Ok(Some(tracing_export::start(&settings, Arc::new(client))?))
}

/// The exporter's transport: each request is sent on the hub's runtime (the exporter's
/// own thread has none) and abandoned after the export timeout.
#[derive(Debug)]
struct OtlpClient {
    client: UpstreamClient,
    runtime: tokio::runtime::Handle,
    timeout: Duration,
}

/// Why an export request failed.
#[derive(Debug, thiserror::Error)]
enum ExportFailed {
    #[error("the collector did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the export task ended early")]
    Cancelled,
}

#[async_trait::async_trait]
impl HttpClient for OtlpClient {
    async fn send_bytes(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let timeout = self.timeout;
        let sent = self
            .runtime
            .spawn(async move { tokio::time::timeout(timeout, client.send(request)).await });
        match sent.await {
            Ok(Ok(Ok(response))) => {
                let mut answer = http::Response::new(response.body);
                *answer.status_mut() = response.status;
                *answer.headers_mut() = response.headers;
                Ok(answer)
            }
            Ok(Ok(Err(e))) => Err(Box::new(e)),
            Ok(Err(_)) => Err(Box::new(ExportFailed::Timeout(timeout))),
            Err(_) => Err(Box::new(ExportFailed::Cancelled)),
        }
    }
}

/// Sends the spans still queued, waiting at most `grace` (the server's shutdown grace),
/// then stops the export. Nothing when tracing is off.
pub async fn flush(tracing: Option<Tracing>, grace: Duration) {
    if let Some(tracing) = tracing {
        // Shutting the export down blocks until the exporter's thread is done.
        let _ = tokio::task::spawn_blocking(move || tracing.shutdown(grace)).await;
    }
}

/// hub-core's `TraceContext` port over the hub's OpenTelemetry layer: the context of the
/// hub span the calling task is in, and links added to it. With no layer in the
/// subscriber (tracing off) it finds nothing and links nothing, at the cost of one
/// look-up of the layer. A task spawned through it keeps the request's log context
/// (which holds its place in the trace), tracing on or off.
#[derive(Debug, Clone, Copy, Default)]
pub struct Spans;

impl hub_core::TraceContext for Spans {
    fn current(&self) -> Option<TraceParent> {
        let ids = tracing_export::spans::current_ids()?;
        let flags = u8::from(ids.sampled);
        Some(TraceParent::new(
            TraceId::from_bytes(ids.trace_id)?,
            SpanId::from_bytes(ids.span_id)?,
            flags,
        ))
    }

    fn link_current(&self, original: &TraceParent) {
        tracing_export::spans::link_current(tracing_export::spans::SpanIds {
            trace_id: original.trace_id().to_bytes(),
            span_id: original.span_id().to_bytes(),
            sampled: original.sampled(),
        });
    }

    fn in_current_trace(&self, task: hub_core::SpawnedTask) -> hub_core::SpawnedTask {
        Box::pin(tracing_export::spans::in_current_trace(task))
    }

    fn use_case(&self, name: &'static str) -> UseCaseSpan {
        match tracing_export::spans::use_case(name) {
            UseCaseTrace::Span => UseCaseSpan::Tracing,
            UseCaseTrace::Skipped => UseCaseSpan::Skipped,
            UseCaseTrace::Kept(span) => UseCaseSpan::Kept(Box::new(Kept(span))),
        }
    }
}

/// A use case span the request keeps, as hub-core's port hands it to a use case.
struct Kept(tracing_export::spans::UseCaseSpan);

impl hub_core::KeptSpan for Kept {
    fn record(&mut self, key: &'static str, value: &'static str) {
        self.0.record(key, value);
    }
}

#[cfg(test)]
mod tests {
    use hub_core::TraceContext as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    #[test]
    fn without_the_layer_no_span_is_a_trace() {
        let subscriber = tracing_subscriber::registry();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("use case");
            assert!(!span.is_disabled(), "another layer's span");
            let _in = span.enter();
            assert_eq!(Spans.current(), None);
        });
    }

    #[tokio::test]
    async fn with_the_layer_the_current_hub_span_is_the_context() {
        let config = TelemetryConfig {
            // Nothing listens: the spans are dropped when flushed.
            otlp_endpoint: Some("http://127.0.0.1:9".to_owned()),
            ..TelemetryConfig::default()
        };
        let tracing = start(&config).unwrap().unwrap();
        let subscriber = tracing_subscriber::registry().with(tracing.layer());
        tracing::subscriber::with_default(subscriber, || {
            assert_eq!(Spans.current(), None, "no span is current");
            let span = tracing::info_span!("use case");
            let _in = span.enter();
            let current = Spans.current().expect("the hub span's context");
            let trace_id = tracing_export::spans::trace_id(&span).unwrap();
            assert_eq!(current.trace_id().to_bytes(), trace_id.0);
            assert!(current.sampled());
            let original: TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
                .parse()
                .unwrap();
            Spans.link_current(&original);
            assert_eq!(Spans.current(), Some(current), "a link changes no context");
        });
        flush(Some(tracing), Duration::from_millis(100)).await;
    }

    /// Serving a request whose trace is not sampled (no span is built), the context is
    /// the request's, flagged not sampled, as its log lines' trace id is.
    #[tokio::test(flavor = "current_thread")]
    async fn an_unsampled_request_is_its_own_context_flagged_not_sampled() {
        let config = TelemetryConfig {
            otlp_endpoint: Some("http://127.0.0.1:9".to_owned()),
            sample_ratio: 0.0,
            ..TelemetryConfig::default()
        };
        let tracing = start(&config).unwrap().unwrap();
        let guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(tracing.layer()));
        let request = tracing_export::spans::request(
            &http::Method::GET,
            &http::HeaderMap::new(),
            &hub_telemetry::logging::context::LogId::new("req-1"),
        );
        let trace_id = request.trace_id().expect("a trace id, sampled or not");
        let log = hub_telemetry::logging::context::LogContext {
            request_id: hub_telemetry::logging::context::LogId::new("req-1"),
            conversation_id: None,
            trace: None,
        };
        let current = request.within(log, async { Spans.current() }, |_| (200, None)).await;
        let current = current.expect("the request's context");
        assert_eq!(current.trace_id().to_bytes(), trace_id.0);
        assert!(!current.sampled());
        drop(guard);
        flush(Some(tracing), Duration::from_millis(100)).await;
    }
}
