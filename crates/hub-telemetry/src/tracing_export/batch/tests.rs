use std::borrow::Cow;
use std::collections::BTreeSet;
use std::time::SystemTime;

use opentelemetry::InstrumentationScope;
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
use proptest::prelude::*;

use super::*;

/// What an exporter was given, and whether it lets an export finish and succeed.
#[derive(Debug, Default)]
struct Seen {
    /// The span ids of each export, in order.
    batches: Vec<Vec<u64>>,
    resource: Option<Resource>,
    shut_down: bool,
    /// Exports begun (counted before they wait while held).
    begun: usize,
    /// Exports wait while this is set.
    held: bool,
    fail: bool,
}

#[derive(Debug, Clone, Default)]
struct Sink(Arc<(Mutex<Seen>, Condvar)>);

impl Sink {
    fn seen(&self) -> MutexGuard<'_, Seen> {
        self.0.0.lock().unwrap()
    }

    fn set(&self, f: impl FnOnce(&mut Seen)) {
        f(&mut self.seen());
        self.0.1.notify_all();
    }

    /// Waits (at most ten seconds: a bound on a hang, not a timing claim) until `ready`.
    fn wait_for(&self, ready: impl Fn(&Seen) -> bool) -> MutexGuard<'_, Seen> {
        let (seen, _) = self
            .0
            .1
            .wait_timeout_while(self.seen(), Duration::from_secs(10), |s| !ready(s))
            .unwrap();
        seen
    }

    fn exported(&self) -> Vec<u64> {
        self.seen().batches.concat()
    }
}

impl SpanExporter for Sink {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let (lock, cvar) = &*self.0;
        let mut seen = lock.lock().unwrap();
        seen.begun += 1;
        cvar.notify_all();
        let mut seen = cvar.wait_while(seen, |s| s.held).unwrap();
        seen.batches.push(
            batch
                .iter()
                .map(|s| u64::from_be_bytes(s.span_context.span_id().to_bytes()))
                .collect(),
        );
        cvar.notify_all();
        if seen.fail {
            Err(OTelSdkError::InternalFailure("refused".to_owned()))
        } else {
            Ok(())
        }
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.set(|s| s.shut_down = true);
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.seen().resource = Some(resource.clone());
    }
}

/// A span with id `id`, sampled or not.
fn span(id: u64, sampled: bool) -> SpanData {
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::NOT_SAMPLED
    };
    SpanData {
        span_context: SpanContext::new(
            TraceId::from_bytes([1; 16]),
            SpanId::from_bytes(id.to_be_bytes()),
            flags,
            false,
            TraceState::NONE,
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: Cow::Borrowed("test"),
        start_time: SystemTime::UNIX_EPOCH,
        end_time: SystemTime::UNIX_EPOCH,
        attributes: Vec::new(),
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: InstrumentationScope::builder("test").build(),
    }
}

fn settings(batch_size: usize, queue_size: usize, delay: Duration) -> BatchSettings {
    BatchSettings {
        batch_size,
        queue_size,
        delay,
    }
}

/// Long enough that no batch is sent for its age during a test.
const NEVER: Duration = Duration::from_secs(3600);

#[test]
fn a_full_batch_is_sent_without_waiting_for_the_delay() {
    let sink = Sink::default();
    let batch = Batch::start(sink.clone(), settings(3, 100, NEVER)).unwrap();
    for id in 1..=3 {
        batch.on_end(span(id, true));
    }
    let seen = sink.wait_for(|s| !s.batches.is_empty());
    assert_eq!(seen.batches, vec![vec![1, 2, 3]]);
}

#[test]
fn a_span_waits_at_most_the_delay() {
    let sink = Sink::default();
    let batch = Batch::start(sink.clone(), settings(100, 100, Duration::from_millis(20))).unwrap();
    batch.on_end(span(7, true));
    let seen = sink.wait_for(|s| !s.batches.is_empty());
    assert_eq!(seen.batches, vec![vec![7]]);
}

#[test]
fn unsampled_spans_are_not_sent() {
    let sink = Sink::default();
    let batch = Batch::start(sink.clone(), settings(10, 100, NEVER)).unwrap();
    batch.on_end(span(1, false));
    batch.on_end(span(2, true));
    batch.force_flush().unwrap();
    assert_eq!(sink.exported(), vec![2]);
    assert_eq!(batch.dropped(), 0);
}

#[test]
fn a_flush_sends_what_was_queued_in_batches_and_shutdown_the_rest() {
    let sink = Sink::default();
    let mut batch = Batch::start(sink.clone(), settings(2, 100, NEVER)).unwrap();
    let resource = Resource::builder_empty().with_service_name("hub-test").build();
    batch.set_resource(&resource);
    // Five spans, a batch of two: the two full batches may already be out.
    for id in 1..=5 {
        batch.on_end(span(id, true));
    }
    batch.force_flush().unwrap();
    let seen = sink.seen();
    assert!(seen.batches.iter().all(|b| b.len() <= 2), "{:?}", seen.batches);
    assert_eq!(
        seen.batches.concat().into_iter().collect::<BTreeSet<_>>(),
        (1..=5).collect()
    );
    assert_eq!(seen.resource.as_ref(), Some(&resource));
    drop(seen);
    batch.on_end(span(6, true));
    batch.shutdown_with_timeout(Duration::from_secs(10)).unwrap();
    assert!(sink.seen().shut_down);
    assert_eq!(sink.exported().len(), 6, "shutdown sends what is queued");
    // Stopped: refused and counted; a second stop or a flush says so.
    batch.on_end(span(7, true));
    assert_eq!(batch.dropped(), 1);
    assert!(matches!(batch.force_flush(), Err(OTelSdkError::AlreadyShutdown)));
    assert!(matches!(
        batch.shutdown_with_timeout(Duration::from_secs(1)),
        Err(OTelSdkError::AlreadyShutdown)
    ));
}

#[test]
fn a_failed_batch_is_counted_as_dropped() {
    let sink = Sink::default();
    sink.set(|s| s.fail = true);
    let batch = Batch::start(sink, settings(10, 100, NEVER)).unwrap();
    for id in 1..=4 {
        batch.on_end(span(id, true));
    }
    batch.force_flush().unwrap();
    assert_eq!(batch.dropped(), 4);
}

#[test]
fn a_shutdown_that_outlasts_its_grace_says_so_and_a_late_export_still_ends_the_thread() {
    let sink = Sink::default();
    sink.set(|s| s.held = true);
    let batch = Batch::start(sink.clone(), settings(1, 100, NEVER)).unwrap();
    batch.on_end(span(1, true));
    assert!(matches!(
        batch.shutdown_with_timeout(Duration::from_millis(10)),
        Err(OTelSdkError::Timeout(_))
    ));
    sink.set(|s| s.held = false);
    let seen = sink.wait_for(|s| s.shut_down);
    assert_eq!(seen.batches, vec![vec![1]]);
}

proptest! {
    /// While the exporter is held, exactly `queue_size` spans find a place (waiting or
    /// being sent) and the rest are dropped and counted; once it is let go, every span
    /// given a place is sent, once.
    #[test]
    fn a_held_exporter_bounds_the_queue(batch_size in 1usize..5, queue_size in 0usize..12, ended in 0u64..30) {
        let sink = Sink::default();
        sink.set(|s| s.held = true);
        let batch = Batch::start(sink.clone(), settings(batch_size, queue_size, NEVER)).unwrap();
        for id in 0..ended {
            batch.on_end(span(id, true));
            // The first full batch is taken and held: it keeps its places.
            if id + 1 == batch_size as u64 && batch_size <= queue_size {
                drop(sink.wait_for(|s| s.begun == 1));
            }
        }
        let placed = ended.min(queue_size as u64);
        prop_assert_eq!(batch.dropped(), ended - placed);
        sink.set(|s| s.held = false);
        batch.shutdown_with_timeout(Duration::from_secs(10)).unwrap();
        let exported = sink.exported();
        prop_assert_eq!(exported.len() as u64, placed);
        prop_assert_eq!(exported.into_iter().collect::<BTreeSet<_>>(), (0..placed).collect::<BTreeSet<_>>());
        prop_assert!(sink.seen().batches.iter().all(|b| b.len() <= batch_size));
    }

    /// Under any mix of spans and flushes, each span is either sent or counted as dropped,
    /// never both and never twice; a flush returns only once what came before it was sent.
    #[test]
    fn every_span_is_sent_or_counted_once(
        ops in proptest::collection::vec(prop_oneof![4 => Just(None), 1 => Just(Some(()))], 0..60),
        batch_size in 1usize..6,
        queue_size in 1usize..20,
    ) {
        let sink = Sink::default();
        let batch = Batch::start(sink.clone(), settings(batch_size, queue_size, NEVER)).unwrap();
        let mut id = 0u64;
        for op in ops {
            match op {
                None => {
                    batch.on_end(span(id, true));
                    id += 1;
                }
                Some(()) => {
                    batch.force_flush().unwrap();
                    let sent = sink.exported().len() as u64;
                    prop_assert_eq!(sent + batch.dropped(), id, "after a flush nothing waits");
                }
            }
        }
        batch.shutdown_with_timeout(Duration::from_secs(10)).unwrap();
        let exported = sink.exported();
        let unique: BTreeSet<_> = exported.iter().copied().collect();
        prop_assert_eq!(unique.len(), exported.len(), "a span sent twice");
        prop_assert_eq!(exported.len() as u64 + batch.dropped(), id);
    }
}
