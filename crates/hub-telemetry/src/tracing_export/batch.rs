//! The export queue: ended spans wait in a bounded buffer and a thread of its own sends
//! them in batches, so that a collector that is down or slow costs no request anything;
//! every span that never reaches the collector is counted in
//! `integration_telemetry_spans_dropped_total`.
//!
//! It takes the place of the SDK's `BatchSpanProcessor`, which hands each span through a
//! channel (a send, a receive and a copy into the batch per span) and drops on a full
//! queue without saying how many: here a span costs one uncontended lock and a push, a
//! full batch is set aside as it is (no span is moved again), and the thread takes what
//! waits at once.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

/// The longest [`Batch::force_flush`] waits for the spans queued before it to be sent.
const FLUSH_WAIT: Duration = Duration::from_secs(30);

/// How spans are batched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSettings {
    /// The most spans sent in one export (at least one is).
    pub batch_size: usize,
    /// The most spans waiting or being sent; more are dropped and counted.
    pub queue_size: usize,
    /// The longest a span waits for its batch to fill before it is sent anyway.
    pub delay: Duration,
}

/// The span processor: queues each sampled span, and sends the queue through its exporter
/// from a thread of its own when a batch is full, when the oldest span has waited
/// [`BatchSettings::delay`], on [`SpanProcessor::force_flush`] and on shutdown.
#[derive(Debug)]
pub struct Batch {
    shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the thread: a batch is full, or a flush or the stop is asked for.
    work: Condvar,
    /// Wakes those waiting for a flush or the stop.
    done: Condvar,
    settings: BatchSettings,
    dropped: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    /// Full batches (of `batch_size` spans each), oldest first.
    full: VecDeque<Vec<SpanData>>,
    /// The batch being filled.
    queued: Vec<SpanData>,
    /// Spans the thread has taken and not yet sent or dropped.
    in_flight: usize,
    /// Flushes asked for, and done: each covers the spans queued before it was asked.
    flushes_asked: u64,
    flushes_done: u64,
    stopping: bool,
    stopped: bool,
    /// The resource set before the thread took the exporter.
    resource: Option<Resource>,
}

impl Batch {
    /// Starts the thread that sends through `exporter`.
    pub fn start<E: SpanExporter + 'static>(exporter: E, settings: BatchSettings) -> std::io::Result<Self> {
        let settings = BatchSettings {
            batch_size: settings.batch_size.max(1),
            ..settings
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queued: Vec::with_capacity(settings.batch_size),
                ..State::default()
            }),
            work: Condvar::new(),
            done: Condvar::new(),
            settings,
            dropped: AtomicU64::new(0),
        });
        let worker = std::thread::Builder::new().name("hub-trace-export".to_owned()).spawn({
            let shared = Arc::clone(&shared);
            move || run(&shared, exporter)
        })?;
        Ok(Self {
            shared,
            worker: Mutex::new(Some(worker)),
        })
    }

    /// Spans dropped so far: refused by a full queue or a stopped processor, or of a batch
    /// the exporter failed.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn count_dropped(&self, n: usize) {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        self.dropped.fetch_add(n, Ordering::Relaxed);
        metrics::counter!("integration_telemetry_spans_dropped_total").increment(n);
    }

    /// Waits on `done` until `finished` holds, at most until `deadline`; whether it holds.
    fn wait_done(&self, deadline: Instant, finished: impl Fn(&State) -> bool) -> bool {
        let mut state = self.lock();
        while !finished(&state) {
            let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) else {
                return false;
            };
            state = self
                .done
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}

impl SpanProcessor for Batch {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        let settings = &self.shared.settings;
        let mut state = self.shared.lock();
        let waiting = state.full.len() * settings.batch_size + state.queued.len();
        if state.stopping || waiting + state.in_flight >= settings.queue_size {
            drop(state);
            self.shared.count_dropped(1);
            return;
        }
        state.queued.push(span);
        // Only the span that fills a batch wakes the thread (a wake-up is a system call).
        let full = state.queued.len() == settings.batch_size;
        if full {
            let batch = std::mem::replace(&mut state.queued, Vec::with_capacity(settings.batch_size));
            state.full.push_back(batch);
        }
        drop(state);
        if full {
            self.shared.work.notify_one();
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        let asked = {
            let mut state = self.shared.lock();
            if state.stopping {
                return Err(OTelSdkError::AlreadyShutdown);
            }
            state.flushes_asked += 1;
            state.flushes_asked
        };
        self.shared.work.notify_one();
        let deadline = Instant::now() + FLUSH_WAIT;
        if self
            .shared
            .wait_done(deadline, |s| s.flushes_done >= asked || s.stopped)
        {
            Ok(())
        } else {
            Err(OTelSdkError::Timeout(FLUSH_WAIT))
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        {
            let mut state = self.shared.lock();
            if state.stopping {
                return Err(OTelSdkError::AlreadyShutdown);
            }
            state.stopping = true;
        }
        self.shared.work.notify_one();
        if !self.shared.wait_done(Instant::now() + timeout, |s| s.stopped) {
            return Err(OTelSdkError::Timeout(timeout));
        }
        let worker = self.worker.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(worker) = worker {
            // It has said it stopped: this waits for its last instructions only.
            let _ = worker.join();
        }
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.shared.lock().resource = Some(resource.clone());
    }
}

impl Drop for Batch {
    // Dropped without a shutdown: the thread sends what is queued and ends, unwaited.
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.work.notify_one();
    }
}

/// The thread: waits for work, takes every span waiting, sends it batch by batch, and
/// after the stop sends what is left and shuts the exporter down.
fn run<E: SpanExporter>(shared: &Shared, mut exporter: E) {
    let settings = shared.settings;
    let mut state = shared.lock();
    let mut deadline = Instant::now() + settings.delay;
    loop {
        if let Some(resource) = state.resource.take() {
            exporter.set_resource(&resource);
        }
        let flush = state.flushes_asked > state.flushes_done;
        let due = !state.queued.is_empty() && Instant::now() >= deadline;
        if !(state.stopping || flush || due || !state.full.is_empty()) {
            let now = Instant::now();
            if state.queued.is_empty() && now >= deadline {
                deadline = now + settings.delay;
            }
            let wait = deadline.saturating_duration_since(now);
            state = shared
                .work
                .wait_timeout(state, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            continue;
        }
        let covered = state.flushes_asked;
        let stopping = state.stopping;
        // Full batches only, unless a flush, the stop or the delay asks for the one filling.
        let mut taken = std::mem::take(&mut state.full);
        if stopping || flush || due {
            let partial = std::mem::replace(&mut state.queued, Vec::with_capacity(settings.batch_size));
            if !partial.is_empty() {
                taken.push_back(partial);
            }
            deadline = Instant::now() + settings.delay;
        }
        state.in_flight = taken.iter().map(Vec::len).sum();
        drop(state);
        for batch in taken {
            let n = batch.len();
            if futures_executor::block_on(exporter.export(batch)).is_err() {
                shared.count_dropped(n);
            }
            shared.lock().in_flight -= n;
        }
        state = shared.lock();
        if stopping || flush || due {
            state.flushes_done = state.flushes_done.max(covered);
        }
        if stopping {
            // Spans that came while the last were sent were refused (the stop was set).
            let _ = exporter.shutdown();
            state.stopped = true;
            drop(state);
            shared.done.notify_all();
            return;
        }
        shared.done.notify_all();
    }
}

#[cfg(test)]
mod tests;
