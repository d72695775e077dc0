//! Write bodies: strict JSON, fields named, exact money, the body limit, the contract's 201s.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn writes_answer_the_contract_shapes() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    let t = srv
        .req("POST", "/v1/tickets")
        .token(WRITE)
        .json(json!({"customer_id": "C-1", "subject": "s", "description": "d"}))
        .send()
        .await;
    assert_eq!(t.status, 201);
    assert_eq!(
        t.json(),
        json!({"ticket_id": "T-C-1", "url": "https://tickets.example/T-1", "status": "new"})
    );
    let c = srv
        .req("POST", "/v1/tickets/T-1/comments")
        .token(WRITE)
        .json(json!({"comment": "c"}))
        .send()
        .await;
    assert_eq!((c.status, c.json()), (201, json!({"comment_id": "C-77"})));
    let d = srv
        .req("POST", "/v1/transactions/drafts")
        .token(WRITE)
        .raw(r#"{"customer_id": "C-1", "amount": 0.30000000, "currency": "usd", "description": "d", "metadata": {"k": 1}}"#)
        .send()
        .await;
    assert_eq!(d.status, 201, "{}", d.text());
    assert_eq!(
        d.json(),
        json!({"draft_id": "D-1", "status": "pending_confirmation", "amount": "0.30000000", "expires_at": "2026-01-05T08:00:00Z"})
    );
}

#[tokio::test]
async fn the_default_currency_comes_from_the_configuration() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    hub.upstream.fail_with(hub_core::Error::Timeout);
    let res = srv
        .req("POST", "/v1/transactions/drafts")
        .token(WRITE)
        .json(json!({"customer_id": "C-1", "amount": "1", "description": "d"}))
        .send()
        .await;
    let p = res.problem(504, "upstream_timeout");
    let entry = hub.dlq.get_sync(p["dlq_id"].as_str().unwrap()).unwrap();
    assert_eq!(entry.failure.payload["money"]["currency"], "EUR");
}

#[tokio::test]
async fn bad_bodies_are_422_naming_the_field() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    for (path, body, field) in [
        (
            "/v1/tickets",
            r#"{"customer_id": "C-1", "subject": "s", "description": "d", "extra": 1}"#,
            "extra",
        ),
        (
            "/v1/tickets",
            r#"{"customer_id": "C-1", "subject": 5, "description": "d"}"#,
            "subject",
        ),
        (
            "/v1/tickets",
            r#"{"customer_id": "../x", "subject": "s", "description": "d"}"#,
            "customer_id",
        ),
        (
            "/v1/tickets",
            r#"{"customer_id": "C-1", "subject": "s", "description": "d", "priority": "critical"}"#,
            "priority",
        ),
        (
            "/v1/tickets",
            r#"{"customer_id": "C-1", "subject": " ", "description": "d"}"#,
            "subject",
        ),
        (
            "/v1/tickets",
            r#"{"customer_id": "C-1", "description": "d"}"#,
            "missing field `subject`",
        ),
        ("/v1/tickets", r#"{"customer_id": "C-1""#, "EOF"),
        ("/v1/tickets", "", "JSON object"),
        (
            "/v1/tickets/T-1/comments",
            r#"{"comment": "c", "is_public": "yes"}"#,
            "is_public",
        ),
        (
            "/v1/transactions/drafts",
            r#"{"customer_id": "C-1", "amount": 1e3, "description": "d"}"#,
            "amount",
        ),
        (
            "/v1/transactions/drafts",
            r#"{"customer_id": "C-1", "amount": "0", "description": "d"}"#,
            "amount",
        ),
        (
            "/v1/transactions/drafts",
            r#"{"customer_id": "C-1", "amount": "1.123456789", "description": "d"}"#,
            "amount",
        ),
        (
            "/v1/transactions/drafts",
            r#"{"customer_id": "C-1", "amount": "1", "currency": "EURO", "description": "d"}"#,
            "currency",
        ),
        (
            "/v1/transactions/drafts",
            r#"{"customer_id": "C-1", "amount": "1", "description": "d", "metadata": []}"#,
            "metadata",
        ),
        ("/v1/transactions/drafts/D-1/cancel", r#"{"reason": "x"}"#, "reason"),
    ] {
        let p = srv
            .req("POST", path)
            .token(WRITE)
            .raw(body)
            .send()
            .await
            .problem(422, "invalid_body");
        assert!(p["detail"].as_str().unwrap().contains(field), "{body}: {p}");
    }
    assert_eq!(hub.upstream.calls(), 0);
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_413() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    let big = format!(
        r#"{{"customer_id": "C-1", "subject": "s", "description": "{}"}}"#,
        "x".repeat(1024 * 1024)
    );
    srv.req("POST", "/v1/tickets")
        .token(WRITE)
        .raw(big)
        .send()
        .await
        .problem(413, "payload_too_large");
    let just_under = format!(
        r#"{{"customer_id": "C-1", "subject": "s", "description": "{}"}}"#,
        "x".repeat(1024 * 1024 - 100)
    );
    let res = srv.req("POST", "/v1/tickets").token(WRITE).raw(just_under).send().await;
    assert_eq!(res.status, 201);
    assert_eq!(hub.upstream.calls(), 1);
}
