//! The shared read cache on Redis: entries expire when their stale window ends, tags are
//! Redis sets, and invalidations are remembered so a slower read cannot put old data back.

mod entry;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hub_core::{Cache, CacheEntry, StoreError};
use redis::aio::ConnectionManager;

use crate::clock::{Clock, to_ms};
use crate::config::StoreConfig;
use crate::error::OpenError;

static PUT: &str = include_str!("put.lua");
static INVALIDATE: &str = include_str!("invalidate.lua");

/// The [`Cache`] port on Redis (7.0 or newer, one node), shared by every hub instance.
///
/// Keys are `{prefix}:entry:{key}`, `{prefix}:tag:{tag}` (a set of entry keys),
/// `{prefix}:inv:key:{key}` and `{prefix}:inv:tag:{tag}` (the last invalidation, Unix
/// ms, kept for `redis_invalidation_memory_s`). An entry expires in Redis at its
/// `stale_until_ms`. `put` runs as one Lua script that refuses the entry when its key
/// or a tag was invalidated at or after `fetched_at_ms`; invalidation times come from
/// the instance's clock, so instances must keep their clocks synchronised.
///
/// The connection is made lazily and every call is bounded by `redis_timeout_ms`:
/// when Redis is down, calls fail fast with `StoreError::Unavailable` and the cache
/// manager falls through to the upstream. Opening never waits for Redis.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use hub_core::{Cache, CacheEntry};
/// use hub_store::{RedisCache, StoreConfig, clock::SystemClock};
/// let cache = RedisCache::open("redis://127.0.0.1:6379", &StoreConfig::default(), Arc::new(SystemClock))?;
/// let now = 1_900_000_000_000;
/// let entry = CacheEntry::new("{}".into(), now, now + 120_000, now + 720_000);
/// cache.put("txn:T-1", entry, &["customer:C-9".to_owned()]).await?;
/// cache.invalidate_tag("customer:C-9").await?; // every instance's next read misses
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisCache {
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
    invalidation_memory_ms: u64,
    clock: Arc<dyn Clock>,
    put: redis::Script,
    invalidate: redis::Script,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisCache {
    /// A cache on `url` with `config`'s key prefix, timeout and invalidation memory.
    /// Does not connect yet; needs a Tokio runtime.
    pub fn open(url: &str, config: &StoreConfig, clock: Arc<dyn Clock>) -> Result<Self, OpenError> {
        Self::open_with_prefix(url, &config.redis_key_prefix, config, clock)
    }

    /// [`RedisCache::open`] with another key prefix (one per deployment, or per test).
    pub fn open_with_prefix(
        url: &str,
        prefix: &str,
        config: &StoreConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, OpenError> {
        let (_, connection) = crate::redis_conn::connect(url, config)?;
        let timeout = crate::redis_conn::call_timeout(config);
        Ok(Self {
            connection,
            prefix: prefix.to_owned(),
            timeout,
            invalidation_memory_ms: config.redis_invalidation_memory_s.saturating_mul(1000).max(1),
            clock,
            put: redis::Script::new(PUT),
            invalidate: redis::Script::new(INVALIDATE),
        })
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn entry_key(&self, key: &str) -> String {
        format!("{}:entry:{key}", self.prefix)
    }

    fn key_mark(&self, key: &str) -> String {
        format!("{}:inv:key:{key}", self.prefix)
    }

    fn tag_mark(&self, tag: &str) -> String {
        format!("{}:inv:tag:{tag}", self.prefix)
    }

    fn tag_set(&self, tag: &str) -> String {
        format!("{}:tag:{tag}", self.prefix)
    }

    /// Runs one Redis call within the timeout, mapping every failure to `Unavailable`.
    async fn bounded<T>(&self, call: impl Future<Output = redis::RedisResult<T>>) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(StoreError::Unavailable {
                reason: format!("redis: {e}"),
            }),
            Err(_) => Err(StoreError::Unavailable {
                reason: format!("redis did not answer within {} ms", self.timeout.as_millis()),
            }),
        }
    }

    async fn invalidate_mark(&self, mark: String, target: String, kind: &str) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let now = to_ms(self.clock.now());
        let mut call = self.invalidate.key(mark);
        call.key(target).arg(now).arg(self.invalidation_memory_ms).arg(kind);
        self.bounded(call.invoke_async::<i64>(&mut connection)).await.map(drop)
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<CacheEntry>, StoreError> {
        let mut connection = self.connection.clone();
        let raw: Option<Vec<u8>> = self
            .bounded(redis::cmd("GET").arg(self.entry_key(key)).query_async(&mut connection))
            .await?;
        raw.as_deref().map(entry::decode).transpose()
    }

    async fn put(&self, key: &str, entry: CacheEntry, tags: &[String]) -> Result<(), StoreError> {
        if entry.stale_until_ms <= to_ms(self.clock.now()) {
            return Ok(()); // already past its stale window: nothing worth storing
        }
        let mut connection = self.connection.clone();
        let mut call = self.put.key(self.entry_key(key));
        call.key(self.key_mark(key));
        for tag in tags {
            call.key(self.tag_mark(tag)).key(self.tag_set(tag));
        }
        call.arg(entry.fetched_at_ms)
            .arg(entry.stale_until_ms)
            .arg(entry::encode(&entry));
        let stored: i64 = self.bounded(call.invoke_async(&mut connection)).await?;
        if stored == 0 {
            tracing::debug!(key, "cache put refused: invalidated since the read began");
        }
        Ok(())
    }

    async fn invalidate(&self, key: &str) -> Result<(), StoreError> {
        self.invalidate_mark(self.key_mark(key), self.entry_key(key), "key")
            .await
    }

    async fn invalidate_tag(&self, tag: &str) -> Result<(), StoreError> {
        self.invalidate_mark(self.tag_mark(tag), self.tag_set(tag), "tag").await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        self.bounded(redis::cmd("PING").query_async::<String>(&mut connection))
            .await
            .map(drop)
    }
}
