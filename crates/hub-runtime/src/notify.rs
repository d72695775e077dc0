//! The supervisor's outbound webhook: each alert POSTed as JSON, signed the Standard
//! Webhooks way (a sink of `hub_app::SupervisorNotifier`).

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use hub_core::{Alert, Notifier, StoreError};
use hub_telemetry::tracing_export::spans;
use hub_upstream::HttpClient;
use secrecy::{ExposeSecret, SecretSlice};
use tracing::Instrument as _;

use hub_app::webhooks::signature::{BadSecret, decode_secret, sign};

/// Where alerts are POSTed, and the key they are signed with.
pub struct WebhookSink {
    client: HttpClient,
    url: http::Uri,
    key: SecretSlice<u8>,
    timeout: Duration,
}

impl std::fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSink")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl WebhookSink {
    /// Alerts to `url`, signed with the `whsec_<base64>` `secret`, each delivery bounded by `timeout`.
    pub fn new(client: HttpClient, url: http::Uri, secret: &str, timeout: Duration) -> Result<Self, BadSecret> {
        Ok(Self {
            client,
            url,
            key: decode_secret(secret)?,
            timeout,
        })
    }

    /// Sends one alert; any answer but 2xx is a failure.
    pub async fn send(&self, alert: &Alert) -> Result<(), StoreError> {
        let unavailable = |reason: String| StoreError::Unavailable { reason };
        let body = serde_json::to_vec(alert).map_err(|e| unavailable(format!("alert not serialisable: {e}")))?;
        let id = format!("msg_{}", uuid::Uuid::now_v7().simple());
        let ts = hub_app::webhooks::now_unix();
        let signature = sign(self.key.expose_secret(), &id, ts, &body);
        let mut request = http::Request::post(self.url.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature)
            .body(Bytes::from(body))
            .map_err(|e| unavailable(format!("alert request: {e}")))?;
        // A client span of its own, sent as `traceparent`: the alert joins the trace of the
        // call that raised it.
        let span = spans::attempt_span("notify_supervisor", &self.url, 0);
        spans::inject(&span, request.headers_mut());
        let sent = tokio::time::timeout(self.timeout, self.client.send(request));
        let (status, result) = match sent.instrument(span.clone()).await {
            Err(_) => (
                None,
                Err(unavailable("the alert webhook did not answer in time".to_owned())),
            ),
            Ok(Err(e)) => (None, Err(unavailable(format!("the alert webhook failed: {e}")))),
            Ok(Ok(r)) if r.status.is_success() => (Some(r.status.as_u16()), Ok(())),
            Ok(Ok(r)) => (
                Some(r.status.as_u16()),
                Err(unavailable(format!("the alert webhook answered {}", r.status.as_u16()))),
            ),
        };
        spans::record_attempt(&span, status, result.as_ref().err().map(|_| "unavailable"));
        result
    }
}

#[async_trait]
impl Notifier for WebhookSink {
    async fn notify(&self, alert: &Alert) -> Result<(), StoreError> {
        self.send(alert).await
    }
}
