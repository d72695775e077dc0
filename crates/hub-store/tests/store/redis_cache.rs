//! The Redis cache: TTL, invalidation by key and tag, no resurrection, sharing between
//! instances, and failing fast when Redis is down. Each test has its own key prefix.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hub_core::{Cache, CacheEntry, StoreError};
use hub_store::clock::ManualClock;
use hub_store::{RedisCache, StoreConfig};
use time::OffsetDateTime;

use crate::support::redis_url;

/// A cache with a fresh prefix, on a manual clock set to now (Redis expires keys on
/// its own clock), and a raw connection to look behind it.
struct Fixture {
    cache: RedisCache,
    clock: Arc<ManualClock>,
    raw: redis::aio::MultiplexedConnection,
    now_ms: u64,
}

impl Fixture {
    fn another_instance(&self) -> RedisCache {
        RedisCache::open_with_prefix(
            &redis_url(),
            self.cache.prefix(),
            &StoreConfig::default(),
            self.clock.clone(),
        )
        .unwrap()
    }

    fn entry(&self, value: &str, fetched_at_ms: u64) -> CacheEntry {
        CacheEntry::new(
            Bytes::copy_from_slice(value.as_bytes()),
            fetched_at_ms,
            fetched_at_ms + 120_000,
            fetched_at_ms + 720_000,
        )
    }

    async fn value(&self, key: &str) -> Option<String> {
        let entry = self.cache.get(key).await.unwrap()?;
        Some(String::from_utf8(entry.value().to_vec()).unwrap())
    }
}

async fn with_redis<F, Fut>(body: F)
where
    F: FnOnce(Fixture) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let url = redis_url();
    let prefix = format!("hub-test:{}", uuid::Uuid::new_v4().simple());
    let now = OffsetDateTime::now_utc();
    let clock = Arc::new(ManualClock::new(now));
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut raw = client
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("Redis at {url} does not answer: {e}"));
    let cache = RedisCache::open_with_prefix(&url, &prefix, &StoreConfig::default(), clock.clone()).unwrap();
    let now_ms = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap();
    let outcome = tokio::spawn(body(Fixture {
        cache,
        clock,
        raw: raw.clone(),
        now_ms,
    }))
    .await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut raw)
        .await
        .unwrap();
    if !keys.is_empty() {
        redis::cmd("DEL").arg(&keys).query_async::<i64>(&mut raw).await.unwrap();
    }
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test]
async fn an_entry_round_trips_and_expires_at_the_end_of_its_stale_window() {
    with_redis(|mut f| async move {
        let entry = f.entry("{\"status\":\"open\"}", f.now_ms);
        f.cache.put("ticket:T-1", entry.clone(), &[]).await.unwrap();
        assert_eq!(f.cache.get("ticket:T-1").await.unwrap(), Some(entry.clone()));
        assert_eq!(f.cache.get("ticket:T-2").await.unwrap(), None);
        let expires: i64 = redis::cmd("PEXPIRETIME")
            .arg(format!("{}:entry:ticket:T-1", f.cache.prefix()))
            .query_async(&mut f.raw)
            .await
            .unwrap();
        assert_eq!(u64::try_from(expires).ok(), Some(entry.stale_until_ms));
        // An entry already past its stale window is not stored at all.
        let mut dead = f.entry("old", f.now_ms - 10_000);
        dead.stale_until_ms = f.now_ms - 1;
        f.cache.put("ticket:T-3", dead, &[]).await.unwrap();
        assert_eq!(f.cache.get("ticket:T-3").await.unwrap(), None);
        f.cache.ping().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn an_invalidated_key_cannot_be_resurrected_by_an_older_read() {
    with_redis(|f| async move {
        let t = f.now_ms;
        f.cache.put("txn:1", f.entry("v1", t - 5_000), &[]).await.unwrap();
        f.cache.invalidate("txn:1").await.unwrap(); // at t
        assert_eq!(f.value("txn:1").await, None);
        // A read that began before (or at) the invalidation does not write back.
        f.cache.put("txn:1", f.entry("stale", t - 1), &[]).await.unwrap();
        f.cache.put("txn:1", f.entry("stale", t), &[]).await.unwrap();
        assert_eq!(f.value("txn:1").await, None);
        // One that began after it does.
        f.cache.put("txn:1", f.entry("v2", t + 1), &[]).await.unwrap();
        assert_eq!(f.value("txn:1").await.as_deref(), Some("v2"));
        // Invalidating with a clock that went backwards keeps the later mark.
        f.clock
            .set(OffsetDateTime::from_unix_timestamp_nanos(i128::from(t - 60_000) * 1_000_000).unwrap());
        f.cache.invalidate("txn:1").await.unwrap();
        f.cache.put("txn:1", f.entry("stale", t - 30_000), &[]).await.unwrap();
        assert_eq!(f.value("txn:1").await, None);
    })
    .await;
}

#[tokio::test]
async fn a_tag_invalidates_every_key_attached_to_it() {
    with_redis(|f| async move {
        let t = f.now_ms;
        let customer = vec!["customer:C-9".to_owned()];
        f.cache
            .put("history:C-9", f.entry("h", t - 10), &customer)
            .await
            .unwrap();
        f.cache.put("txn:1", f.entry("a", t - 10), &customer).await.unwrap();
        f.cache
            .put("txn:2", f.entry("b", t - 10), &["customer:C-8".to_owned()])
            .await
            .unwrap();
        f.cache.invalidate_tag("customer:C-9").await.unwrap();
        assert_eq!(f.value("history:C-9").await, None);
        assert_eq!(f.value("txn:1").await, None);
        assert_eq!(f.value("txn:2").await.as_deref(), Some("b"));
        f.cache.put("txn:1", f.entry("stale", t), &customer).await.unwrap();
        assert_eq!(f.value("txn:1").await, None, "older read under an invalidated tag");
        f.cache.put("txn:1", f.entry("untagged", t - 1), &[]).await.unwrap();
        assert_eq!(
            f.value("txn:1").await.as_deref(),
            Some("untagged"),
            "the tag is not the key"
        );
        f.cache.put("txn:1", f.entry("fresh", t + 1), &customer).await.unwrap();
        assert_eq!(f.value("txn:1").await.as_deref(), Some("fresh"));
    })
    .await;
}

#[tokio::test]
async fn instances_sharing_a_prefix_see_each_others_invalidations() {
    with_redis(|f| async move {
        let t = f.now_ms;
        let other = f.another_instance();
        f.cache
            .put("ticket:T-1", f.entry("open", t - 10), &["ticket:T-1".to_owned()])
            .await
            .unwrap();
        assert!(other.get("ticket:T-1").await.unwrap().is_some());
        other.invalidate_tag("ticket:T-1").await.unwrap();
        assert_eq!(f.value("ticket:T-1").await, None);
        // A separate deployment (another prefix) shares nothing.
        let elsewhere = RedisCache::open_with_prefix(
            &redis_url(),
            &format!("{}-other", f.cache.prefix()),
            &StoreConfig::default(),
            f.clock.clone(),
        )
        .unwrap();
        f.cache.put("ticket:T-2", f.entry("open", t + 1), &[]).await.unwrap();
        assert_eq!(elsewhere.get("ticket:T-2").await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn a_redis_that_does_not_answer_fails_fast_as_unavailable() {
    // Nothing listens on port 1 of the loopback address.
    let config = StoreConfig {
        redis_timeout_ms: 300,
        ..StoreConfig::default()
    };
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let cache = RedisCache::open_with_prefix("redis://127.0.0.1:1", "down", &config, clock).unwrap();
    let entry = CacheEntry::new(Bytes::new(), 1, 2, u64::MAX / 2);
    for round in 0..3 {
        let started = Instant::now();
        let results = [
            cache.get("k").await.map(drop),
            cache.put("k", entry.clone(), &["t".to_owned()]).await,
            cache.invalidate("k").await,
            cache.invalidate_tag("t").await,
            cache.ping().await,
        ];
        for r in results {
            assert!(matches!(r, Err(StoreError::Unavailable { .. })), "round {round}: {r:?}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "round {round} took {:?}",
            started.elapsed()
        );
    }
    assert!(
        RedisCache::open(
            "postgres://x",
            &config,
            Arc::new(ManualClock::new(OffsetDateTime::now_utc()))
        )
        .is_err()
    );
}
