//! An in-process, bounded implementation of the `hub_core::Cache` port: LRU eviction, tags, no resurrection.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use cached::{Cached, CachedPeek, LruCache};
use hub_core::{Cache, CacheEntry, StoreError};

use crate::clock::{Clock, TokioClock, duration_ms};

/// Removed entries reported by the LRU's eviction callback: (key, tags).
type Evicted = Arc<Mutex<Vec<(String, Vec<String>)>>>;

/// An in-process cache store holding at most `max_entries` entries, evicting the
/// least recently used.
///
/// Entries past their `stale_until_ms` are dropped when met. Invalidations are
/// remembered for `invalidation_memory` (default 10 minutes, far longer than any
/// fetch's deadline) so that a `put` whose `fetched_at_ms` is not later than the last
/// invalidation of its key or of one of its tags is refused — the port's
/// no-resurrection rule.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), hub_core::StoreError> {
/// use bytes::Bytes;
/// use hub_core::{Cache, CacheEntry};
/// use hub_resilience::memory_store::MemoryCache;
/// use std::sync::Arc;
/// use hub_resilience::clock::ManualClock;
///
/// let clock = Arc::new(ManualClock::new(1_000));
/// let cache = MemoryCache::builder().max_entries(100).clock(clock).build();
/// let entry = |fetched_at_ms| CacheEntry::new(Bytes::from_static(b"\"open\""), fetched_at_ms, 10_000, 20_000);
/// cache.put("integration:ticket_status:id=42", entry(900), &["ticket:42".to_owned()]).await?;
/// assert!(cache.get("integration:ticket_status:id=42").await?.is_some());
///
/// cache.invalidate_tag("ticket:42").await?;
/// assert!(cache.get("integration:ticket_status:id=42").await?.is_none());
/// // A read that began before the invalidation cannot put its older answer back.
/// cache.put("integration:ticket_status:id=42", entry(950), &["ticket:42".to_owned()]).await?;
/// assert!(cache.get("integration:ticket_status:id=42").await?.is_none());
/// # Ok(())
/// # }
/// ```
pub struct MemoryCache {
    inner: Mutex<Inner>,
    evicted: Evicted,
    clock: Arc<dyn Clock>,
    invalidation_memory_ms: u64,
}

impl std::fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCache")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

struct Slot {
    entry: CacheEntry,
    tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Mark {
    Key(String),
    Tag(String),
}

struct Inner {
    lru: LruCache<String, Slot>,
    tags: HashMap<String, HashSet<String>>,
    /// The last invalidation of each key or tag (ms), with its place in `mark_order`.
    marks: HashMap<Mark, (u64, u64)>,
    /// Each remembered mark once, oldest first, for forgetting old ones: a key
    /// invalidated again moves to the back, so the memory holds one mark per key or tag.
    mark_order: BTreeMap<(u64, u64), Mark>,
    /// Orders marks set in the same millisecond.
    mark_seq: u64,
}

/// Builds a [`MemoryCache`].
#[derive(Default)]
pub struct MemoryCacheBuilder {
    max_entries: Option<usize>,
    clock: Option<Arc<dyn Clock>>,
    invalidation_memory: Option<Duration>,
}

impl MemoryCacheBuilder {
    /// The most entries held (default 10,000; at least 1).
    pub fn max_entries(mut self, n: usize) -> Self {
        self.max_entries = Some(n);
        self
    }

    /// The wall clock for expiry and invalidation times (default: the system's).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// How long invalidations are remembered (default 10 minutes).
    pub fn invalidation_memory(mut self, d: Duration) -> Self {
        self.invalidation_memory = Some(d);
        self
    }

    /// The store, empty.
    pub fn build(self) -> MemoryCache {
        let evicted: Evicted = Arc::default();
        let sink = evicted.clone();
        let max = self.max_entries.unwrap_or(10_000).max(1);
        let lru = LruCache::builder()
            .max_size(max)
            .on_evict(move |key: &String, slot: &Slot| {
                lock(&sink).push((key.clone(), slot.tags.clone()));
            })
            .build()
            .unwrap_or_else(|_| LruCache::new(max));
        MemoryCache {
            inner: Mutex::new(Inner {
                lru,
                tags: HashMap::new(),
                marks: HashMap::new(),
                mark_order: BTreeMap::new(),
                mark_seq: 0,
            }),
            evicted,
            clock: self.clock.unwrap_or_else(|| Arc::new(TokioClock::new())),
            invalidation_memory_ms: duration_ms(self.invalidation_memory.unwrap_or(Duration::from_secs(600))),
        }
    }
}

impl Default for MemoryCache {
    fn default() -> Self {
        Self::builder().build()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemoryCache {
    /// A builder: 10,000 entries, the system clock.
    pub fn builder() -> MemoryCacheBuilder {
        MemoryCacheBuilder::default()
    }

    /// Entries held now (some may be past their stale time until met).
    pub fn len(&self) -> usize {
        lock(&self.inner).lru.cache_size()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes the inner lock and unlinks evicted entries from their tags.
    fn inner(&self) -> MutexGuard<'_, Inner> {
        let mut inner = lock(&self.inner);
        let evicted = std::mem::take(&mut *lock(&self.evicted));
        for (key, tags) in evicted {
            // The key may have been put again since; unlink only if it is gone.
            if inner.lru.cache_peek(&key).is_none() {
                inner.unlink(&key, &tags);
            }
        }
        inner
    }
}

impl Inner {
    fn unlink(&mut self, key: &str, tags: &[String]) {
        for tag in tags {
            if let Some(keys) = self.tags.get_mut(tag) {
                keys.remove(key);
                if keys.is_empty() {
                    self.tags.remove(tag);
                }
            }
        }
    }

    fn remove(&mut self, key: &str) {
        if let Some(slot) = self.lru.cache_remove(key) {
            self.unlink(key, &slot.tags);
        }
    }

    fn mark(&mut self, mark: Mark, now_ms: u64, memory_ms: u64) {
        while let Some(entry) = self.mark_order.first_entry() {
            if entry.key().0.saturating_add(memory_ms) >= now_ms {
                break;
            }
            let old = entry.remove();
            self.marks.remove(&old);
        }
        self.mark_seq += 1;
        let place = (now_ms, self.mark_seq);
        if let Some(previous) = self.marks.insert(mark.clone(), place) {
            self.mark_order.remove(&previous);
        }
        self.mark_order.insert(place, mark);
    }

    fn invalidated_since(&self, key: &str, tags: &[String], fetched_at_ms: u64) -> bool {
        let after = |m: Mark| self.marks.get(&m).is_some_and(|(at, _)| fetched_at_ms <= *at);
        after(Mark::Key(key.to_owned())) || tags.iter().any(|t| after(Mark::Tag(t.clone())))
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<CacheEntry>, StoreError> {
        let now = self.clock.unix_ms();
        let mut inner = self.inner();
        let expired = match inner.lru.cache_get(key) {
            None => return Ok(None),
            Some(slot) if slot.entry.stale_until_ms > now => return Ok(Some(slot.entry.clone())),
            Some(_) => true,
        };
        if expired {
            inner.remove(key);
        }
        Ok(None)
    }

    async fn put(&self, key: &str, entry: CacheEntry, tags: &[String]) -> Result<(), StoreError> {
        let now = self.clock.unix_ms();
        if entry.stale_until_ms <= now {
            return Ok(());
        }
        let mut inner = self.inner();
        if inner.invalidated_since(key, tags, entry.fetched_at_ms) {
            return Ok(());
        }
        // Never replace a newer answer with an older one.
        if inner
            .lru
            .cache_peek(key)
            .is_some_and(|s| s.entry.fetched_at_ms > entry.fetched_at_ms)
        {
            return Ok(());
        }
        inner.remove(key);
        for tag in tags {
            inner.tags.entry(tag.clone()).or_default().insert(key.to_owned());
        }
        inner.lru.cache_set(
            key.to_owned(),
            Slot {
                entry,
                tags: tags.to_vec(),
            },
        );
        Ok(())
    }

    async fn invalidate(&self, key: &str) -> Result<(), StoreError> {
        let now = self.clock.unix_ms();
        let mut inner = self.inner();
        inner.mark(Mark::Key(key.to_owned()), now, self.invalidation_memory_ms);
        inner.remove(key);
        Ok(())
    }

    async fn invalidate_tag(&self, tag: &str) -> Result<(), StoreError> {
        let now = self.clock.unix_ms();
        let mut inner = self.inner();
        inner.mark(Mark::Tag(tag.to_owned()), now, self.invalidation_memory_ms);
        for key in inner.tags.remove(tag).unwrap_or_default() {
            inner.remove(&key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use bytes::Bytes;
    use proptest::prelude::*;

    fn entry(v: &'static str, fetched_at_ms: u64) -> CacheEntry {
        CacheEntry::new(
            Bytes::from_static(v.as_bytes()),
            fetched_at_ms,
            fetched_at_ms + 1_000,
            fetched_at_ms + 5_000,
        )
    }

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| (*s).to_owned()).collect()
    }

    fn store(max: usize) -> (MemoryCache, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(10_000));
        (
            MemoryCache::builder().max_entries(max).clock(clock.clone()).build(),
            clock,
        )
    }

    async fn value(c: &MemoryCache, key: &str) -> Option<Bytes> {
        c.get(key).await.unwrap().map(|e| e.value().clone())
    }

    #[tokio::test]
    async fn evicts_the_least_recently_used() {
        let (c, _) = store(2);
        c.put("a", entry("1", 10_000), &tags(&["t"])).await.unwrap();
        c.put("b", entry("2", 10_000), &tags(&["t"])).await.unwrap();
        assert!(value(&c, "a").await.is_some()); // a is now the most recent
        c.put("c", entry("3", 10_000), &[]).await.unwrap();
        assert_eq!(c.len(), 2);
        assert!(value(&c, "b").await.is_none());
        assert!(value(&c, "a").await.is_some());
        // The evicted key left its tag's index.
        let inner = c.inner();
        assert_eq!(inner.tags.get("t").map(HashSet::len), Some(1));
    }

    #[tokio::test]
    async fn entries_die_after_their_stale_time() {
        let (c, clock) = store(10);
        c.put("a", entry("1", 10_000), &[]).await.unwrap();
        clock.advance(Duration::from_millis(4_999));
        assert!(value(&c, "a").await.is_some());
        clock.advance(Duration::from_millis(1));
        assert!(value(&c, "a").await.is_none());
        assert!(c.is_empty());
    }

    #[tokio::test]
    async fn no_resurrection_by_key_or_tag() {
        let (c, clock) = store(10);
        c.put("a", entry("1", 9_000), &tags(&["customer:7"])).await.unwrap();
        c.invalidate("a").await.unwrap();
        assert!(value(&c, "a").await.is_none());
        // Began before (or at) the invalidation: refused.
        c.put("a", entry("old", 10_000), &[]).await.unwrap();
        assert!(value(&c, "a").await.is_none());
        clock.advance(Duration::from_millis(1));
        c.put("a", entry("new", 10_001), &[]).await.unwrap();
        assert_eq!(value(&c, "a").await.as_deref(), Some(&b"new"[..]));

        c.put("h1", entry("p1", 10_001), &tags(&["customer:7"])).await.unwrap();
        c.put("h2", entry("p2", 10_001), &tags(&["customer:7"])).await.unwrap();
        c.put("h3", entry("p3", 10_001), &tags(&["customer:8"])).await.unwrap();
        c.invalidate_tag("customer:7").await.unwrap();
        assert!(value(&c, "h1").await.is_none() && value(&c, "h2").await.is_none());
        assert!(value(&c, "h3").await.is_some());
        c.put("h1", entry("p1", 10_000), &tags(&["customer:7"])).await.unwrap();
        assert!(value(&c, "h1").await.is_none());
        // Invalidations are forgotten after the memory time, bounding memory.
        clock.advance(Duration::from_secs(601));
        c.invalidate("other").await.unwrap();
        assert_eq!(c.inner().marks.len(), 1);
        // One mark per key, however often it is invalidated within the memory time.
        for _ in 0..1000 {
            c.invalidate("hot").await.unwrap();
            clock.advance(Duration::from_millis(1));
        }
        let inner = c.inner();
        assert_eq!((inner.marks.len(), inner.mark_order.len()), (2, 2));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Put {
            key: u8,
            age: u64,
            life: u64,
            tags: Vec<u8>,
        },
        Get(u8),
        Invalidate(u8),
        InvalidateTag(u8),
        Advance(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..6, 0u64..3, 1u64..40, proptest::collection::vec(0u8..3, 0..3))
                .prop_map(|(key, age, life, tags)| Op::Put { key, age, life, tags }),
            3 => (0u8..6).prop_map(Op::Get),
            1 => (0u8..6).prop_map(Op::Invalidate),
            1 => (0u8..3).prop_map(Op::InvalidateTag),
            2 => (0u64..20).prop_map(Op::Advance),
        ]
    }

    /// The reference model: a recency-ordered list (least recent first) and plain maps.
    #[derive(Default)]
    struct Model {
        order: Vec<(String, CacheEntry, Vec<String>)>,
        key_marks: HashMap<String, u64>,
        tag_marks: HashMap<String, u64>,
    }

    impl Model {
        fn pos(&self, key: &str) -> Option<usize> {
            self.order.iter().position(|(k, _, _)| k == key)
        }

        fn get(&mut self, key: &str, now: u64) -> Option<CacheEntry> {
            let i = self.pos(key)?;
            let item = self.order.remove(i);
            if item.1.stale_until_ms <= now {
                return None;
            }
            let entry = item.1.clone();
            self.order.push(item);
            Some(entry)
        }

        fn put(&mut self, key: &str, entry: CacheEntry, tags: Vec<String>, now: u64, max: usize) {
            let marked = |at: Option<&u64>| at.is_some_and(|at| entry.fetched_at_ms <= *at);
            if entry.stale_until_ms <= now
                || marked(self.key_marks.get(key))
                || tags.iter().any(|t| marked(self.tag_marks.get(t)))
                || self
                    .pos(key)
                    .is_some_and(|i| self.order[i].1.fetched_at_ms > entry.fetched_at_ms)
            {
                return;
            }
            if let Some(i) = self.pos(key) {
                self.order.remove(i);
            }
            self.order.push((key.to_owned(), entry, tags));
            if self.order.len() > max {
                self.order.remove(0);
            }
        }
    }

    proptest! {
        #[test]
        fn memory_cache_matches_the_model(max in 1usize..5, ops in proptest::collection::vec(op(), 1..80)) {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let clock = Arc::new(ManualClock::new(1_000));
            let c = MemoryCache::builder().max_entries(max).clock(clock.clone()).build();
            let mut m = Model::default();
            let mut now = 1_000u64;
            for op in ops {
                match op {
                    Op::Put { key, age, life, tags: t } => {
                        let key = format!("k{key}");
                        let t: Vec<String> = t.iter().map(|t| format!("t{t}")).collect();
                        let fetched_at_ms = now.saturating_sub(age);
                        let e = CacheEntry::new(
                            Bytes::from(format!("{key}@{now}")),
                            fetched_at_ms,
                            fetched_at_ms + life / 2,
                            fetched_at_ms + life,
                        );
                        rt.block_on(c.put(&key, e.clone(), &t)).unwrap();
                        m.put(&key, e, t, now, max);
                    }
                    Op::Get(key) => {
                        let key = format!("k{key}");
                        prop_assert_eq!(rt.block_on(c.get(&key)).unwrap(), m.get(&key, now));
                    }
                    Op::Invalidate(key) => {
                        let key = format!("k{key}");
                        rt.block_on(c.invalidate(&key)).unwrap();
                        m.key_marks.insert(key.clone(), now);
                        if let Some(i) = m.pos(&key) {
                            m.order.remove(i);
                        }
                    }
                    Op::InvalidateTag(tag) => {
                        let tag = format!("t{tag}");
                        rt.block_on(c.invalidate_tag(&tag)).unwrap();
                        m.tag_marks.insert(tag.clone(), now);
                        m.order.retain(|(_, _, t)| !t.contains(&tag));
                    }
                    Op::Advance(ms) => {
                        clock.advance(Duration::from_millis(ms));
                        now += ms;
                    }
                }
                // Same keys in the same recency order (expired entries linger until met, in both).
                let inner = c.inner();
                let mut keys = inner.lru.key_order();
                keys.reverse();
                let want: Vec<String> = m.order.iter().map(|(k, _, _)| k.clone()).collect();
                prop_assert_eq!(keys, want);
                // The tag index holds exactly the live keys' tags.
                let mut index: Vec<(String, String)> = inner
                    .tags
                    .iter()
                    .flat_map(|(t, ks)| ks.iter().map(move |k| (t.clone(), k.clone())))
                    .collect();
                index.sort();
                let mut want: Vec<(String, String)> = m
                    .order
                    .iter()
                    .flat_map(|(k, _, ts)| ts.iter().map(move |t| (t.clone(), k.clone())))
                    .collect();
                want.sort();
                want.dedup();
                prop_assert_eq!(index, want);
            }
        }
    }

    #[tokio::test]
    async fn an_older_answer_never_replaces_a_newer_one() {
        let (c, _) = store(10);
        c.put("a", entry("new", 10_000), &[]).await.unwrap();
        c.put("a", entry("old", 9_999), &[]).await.unwrap();
        assert_eq!(value(&c, "a").await.as_deref(), Some(&b"new"[..]));
    }
}
