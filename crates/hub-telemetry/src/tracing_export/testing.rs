//! The hub's OpenTelemetry layer under a test subscriber, keeping what it exports.

use std::sync::{Arc, Mutex};

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SimpleSpanProcessor, SpanData, SpanExporter};
use tracing_subscriber::layer::SubscriberExt as _;

/// Keeps every exported span.
#[derive(Debug, Clone, Default)]
struct Kept(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Kept {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

/// Runs `f` under a subscriber with the hub's OpenTelemetry layer sampling new traces at
/// `ratio`, and returns the spans it ended.
pub(super) fn traced_at(ratio: f64, f: impl FnOnce()) -> Vec<SpanData> {
    let kept = Kept::default();
    let layer = super::otel_layer(Arc::new(SimpleSpanProcessor::new(kept.clone())), ratio);
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f);
    kept.0.lock().unwrap().clone()
}
