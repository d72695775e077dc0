//! Distributed tracing from the `[telemetry]` section: the OTLP exporter sending through
//! the hub's own HTTP client (hyper over rustls, the adapters' client), or nothing at all
//! when no endpoint is configured.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hub_config::TelemetryConfig;
pub use hub_telemetry::tracing_export::Tracing;
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
        export_timeout: timeout,
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
        // Shutting the provider down blocks until the exporter's thread is done.
        let _ = tokio::task::spawn_blocking(move || tracing.shutdown(grace)).await;
    }
}
