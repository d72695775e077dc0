//! The contract's idempotency semantics: replay, in flight, mismatch, required on commit.

use std::sync::Arc;

use hub_core::{ConnectCause, Error};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_completed_key_replays_the_same_answer() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    let send = || {
        srv.req("POST", "/v1/tickets")
            .token(WRITE)
            .header("idempotency-key", "open-1")
            .json(json!({"customer_id": "C-1", "subject": "s", "description": "d", "priority": "high"}))
            .send()
    };
    let first = send().await;
    assert_eq!(first.status, 201, "{}", first.text());
    assert_eq!(first.header("idempotent-replayed"), None);
    let second = send().await;
    assert_eq!(second.status, 201);
    assert_eq!(second.body, first.body);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(hub.upstream.calls(), 1);
    assert_eq!(hub.upstream.last_context().idempotency_key.unwrap().as_str(), "open-1");
}

#[tokio::test]
async fn key_order_and_spacing_do_not_make_another_request() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    let a = br#"{"customer_id":"C-1","subject":"s","description":"d"}"#.to_vec();
    let b = br#"{ "description": "d",  "subject": "s", "customer_id": "C-1" }"#.to_vec();
    for body in [a, b] {
        let res = srv
            .req("POST", "/v1/tickets")
            .token(WRITE)
            .header("idempotency-key", "k")
            .raw(body)
            .send()
            .await;
        assert_eq!(res.status, 201);
    }
    assert_eq!(hub.upstream.calls(), 1);
}

#[tokio::test]
async fn another_body_with_the_same_key_is_422() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    let send = |subject: &'static str| {
        srv.req("POST", "/v1/tickets")
            .token(WRITE)
            .header("idempotency-key", "same")
            .json(json!({"customer_id": "C-1", "subject": subject, "description": "d"}))
            .send()
    };
    assert_eq!(send("one").await.status, 201);
    send("two").await.problem(422, "idempotency_mismatch");
    assert_eq!(hub.upstream.calls(), 1);
}

#[tokio::test]
async fn the_same_commit_key_on_another_draft_is_422() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    let commit = |draft: &str| {
        srv.req("POST", &format!("/v1/transactions/drafts/{draft}/commit"))
            .token(WRITE)
            .header("idempotency-key", "commit-k")
            .send()
    };
    let res = commit("D-1").await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        res.json(),
        json!({"transaction_id": "TX-9", "status": "completed", "amount": "500.10"})
    );
    commit("D-2").await.problem(422, "idempotency_mismatch");
    assert_eq!(commit("D-1").await.header("idempotent-replayed"), Some("true"));
    assert_eq!(hub.upstream.calls(), 1);
}

#[tokio::test]
async fn commit_without_a_key_is_400_and_reaches_nothing() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    srv.req("POST", "/v1/transactions/drafts/D-1/commit")
        .token(WRITE)
        .send()
        .await
        .problem(400, "idempotency_key_missing");
    srv.req("POST", "/v1/transactions/drafts/D-1/commit")
        .token(WRITE)
        .header("idempotency-key", "has space")
        .send()
        .await
        .problem(422, "invalid_body");
    assert_eq!(hub.upstream.calls(), 0);
}

#[tokio::test]
async fn a_key_in_flight_is_409() {
    let hub = Hub::new();
    let gate = Arc::new(hub_core::testing::Gate::default());
    *hub.upstream.gate.lock().unwrap() = Some(gate.clone());
    let srv = Arc::new(hub.serve().await);
    let send = |srv: Arc<Server>| async move {
        srv.req("POST", "/v1/transactions/drafts/D-1/cancel")
            .token(WRITE)
            .header("idempotency-key", "cancel-1")
            .send()
            .await
    };
    let first = tokio::spawn(send(srv.clone()));
    // Wait (without sleeping) until the first request holds the claim and is upstream.
    while hub.upstream.calls() == 0 {
        tokio::task::yield_now().await;
    }
    send(srv.clone()).await.problem(409, "idempotency_in_flight");
    gate.open();
    let first = first.await.unwrap();
    assert_eq!(first.status, 200);
    assert_eq!(first.json(), json!({"status": "cancelled"}));
}

#[tokio::test]
async fn a_write_that_provably_did_nothing_releases_its_key() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    hub.upstream.fail_with(Error::InvalidInput {
        field: "subject".into(),
        reason: "too long".into(),
    });
    let send = || {
        srv.req("POST", "/v1/tickets")
            .token(WRITE)
            .header("idempotency-key", "retry-me")
            .json(json!({"customer_id": "C-1", "subject": "s", "description": "d"}))
            .send()
    };
    send().await.problem(422, "invalid_body");
    assert_eq!(hub.idem.releases(), 1);
    hub.upstream.succeed();
    assert_eq!(send().await.status, 201);
}

#[tokio::test]
async fn a_dead_lettered_failure_is_replayed_with_its_dlq_id() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    hub.upstream.fail_with(Error::Connect(ConnectCause::Refused));
    let send = || {
        srv.req("POST", "/v1/tickets/T-1/comments")
            .token(WRITE)
            .header("idempotency-key", "comment-1")
            .json(json!({"comment": "hi", "is_public": false}))
            .send()
    };
    let first = send().await;
    let p = first.problem(502, "upstream_unavailable");
    assert!(p["dlq_id"].is_string());
    hub.upstream.succeed();
    let second = send().await;
    assert_eq!(second.status, 502);
    assert_eq!(second.body, first.body);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(hub.upstream.calls(), 1);
}

/// A retry with the key of a dead-lettered write follows the entry: while it is pending,
/// the stored failure without its invitation to retry; once the supervisor replayed it,
/// the replay's result as the route's success; once discarded, 409 with the reason.
#[tokio::test]
async fn a_key_follows_its_dead_letter() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    let send = |key: &'static str| {
        srv.req("POST", "/v1/tickets")
            .token(WRITE)
            .header("idempotency-key", key)
            .json(json!({"customer_id": "C-1", "subject": "s", "description": "d"}))
            .send()
    };
    hub.upstream.fail_with(Error::CircuitOpen {
        retry_in: std::time::Duration::from_secs(30),
    });
    let first = send("follow-1").await;
    let p = first.problem(503, "circuit_open");
    assert_eq!(first.header("retry-after"), Some("30"));
    let dlq_id = p["dlq_id"].as_str().unwrap().to_owned();

    // Pending: no invitation to retry, nothing sent.
    let pending = send("follow-1").await;
    assert_eq!(pending.status, 503);
    let body = pending.json();
    assert_eq!(body["code"], "circuit_open");
    assert_eq!(body["request_id"], p["request_id"], "the first request's answer");
    assert_eq!(pending.header("retry-after"), None);
    assert!(body.get("retry_after_s").is_none(), "{body}");
    assert_eq!(body["dlq_id"], dlq_id.as_str());
    assert_eq!(pending.header("idempotent-replayed"), Some("true"));

    // Replayed by the supervisor: the replay's result, as the route's success.
    hub.upstream.succeed();
    let replay = srv
        .req("POST", &format!("/v1/dlq/{dlq_id}/replay"))
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(replay.status, 200, "{}", replay.text());
    let after = send("follow-1").await;
    assert_eq!(after.status, 201, "{}", after.text());
    assert_eq!(after.json(), replay.json()["result"]);
    assert_eq!(after.header("idempotent-replayed"), Some("true"));
    let calls = hub.upstream.calls();

    // Discarded: 409 with the supervisor's reason.
    hub.upstream.fail_with(Error::Connect(ConnectCause::Refused));
    let second = send("follow-2").await;
    let id = second.problem(502, "upstream_unavailable")["dlq_id"]
        .as_str()
        .unwrap()
        .to_owned();
    srv.req("POST", &format!("/v1/dlq/{id}/discard"))
        .token(ADMIN)
        .json(json!({"reason": "sent by hand"}))
        .send()
        .await;
    let discarded = send("follow-2").await;
    assert_eq!(discarded.status, 409);
    let p = discarded.json();
    assert_eq!(p["code"], "dlq_conflict");
    assert!(p["detail"].as_str().unwrap().contains("sent by hand"), "{p}");
    assert_eq!(p["dlq_id"], id.as_str());
    assert_eq!(hub.upstream.calls(), calls + 1, "retries sent nothing");
}

/// Write tasks outlive their clients, so they are capped: with one already running, the
/// next write is refused with 503 `overloaded` and `Retry-After`, and nothing is sent.
#[tokio::test]
async fn writes_beyond_the_cap_are_refused_unsent() {
    let hub = Hub::with_settings(hub_app::Settings {
        max_write_tasks: 1,
        ..hub_app::Settings::default()
    });
    let srv = hub.serve().await;
    let gate = Arc::new(hub_core::testing::Gate::default());
    *hub.upstream.gate.lock().unwrap() = Some(gate.clone());
    let send = |key: &'static str| {
        srv.req("POST", "/v1/tickets")
            .token(WRITE)
            .header("idempotency-key", key)
            .json(json!({"customer_id": "C-1", "subject": "s", "description": "d"}))
            .send()
    };
    let (first, ()) = tokio::join!(send("cap-1"), async {
        while hub.upstream.calls() == 0 {
            tokio::task::yield_now().await;
        }
        let refused = send("cap-2").await;
        refused.problem(503, "overloaded");
        assert_eq!(refused.header("retry-after"), Some("1"));
        assert_eq!(hub.upstream.calls(), 1, "the refused write sent nothing");
        gate.open();
    });
    assert_eq!(first.status, 201);
    *hub.upstream.gate.lock().unwrap() = None;
    assert_eq!(send("cap-2").await.status, 201, "the slot is free again");
}
