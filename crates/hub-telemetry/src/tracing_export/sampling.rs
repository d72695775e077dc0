//! How a request's trace is sampled: decided once, before its server span opens
//! ([`super::spans::request`]), and then kept — by the exporter's sampler, by the
//! OpenTelemetry layer's filter, and by a gate that turns the hub's spans off for every
//! layer while an unsampled request is served.

use opentelemetry::KeyValue;
use opentelemetry::trace::{Link, SpanKind, TraceId, TraceState};
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, SamplingResult, ShouldSample};
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, Filter};

use super::spans;

/// The exporter's sampler: parent-based, and for a span without a parent [`RootSampler`].
pub(super) fn sampler(sample_ratio: f64) -> Sampler {
    Sampler::ParentBased(Box::new(RootSampler {
        ratio: Sampler::TraceIdRatioBased(sample_ratio),
    }))
}

/// The sampler of spans without a parent: a server span is kept (its request's trace was
/// sampled by [`spans::request`] before it opened), any other root by trace-id ratio.
#[derive(Debug, Clone)]
pub(super) struct RootSampler {
    ratio: Sampler,
}

impl ShouldSample for RootSampler {
    fn should_sample(
        &self,
        parent: Option<&opentelemetry::Context>,
        trace_id: TraceId,
        name: &str,
        kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        if *kind == SpanKind::Server {
            SamplingResult {
                decision: SamplingDecision::RecordAndSample,
                attributes: Vec::new(),
                trace_state: TraceState::NONE,
            }
        } else {
            self.ratio
                .should_sample(parent, trace_id, name, kind, attributes, links)
        }
    }
}

/// Whether `meta` is a span of the hub's own code (targets `hub_*`).
fn hub_span(meta: &Metadata<'_>) -> bool {
    meta.is_span() && meta.target().starts_with("hub_")
}

/// The OpenTelemetry layer's filter: the hub's spans, no events. It also carries the
/// sample ratio, which [`spans::request`] finds through the subscriber ([`sample_ratio`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct HubSpans {
    sample_ratio: f64,
}

impl HubSpans {
    pub(super) fn new(sample_ratio: f64) -> Self {
        Self { sample_ratio }
    }
}

impl<S> Filter<S> for HubSpans {
    fn enabled(&self, meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        hub_span(meta)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if hub_span(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }
}

/// The sample ratio of the current subscriber's OpenTelemetry layer; `None` when it has
/// none (tracing is off).
pub(super) fn sample_ratio() -> Option<f64> {
    tracing::dispatcher::get_default(|d| d.downcast_ref::<HubSpans>().map(|f| f.sample_ratio))
}

/// Disables the hub's spans for every layer while the current task serves a request whose
/// trace is not sampled, so that such a request builds no span at all. (A per-layer
/// filter cannot: the registry still builds a span every per-layer filter turned down.)
#[derive(Debug, Clone, Copy)]
pub(super) struct UnsampledGate;

impl<S: Subscriber> Layer<S> for UnsampledGate {
    // Asked again for every span of a hub callsite: the answer depends on the task.
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if hub_span(meta) {
            Interest::sometimes()
        } else {
            Interest::always()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, _cx: Context<'_, S>) -> bool {
        !(hub_span(meta) && spans::unsampled_here())
    }
}
