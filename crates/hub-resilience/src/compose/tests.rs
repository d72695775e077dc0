//! The composed path: order of cache, breaker and retry, under tokio's paused clock.

use super::*;
use crate::breaker::{BreakerObserver, CircuitState, Transition};
use crate::cache::{CacheObserver, keys};
use crate::memory_store::MemoryCache;
use crate::retry::{RetryObserver, RetryReport};
use hub_core::ConnectCause;
use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;
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

fn upstream(log: &Arc<Log>) -> Upstream {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::anchored(1_000_000));
    Upstream::builder("transactions")
        .clock(clock.clone())
        .observer(log.clone())
        .breaker(BreakerConfig {
            failure_threshold: 2,
            ..BreakerConfig::default()
        })
        .cache(
            Arc::new(MemoryCache::builder().clock(clock).build()),
            CacheConfig::default(),
        )
        .build()
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
    let up = upstream(&log);
    let key = keys::transaction_status("t1");
    let lookup = Lookup {
        operation: keys::TRANSACTION_STATUS,
        key: &key,
        tags: &[],
        ttl: Duration::from_secs(120),
    };
    let calls = AtomicUsize::new(0);
    let first = up
        .read(&lookup, |_| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, Error>("pending".to_owned())
        })
        .await;
    assert_eq!(first.attempts, 1);
    assert_eq!(first.result.unwrap().cache, CacheOutcome::Miss);
    let hit = up
        .read(&lookup, |_| async { Ok::<_, Error>("unused".to_owned()) })
        .await;
    assert_eq!(hit.attempts, 0);
    assert_eq!(hit.result.unwrap().cache, CacheOutcome::Hit);

    // The entry goes stale; the upstream fails twice (retried), which opens the circuit.
    tokio::time::advance(Duration::from_secs(121)).await;
    let failing = up
        .read(&lookup, |_| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<String, _>(s503())
        })
        .await;
    assert_eq!(failing.attempts, 2);
    let stale = failing.result.unwrap();
    assert_eq!((stale.value.as_str(), stale.cache), ("pending", CacheOutcome::Stale));
    assert_eq!(up.breaker().state(), CircuitState::Open);

    // With the circuit open: stale, no call, no attempt.
    let open = up
        .read(&lookup, |_| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, Error>("unused".to_owned())
        })
        .await;
    assert_eq!(open.attempts, 0);
    assert_eq!(open.result.unwrap().cache, CacheOutcome::Stale);
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

#[tokio::test(start_paused = true)]
async fn without_a_cache_reads_bypass_it() {
    let up = Upstream::builder("plain").build();
    let key = keys::ticket_status("1");
    let lookup = Lookup {
        operation: keys::TICKET_STATUS,
        key: &key,
        tags: &[],
        ttl: Duration::from_secs(1),
    };
    let out = up.read(&lookup, |_| async { Ok::<_, Error>(1u8) }).await;
    assert_eq!(out.result.unwrap().cache, CacheOutcome::Bypass);
    assert!(up.cache().is_none());
}
