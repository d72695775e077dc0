//! `/openapi.json` is OpenAPI 3.1, lists every route of the API, and documents the problems they answer.

use std::time::Duration;

use hub_core::{DlqStatus, Error};
use hub_server::auth::ROUTES;
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn every_route_is_in_the_document() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    let res = srv.req("GET", "/openapi.json").send().await;
    assert_eq!(res.status, 200);
    let doc = res.json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    for r in ROUTES {
        let op = &doc["paths"][r.path][r.method.to_lowercase()];
        assert!(
            op.is_object(),
            "{} {} missing from the OpenAPI document",
            r.method,
            r.path
        );
        assert_eq!(
            op.get("security").is_some(),
            r.role.is_some(),
            "{} {}",
            r.method,
            r.path
        );
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(documented, ROUTES.len());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn no_secret_reaches_a_body_or_debug_output() {
    let hub = Hub::new();
    let debug = format!("{:?}", hub.state);
    for canary in [READ, WRITE, ADMIN] {
        assert!(!debug.contains(canary), "{debug}");
    }
    let state = hub
        .state
        .clone()
        .with_metrics(std::sync::Arc::new(|| "# TYPE up gauge\nup 1\n".to_owned()));
    let srv = Server::start(state).await;
    let metrics = srv.req("GET", "/metrics").send().await;
    assert_eq!(metrics.text(), "# TYPE up gauge\nup 1\n");
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    for path in ["/openapi.json", "/readyz", "/healthz", "/metrics"] {
        let text = srv.req("GET", path).send().await.text();
        for canary in [READ, WRITE, ADMIN] {
            assert!(!text.contains(canary), "{path}");
        }
    }
}

/// One request and the problem the hub must answer it with; the answer must then be
/// documented for the operation with the problem schema.
struct Case {
    method: &'static str,
    /// The path as the document spells it.
    template: &'static str,
    path: &'static str,
    token: Option<&'static str>,
    headers: &'static [(&'static str, &'static str)],
    body: Option<Value>,
    /// What to do to the fakes (and which requests to send) before the request.
    setup: fn(&Hub) -> Option<(&'static str, Value)>,
    status: u16,
    code: &'static str,
}

fn nothing(_: &Hub) -> Option<(&'static str, Value)> {
    None
}

fn ticket() -> Option<Value> {
    Some(json!({"customer_id": "C-1", "subject": "s", "description": "d"}))
}

fn case(method: &'static str, template: &'static str, path: &'static str, status: u16, code: &'static str) -> Case {
    Case {
        method,
        template,
        path,
        token: Some(ADMIN),
        headers: &[],
        body: None,
        setup: nothing,
        status,
        code,
    }
}

#[tokio::test]
async fn every_problem_the_routes_answer_is_documented_for_them() {
    let cases = vec![
        Case {
            token: None,
            ..case("POST", "/v1/tickets", "/v1/tickets", 401, "unauthorized")
        },
        Case {
            token: Some(READ),
            ..case("POST", "/v1/tickets", "/v1/tickets", 403, "forbidden")
        },
        Case {
            body: Some(json!({"subject": 1})),
            ..case("POST", "/v1/tickets", "/v1/tickets", 422, "invalid_body")
        },
        Case {
            body: ticket(),
            setup: |h| {
                h.upstream.fail_with(Error::Timeout);
                None
            },
            ..case("POST", "/v1/tickets", "/v1/tickets", 504, "upstream_timeout")
        },
        Case {
            body: ticket(),
            setup: |h| {
                h.upstream.fail_with(Error::RateLimited {
                    retry_after: Some(Duration::from_secs(7)),
                });
                None
            },
            ..case("POST", "/v1/tickets", "/v1/tickets", 429, "rate_limited")
        },
        Case {
            body: ticket(),
            setup: |h| {
                h.upstream.fail_with(Error::CircuitOpen {
                    retry_in: Duration::from_secs(5),
                });
                None
            },
            ..case("POST", "/v1/tickets", "/v1/tickets", 503, "circuit_open")
        },
        Case {
            body: ticket(),
            setup: |h| {
                h.upstream.fail_with(Error::Upstream {
                    status: 500,
                    retry_after: None,
                });
                *h.dlq.down.lock().unwrap() = true;
                None
            },
            ..case("POST", "/v1/tickets", "/v1/tickets", 503, "store_unavailable")
        },
        Case {
            body: Some(json!({"comment": "hi"})),
            ..case(
                "POST",
                "/v1/tickets/{ticket_id}/comments",
                "/v1/tickets/%20x/comments",
                400,
                "invalid_id",
            )
        },
        Case {
            body: Some(json!({"comment": "hi"})),
            setup: |h| {
                h.upstream.fail_with(Error::NotFound);
                None
            },
            ..case(
                "POST",
                "/v1/tickets/{ticket_id}/comments",
                "/v1/tickets/T-1/comments",
                404,
                "not_found",
            )
        },
        Case {
            body: Some(json!({"comment": "hi"})),
            setup: |h| {
                h.upstream.fail_with(Error::Rejected {
                    status: 409,
                    reason: None,
                });
                None
            },
            ..case(
                "POST",
                "/v1/tickets/{ticket_id}/comments",
                "/v1/tickets/T-1/comments",
                422,
                "upstream_rejected",
            )
        },
        Case {
            headers: &[("idempotency-key", "draft-key-1")],
            body: Some(json!({"customer_id": "C-1", "amount": "2.00", "description": "b"})),
            setup: |_| {
                Some((
                    "draft-key-1",
                    json!({"customer_id": "C-1", "amount": "1.00", "description": "a"}),
                ))
            },
            ..case(
                "POST",
                "/v1/transactions/drafts",
                "/v1/transactions/drafts",
                422,
                "idempotency_mismatch",
            )
        },
        case(
            "POST",
            "/v1/transactions/drafts/{draft_id}/commit",
            "/v1/transactions/drafts/D-1/commit",
            400,
            "idempotency_key_missing",
        ),
        Case {
            headers: &[("idempotency-key", "commit-1")],
            setup: |h| {
                h.upstream.fail_with(Error::Upstream {
                    status: 502,
                    retry_after: None,
                });
                None
            },
            ..case(
                "POST",
                "/v1/transactions/drafts/{draft_id}/commit",
                "/v1/transactions/drafts/D-1/commit",
                502,
                "upstream_unavailable",
            )
        },
        Case {
            body: Some(json!({"extra": true})),
            ..case(
                "POST",
                "/v1/transactions/drafts/{draft_id}/cancel",
                "/v1/transactions/drafts/D-1/cancel",
                422,
                "invalid_body",
            )
        },
        Case {
            token: Some(READ),
            setup: |h| {
                h.upstream.fail_with(Error::RateLimited {
                    retry_after: Some(Duration::from_secs(3)),
                });
                None
            },
            ..case("GET", "/v1/tickets/{ticket_id}", "/v1/tickets/T-1", 429, "rate_limited")
        },
        Case {
            token: Some(READ),
            setup: |h| {
                h.upstream.fail_with(Error::Timeout);
                None
            },
            ..case(
                "GET",
                "/v1/transactions/{transaction_id}",
                "/v1/transactions/X-1",
                504,
                "upstream_timeout",
            )
        },
        Case {
            token: Some(READ),
            ..case(
                "GET",
                "/v1/customers/{customer_id}/transactions",
                "/v1/customers/C-1/transactions?limit=0",
                422,
                "invalid_body",
            )
        },
        case("GET", "/v1/dlq", "/v1/dlq?status=sometimes", 422, "invalid_body"),
        Case {
            token: Some(WRITE),
            ..case("GET", "/v1/dlq", "/v1/dlq", 403, "forbidden")
        },
        case("GET", "/v1/dlq/{id}", "/v1/dlq/dlq-99", 404, "not_found"),
        case("POST", "/v1/dlq/{id}/replay", "/v1/dlq/dlq-99/replay", 404, "not_found"),
        Case {
            setup: |h| {
                let id = h.dlq.seed("cancel_draft", json!({"draft_id": "D-1"}), Some("k-replay"));
                h.upstream.fail_with(Error::Upstream {
                    status: 503,
                    retry_after: None,
                });
                assert_eq!(id.as_str(), "dlq-1");
                None
            },
            ..case(
                "POST",
                "/v1/dlq/{id}/replay",
                "/v1/dlq/dlq-1/replay",
                502,
                "upstream_unavailable",
            )
        },
        Case {
            setup: |h| {
                let id = h
                    .dlq
                    .seed("cancel_draft", json!({"draft_id": "D-1"}), Some("k-discard"));
                h.dlq.set_status(&id, DlqStatus::Discarded);
                None
            },
            ..case(
                "POST",
                "/v1/dlq/{id}/discard",
                "/v1/dlq/dlq-1/discard",
                409,
                "dlq_conflict",
            )
        },
        case("GET", "/v1/audit", "/v1/audit?since=yesterday", 422, "invalid_body"),
        Case {
            token: Some(READ),
            ..case("GET", "/v1/events", "/v1/events", 426, "invalid_body")
        },
        Case {
            token: Some(READ),
            ..case("GET", "/v1/events", "/v1/events?topic=nope", 422, "invalid_body")
        },
        Case {
            token: Some(READ),
            ..case("GET", "/v1/events", "/v1/events?ticket_id=%20", 400, "invalid_id")
        },
        Case {
            token: None,
            body: Some(json!({"ticket_id": "T-1", "status": "open"})),
            ..case(
                "POST",
                "/webhooks/ticket_updated",
                "/webhooks/ticket_updated",
                401,
                "unauthorized",
            )
        },
    ];
    let doc = {
        let hub = Hub::new();
        hub.serve().await.req("GET", "/openapi.json").send().await.json()
    };
    for c in cases {
        let hub = Hub::new();
        let srv = hub.serve().await;
        if let Some((key, body)) = (c.setup)(&hub) {
            let first = srv
                .req(c.method, c.path)
                .token(WRITE)
                .header("idempotency-key", key)
                .json(body)
                .send()
                .await;
            assert!(
                first.status < 300,
                "{} {}: the first request: {}",
                c.method,
                c.path,
                first.text()
            );
        }
        let mut req = srv.req(c.method, c.path);
        if let Some(t) = c.token {
            req = req.token(t);
        }
        for (k, v) in c.headers {
            req = req.header(k, v);
        }
        if let Some(b) = c.body {
            req = req.json(b);
        }
        let what = format!("{} {}", c.method, c.path);
        let res = req.send().await;
        assert_eq!(
            (res.status, res.json()["code"].clone()),
            (c.status, json!(c.code)),
            "{what}: {}",
            res.text()
        );
        let op = &doc["paths"][c.template][c.method.to_lowercase()];
        let documented = &op["responses"][c.status.to_string()];
        assert_eq!(
            documented["content"]["application/problem+json"]["schema"]["$ref"], "#/components/schemas/Problem",
            "{what} answered {} {}, which {} ({}) does not document as a problem",
            c.status, c.code, c.template, op["operationId"]
        );
        assert!(
            documented["description"]
                .as_str()
                .unwrap_or_default()
                .contains(&format!("`{}`", c.code)),
            "{what}: the documented {} does not name {}: {documented}",
            c.status,
            c.code
        );
        if res.header("retry-after").is_some() {
            assert!(
                documented["headers"]["Retry-After"].is_object(),
                "{what}: Retry-After not documented"
            );
        }
    }
}
