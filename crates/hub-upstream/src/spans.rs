//! The trace hooks of an upstream call: hub-telemetry's spans with the `otel` feature,
//! and with it off, the same calls doing nothing (no OpenTelemetry crate is compiled).

#[cfg(feature = "otel")]
pub(crate) use hub_telemetry::tracing_export::spans::{
    attempt_span, breaker_transition, budget_wait, inject, record_attempt, record_retry,
};

#[cfg(not(feature = "otel"))]
mod off {
    use tracing::Span;

    /// No span: tracing is not compiled in.
    pub(crate) fn attempt_span(_operation: &str, _uri: &http::Uri, _resend_count: u32) -> Span {
        Span::none()
    }

    pub(crate) fn inject(_span: &Span, _headers: &mut http::HeaderMap) {}

    pub(crate) fn record_attempt(_span: &Span, _status: Option<u16>, _error: Option<&str>) {}

    pub(crate) fn record_retry(_span: &Span, _reason: &str, _waited_ms: u64) {}

    pub(crate) fn budget_wait(_span: &Span, _waited_ms: u64) {}

    pub(crate) fn breaker_transition(_span: &Span, _adapter: &str, _from: &'static str, _to: &'static str) {}
}

#[cfg(not(feature = "otel"))]
pub(crate) use off::*;
