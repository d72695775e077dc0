//! How a request's trace is sampled: decided once, before its server span opens
//! ([`super::spans::request`]), and then kept by the span recorder, which follows a
//! span's parent and turns the hub's spans off for every layer while an unsampled request
//! is served.

use opentelemetry::trace::TraceId;

use super::record::Recorder;

/// Whether a new trace `trace_id` is kept at `ratio`: the SDK's own trace-id ratio rule
/// (`Sampler::TraceIdRatioBased`: the id's low 64 bits, halved, under `ratio` × 2⁶³), so
/// that a collector or a downstream service sampling by ratio agrees. Computed here: the
/// SDK's sampler builds a result to drop on every request.
pub(super) fn keeps(ratio: f64, trace_id: TraceId) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    // Saturating float-to-int conversion, as the SDK's: NaN and negatives keep nothing.
    let bound = (ratio.max(0.0) * (1u64 << 63) as f64) as u64;
    let bytes = trace_id.to_bytes();
    let mut low = [0; 8];
    low.copy_from_slice(&bytes[8..]);
    (u64::from_be_bytes(low) >> 1) < bound
}

/// The sample ratio of the current subscriber's OpenTelemetry layer (its span recorder's);
/// `None` when it has none (tracing is off).
pub(super) fn sample_ratio() -> Option<f64> {
    tracing::dispatcher::get_default(|d| d.downcast_ref::<Recorder>().map(Recorder::sample_ratio))
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanKind, TraceId};
    use opentelemetry_sdk::trace::{Sampler, SamplingDecision, ShouldSample as _};
    use proptest::prelude::*;

    proptest! {
        /// The ratio rule decides as the SDK's `TraceIdRatioBased` sampler, for any id and
        /// any ratio (out-of-range ones included).
        #[test]
        fn the_ratio_rule_is_the_sdks(id in any::<u128>(), ratio in prop_oneof![-1.0..2.0f64, Just(0.0), Just(1.0), Just(0.1)]) {
            let trace_id = TraceId::from_bytes(id.to_be_bytes());
            let sdk = Sampler::TraceIdRatioBased(ratio).should_sample(None, trace_id, "", &SpanKind::Server, &[], &[]);
            prop_assert_eq!(super::keeps(ratio, trace_id), sdk.decision == SamplingDecision::RecordAndSample);
        }
    }
}
