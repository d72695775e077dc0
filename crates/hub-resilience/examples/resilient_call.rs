//! Retry, circuit breaker and a stale-if-error cache around any async call.
//!
//! The "upstream" is an async closure that fails on demand: no network is needed.
//! Run with `cargo run -p hub-resilience --example resilient_call`.
#![allow(clippy::print_stdout)] // An example talks to its terminal.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hub_core::{CacheOutcome, Error};
use hub_resilience::backoff::Backoff;
use hub_resilience::breaker::{BreakerConfig, CircuitState};
use hub_resilience::cache::{CacheManager, Lookup, keys, read_through};
use hub_resilience::clock::ManualClock;
use hub_resilience::compose::Upstream;
use hub_resilience::memory_store::MemoryCache;
use hub_resilience::retry::{Idempotency, RetryPolicy};

/// A pretend upstream: answers `"open"`, or 503 while `failing` is set. Counts its calls.
struct Flaky {
    calls: AtomicU32,
    failing: AtomicU32,
}

impl Flaky {
    async fn status(&self) -> Result<String, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.failing.load(Ordering::SeqCst) > 0 {
            self.failing.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::Upstream {
                status: 503,
                retry_after: None,
            });
        }
        Ok("open".to_owned())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let upstream = Arc::new(
        Upstream::builder("ticketing")
            .policy(RetryPolicy {
                backoff: Backoff {
                    initial: Duration::from_millis(20),
                    ..Backoff::default()
                },
                ..RetryPolicy::default()
            })
            .breaker(BreakerConfig {
                failure_threshold: 3,
                ..BreakerConfig::default()
            })
            .build(),
    );
    // The cache's wall clock is moved by hand, to show an entry going stale.
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let store = MemoryCache::builder().clock(clock.clone()).build();
    let cache = CacheManager::builder(Arc::new(store)).clock(clock.clone()).build();
    let flaky = Arc::new(Flaky {
        calls: AtomicU32::new(0),
        failing: AtomicU32::new(1),
    });

    let key = keys::key("ticket_status", &[("id", "42")]);
    let lookup = Lookup {
        operation: "ticket_status",
        key: &key,
        tags: &[],
        ttl: Duration::from_secs(300),
    };
    // The fetch owns what it uses: the cache may also run it as a background refresh.
    let read = || {
        let (upstream, flaky) = (upstream.clone(), flaky.clone());
        read_through(Some(&cache), &lookup, || async move {
            upstream
                .call("ticket_status", Idempotency::Idempotent, |_attempt| flaky.status())
                .await
                .result
        })
    };

    // 1. A miss: the first attempt fails with 503, the retry succeeds.
    let first = read().await?;
    println!(
        "read 1: {:?} from the upstream ({:?}) after {} upstream calls",
        first.value,
        first.cache,
        flaky.calls.load(Ordering::SeqCst)
    );
    assert_eq!(
        (first.cache, flaky.calls.load(Ordering::SeqCst)),
        (CacheOutcome::Miss, 2)
    );

    // 2. A hit: the upstream is not called.
    let second = read().await?;
    println!("read 2: {:?} ({:?}), upstream not called", second.value, second.cache);
    assert_eq!(second.cache, CacheOutcome::Hit);

    // 3. Past its TTL, with the upstream down: the stale entry answers.
    clock.advance(Duration::from_secs(301));
    flaky.failing.store(u32::MAX, Ordering::SeqCst);
    let third = read().await?;
    println!(
        "read 3: {:?} ({:?}) although the upstream failed; circuit {:?}",
        third.value,
        third.cache,
        upstream.breaker().state()
    );
    assert_eq!(third.cache, CacheOutcome::Stale);

    // 4. Three failed attempts opened the circuit: a call now fails fast, sending nothing.
    let before = flaky.calls.load(Ordering::SeqCst);
    let refused = upstream
        .call("ticket_status", Idempotency::Idempotent, |_attempt| flaky.status())
        .await;
    println!(
        "call 4: {} ({} attempts, upstream called {} times)",
        refused
            .result
            .as_ref()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default(),
        refused.attempts,
        flaky.calls.load(Ordering::SeqCst) - before
    );
    assert_eq!(upstream.breaker().state(), CircuitState::Open);
    assert!(matches!(refused.result, Err(Error::CircuitOpen { .. })));
    Ok(())
}
