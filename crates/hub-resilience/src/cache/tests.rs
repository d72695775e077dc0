//! Single-flight, stale-if-error, store failures and invalidation races, under tokio's paused clock.

use super::*;
use crate::memory_store::MemoryCache;
use async_trait::async_trait;
use std::sync::atomic::AtomicUsize;

#[derive(Default)]
struct Counts {
    lookups: Mutex<Vec<CacheOutcome>>,
    store_errors: Mutex<Vec<&'static str>>,
}

impl CacheObserver for Counts {
    fn on_lookup(&self, _: &str, outcome: CacheOutcome) {
        self.lookups.lock().unwrap().push(outcome);
    }
    fn on_store_error(&self, action: &'static str, _: &StoreError) {
        self.store_errors.lock().unwrap().push(action);
    }
}

struct Fixture {
    manager: Arc<CacheManager>,
    store: Arc<MemoryCache>,
    counts: Arc<Counts>,
}

fn fixture() -> Fixture {
    fixture_with(CacheConfig {
        max_stale: Duration::from_secs(600),
        refresh_ahead_percent: 0,
    })
}

fn fixture_with(config: CacheConfig) -> Fixture {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::anchored(1_000_000));
    let store = Arc::new(MemoryCache::builder().clock(clock.clone()).build());
    let counts = Arc::new(Counts::default());
    let manager = CacheManager::builder(store.clone())
        .clock(clock)
        .observer(counts.clone())
        .config(config)
        .build();
    Fixture {
        manager: Arc::new(manager),
        store,
        counts,
    }
}

const KEY: &str = "integration:ticket_status:id=42";

fn lookup(tags: &[String]) -> Lookup<'_> {
    Lookup {
        operation: "ticket_status",
        key: KEY,
        tags,
        ttl: Duration::from_secs(300),
    }
}

async fn read(m: &CacheManager, answer: Result<&'static str, Error>) -> Result<Fetched<String>, Error> {
    m.get_or_fetch(&lookup(&[]), || async move { answer.map(str::to_owned) })
        .await
}

fn s503() -> Error {
    Error::Upstream {
        status: 503,
        retry_after: None,
    }
}

/// 1,000 concurrent misses on one key, each with a fetch that counts its calls.
async fn stampede(answer: Result<&'static str, Error>) -> (usize, Vec<Result<Fetched<String>, Error>>) {
    let f = fixture();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..1_000 {
        let (m, calls, answer) = (f.manager.clone(), calls.clone(), answer.clone());
        tasks.push(tokio::spawn(async move {
            m.get_or_fetch(&lookup(&[]), || async move {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(1)).await;
                answer.map(str::to_owned)
            })
            .await
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    (calls.load(Ordering::SeqCst), results)
}

#[tokio::test(start_paused = true)]
async fn a_thousand_concurrent_misses_make_one_call_and_share_its_value() {
    let (calls, results) = stampede(Ok("open")).await;
    assert_eq!(calls, 1);
    assert!(
        results
            .iter()
            .all(|r| r == &Ok(Fetched::new("open".to_owned(), CacheOutcome::Miss)))
    );
}

#[tokio::test(start_paused = true)]
async fn a_thousand_concurrent_misses_make_one_call_and_share_its_error() {
    let (calls, results) = stampede(Err(s503())).await;
    assert_eq!(calls, 1);
    assert!(results.iter().all(|r| r == &Err(s503())));
}

#[tokio::test(start_paused = true)]
async fn hit_miss_and_expiry() {
    let f = fixture();
    assert_eq!(read(&f.manager, Ok("open")).await.unwrap().cache, CacheOutcome::Miss);
    let hit = read(&f.manager, Ok("never fetched")).await.unwrap();
    assert_eq!((hit.value.as_str(), hit.cache), ("open", CacheOutcome::Hit));
    tokio::time::advance(Duration::from_secs(300)).await;
    let again = read(&f.manager, Ok("solved")).await.unwrap();
    assert_eq!((again.value.as_str(), again.cache), ("solved", CacheOutcome::Miss));
    assert_eq!(
        *f.counts.lookups.lock().unwrap(),
        [CacheOutcome::Miss, CacheOutcome::Hit, CacheOutcome::Miss]
    );
}

#[tokio::test(start_paused = true)]
async fn stale_if_error_within_max_stale() {
    let f = fixture();
    read(&f.manager, Ok("open")).await.unwrap();
    tokio::time::advance(Duration::from_secs(301)).await;
    // The upstream fails, or its circuit is open: the stale value, marked stale.
    for err in [
        s503(),
        Error::CircuitOpen {
            retry_in: Duration::from_secs(9),
        },
        Error::Timeout,
    ] {
        let stale = read(&f.manager, Err(err)).await.unwrap();
        assert_eq!((stale.value.as_str(), stale.cache), ("open", CacheOutcome::Stale));
    }
    // An answer about the resource is not covered up by a stale value.
    assert_eq!(read(&f.manager, Err(Error::NotFound)).await, Err(Error::NotFound));
    // Past max_stale the error shows.
    tokio::time::advance(Duration::from_secs(600)).await;
    assert_eq!(read(&f.manager, Err(s503())).await, Err(s503()));
}

/// A store that is down.
struct Down;

#[async_trait]
impl Cache for Down {
    async fn get(&self, _: &str) -> Result<Option<CacheEntry>, StoreError> {
        Err(StoreError::Unavailable {
            reason: "redis down".into(),
        })
    }
    async fn put(&self, _: &str, _: CacheEntry, _: &[String]) -> Result<(), StoreError> {
        Err(StoreError::Unavailable {
            reason: "redis down".into(),
        })
    }
    async fn invalidate(&self, _: &str) -> Result<(), StoreError> {
        Err(StoreError::Unavailable {
            reason: "redis down".into(),
        })
    }
    async fn invalidate_tag(&self, _: &str) -> Result<(), StoreError> {
        Err(StoreError::Unavailable {
            reason: "redis down".into(),
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_broken_store_never_fails_a_read() {
    let counts = Arc::new(Counts::default());
    let m = CacheManager::builder(Arc::new(Down)).observer(counts.clone()).build();
    let r = read(&m, Ok("open")).await.unwrap();
    assert_eq!((r.value.as_str(), r.cache), ("open", CacheOutcome::Bypass));
    assert_eq!(read(&m, Err(s503())).await, Err(s503()));
    assert_eq!(*counts.store_errors.lock().unwrap(), ["get", "get"]);
    assert_eq!(
        *counts.lookups.lock().unwrap(),
        [CacheOutcome::Bypass, CacheOutcome::Bypass]
    );
    assert!(m.invalidate(KEY).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn a_corrupt_entry_is_a_miss() {
    let f = fixture();
    let now = TokioClock::anchored(1_000_000).unix_ms();
    let entry = CacheEntry::new(Bytes::from_static(b"{not json"), now, now + 60_000, now + 120_000);
    f.store.put(KEY, entry, &[]).await.unwrap();
    let r = read(&f.manager, Ok("open")).await.unwrap();
    assert_eq!((r.value.as_str(), r.cache), ("open", CacheOutcome::Miss));
    assert_eq!(*f.counts.store_errors.lock().unwrap(), ["decode"]);
}

#[tokio::test(start_paused = true)]
async fn a_fetch_that_began_before_an_invalidation_is_not_written_back() {
    let f = fixture();
    let calls = Arc::new(AtomicUsize::new(0));
    let tags = vec![keys::tag("customer", "7")];
    let slow = {
        let (m, calls, tags) = (f.manager.clone(), calls.clone(), tags.clone());
        tokio::spawn(async move {
            m.get_or_fetch(&lookup(&tags), || async move {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok::<_, Error>("before the webhook".to_owned())
            })
            .await
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    f.manager.invalidate_tag(&keys::tag("customer", "7")).await.unwrap();
    // (A read in the very millisecond of the invalidation is not stored: the rule is "later than".)
    tokio::time::advance(Duration::from_millis(1)).await;
    // A caller after the invalidation does not join the old flight.
    let counted = calls.clone();
    let fresh = f
        .manager
        .get_or_fetch(&lookup(&tags), || async move {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok::<_, Error>("after the webhook".to_owned())
        })
        .await
        .unwrap();
    assert_eq!(fresh.value, "after the webhook");
    let old = slow.await.unwrap().unwrap();
    assert_eq!(old.value, "before the webhook");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let cached = read(&f.manager, Ok("unused")).await.unwrap();
    assert_eq!(
        (cached.value.as_str(), cached.cache),
        ("after the webhook", CacheOutcome::Hit)
    );
}

#[tokio::test(start_paused = true)]
async fn when_the_leader_gives_up_a_waiter_takes_over() {
    let f = fixture();
    let leader = {
        let m = f.manager.clone();
        tokio::spawn(async move {
            m.get_or_fetch(&lookup(&[]), || async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok::<_, Error>("never".to_owned())
            })
            .await
        })
    };
    tokio::task::yield_now().await;
    let waiter = {
        let m = f.manager.clone();
        tokio::spawn(async move { read(&m, Ok("from the waiter")).await })
    };
    tokio::task::yield_now().await;
    leader.abort();
    let r = waiter.await.unwrap().unwrap();
    assert_eq!((r.value.as_str(), r.cache), ("from the waiter", CacheOutcome::Miss));
}

fn assert_send<T: Send>(_: &T) {}

#[test]
fn futures_are_send_for_async_trait_adapters() {
    let f = fixture();
    let lookup = lookup(&[]);
    let fut = f.manager.get_or_fetch(&lookup, || async { Ok::<_, Error>(1u8) });
    assert_send(&fut);
    let policy = crate::retry::RetryPolicy::default();
    let run =
        crate::retry::Retry::new(&policy).run(crate::retry::Idempotency::Idempotent, |_| async { Ok::<_, Error>(1u8) });
    assert_send(&run);
    let read = read_through(Some(&f.manager), &lookup, || async { Ok::<_, Error>(1u8) });
    assert_send(&read);
}

/// Without a cache every read is fetched and marked bypass; a failure is the fetch's own.
#[tokio::test(start_paused = true)]
async fn without_a_cache_reads_bypass_it() {
    let calls = Arc::new(AtomicUsize::new(0));
    for _ in 0..2 {
        let counted = calls.clone();
        let r = read_through(None, &lookup(&[]), || async move {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok::<_, Error>("open".to_owned())
        })
        .await
        .unwrap();
        assert_eq!((r.value.as_str(), r.cache), ("open", CacheOutcome::Bypass));
    }
    let failed = read_through(None, &lookup(&[]), || async { Err::<String, _>(s503()) }).await;
    assert_eq!(failed.unwrap_err(), s503());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// With a cache it is the manager's lookup: a second read is a hit.
#[tokio::test(start_paused = true)]
async fn with_a_cache_reads_go_through_it() {
    let f = fixture();
    let first = read_through(Some(&f.manager), &lookup(&[]), || async {
        Ok::<_, Error>("open".to_owned())
    })
    .await
    .unwrap();
    let second = read_through(Some(&f.manager), &lookup(&[]), || async {
        Ok::<_, Error>("unused".to_owned())
    })
    .await
    .unwrap();
    assert_eq!(
        (first.cache, second.value.as_str(), second.cache),
        (CacheOutcome::Miss, "open", CacheOutcome::Hit)
    );
    assert_eq!(
        *f.counts.lookups.lock().unwrap(),
        [CacheOutcome::Miss, CacheOutcome::Hit]
    );
}

mod model {
    //! Single-flight against a model: callers arriving at random times share the flight in
    //! progress, and a failed flight leaves nothing behind, so the next caller starts a new one.
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn callers_share_the_flight_in_progress(
            // Even arrival times and an odd fetch time: no arrival coincides with a flight's end.
            mut arrivals in proptest::collection::vec((0u64..200).prop_map(|t| t * 2), 1..40),
            half_fetch in 1u64..30,
            fails in any::<bool>(),
        ) {
            let fetch_ms = half_fetch * 2 + 1;
            arrivals.sort_unstable();
            // The model: a caller starts a flight when none is in progress (and, on success,
            // every later caller hits the cache); each caller gets its flight's result.
            let mut flights: Vec<u64> = Vec::new();
            let mut flight_of = Vec::new();
            for &t in &arrivals {
                let current = flights.last().copied().filter(|start| t < start + fetch_ms || !fails);
                match current {
                    Some(_) => flight_of.push(flights.len() - 1),
                    None => {
                        flights.push(t);
                        flight_of.push(flights.len() - 1);
                    }
                }
            }

            let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
            let (calls, results) = rt.block_on(async {
                let f = fixture();
                let calls = Arc::new(AtomicUsize::new(0));
                let start = tokio::time::Instant::now();
                let tasks: Vec<_> = arrivals.iter().map(|&t| {
                    let (m, calls) = (f.manager.clone(), calls.clone());
                    tokio::spawn(async move {
                        tokio::time::sleep_until(start + Duration::from_millis(t)).await;
                        m.get_or_fetch(&lookup(&[]), || async move {
                            let n = calls.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(fetch_ms)).await;
                            if fails {
                                Err(Error::Upstream { status: 500 + u16::try_from(n % 50).unwrap(), retry_after: None })
                            } else {
                                Ok(format!("flight {n}"))
                            }
                        })
                        .await
                    })
                }).collect();
                let mut results = Vec::new();
                for t in tasks {
                    results.push(t.await.unwrap());
                }
                (calls.load(Ordering::SeqCst), results)
            });

            prop_assert_eq!(calls, flights.len());
            for (i, r) in results.iter().enumerate() {
                let n = flight_of[i];
                if fails {
                    prop_assert_eq!(r, &Err(Error::Upstream { status: 500 + u16::try_from(n % 50).unwrap(), retry_after: None }));
                } else {
                    let r = r.as_ref().unwrap();
                    prop_assert_eq!(r.value.as_str(), "flight 0");
                    let leader_or_waiter = arrivals[i] < arrivals[0] + fetch_ms;
                    prop_assert_eq!(r.cache, if leader_or_waiter { CacheOutcome::Miss } else { CacheOutcome::Hit });
                }
            }
        }
    }
}

/// A manager that refreshes in the last 20 % of a 300 s TTL (from 240 s on).
fn refreshing() -> Fixture {
    fixture_with(CacheConfig {
        max_stale: Duration::from_secs(600),
        refresh_ahead_percent: 20,
    })
}

/// A read whose fetch counts itself, takes a second and answers `answer`.
async fn counted(
    m: &CacheManager,
    calls: &Arc<AtomicUsize>,
    answer: Result<&'static str, Error>,
) -> Result<Fetched<String>, Error> {
    slow(m, calls, answer, 1).await
}

/// A read whose fetch counts itself, takes `secs` and answers `answer`.
async fn slow(
    m: &CacheManager,
    calls: &Arc<AtomicUsize>,
    answer: Result<&'static str, Error>,
    secs: u64,
) -> Result<Fetched<String>, Error> {
    let calls = calls.clone();
    m.get_or_fetch(&lookup(&[]), || async move {
        calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(secs)).await;
        answer.map(str::to_owned)
    })
    .await
}

/// Lets spawned refreshes run to their end (the paused clock jumps their sleeps).
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
}

#[tokio::test(start_paused = true)]
async fn a_hit_near_expiry_refreshes_once_in_the_background_and_readers_never_wait() {
    let f = refreshing();
    let calls = Arc::new(AtomicUsize::new(0));
    assert_eq!(
        counted(&f.manager, &calls, Ok("v1")).await.unwrap().cache,
        CacheOutcome::Miss
    );
    // Before the window: a plain hit.
    tokio::time::advance(Duration::from_secs(200)).await;
    assert_eq!(counted(&f.manager, &calls, Ok("v2")).await.unwrap().value, "v1");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // In the window: every reader is answered at once from the entry; one refresh starts.
    tokio::time::advance(Duration::from_secs(45)).await;
    let before = tokio::time::Instant::now();
    for _ in 0..100 {
        let hit = counted(&f.manager, &calls, Ok("v2")).await.unwrap();
        assert_eq!((hit.value.as_str(), hit.cache), ("v1", CacheOutcome::Hit));
    }
    assert_eq!(before.elapsed(), Duration::ZERO, "no reader waited for the upstream");
    settle().await;
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one background refresh for the key");
    // Past the first entry's expiry the refreshed one is served, fresh.
    tokio::time::advance(Duration::from_secs(60)).await;
    let hit = counted(&f.manager, &calls, Ok("v3")).await.unwrap();
    assert_eq!((hit.value.as_str(), hit.cache), ("v2", CacheOutcome::Hit));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_failed_background_refresh_is_not_repeated_and_the_entry_serves_on_then_stale() {
    let f = refreshing();
    let calls = Arc::new(AtomicUsize::new(0));
    counted(&f.manager, &calls, Ok("v1")).await.unwrap();
    tokio::time::advance(Duration::from_secs(250)).await;
    for _ in 0..10 {
        assert_eq!(counted(&f.manager, &calls, Err(s503())).await.unwrap().value, "v1");
        settle().await;
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "one refresh per entry, even when it fails"
    );
    // Expired: the reader's own fetch fails too, and the entry is served stale within max_stale.
    tokio::time::advance(Duration::from_secs(60)).await;
    let stale = counted(&f.manager, &calls, Err(s503())).await.unwrap();
    assert_eq!((stale.value.as_str(), stale.cache), ("v1", CacheOutcome::Stale));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn a_cold_read_during_a_background_refresh_joins_it() {
    let f = refreshing();
    let calls = Arc::new(AtomicUsize::new(0));
    // The entry is fresh until 300 s (its fetch began at 0 s and took 1 s).
    counted(&f.manager, &calls, Ok("v1")).await.unwrap();
    tokio::time::advance(Duration::from_secs(298)).await;
    slow(&f.manager, &calls, Ok("v2"), 10).await.unwrap();
    // The refresh is out (it takes 10 s); the entry expires meanwhile.
    tokio::task::yield_now().await;
    tokio::time::advance(Duration::from_secs(2)).await;
    let joined = counted(&f.manager, &calls, Ok("v3")).await.unwrap();
    assert_eq!((joined.value.as_str(), joined.cache), ("v2", CacheOutcome::Miss));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn refresh_ahead_off_refreshes_nothing() {
    let f = fixture();
    let calls = Arc::new(AtomicUsize::new(0));
    counted(&f.manager, &calls, Ok("v1")).await.unwrap();
    tokio::time::advance(Duration::from_secs(298)).await;
    counted(&f.manager, &calls, Ok("v2")).await.unwrap();
    settle().await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn the_encoded_form_is_the_stored_json_on_miss_hit_and_stale() {
    let f = fixture();
    let fetch = |answer: Result<Vec<u32>, Error>| move || async move { answer };
    let miss = f
        .manager
        .get_or_fetch_encoded(&lookup(&[]), fetch(Ok(vec![1, 2])))
        .await
        .unwrap();
    assert_eq!(
        (&miss.value.json()[..], miss.cache),
        (&b"[1,2]"[..], CacheOutcome::Miss)
    );
    let hit = f
        .manager
        .get_or_fetch_encoded(&lookup(&[]), fetch(Ok(vec![3])))
        .await
        .unwrap();
    assert_eq!((&hit.value.json()[..], hit.cache), (&b"[1,2]"[..], CacheOutcome::Hit));
    assert_eq!(hit.value.decode().unwrap(), vec![1, 2]);
    tokio::time::advance(Duration::from_secs(301)).await;
    let stale = f
        .manager
        .get_or_fetch_encoded(&lookup(&[]), fetch(Err(s503())))
        .await
        .unwrap();
    assert_eq!(
        (&stale.value.json()[..], stale.cache),
        (&b"[1,2]"[..], CacheOutcome::Stale)
    );
}
