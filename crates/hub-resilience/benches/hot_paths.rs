//! Micro-benchmarks of the paths every request takes: breaker admission when closed, a cache hit, a first-try success, a rate budget's admission.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use hub_core::Error;
use hub_resilience::cache::{CacheManager, Lookup, keys};
use hub_resilience::clock::TokioClock;
use hub_resilience::memory_store::MemoryCache;
use hub_resilience::retry::{Idempotency, Retry, RetryPolicy};
use hub_resilience::{CircuitBreaker, RetryBudget};

fn breaker(c: &mut Criterion) {
    let b = CircuitBreaker::default();
    c.bench_function("breaker: admit + success (closed)", |bench| {
        bench.iter(|| black_box(b.admit()).map(|p| p.success()).ok());
    });
}

fn cache_hit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let manager = CacheManager::builder(Arc::new(MemoryCache::default())).build();
    let key = keys::key("item_status", &[("id", "PROJ-1234")]);
    let lookup = Lookup {
        operation: "item_status",
        key: &key,
        tags: &[],
        ttl: Duration::from_secs(300),
    };
    let value = serde_json::json!({"id": "PROJ-1234", "status": "open", "assignee": {"email": "a@example.com"}});
    rt.block_on(manager.get_or_fetch(&lookup, || async move { Ok::<_, Error>(value) }))
        .unwrap();
    c.bench_function("cache: hit (memory store, small JSON, decoded)", |bench| {
        bench.iter(|| {
            rt.block_on(manager.get_or_fetch(&lookup, || async {
                Ok::<serde_json::Value, Error>(serde_json::Value::Null)
            }))
            .unwrap()
        });
    });
    c.bench_function("cache: hit (memory store, small JSON, as stored)", |bench| {
        bench.iter(|| {
            rt.block_on(manager.get_or_fetch_encoded(&lookup, || async {
                Ok::<serde_json::Value, Error>(serde_json::Value::Null)
            }))
            .unwrap()
        });
    });
}

fn retry_first_try(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let policy = RetryPolicy::default();
    let breaker = CircuitBreaker::default();
    let budget = RetryBudget::default();
    c.bench_function("retry: first-try success (breaker, budget, timeout)", |bench| {
        bench.iter(|| {
            rt.block_on(
                Retry::new(&policy)
                    .breaker(&breaker)
                    .budget(&budget)
                    .run(Idempotency::Idempotent, |_| async { Ok::<_, Error>(1u8) }),
            )
        });
    });
}

fn rate_budget_admit(c: &mut Criterion) {
    use hub_resilience::rate_budget::{BudgetKey, Class, LocalBudget, RateConfig};
    // A rate no benchmark reaches, so every admission is the "admitted now" path.
    let budget = LocalBudget::new(RateConfig::new(1_000_000.0, 100_000), Arc::new(TokioClock::new()));
    let key = BudgetKey::new("zendesk:acme.zendesk.com:token-7f3a");
    c.bench_function("rate budget: admit (in process)", |bench| {
        bench.iter(|| black_box(budget.admit_now(&key, Class::Write, Duration::ZERO)));
    });
}

criterion_group!(benches, breaker, cache_hit, retry_first_try, rate_budget_admit);
criterion_main!(benches);
