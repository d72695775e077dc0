//! The hub's OpenTelemetry layer under a test subscriber, keeping what it exports.

use std::sync::{Arc, Mutex};

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SimpleSpanProcessor, SpanData, SpanExporter};

/// Keeps every exported span.
#[derive(Debug, Clone, Default)]
struct Kept(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Kept {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

/// Takes log lines and keeps none.
pub(super) struct Discard;

impl crate::logging::LineSink for Discard {
    fn append(&self, _line: &[u8]) {}
}

/// Runs `f` under the hub's subscriber as `logging::init_with_traces` builds it, its
/// OpenTelemetry layer sampling new traces at `ratio`, and returns the spans it ended.
pub(super) fn traced_at(ratio: f64, f: impl FnOnce()) -> Vec<SpanData> {
    let (tracing, kept) = keeping(ratio);
    let subscriber = crate::logging::with_traces(&tracing, crate::logging::Style::Json, "info", Arc::new(Discard));
    tracing::subscriber::with_default(subscriber, f);
    kept.0.lock().unwrap().clone()
}

/// Runs `f` under the subscriber `assemble` makes with the OpenTelemetry layer (sampling
/// every trace), and returns the spans it ended.
pub(super) fn recorded_under<D: Into<tracing::Dispatch>>(
    assemble: impl FnOnce(&super::Tracing) -> D,
    f: impl FnOnce(),
) -> Vec<SpanData> {
    let (tracing, kept) = keeping(1.0);
    tracing::dispatcher::with_default(&assemble(&tracing).into(), f);
    kept.0.lock().unwrap().clone()
}

/// An export sampling new traces at `ratio` into what it returns beside.
fn keeping(ratio: f64) -> (super::Tracing, Kept) {
    let kept = Kept::default();
    let tracing = super::Tracing {
        processor: Arc::new(SimpleSpanProcessor::new(kept.clone())),
        sample_ratio: ratio,
    };
    (tracing, kept)
}
