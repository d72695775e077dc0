//! Upstream rate budgets, end to end: the hub keeps its calls within the configured rate,
//! refuses what does not fit with `429 rate_limited` and `Retry-After` (writes neither
//! sent nor dead-lettered), and a vendor's 429 pauses the budget — in every hub sharing it
//! through Redis.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hub_sim::{FaultKind, FaultRule, RateLimit, RequestFilter, System};
use hub_tests::{ADMIN_TOKEN, Hub, Options, READ_TOKEN, Resp, WRITE_TOKEN};
use serde_json::json;

fn ticket() -> serde_json::Value {
    json!({"customer_id": "CUST-1001", "subject": "s", "description": "d"})
}

/// Options with `[adapters.ticketing.rate]` and one attempt of `attempt_ms` (an
/// admission waits at most half of it).
fn rated(rate: &str, attempt_ms: u64) -> Options {
    Options {
        max_attempts: 1,
        attempt_ms,
        extra: format!("\n[adapters.ticketing.rate]\n{rate}\n"),
        ..Options::default()
    }
}

/// Asserts `r` is the hub's own refusal: 429 `rate_limited` with a whole-second
/// `Retry-After` matching the body's `retry_after_s`, and no dead-letter entry.
#[track_caller]
fn refused(r: &Resp) -> u64 {
    assert_eq!(r.status, 429, "{}", String::from_utf8_lossy(&r.body));
    let p = r.json();
    assert_eq!(p["code"], "rate_limited", "{p}");
    let retry_after: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!(retry_after >= 1);
    assert_eq!(p["retry_after_s"], retry_after);
    assert!(p.get("dlq_id").is_none(), "{p}");
    retry_after
}

/// The ticketing vendor answers the next request 429 with `Retry-After: 30`.
fn vendor_429_once(hub: &Hub) {
    hub.sim
        .control()
        .add_fault(
            FaultRule::new(FaultKind::RateLimit)
                .system(System::Generic)
                .retry_after_s(30)
                .times(1),
        )
        .unwrap();
}

fn sent_to(hub: &Hub, system: System) -> usize {
    hub.sim
        .control()
        .requests(&RequestFilter {
            system: Some(system),
            ..RequestFilter::default()
        })
        .len()
}

/// The sim allows 5 requests a minute per credential; the hub's budget 3 a minute with a
/// burst of 4, of which reads may use 80 %: a burst of 12 reads sends at most 3 and
/// answers the rest 429 from the hub itself — the sim never has to say 429.
#[tokio::test]
async fn the_budget_keeps_a_burst_of_reads_under_the_upstream_limit() {
    let hub = Hub::start(rated("requests_per_s = 0.05\nburst = 4", 400)).await;
    hub.sim
        .control()
        .set_rate_limit(System::Generic, Some(RateLimit::new(5, 60)));
    let mut answered = 0;
    let mut limited = 0;
    for i in 0..12 {
        let r = hub.get(&format!("/v1/tickets/TCK-4040{i:02}"), READ_TOKEN).await;
        if r.status == 404 {
            answered += 1;
        } else {
            refused(&r);
            limited += 1;
        }
    }
    // At most the reads' share of the burst (3); fewer once the sim's own headers
    // (4 left of 5 this minute) have narrowed the budget.
    assert!((1..=3).contains(&answered), "{answered} answered, {limited} refused");
    assert_eq!(answered + limited, 12);
    assert_eq!(sent_to(&hub, System::Generic), answered);
    assert!(hub.sim.control().rate_limited().is_empty(), "the sim sent a 429");
    let metrics = hub.send(http::Method::GET, "/metrics", None, None, &[]).await;
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.contains("integration_rate_limited_total{adapter=\"ticketing\",source=\"hub\"}"),
        "{text}"
    );
    assert!(text.contains("integration_rate_budget_remaining{adapter=\"ticketing\"}"));
    // `/readyz` shows the budget, and the window the sim's headers taught it; a spent
    // budget does not make the hub unready.
    let ready = hub.send(http::Method::GET, "/readyz", None, None, &[]).await;
    assert_eq!(ready.status, 200);
    let rate = &ready.json()["adapters"]["ticketing"]["rate"];
    assert_eq!(
        (rate["store"].as_str(), rate["burst"].as_u64()),
        (Some("local"), Some(4)),
        "{rate}"
    );
    assert_eq!(rate["requests_per_s"], 0.05, "{rate}");
    assert!(
        rate["window_requests_per_s"].as_f64().is_some_and(|r| r > 0.0),
        "{rate}"
    );
    assert!(
        rate["window_resets_in_ms"].as_u64().is_some_and(|ms| ms <= 60_000),
        "{rate}"
    );
    let status = &ready.json()["adapters"]["transaction_status"];
    assert!(
        status.get("rate").is_none(),
        "an adapter without a budget shows none: {status}"
    );
    hub.stop().await;
}

/// A write over the budget is answered 429 with `Retry-After`, is not sent and not
/// dead-lettered, and its key is free: the same request with the same key succeeds once
/// the budget has room again, and creates exactly one ticket.
#[tokio::test]
async fn a_write_over_the_budget_is_refused_unsent_and_succeeds_later_with_its_key() {
    let hub = Hub::start(rated("requests_per_s = 1.0\nburst = 1", 400)).await;
    let first = hub
        .post("/v1/tickets", WRITE_TOKEN, ticket(), &[("idempotency-key", "k-rate-1")])
        .await;
    assert_eq!(first.status, 201, "{}", String::from_utf8_lossy(&first.body));
    let second = hub
        .post("/v1/tickets", WRITE_TOKEN, ticket(), &[("idempotency-key", "k-rate-2")])
        .await;
    assert_eq!(refused(&second), 1);
    assert_eq!(sent_to(&hub, System::Generic), 1, "the refused write was sent");
    let dlq = hub.get("/v1/dlq", ADMIN_TOKEN).await.json();
    assert_eq!(dlq["items"], json!([]), "{dlq}");
    // The refusal is audited (write-behind: poll until the writer has stored it).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let audit = hub.get("/v1/audit?adapter=ticketing", ADMIN_TOKEN).await.json();
        let items = audit["items"].as_array().cloned().unwrap_or_default();
        if items.iter().any(|r| r["outcome"] == "rate_limited") {
            break;
        }
        assert!(Instant::now() < deadline, "no rate_limited audit record: {audit}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Retried with the same key until the budget has room (a second at most).
    let created = loop {
        let again = hub
            .post("/v1/tickets", WRITE_TOKEN, ticket(), &[("idempotency-key", "k-rate-2")])
            .await;
        if again.status == 201 {
            break again;
        }
        refused(&again);
        assert!(Instant::now() < deadline, "the budget never had room again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_ne!(created.json()["ticket_id"], first.json()["ticket_id"]);
    assert_eq!(sent_to(&hub, System::Generic), 2);
    hub.stop().await;
}

/// A 429 from the vendor pauses the whole budget for its `Retry-After`: the next read is
/// refused by the hub without reaching the vendor.
#[tokio::test]
async fn an_upstream_429_pauses_the_budget() {
    let hub = Hub::start(rated("requests_per_s = 100.0\nburst = 100", 2_000)).await;
    vendor_429_once(&hub);
    let first = hub.get("/v1/tickets/TCK-404001", READ_TOKEN).await;
    assert_eq!(first.status, 429, "{}", String::from_utf8_lossy(&first.body));
    assert_eq!(sent_to(&hub, System::Generic), 1);
    let second = hub.get("/v1/tickets/TCK-404002", READ_TOKEN).await;
    let retry_after = refused(&second);
    // The 30 s pause, and the slot right after it.
    assert!((25..=31).contains(&retry_after), "{retry_after}");
    assert_eq!(
        sent_to(&hub, System::Generic),
        1,
        "the paused budget let a read through"
    );
    hub.stop().await;
}

/// Two hubs share one budget through Redis: the first one's 429 pauses the second, whose
/// read is refused without reaching the vendor.
#[tokio::test]
async fn one_hubs_429_pauses_another_through_redis() {
    let prefix = format!(
        "t-rate-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let options = Options {
        store: format!("redis_url = \"redis://127.0.0.1:6379\"\nredis_key_prefix = \"{prefix}\""),
        ..rated("requests_per_s = 100.0\nburst = 100\ninstances_hint = 2", 2_000)
    };
    let a = Hub::start(options.clone()).await;
    let b = Hub::start_with(Arc::clone(&a.sim), options).await;
    vendor_429_once(&a);
    assert_eq!(a.get("/v1/tickets/TCK-404001", READ_TOKEN).await.status, 429);
    assert_eq!(sent_to(&a, System::Generic), 1);
    let retry_after = refused(&b.get("/v1/tickets/TCK-404002", READ_TOKEN).await);
    // The 30 s pause, and the slot right after it.
    assert!((25..=31).contains(&retry_after), "{retry_after}");
    assert_eq!(
        sent_to(&a, System::Generic),
        1,
        "the second hub's read reached the vendor"
    );
    // The second hub's `/readyz` shows the shared budget paused, and stays ready.
    let ready = b.send(http::Method::GET, "/readyz", None, None, &[]).await;
    assert_eq!(ready.status, 200);
    let rate = &ready.json()["adapters"]["ticketing"]["rate"];
    assert_eq!(rate["store"], "redis", "{rate}");
    assert!(rate["paused_for_ms"].as_u64().is_some_and(|ms| ms > 20_000), "{rate}");
    b.stop().await;
    a.stop().await;
}

/// A read the budget refuses is served from a stale cache entry when there is one.
#[tokio::test]
async fn a_refused_read_is_served_stale() {
    let hub = Hub::start(Options {
        status_ttl_s: Some(1),
        max_attempts: 1,
        extra: "\n[adapters.transaction_status.rate]\nrequests_per_s = 0.01\nburst = 1\n".to_owned(),
        ..Options::default()
    })
    .await;
    let fresh = hub.get("/v1/transactions/TXN-5003", READ_TOKEN).await;
    assert_eq!(fresh.status, 200, "{}", String::from_utf8_lossy(&fresh.body));
    assert_eq!(fresh.header("cache-status"), Some("integration-hub; fwd=miss"));
    let sent = sent_to(&hub, System::Status);
    // Poll (with a deadline) until the one-second TTL has passed: the refresh is refused
    // by the budget (its next slot is 100 s away) and the entry is served stale.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = hub.get("/v1/transactions/TXN-5003", READ_TOKEN).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        if r.header("cache-status") == Some("integration-hub; hit; stale") {
            assert_eq!(r.json(), fresh.json());
            break;
        }
        assert_eq!(r.header("cache-status"), Some("integration-hub; hit"));
        assert!(Instant::now() < deadline, "never served stale");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sent_to(&hub, System::Status), sent, "the refused refresh was sent");
    hub.stop().await;
}
