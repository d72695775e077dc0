use std::sync::{Arc, Mutex};

use hub_core::mock::MockTraceContext;
use hub_core::{CacheOutcome, KeptSpan, UseCaseSpan};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::with_default;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt as _};

use super::read;

/// What a kept span was told, and whether it ended.
#[derive(Default)]
struct Told {
    records: Vec<(&'static str, &'static str)>,
    ended: bool,
}

struct Kept(Arc<Mutex<Told>>);

impl KeptSpan for Kept {
    fn record(&mut self, key: &'static str, value: &'static str) {
        self.0.lock().unwrap().records.push((key, value));
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        self.0.lock().unwrap().ended = true;
    }
}

fn keeping(told: &Arc<Mutex<Told>>) -> MockTraceContext {
    let told = told.clone();
    let mut trace = MockTraceContext::new();
    trace
        .expect_use_case()
        .withf(|name| name == "transaction")
        .times(1)
        .returning(move |_| UseCaseSpan::Kept(Box::new(Kept(told.clone()))));
    trace
}

fn answering(span: UseCaseSpan) -> MockTraceContext {
    let mut trace = MockTraceContext::new();
    let mut span = Some(span);
    trace
        .expect_use_case()
        .times(1)
        .returning(move |_| span.take().unwrap_or(UseCaseSpan::Skipped));
    trace
}

fn fetched(cache: CacheOutcome) -> Result<hub_core::Fetched<u8>, hub_core::Error> {
    Ok(hub_core::Fetched { value: 7, cache })
}

/// Every span opened and every text recorded on one, as `tracing` sees them.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> Layer<S> for Seen {
    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        self.0.lock().unwrap().push(format!("open {}", attrs.metadata().name()));
    }

    fn on_record(&self, _: &Id, values: &Record<'_>, _: Context<'_, S>) {
        struct Texts<'a>(&'a mut Vec<String>);
        impl tracing::field::Visit for Texts<'_> {
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                self.0.push(format!("{} = {value}", field.name()));
            }
            fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
        }
        values.record(&mut Texts(&mut self.0.lock().unwrap()));
    }
}

fn run<T>(trace: &MockTraceContext, result: Result<hub_core::Fetched<T>, hub_core::Error>) -> (Vec<String>, bool) {
    let seen = Seen::default();
    let ok = with_default(tracing_subscriber::registry().with(seen.clone()), || {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(read(trace, "transaction", async { result })).is_ok()
    });
    let seen = seen.0.lock().unwrap().clone();
    (seen, ok)
}

#[test]
fn a_kept_span_gets_the_cache_outcome_and_ends_with_the_read() {
    let told = Arc::new(Mutex::new(Told::default()));
    let (seen, ok) = run(&keeping(&told), fetched(CacheOutcome::Stale));
    assert!(ok);
    assert!(seen.is_empty(), "no tracing span besides the kept one: {seen:?}");
    let told = told.lock().unwrap();
    assert_eq!(told.records, [("hub.cache.status", "stale")]);
    assert!(told.ended);
}

#[test]
fn a_failed_read_ends_its_kept_span_without_an_outcome() {
    let told = Arc::new(Mutex::new(Told::default()));
    let failed: Result<hub_core::Fetched<u8>, _> = Err(hub_core::Error::NotFound);
    let (_, ok) = run(&keeping(&told), failed);
    assert!(!ok);
    let told = told.lock().unwrap();
    assert!(told.records.is_empty());
    assert!(told.ended);
}

#[test]
fn a_skipped_read_opens_no_span() {
    let (seen, ok) = run(&answering(UseCaseSpan::Skipped), fetched(CacheOutcome::Hit));
    assert!(ok);
    assert!(seen.is_empty(), "{seen:?}");
}

#[test]
fn otherwise_a_read_opens_a_tracing_span_with_its_outcome() {
    let (seen, ok) = run(&answering(UseCaseSpan::Tracing), fetched(CacheOutcome::Miss));
    assert!(ok);
    assert_eq!(seen, ["open use case", "hub.cache.status = miss"]);
}
