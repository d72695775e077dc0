//! The composed path: order of cache, breaker and retry, under tokio's paused clock.

use super::*;
use crate::breaker::{BreakerObserver, CircuitState, Transition};
use crate::cache::{CacheManager, CacheObserver, Lookup, keys, read_through};
use crate::memory_store::MemoryCache;
use crate::retry::{RetryObserver, RetryReport};
use hub_core::{CacheOutcome, ConnectCause, Fetched};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Default)]
struct Log {
    events: Mutex<Vec<String>>,
}

impl Log {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.events.lock().unwrap())
    }
}

impl RetryObserver for Log {
    fn on_retry(&self, r: &RetryReport<'_>) {
        self.events
            .lock()
            .unwrap()
            .push(format!("retry {} {}", r.operation, r.reason));
    }
}

impl BreakerObserver for Log {
    fn on_transition(&self, t: &Transition) {
        self.events.lock().unwrap().push(format!(
            "{} -> {} after {}",
            t.from.as_str(),
            t.to.as_str(),
            t.consecutive_failures
        ));
    }
}

impl CacheObserver for Log {
    fn on_lookup(&self, operation: &str, outcome: CacheOutcome) {
        self.events
            .lock()
            .unwrap()
            .push(format!("cache {operation} {}", outcome.as_str()));
    }
}

/// An upstream and a cache reporting to `log`, on one clock.
fn cached_upstream(log: &Arc<Log>) -> (Arc<Upstream>, CacheManager) {
    let clock: Arc<dyn MonotonicClock> = Arc::new(TokioClock::anchored(1_000_000));
    let upstream = Upstream::builder("transactions")
        .clock(clock.clone())
        .observer(log.clone())
        .breaker(BreakerConfig {
            failure_threshold: 2,
            ..BreakerConfig::default()
        })
        .build();
    let cache = CacheManager::builder(Arc::new(MemoryCache::builder().clock(clock.clone()).build()))
        .clock(clock)
        .observer(log.clone())
        .build();
    (Arc::new(upstream), cache)
}

/// A cached idempotent read as the adapters make it, and the attempts it made.
async fn read<F, Fut>(
    up: &Arc<Upstream>,
    cache: &CacheManager,
    lookup: &Lookup<'_>,
    op: F,
) -> (Result<Fetched<String>, Error>, u32)
where
    F: FnMut(Attempt) -> Fut + Send + 'static,
    Fut: Future<Output = Result<String, Error>> + Send,
{
    let attempts = Arc::new(AtomicU32::new(0));
    let (up, counted, operation) = (up.clone(), attempts.clone(), lookup.operation.to_owned());
    let result = read_through(Some(cache), lookup, || async move {
        let outcome = up.call(&operation, Idempotency::Idempotent, op).await;
        counted.store(outcome.attempts, Ordering::Relaxed);
        outcome.result
    })
    .await;
    (result, attempts.load(Ordering::Relaxed))
}

fn s503() -> Error {
    Error::Upstream {
        status: 503,
        retry_after: None,
    }
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_is_answered_from_the_stale_cache_without_a_call() {
    let log = Arc::new(Log::default());
    let (up, cache) = cached_upstream(&log);
    let key = keys::key("transaction_status", &[("id", "t1")]);
    let lookup = Lookup {
        operation: "transaction_status",
        key: &key,
        tags: &[],
        ttl: Duration::from_secs(120),
    };
    let calls = Arc::new(AtomicUsize::new(0));
    // An attempt that counts itself and answers `answer`.
    let counting = |answer: Result<&'static str, Error>| {
        let calls = calls.clone();
        move |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            let answer = answer.clone().map(str::to_owned);
            async move { answer }
        }
    };
    let (first, attempts) = read(&up, &cache, &lookup, counting(Ok("pending"))).await;
    assert_eq!(attempts, 1);
    assert_eq!(first.unwrap().cache, CacheOutcome::Miss);
    let (hit, attempts) = read(&up, &cache, &lookup, |_| async { Ok::<_, Error>("unused".to_owned()) }).await;
    assert_eq!(attempts, 0);
    assert_eq!(hit.unwrap().cache, CacheOutcome::Hit);

    // The entry goes stale; the upstream fails twice (retried), which opens the circuit.
    tokio::time::advance(Duration::from_secs(121)).await;
    let (failing, attempts) = read(&up, &cache, &lookup, counting(Err(s503()))).await;
    assert_eq!(attempts, 2);
    let stale = failing.unwrap();
    assert_eq!((stale.value.as_str(), stale.cache), ("pending", CacheOutcome::Stale));
    assert_eq!(up.breaker().state(), CircuitState::Open);

    // With the circuit open: stale, no call, no attempt.
    let (open, attempts) = read(&up, &cache, &lookup, counting(Ok("unused"))).await;
    assert_eq!(attempts, 0);
    assert_eq!(open.unwrap().cache, CacheOutcome::Stale);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(
        log.take(),
        [
            "cache transaction_status miss",
            "cache transaction_status hit",
            "retry transaction_status upstream_5xx",
            "closed -> open after 2",
            "cache transaction_status stale",
            "cache transaction_status stale",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn writes_are_not_cached_and_never_duplicated() {
    let up = Upstream::builder("transactions").build();
    let sent = AtomicUsize::new(0);
    let out = up
        .call("create_draft", Idempotency::NonIdempotent, |_| async {
            sent.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(Error::ConnectionLost)
        })
        .await;
    assert_eq!((out.result, out.attempts), (Err(Error::ConnectionLost), 1));
    // Refused connections prove nothing was sent: retried.
    let out = up
        .call("create_draft", Idempotency::NonIdempotent, |a| async move {
            if a.number == 1 {
                Err(Error::Connect(ConnectCause::Refused))
            } else {
                Ok(())
            }
        })
        .await;
    assert_eq!((out.result, out.attempts), (Ok(()), 2));
    assert_eq!(sent.load(Ordering::SeqCst), 1);
}
