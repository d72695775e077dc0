//! The client span of each attempt of an upstream call: its own span id sent as
//! `traceparent`, and for a retry the reason (the previous attempt's error code) and how
//! long the call waited before it. Nothing happens unless a tracing exporter enables it
//! (and the `otel` feature compiles it in).

use std::sync::Mutex;

use hub_core::Error;
use hub_resilience::retry::Attempt;
use tokio::time::Instant;
use tracing::Span;

use crate::spans;

/// How the previous attempt of one call ended: its error code and when.
#[derive(Debug, Default)]
pub(crate) struct AttemptSpans {
    previous: Mutex<Option<(&'static str, Instant)>>,
}

impl AttemptSpans {
    /// The span of `attempt` of `operation`, about to send `parts`: `traceparent` is set
    /// in its headers.
    pub(crate) fn begin(&self, operation: &str, parts: &mut http::request::Parts, attempt: Attempt) -> Span {
        let span = spans::attempt_span(operation, &parts.uri, attempt.number.saturating_sub(1));
        // A disabled span still passes on a request's decision not to sample its trace.
        spans::inject(&span, &mut parts.headers);
        if span.is_disabled() {
            return span;
        }
        if let Ok(mut previous) = self.previous.lock() {
            if let Some((reason, ended)) = previous.take() {
                let waited = Instant::now().saturating_duration_since(ended).as_millis();
                spans::record_retry(&span, reason, u64::try_from(waited).unwrap_or(u64::MAX));
            }
            // Until it ends otherwise: an attempt the retry engine cuts off timed out then.
            *previous = Some((Error::Timeout.code(), Instant::now() + attempt.timeout));
        }
        span
    }

    /// Records how the attempt of `span` ended: the status it got, the error it became.
    pub(crate) fn end(&self, span: &Span, status: Option<u16>, error: Option<&Error>) {
        if span.is_disabled() {
            return;
        }
        spans::record_attempt(span, status, error.map(Error::code));
        if let Ok(mut previous) = self.previous.lock() {
            *previous = error.map(|e| (e.code(), Instant::now()));
        }
    }
}
