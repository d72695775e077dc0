//! Upstream errors come out as the contract's problems; writes that fail for good go to the DLQ.

use std::time::Duration;

use hub_core::{ConnectCause, Error, Topic};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn read_errors_map_to_problems() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    for (err, status, code) in [
        (
            Error::CircuitOpen {
                retry_in: Duration::from_millis(4200),
            },
            503,
            "circuit_open",
        ),
        (
            Error::RateLimited {
                retry_after: Some(Duration::from_secs(9)),
            },
            429,
            "rate_limited",
        ),
        (Error::NotFound, 404, "not_found"),
        (
            Error::Rejected {
                status: 400,
                reason: None,
            },
            422,
            "upstream_rejected",
        ),
        (Error::Timeout, 504, "upstream_timeout"),
        (
            Error::DeadlineExceeded {
                last: Box::new(Error::Timeout),
            },
            504,
            "upstream_timeout",
        ),
        (Error::Connect(ConnectCause::Refused), 502, "upstream_unavailable"),
        (
            Error::Upstream {
                status: 500,
                retry_after: None,
            },
            502,
            "upstream_unavailable",
        ),
        (Error::Unauthorized, 502, "upstream_unavailable"),
        (
            Error::Credentials {
                reason: "vault said no".into(),
            },
            502,
            "upstream_unavailable",
        ),
    ] {
        hub.upstream.fail_with(err.clone());
        let res = srv.req("GET", "/v1/transactions/TX-1").token(READ).send().await;
        let p = res.problem(status, code);
        assert_eq!(p["adapter"], "transaction_status", "{err:?}");
        assert_eq!(p["operation"], "get_transaction_status");
        assert!(!res.text().contains("vault said no"));
        match code {
            "circuit_open" => {
                assert_eq!(p["retry_after_s"], 5);
                assert_eq!(res.header("retry-after"), Some("5"));
            }
            "rate_limited" => {
                assert_eq!(p["retry_after_s"], 9);
                assert_eq!(res.header("retry-after"), Some("9"));
            }
            _ => assert!(p.get("retry_after_s").is_none()),
        }
        assert!(p.get("dlq_id").is_none(), "reads are never dead-lettered");
    }
}

#[tokio::test]
async fn a_failed_write_is_dead_lettered_before_the_answer() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    hub.upstream.fail_with(Error::Timeout);
    let res = srv
        .req("POST", "/v1/transactions/drafts")
        .token(WRITE)
        .header("idempotency-key", "draft-key-1")
        .header("x-conversation-id", "conv-42")
        .raw(r#"{"customer_id": "C-1", "amount": 12.50, "description": "refund"}"#)
        .send()
        .await;
    let p = res.problem(504, "upstream_timeout");
    let dlq_id = p["dlq_id"].as_str().unwrap();
    let entry = hub.dlq.get_sync(dlq_id).unwrap();
    assert_eq!(entry.failure.operation, "create_draft_transaction");
    assert_eq!(entry.failure.adapter, "transaction_create");
    assert_eq!(entry.failure.idempotency_key.as_deref(), Some("draft-key-1"));
    assert_eq!(entry.failure.error_code, "timeout");
    assert_eq!(entry.failure.conversation_id.as_deref(), Some("conv-42"));
    assert_eq!(entry.failure.request_id.as_deref(), res.header("x-request-id"));
    assert_eq!(
        entry.failure.payload["money"],
        json!({"amount": "12.50", "currency": "EUR"})
    );
    let events = hub.events.all();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].topic, Topic::DlqEnqueued);
    assert_eq!(events[0].data["dlq_id"], dlq_id);
}

#[tokio::test]
async fn an_open_circuit_on_a_write_is_dead_lettered_with_retry_after() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    hub.upstream.fail_with(Error::CircuitOpen {
        retry_in: Duration::from_secs(60),
    });
    let res = srv
        .req("POST", "/v1/tickets")
        .token(WRITE)
        .json(json!({"customer_id": "C-1", "subject": "s", "description": "d"}))
        .send()
        .await;
    let p = res.problem(503, "circuit_open");
    assert_eq!(res.header("retry-after"), Some("60"));
    assert!(p["dlq_id"].is_string());
    // The hub derived a key for the client that sent none, and the DLQ entry keeps it.
    let key = hub.upstream.last_context().idempotency_key.unwrap();
    assert!(key.as_str().starts_with("hub-"));
    let entry = hub.dlq.get_sync(p["dlq_id"].as_str().unwrap()).unwrap();
    assert_eq!(entry.failure.idempotency_key.as_deref(), Some(key.as_str()));
}

#[tokio::test]
async fn rejections_are_not_dead_lettered() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    for (err, status, code) in [
        (
            Error::Rejected {
                status: 409,
                reason: Some("draft expired".into()),
            },
            422,
            "upstream_rejected",
        ),
        (Error::NotFound, 404, "not_found"),
        (
            Error::InvalidInput {
                field: "amount".into(),
                reason: "too large".into(),
            },
            422,
            "invalid_body",
        ),
    ] {
        hub.upstream.fail_with(err);
        let res = srv
            .req("POST", "/v1/transactions/drafts/D-1/cancel")
            .token(WRITE)
            .send()
            .await;
        let p = res.problem(status, code);
        assert!(p.get("dlq_id").is_none());
    }
    assert!(hub.dlq.entries().is_empty());
}

#[tokio::test]
async fn a_dlq_that_cannot_store_turns_the_answer_into_503() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    *hub.dlq.down.lock().unwrap() = true;
    hub.upstream.fail_with(Error::ConnectionLost);
    let res = srv
        .req("POST", "/v1/tickets/T-1/comments")
        .token(WRITE)
        .header("idempotency-key", "c-1")
        .json(json!({"comment": "hi"}))
        .send()
        .await;
    let p = res.problem(503, "store_unavailable");
    assert!(!res.text().contains("store is down"));
    assert!(p.get("dlq_id").is_none());
    // The claim is left to lapse: the outcome upstream is unknown.
    assert!(hub.idem.holds("c-1") && hub.idem.answer("c-1").is_none());
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    srv.req("GET", "/v2/nothing").send().await.problem(404, "not_found");
    let res = srv.req("DELETE", "/v1/tickets/T-1").token(ADMIN).send().await;
    res.problem(405, "not_found");
    assert_eq!(res.header("allow"), Some("GET"));
}

#[tokio::test]
async fn a_write_whose_client_hangs_up_is_still_dead_lettered() {
    use tokio::io::AsyncWriteExt;
    let hub = Hub::new();
    let gate = std::sync::Arc::new(hub_core::testing::Gate::default());
    *hub.upstream.gate.lock().unwrap() = Some(gate.clone());
    hub.upstream.fail_with(Error::Timeout);
    let srv = hub.serve().await;
    let body = r#"{"comment": "c"}"#;
    let mut conn = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    conn.write_all(
        format!(
            "POST /v1/tickets/T-1/comments HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {WRITE}\r\n\
             idempotency-key: hang-up\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    while hub.upstream.calls() == 0 {
        tokio::task::yield_now().await;
    }
    drop(conn);
    gate.open();
    for _ in 0..100_000 {
        if hub.idem.answer("hang-up").is_some() {
            break;
        }
        tokio::task::yield_now().await;
    }
    let entries = hub.dlq.entries();
    assert_eq!(entries.len(), 1, "the write was lost with its client");
    assert_eq!(entries[0].failure.idempotency_key.as_deref(), Some("hang-up"));
    assert!(hub.idem.answer("hang-up").is_some());
}

#[tokio::test]
async fn head_needs_what_get_needs() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    assert_eq!(srv.req("HEAD", "/v1/tickets/T-1").token(READ).send().await.status, 200);
    assert_eq!(srv.req("HEAD", "/v1/tickets/T-1").send().await.status, 401);
}

#[tokio::test]
async fn allow_names_the_methods_of_the_route_the_path_reaches() {
    // Regression (found by schemathesis' allow_header_conformance): GET on
    // /v1/transactions/drafts answered 405 with `Allow: GET, POST`, counting the GET of
    // /v1/transactions/{transaction_id}, which the router never picks for this path.
    let hub = Hub::new();
    let srv = hub.serve().await;
    for (method, path, allow) in [
        ("GET", "/v1/transactions/drafts", "POST"),
        ("OPTIONS", "/v1/transactions/drafts", "POST"),
        ("POST", "/v1/transactions/TXN-1", "GET"),
    ] {
        let res = srv.req(method, path).token(ADMIN).send().await;
        res.problem(405, "not_found");
        assert_eq!(res.header("allow"), Some(allow), "{method} {path}");
    }
}
