//! The contract's error mapping, end to end: upstream failures become the right problem.

use std::time::Duration;

use hub_sim::{FaultKind, FaultRule, RequestFilter, System};
use hub_tests::{ADMIN_TOKEN, Hub, Options, READ_TOKEN, WRITE_TOKEN};
use serde_json::json;

fn ticket() -> serde_json::Value {
    json!({"customer_id": "CUST-1001", "subject": "s", "description": "d"})
}

fn problem(resp: &hub_tests::Resp, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(resp.status, status, "{}", String::from_utf8_lossy(&resp.body));
    assert_eq!(resp.header("content-type"), Some("application/problem+json"));
    let p = resp.json();
    assert_eq!(p["code"], code, "{p}");
    assert_eq!(p["type"], format!("urn:integration-hub:problem:{code}"));
    assert_eq!(p["status"], status);
    assert!(p["request_id"].is_string() && p["title"].is_string());
    p
}

#[tokio::test]
async fn not_found_and_rejected() {
    let hub = Hub::start(Options::default()).await;
    problem(&hub.get("/v1/tickets/TCK-404404", READ_TOKEN).await, 404, "not_found");
    // Committing a cancelled draft: the upstream's 409 is the caller's 422.
    let draft = hub
        .post(
            "/v1/transactions/drafts",
            WRITE_TOKEN,
            json!({"customer_id": "CUST-1001", "amount": "3", "description": "x"}),
            &[],
        )
        .await
        .json();
    let id = draft["draft_id"].as_str().unwrap();
    hub.post(
        &format!("/v1/transactions/drafts/{id}/cancel"),
        WRITE_TOKEN,
        json!({}),
        &[],
    )
    .await;
    let refused = hub
        .post(
            &format!("/v1/transactions/drafts/{id}/commit"),
            WRITE_TOKEN,
            json!({}),
            &[("idempotency-key", "k-cancelled")],
        )
        .await;
    problem(&refused, 422, "upstream_rejected");
    hub.stop().await;
}

#[tokio::test]
async fn failed_writes_are_dead_lettered_before_the_answer() {
    let hub = Hub::start(Options::default()).await;
    hub.sim
        .control()
        .add_fault(FaultRule::new(FaultKind::Error).system(System::Generic).status(500))
        .unwrap();
    let resp = hub
        .post(
            "/v1/tickets",
            WRITE_TOKEN,
            ticket(),
            &[("x-conversation-id", "conv-dlq")],
        )
        .await;
    let p = problem(&resp, 502, "upstream_unavailable");
    let dlq_id = p["dlq_id"].as_str().expect("a dead-lettered write names its entry");
    let entry = hub.get(&format!("/v1/dlq/{dlq_id}"), ADMIN_TOKEN).await;
    assert_eq!(entry.status, 200);
    let e = entry.json();
    assert_eq!(
        (e["status"].as_str(), e["operation"].as_str()),
        (Some("pending"), Some("create_ticket"))
    );
    assert_eq!(e["conversation_id"], "conv-dlq");
    assert!(e["idempotency_key"].is_string());
    // Three attempts reached the sim.
    let sent = hub.sim.control().requests(&RequestFilter {
        system: Some(System::Generic),
        ..RequestFilter::default()
    });
    assert_eq!(sent.len(), 3);
    hub.stop().await;
}

#[tokio::test]
async fn timeouts_are_504() {
    let hub = Hub::start(Options {
        max_attempts: 1,
        attempt_ms: 300,
        ..Options::default()
    })
    .await;
    hub.sim
        .control()
        .add_fault(FaultRule::new(FaultKind::Hang).system(System::Status))
        .unwrap();
    problem(
        &hub.get("/v1/transactions/TXN-5001", READ_TOKEN).await,
        504,
        "upstream_timeout",
    );
    hub.stop().await;
}

#[tokio::test]
async fn a_long_retry_after_fails_fast_with_429() {
    let hub = Hub::start(Options::default()).await;
    hub.sim
        .control()
        .add_fault(
            FaultRule::new(FaultKind::RateLimit)
                .system(System::Status)
                .retry_after_s(120),
        )
        .unwrap();
    let started = std::time::Instant::now();
    let p = problem(
        &hub.get("/v1/transactions/TXN-5001", READ_TOKEN).await,
        429,
        "rate_limited",
    );
    assert_eq!(p["retry_after_s"], 120);
    // It did not wait the two minutes it was asked to (an upper bound far from any real timing).
    assert!(started.elapsed() < Duration::from_secs(60));
    hub.stop().await;
}

#[tokio::test]
async fn an_open_circuit_answers_503_with_retry_after_and_sends_nothing() {
    let hub = Hub::start(Options {
        max_attempts: 1,
        ..Options::default()
    })
    .await;
    hub.sim
        .control()
        .add_fault(FaultRule::new(FaultKind::Error).system(System::Status).status(503))
        .unwrap();
    for i in 0..5 {
        let r = hub.get(&format!("/v1/transactions/TXN-500{}", i + 1), READ_TOKEN).await;
        problem(&r, 502, "upstream_unavailable");
    }
    let sent = hub
        .sim
        .control()
        .requests(&RequestFilter {
            system: Some(System::Status),
            ..RequestFilter::default()
        })
        .len();
    let open = hub.get("/v1/transactions/TXN-5006", READ_TOKEN).await;
    problem(&open, 503, "circuit_open");
    let retry_after: u64 = open.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(
        hub.sim
            .control()
            .requests(&RequestFilter {
                system: Some(System::Status),
                ..RequestFilter::default()
            })
            .len(),
        sent
    );
    let ready = hub.send(http::Method::GET, "/readyz", None, None, &[]).await.json();
    assert_eq!(ready["adapters"]["transaction_status"]["circuit"], "open");
    // A storm of refusals: the first of each second is recorded as it happens, the rest
    // of that second as one record with their number, and none is left uncounted.
    const MORE: u64 = 30;
    for _ in 0..MORE {
        problem(
            &hub.get("/v1/transactions/TXN-5006", READ_TOKEN).await,
            503,
            "circuit_open",
        );
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let (records, calls) = loop {
        let audit = hub
            .get("/v1/audit?adapter=transaction_status&limit=200", ADMIN_TOKEN)
            .await
            .json();
        let refused: Vec<&serde_json::Value> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["outcome"] == "rejected")
            .collect();
        let calls: u64 = refused.iter().map(|r| r["calls"].as_u64().unwrap()).sum();
        if calls == MORE + 1 {
            break (refused.len() as u64, calls);
        }
        assert!(calls <= MORE + 1, "{audit}");
        assert!(std::time::Instant::now() < deadline, "refusals left uncounted: {audit}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(records < calls, "{records} records for {calls} refusals");
    hub.stop().await;
}

#[tokio::test]
async fn stale_reads_are_served_while_the_upstream_is_down() {
    let hub = Hub::start(Options {
        status_ttl_s: Some(1),
        max_attempts: 1,
        ..Options::default()
    })
    .await;
    let fresh = hub.get("/v1/transactions/TXN-5003", READ_TOKEN).await;
    assert_eq!(fresh.header("cache-status"), Some("integration-hub; fwd=miss"));
    hub.sim.control().set_outage(System::Status, true);
    // Poll (with a deadline) until the one-second TTL has passed and the entry is served stale.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = hub.get("/v1/transactions/TXN-5003", READ_TOKEN).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        if r.header("cache-status") == Some("integration-hub; hit; stale") {
            assert_eq!(r.json(), fresh.json());
            break;
        }
        assert_eq!(r.header("cache-status"), Some("integration-hub; hit"));
        assert!(std::time::Instant::now() < deadline, "never served stale");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    hub.stop().await;
}
