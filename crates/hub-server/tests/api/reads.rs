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

/// The edge answers `GET /v1/transactions/{id}` itself unless the id is percent-encoded:
/// both ways give the same status, headers and body, hit or 304 or refusal.
#[tokio::test]
async fn the_direct_transaction_read_answers_as_the_router_does() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    let same = |direct: &Resp, routed: &Resp, what: &str| {
        assert_eq!(direct.status, routed.status, "{what}");
        assert_eq!(direct.body, routed.body, "{what}");
        let names = |r: &Resp| {
            let mut names: Vec<(String, String)> = r
                .headers
                .iter()
                .filter(|(n, _)| !["x-request-id", "date"].contains(&n.as_str()))
                .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_owned()))
                .collect();
            names.sort();
            names
        };
        assert_eq!(names(direct), names(routed), "{what}");
    };
    let direct = srv.req("GET", "/v1/transactions/TX-1").token(READ).send().await;
    let routed = srv.req("GET", "/v1/transactions/TX%2D1").token(READ).send().await;
    assert_eq!(direct.status, 200);
    same(&direct, &routed, "a read");
    let tag = direct.header("etag").unwrap().to_owned();
    let direct = srv
        .req("GET", "/v1/transactions/TX-1")
        .token(READ)
        .header("if-none-match", &tag)
        .send()
        .await;
    let routed = srv
        .req("GET", "/v1/transactions/TX%2D1")
        .token(READ)
        .header("if-none-match", &tag)
        .send()
        .await;
    assert_eq!(direct.status, 304);
    same(&direct, &routed, "a matching If-None-Match");
    for token in [None, Some("not-a-known-token")] {
        let send = |path: &'static str| {
            let req = srv.req("GET", path);
            match token {
                Some(t) => req.token(t).send(),
                None => req.send(),
            }
        };
        let (direct, routed) = (
            send("/v1/transactions/TX-1").await,
            send("/v1/transactions/TX%2D1").await,
        );
        assert_eq!(direct.status, 401);
        let (d, r) = (direct.json(), routed.json());
        assert_eq!(
            (d["code"].clone(), d["detail"].clone()),
            (r["code"].clone(), r["detail"].clone())
        );
    }
}
