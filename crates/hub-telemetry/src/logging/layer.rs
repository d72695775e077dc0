//! The log layer as the subscriber sees it: the line formatter behind the level filter,
//! filtering for itself as a plain layer.
//!
//! Why not tracing-subscriber's per-layer filter: it looks each span up in the registry on
//! every enter, exit, record and close to learn whether its layer wanted it, a tenth of a
//! traced read's time, and the log layer wants no span at all. As a plain layer its
//! answers are the whole subscriber's, so it says of spans only what holds for every
//! layer: none, unless the hub's OpenTelemetry layer is in the same subscriber (added
//! before or after it): then the hub's spans, which that layer decides.

use std::sync::atomic::{AtomicBool, Ordering};

use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::{EnvFilter, registry::LookupSpan};

use super::lines::Lines;

/// The log layer: events passing `filter` become lines; no span is built but the hub's
/// own, and those only for the OpenTelemetry layer.
#[derive(Debug)]
pub(crate) struct LogLayer {
    lines: Lines,
    filter: EnvFilter,
    /// Whether the hub's spans are let through: set as the subscriber is assembled, when
    /// the OpenTelemetry layer is found in it.
    hub_spans: AtomicBool,
}

impl LogLayer {
    pub(super) fn new(lines: Lines, filter: EnvFilter) -> Self {
        Self {
            lines,
            filter,
            hub_spans: AtomicBool::new(false),
        }
    }

    /// Lets the hub's spans be built, for the OpenTelemetry layer beside this one.
    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    pub(crate) fn let_hub_spans_through(&self) {
        self.hub_spans.store(true, Ordering::Relaxed);
    }

    fn lets_through(&self, meta: &Metadata<'_>) -> bool {
        self.hub_spans.load(Ordering::Relaxed) && crate::hub_span(meta)
    }
}

impl<S> Layer<S> for LogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a> + 'static,
{
    // The layers added before this one (the OpenTelemetry layer added after finds this one).
    #[cfg(feature = "otel")]
    fn on_layer(&mut self, inner: &mut S) {
        let inner: &dyn Subscriber = inner;
        if inner.is::<crate::tracing_export::Recorder>() {
            self.let_hub_spans_through();
        }
    }

    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if meta.is_event() {
            Layer::<S>::register_callsite(&self.filter, meta)
        } else if self.lets_through(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        if meta.is_event() {
            Layer::<S>::enabled(&self.filter, meta, ctx)
        } else {
            self.lets_through(meta)
        }
    }

    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        Layer::<S>::event_enabled(&self.filter, event, ctx)
    }

    // Alone, the level bounds everything; beside the OpenTelemetry layer, the hub's spans
    // may be of any level.
    fn max_level_hint(&self) -> Option<LevelFilter> {
        if self.hub_spans.load(Ordering::Relaxed) {
            None
        } else {
            Layer::<S>::max_level_hint(&self.filter)
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        self.lines.on_event(event, ctx);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;
    use crate::logging::Style;
    use crate::logging::testing::Collect;

    fn layer(filter: &str, sink: Arc<Collect>) -> LogLayer {
        LogLayer::new(Lines::new(Style::Json, sink), EnvFilter::new(filter))
    }

    #[test]
    fn alone_it_writes_the_events_at_its_level_and_lets_no_span_be_built() {
        let sink = Arc::new(Collect::default());
        let subscriber = tracing_subscriber::registry().with(layer("info", sink.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("kept");
            tracing::debug!("below the level");
            assert!(tracing::info_span!(target: "hub_app", "use case").is_disabled());
            assert!(tracing::info_span!(target: "hyper", "other").is_disabled());
        });
        assert_eq!(sink.lines(), 1);
    }

    #[test]
    fn told_of_an_exporter_it_lets_the_hubs_spans_through_and_no_other() {
        let sink = Arc::new(Collect::default());
        let layer = layer("warn", sink.clone());
        layer.let_hub_spans_through();
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!("kept");
            tracing::info!("below the level");
            assert!(!tracing::info_span!(target: "hub_app", "use case").is_disabled());
            assert!(!tracing::debug_span!(target: "hub_app", "a detail").is_disabled());
            assert!(tracing::info_span!(target: "hyper", "other").is_disabled());
        });
        assert_eq!(sink.lines(), 1);
    }
}
