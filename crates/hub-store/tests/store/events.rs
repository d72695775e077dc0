//! The live-event bus on Redis: an event published on one instance reaches every
//! instance's subscribers exactly once, prefixes keep deployments apart, JSON numbers
//! survive, and with Redis down publishing still reaches this instance, fails fast and
//! the relay comes back. Each test has its own key prefix.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hub_core::{Event, EventPublisher, EventStream, Lagged, StoreError, Topic};
use hub_store::{Backend, RedisEvents, StoreConfig, Stores};
use time::OffsetDateTime;

use crate::support::{Proxy, TestDb, redis_url};

/// Bounds a failure only: a healthy test never waits this long.
const FAILURE_BOUND: Duration = Duration::from_secs(20);

fn prefix() -> String {
    format!("hub-test:{}", uuid::Uuid::new_v4().simple())
}

fn event(id: &str) -> Event {
    Event {
        id: id.to_owned(),
        topic: Topic::TransactionUpdated,
        at: OffsetDateTime::now_utc(),
        data: serde_json::json!({"transaction_id": format!("TX-{id}"), "status": "settled"}),
    }
}

/// A bus on the tests' Redis, its relay subscribed (else the test fails: Redis is down).
async fn instance_on(url: &str, prefix: &str) -> RedisEvents {
    let bus = RedisEvents::open_with_prefix(url, prefix, &StoreConfig::default()).unwrap();
    assert!(
        bus.wait_subscribed(FAILURE_BOUND).await,
        "Redis at {url} does not answer: the event relay never subscribed"
    );
    bus
}

async fn instance(prefix: &str) -> RedisEvents {
    instance_on(&redis_url(), prefix).await
}

async fn next(stream: &mut EventStream) -> Result<Event, Lagged> {
    tokio::time::timeout(FAILURE_BOUND, stream.next())
        .await
        .expect("an event within the bound")
        .expect("the stream goes on")
}

async fn next_id(stream: &mut EventStream) -> String {
    next(stream).await.expect("no lag").id
}

/// Publishes a last event on `on` and returns what each feed got before it (the feeds
/// must all be subscribed to it).
async fn drain(on: &dyn EventPublisher, feeds: &mut [EventStream]) -> Vec<Vec<String>> {
    let sentinel = format!("sentinel-{}", uuid::Uuid::new_v4().simple());
    on.publish(event(&sentinel)).await.unwrap();
    let mut all = Vec::new();
    for feed in feeds.iter_mut() {
        let mut seen = Vec::new();
        loop {
            let id = next_id(feed).await;
            if id == sentinel {
                break;
            }
            seen.push(id);
        }
        all.push(seen);
    }
    all
}

/// Checks that each feed's next events are exactly `want` (through [`drain`]): no event
/// is missing, duplicated or foreign.
async fn expect_exactly(on: &dyn EventPublisher, feeds: &mut [EventStream], want: &[&str]) {
    for (n, seen) in drain(on, feeds).await.into_iter().enumerate() {
        assert_eq!(seen, want, "feed {n}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_published_on_one_instance_reaches_every_instance_once() {
    let prefix = prefix();
    let a = instance(&prefix).await;
    let b = instance(&prefix).await;
    assert_eq!(a.channel(), format!("{prefix}:events"));
    let mut feeds = vec![a.subscribe(), a.subscribe(), b.subscribe()];
    a.publish(event("from-a")).await.unwrap();
    b.publish(event("from-b")).await.unwrap();
    a.publish(event("from-a-again")).await.unwrap();
    expect_exactly(&b, &mut feeds, &["from-a", "from-b", "from-a-again"]).await;
    assert_eq!(a.publish_failures() + b.publish_failures(), 0);
    assert_eq!(a.outages() + b.outages() + a.malformed() + b.malformed(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_prefixes_stay_apart() {
    let (one, other) = (prefix(), prefix());
    let a = instance(&one).await;
    let c = instance(&other).await;
    let mut on_a = [a.subscribe()];
    let mut on_c = [c.subscribe()];
    c.publish(event("for-c")).await.unwrap();
    a.publish(event("for-a")).await.unwrap();
    expect_exactly(&a, &mut on_a, &["for-a"]).await;
    expect_exactly(&c, &mut on_c, &["for-c"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_payload_survives_the_round_trip_numbers_included() {
    let prefix = prefix();
    let a = instance(&prefix).await;
    let b = instance(&prefix).await;
    let mut on_b = b.subscribe();
    let data: serde_json::Value = serde_json::from_str(
        r#"{"amount": 12345678901234567890.123456789012345678, "huge": 1e400, "tiny": -0.000000000000000000001,
            "int": 18446744073709551617, "nested": [{"x": 0.1}], "text": "ünïcødé \"quoted\"", "none": null}"#,
    )
    .unwrap();
    let sent = Event {
        id: "wh-numbers".to_owned(),
        topic: Topic::DlqEnqueued,
        at: OffsetDateTime::now_utc(), // nanosecond precision
        data,
    };
    a.publish(sent.clone()).await.unwrap();
    let got = next(&mut on_b).await.unwrap();
    assert_eq!(got, sent);
    assert_eq!(
        got.data["amount"].to_string(),
        "12345678901234567890.123456789012345678"
    );
    assert_eq!(got.data["huge"].to_string(), sent.data["huge"].to_string()); // not infinity
    assert_ne!(got.data["huge"].as_f64(), Some(f64::INFINITY));
    assert_eq!(got.data["int"].to_string(), "18446744073709551617");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_lags_and_then_gets_later_events() {
    let prefix = prefix();
    let config = StoreConfig {
        events_capacity: 4,
        ..StoreConfig::default()
    };
    let a = RedisEvents::open_with_prefix(&redis_url(), &prefix, &config).unwrap();
    assert!(a.wait_subscribed(FAILURE_BOUND).await, "Redis does not answer");
    let mut slow = a.subscribe();
    let mut fast = a.subscribe();
    for n in 0..10 {
        a.publish(event(&n.to_string())).await.unwrap();
        assert_eq!(next_id(&mut fast).await, n.to_string());
    }
    assert_eq!(next(&mut slow).await, Err(Lagged { missed: 6 }));
    for n in 6..10 {
        assert_eq!(next_id(&mut slow).await, n.to_string());
    }
    let mut both = [slow, fast];
    expect_exactly(&a, &mut both, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_publishing_reaches_this_instance_and_fails_fast() {
    let bus = RedisEvents::open_with_prefix("redis://127.0.0.1:1", &prefix(), &StoreConfig::default()).unwrap();
    let mut feeds = [bus.subscribe(), bus.subscribe()];
    for n in 0..3 {
        let started = Instant::now();
        let result = bus.publish(event(&format!("down-{n}"))).await;
        assert!(matches!(result, Err(StoreError::Unavailable { .. })), "{result:?}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );
    }
    assert_eq!(bus.publish_failures(), 3);
    for feed in &mut feeds {
        for n in 0..3 {
            assert_eq!(next_id(feed).await, format!("down-{n}"));
        }
    }
    // The relay keeps trying, and counts (and logs) the outage once.
    let deadline = Instant::now() + FAILURE_BOUND;
    while bus.outages() == 0 {
        assert!(Instant::now() < deadline, "the relay never noticed Redis is down");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!bus.is_subscribed());
    assert_eq!(bus.outages(), 1, "one outage however many attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_subscribes_again_after_losing_redis() {
    let prefix = prefix();
    let proxy = Proxy::start().await;
    let a = instance_on(&proxy.url(), &prefix).await; // through the proxy
    let b = instance(&prefix).await; // direct
    let mut feeds = [a.subscribe(), b.subscribe()];
    b.publish(event("before")).await.unwrap();
    expect_exactly(&b, &mut feeds, &["before"]).await;

    proxy.cut();
    let deadline = Instant::now() + FAILURE_BOUND;
    while a.is_subscribed() {
        assert!(Instant::now() < deadline, "the relay never noticed the cut");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A cannot reach Redis: its event reaches its own subscribers only, once.
    let result = a.publish(event("a-while-cut")).await;
    assert!(matches!(result, Err(StoreError::Unavailable { .. })), "{result:?}");
    let again = a.publish(event("a-while-cut-again")).await;
    assert!(matches!(again, Err(StoreError::Unavailable { .. })), "{again:?}");
    assert_eq!(a.publish_failures(), 2);
    assert_eq!(next_id(&mut feeds[0]).await, "a-while-cut");
    assert_eq!(next_id(&mut feeds[0]).await, "a-while-cut-again");
    // Pub/sub is at-most-once: what B publishes meanwhile never reaches A.
    b.publish(event("b-while-cut")).await.unwrap();
    expect_exactly(&b, &mut feeds[1..], &["b-while-cut"]).await;

    proxy.restore();
    // Publishing works again at once, whether or not the relay is back yet.
    a.publish(event("a-first-after")).await.unwrap();
    assert!(a.wait_subscribed(FAILURE_BOUND).await, "the relay never came back");
    assert_eq!(a.outages(), 1);
    b.publish(event("after")).await.unwrap();
    a.publish(event("a-after")).await.unwrap();
    expect_exactly(&b, &mut feeds, &["a-first-after", "after", "a-after"]).await;
    drop(proxy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_notices_a_link_that_died_silently() {
    let prefix = prefix();
    let proxy = Proxy::start().await;
    let config = StoreConfig {
        events_heartbeat_ms: 100,
        redis_timeout_ms: 200,
        ..StoreConfig::default()
    };
    let a = RedisEvents::open_with_prefix(&proxy.url(), &prefix, &config).unwrap();
    assert!(a.wait_subscribed(FAILURE_BOUND).await, "Redis does not answer");
    let b = instance(&prefix).await;
    let mut feeds = [a.subscribe(), b.subscribe()];
    expect_exactly(&b, &mut feeds, &[]).await;

    proxy.freeze(); // no reset, no FIN: only a heartbeat can tell
    let deadline = Instant::now() + FAILURE_BOUND;
    while a.is_subscribed() {
        assert!(Instant::now() < deadline, "the relay never noticed the dead link");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    let result = a.publish(event("a-while-frozen")).await;
    assert!(matches!(result, Err(StoreError::Unavailable { .. })), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(next_id(&mut feeds[0]).await, "a-while-frozen");

    proxy.restore();
    assert!(a.wait_subscribed(FAILURE_BOUND).await, "the relay never came back");
    assert_eq!(a.outages(), 1);
    b.publish(event("after")).await.unwrap();
    expect_exactly(&b, &mut feeds, &["after"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_share_events_through_redis_when_configured() {
    let (db_one, db_two) = (
        TestDb::create(Backend::Sqlite).await,
        TestDb::create(Backend::Sqlite).await,
    );
    let config = StoreConfig {
        redis_url: Some(redis_url()),
        redis_key_prefix: prefix(),
        ..StoreConfig::with_database_url(&db_one.url)
    };
    let one = Stores::open(config.clone()).await.unwrap();
    let two = Stores::open(StoreConfig {
        database_url: db_two.url.clone(),
        ..config
    })
    .await
    .unwrap();
    let mut feeds = [one.events.subscribe(), two.events.subscribe()];
    // The relays subscribe in the background: publish until both feeds see one event.
    let deadline = Instant::now() + FAILURE_BOUND;
    let mut n = 0;
    loop {
        assert!(Instant::now() < deadline, "Redis at {} does not answer", redis_url());
        let id = format!("probe-{n}");
        one.events.publish(event(&id)).await.unwrap();
        let on_two = tokio::time::timeout(Duration::from_millis(200), feeds[1].next()).await;
        if let Ok(Some(Ok(_))) = on_two {
            break;
        }
        n += 1;
    }
    drain(one.events.as_ref(), &mut feeds).await; // the probes
    two.events.publish(event("shared")).await.unwrap();
    expect_exactly(one.events.as_ref(), &mut feeds, &["shared"]).await;
    one.shutdown().await.unwrap();
    two.shutdown().await.unwrap();
    db_one.drop_it().await;
    db_two.drop_it().await;
}

#[tokio::test]
async fn stores_keep_events_in_process_without_redis() {
    let db = TestDb::create(Backend::Sqlite).await;
    let stores = Stores::open(StoreConfig::with_database_url(&db.url)).await.unwrap();
    let mut feed = stores.events.subscribe();
    stores.events.publish(event("local")).await.unwrap();
    assert_eq!(next_id(&mut feed).await, "local");
    stores.shutdown().await.unwrap();
    db.drop_it().await;
}
