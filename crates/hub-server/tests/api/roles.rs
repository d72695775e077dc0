//! Each role against each route: 401 without or with an unknown token, 403 below the
//! route's role, success at or above it.

use hub_server::Role;
use hub_server::auth::ROUTES;
use serde_json::json;

use crate::support::*;

/// A concrete request for a route template: path, body, extra headers.
fn example(method: &str, template: &str) -> (String, Option<serde_json::Value>, Vec<(&'static str, &'static str)>) {
    let path = template
        .replace("{ticket_id}", "T-1")
        .replace("{transaction_id}", "TX-1")
        .replace("{customer_id}", "CUST-1")
        .replace("{draft_id}", "D-1")
        .replace("{id}", "dlq-1");
    let body = match (method, template) {
        ("POST", "/v1/tickets") => Some(json!({"customer_id": "C-1", "subject": "s", "description": "d"})),
        ("POST", "/v1/tickets/{ticket_id}/comments") => Some(json!({"comment": "hello"})),
        ("POST", "/v1/transactions/drafts") => {
            Some(json!({"customer_id": "C-1", "amount": "5.00", "description": "d"}))
        }
        _ => None,
    };
    let headers = if template.ends_with("/commit") {
        vec![("idempotency-key", "commit-1")]
    } else {
        vec![]
    };
    (path, body, headers)
}

async fn call(method: &str, template: &str, token: Option<&str>) -> Resp {
    let hub = Hub::new();
    hub.dlq.seed("cancel_draft", json!({"draft_id": "D-1"}), Some("k-1"));
    let srv = hub.serve().await;
    let (path, body, headers) = example(method, template);
    let mut req = srv.req(method, &path);
    if let Some(t) = token {
        req = req.token(t);
    }
    for (k, v) in headers {
        req = req.header(k, v);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    req.send().await
}

#[tokio::test]
async fn the_role_matrix() {
    let tokens = [(Role::Read, READ), (Role::Write, WRITE), (Role::Admin, ADMIN)];
    for route in ROUTES {
        let Some(needed) = route.role else {
            let res = call(route.method, route.path, None).await;
            if route.path.starts_with("/webhooks/") {
                // Webhooks authenticate by signature, not by token (see webhooks.rs).
                res.problem(401, "unauthorized");
                continue;
            }
            assert!(
                res.status == 200,
                "{} {} open: {}",
                route.method,
                route.path,
                res.status
            );
            continue;
        };
        call(route.method, route.path, None).await.problem(401, "unauthorized");
        call(route.method, route.path, Some("not-a-known-token"))
            .await
            .problem(401, "unauthorized");
        for (role, token) in tokens {
            let res = call(route.method, route.path, Some(token)).await;
            if role < needed {
                res.problem(403, "forbidden");
            } else if route.path == "/v1/events" {
                // Authorised, but a plain GET is not a WebSocket upgrade (see events.rs).
                res.problem(426, "invalid_body");
            } else {
                assert!(
                    (200..300).contains(&res.status),
                    "{} {} as {role}: {} {}",
                    route.method,
                    route.path,
                    res.status,
                    res.text()
                );
            }
        }
    }
}

#[tokio::test]
async fn malformed_authorization_is_401_with_a_challenge() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    for value in ["Basic abc", "Bearer", "Bearer two words", READ] {
        let res = srv
            .req("GET", "/v1/tickets/T-1")
            .header("authorization", value)
            .send()
            .await;
        res.problem(401, "unauthorized");
        assert_eq!(res.header("www-authenticate"), Some("Bearer"));
    }
    assert_eq!(hub.upstream.calls(), 0);
}
