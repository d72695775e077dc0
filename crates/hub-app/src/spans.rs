//! One span per use case, for a tracing exporter to pick up: named after the use case,
//! with the cache outcome of a read, whether a write's answer was replayed, what
//! became of an incoming webhook, or which trace a dead letter's replay follows. Without an
//! exporter no such span is enabled and each costs one callsite check. A read's span may
//! instead be kept by the tracing setup itself, as the trace context port decides.

use std::future::Future;

use hub_core::{Error, Fetched, TraceContext, UseCaseSpan};
use tracing::field::Empty;
use tracing::{Instrument as _, Span};

/// The span of the use case `name`.
pub(crate) fn use_case(name: &'static str) -> Span {
    tracing::info_span!(
        "use case",
        otel.name = name,
        hub.use_case = name,
        hub.cache.status = Empty,
        hub.idempotency.replayed = Empty,
    )
}

/// The span of an incoming webhook of `topic`; `hub.webhook.result` is recorded when it
/// is handled (`processed`, `duplicate`, `refused`, `invalid`, `store_failed`).
pub(crate) fn webhook(topic: &'static str) -> Span {
    tracing::info_span!(
        "use case",
        otel.name = "webhook",
        hub.use_case = "webhook",
        hub.webhook.topic = topic,
        hub.webhook.result = Empty,
    )
}

/// The span of the replay of dead letter `dlq_id`; `hub.replay.original_trace_id` is
/// recorded (and a link to the failed write's span added) once the entry is read.
pub(crate) fn replay(dlq_id: &str) -> Span {
    tracing::info_span!(
        "use case",
        otel.name = "replay",
        hub.use_case = "replay",
        hub.dlq.id = dlq_id,
        hub.replay.original_trace_id = Empty,
    )
}

/// Runs the read `fetch` in the span of the use case `name`, recording its cache outcome:
/// a `tracing` span, or one `trace` keeps itself ([`TraceContext::use_case`]), or none
/// when the request's trace is not sampled.
pub(crate) async fn read<T>(
    trace: &dyn TraceContext,
    name: &'static str,
    fetch: impl Future<Output = Result<Fetched<T>, Error>>,
) -> Result<Fetched<T>, Error> {
    match trace.use_case(name) {
        UseCaseSpan::Tracing => {
            // The outcome is recorded on the span in hand, not looked up as the current one.
            let mut read = std::pin::pin!(fetch.instrument(use_case(name)));
            let result = read.as_mut().await;
            if let Ok(fetched) = &result {
                read.span().record(CACHE_STATUS, fetched.cache.as_str());
            }
            result
        }
        UseCaseSpan::Skipped => fetch.await,
        UseCaseSpan::Kept(mut span) => {
            let result = fetch.await;
            if let Ok(fetched) = &result {
                span.record(CACHE_STATUS, fetched.cache.as_str());
            }
            result
        }
    }
}

/// The attribute that says where a read's answer came from.
const CACHE_STATUS: &str = "hub.cache.status";

#[cfg(test)]
mod tests;
