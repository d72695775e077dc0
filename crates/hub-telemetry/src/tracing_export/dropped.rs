//! The export queue's bound and the count of spans that never reached the collector
//! (`integration_telemetry_spans_dropped_total`): spans refused by a full queue, and
//! spans of a batch the collector failed, refused or did not answer in time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

/// Counts `n` dropped spans.
fn count_dropped(n: usize) {
    metrics::counter!("integration_telemetry_spans_dropped_total").increment(u64::try_from(n).unwrap_or(u64::MAX));
}

/// Spans handed to the batch processor and not yet exported or dropped, and how many may be.
#[derive(Debug, Clone)]
pub struct Pending {
    count: Arc<AtomicUsize>,
    limit: usize,
}

impl Pending {
    /// A queue bound of `limit` spans.
    pub fn new(limit: usize) -> Self {
        Self {
            count: Arc::new(AtomicUsize::new(0)),
            limit,
        }
    }

    /// Takes a place in the queue, or says there is none.
    fn take(&self) -> bool {
        self.count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .is_ok()
    }

    /// Gives back `n` places.
    fn release(&self, n: usize) {
        let _ = self
            .count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| Some(c.saturating_sub(n)));
    }
}

/// A span processor in front of the batch processor: a span finds a place in the queue
/// or is dropped and counted, never waited for.
#[derive(Debug)]
pub struct Bounded<P> {
    inner: P,
    pending: Pending,
}

impl<P> Bounded<P> {
    /// `inner` behind the bound `pending`.
    pub fn new(inner: P, pending: Pending) -> Self {
        Self { inner, pending }
    }
}

impl<P: SpanProcessor> SpanProcessor for Bounded<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if self.pending.take() {
            self.inner.on_end(span);
        } else {
            count_dropped(1);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// An exporter that gives each batch's places back and counts a failed batch's spans.
#[derive(Debug)]
pub struct CountedExporter<E> {
    inner: E,
    pending: Pending,
}

impl<E> CountedExporter<E> {
    /// `inner`, releasing places of `pending`.
    pub fn new(inner: E, pending: Pending) -> Self {
        Self { inner, pending }
    }
}

impl<E: SpanExporter> SpanExporter for CountedExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len();
        let result = self.inner.export(batch).await;
        self.pending.release(n);
        if result.is_err() {
            count_dropped(n);
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests;
