//! Cached reads: bodies exactly as the contract's table says, and `Cache-Status`.

use hub_core::CacheOutcome;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn cache_status_follows_the_outcome() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    for (outcome, expected) in [
        (CacheOutcome::Hit, "integration-hub; hit"),
        (CacheOutcome::Miss, "integration-hub; fwd=miss"),
        (CacheOutcome::Stale, "integration-hub; hit; stale"),
    ] {
        *hub.upstream.cache.lock().unwrap() = Some(outcome);
        for path in [
            "/v1/tickets/T-1",
            "/v1/transactions/TX-1",
            "/v1/customers/C-1/transactions",
        ] {
            let res = srv.req("GET", path).token(READ).send().await;
            assert_eq!(res.status, 200);
            assert_eq!(res.header("cache-status"), Some(expected), "{path}");
        }
    }
}

#[tokio::test]
async fn read_bodies_are_the_contract_shapes() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    let t = srv.req("GET", "/v1/tickets/T-1").token(READ).send().await;
    assert_eq!(t.header("content-type"), Some("application/json"));
    assert_eq!(
        t.json(),
        json!({"ticket_id": "T-1", "status": "on_hold", "vendor_status": "hold",
               "assigned_to": "agent@example.com", "last_updated": "2026-01-05T08:00:00Z"})
    );
    let x = srv.req("GET", "/v1/transactions/TX-1").token(READ).send().await;
    assert_eq!(
        x.json(),
        json!({"transaction_id": "TX-1", "status": "completed", "amount": "500.10", "currency": "EUR",
               "created_at": "2026-01-05T08:00:00Z", "completed_at": null})
    );
    let h = srv
        .req("GET", "/v1/customers/C-1/transactions?limit=2")
        .token(READ)
        .send()
        .await;
    assert_eq!(
        h.json(),
        json!({"transactions": [
            {"transaction_id": "TX-0", "amount": "500.10", "status": "completed", "created_at": "2026-01-05T08:00:00Z"},
            {"transaction_id": "TX-1", "amount": "500.10", "status": "completed", "created_at": "2026-01-05T08:00:00Z"},
        ]})
    );
}

#[tokio::test]
async fn the_history_limit_is_checked() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    for bad in ["0", "101", "ten", "-1"] {
        let p = srv
            .req("GET", &format!("/v1/customers/C-1/transactions?limit={bad}"))
            .token(READ)
            .send()
            .await
            .problem(422, "invalid_body");
        assert!(p["detail"].as_str().unwrap().starts_with("limit"));
    }
    assert_eq!(hub.upstream.calls(), 0);
}

#[tokio::test]
async fn correlation_ids_are_echoed_generated_and_carried() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    let res = srv
        .req("GET", "/v1/tickets/T-1")
        .token(READ)
        .header("x-request-id", "req-abc")
        .header("x-conversation-id", "conv-1")
        .send()
        .await;
    assert_eq!(res.header("x-request-id"), Some("req-abc"));
    let ctx = hub.upstream.last_context();
    assert_eq!(ctx.request_id.as_str(), "req-abc");
    assert_eq!(ctx.conversation_id.unwrap().as_str(), "conv-1");
    let generated = srv.req("GET", "/healthz").header("x-request-id", "bad id").send().await;
    let id = generated.header("x-request-id").unwrap();
    assert_ne!(id, "bad id");
    assert_eq!(id.len(), 36);
}
