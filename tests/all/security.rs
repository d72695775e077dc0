//! Roles, hostile ids and bodies, and secrets that never leak.

use http::Method;
use hub_sim::RequestFilter;
use hub_tests::{ADMIN_TOKEN, Hub, Options, READ_TOKEN, WRITE_TOKEN, secrets_env};
use serde_json::json;

#[tokio::test]
async fn roles_against_routes() {
    let hub = Hub::start(Options::default()).await;
    let cases: &[(Method, &str, Option<&str>, u16)] = &[
        (Method::GET, "/v1/transactions/TXN-5001", None, 401),
        (Method::GET, "/v1/transactions/TXN-5001", Some("not-a-token"), 401),
        (Method::GET, "/v1/transactions/TXN-5001", Some(READ_TOKEN), 200),
        (Method::GET, "/v1/transactions/TXN-5001", Some(WRITE_TOKEN), 200),
        (Method::GET, "/v1/transactions/TXN-5001", Some(ADMIN_TOKEN), 200),
        (Method::POST, "/v1/tickets", Some(READ_TOKEN), 403),
        (Method::POST, "/v1/tickets", Some(WRITE_TOKEN), 201),
        (Method::GET, "/v1/dlq", Some(WRITE_TOKEN), 403),
        (Method::GET, "/v1/dlq", Some(ADMIN_TOKEN), 200),
        (Method::GET, "/v1/audit", Some(READ_TOKEN), 403),
        (Method::GET, "/v1/audit", Some(ADMIN_TOKEN), 200),
        (Method::GET, "/healthz", None, 200),
        (Method::GET, "/readyz", None, 200),
        (Method::GET, "/openapi.json", None, 200),
        (Method::GET, "/metrics", None, 200),
    ];
    for (method, path, token, status) in cases {
        let body =
            (method == Method::POST).then(|| json!({"customer_id": "CUST-1001", "subject": "s", "description": "d"}));
        let r = hub.send(method.clone(), path, *token, body, &[]).await;
        assert_eq!(
            r.status,
            *status,
            "{method} {path} with {token:?}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    hub.stop().await;
}

#[tokio::test]
async fn hostile_ids_and_bodies_never_reach_the_upstream() {
    let hub = Hub::start(Options::default()).await;
    for path in [
        "/v1/tickets/..%2F..%2Fadmin",
        "/v1/tickets/%2e%2e",
        "/v1/tickets/a%2Fb",
        "/v1/tickets/-leading-dash",
        "/v1/transactions/TXN%00",
        "/v1/transactions/%E2%82%AC",
        "/v1/customers/a%3Fb/transactions",
    ] {
        let r = hub.get(path, READ_TOKEN).await;
        assert_eq!(r.status, 400, "{path}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["code"], "invalid_id", "{path}");
    }
    let long = "a".repeat(129);
    assert_eq!(hub.get(&format!("/v1/tickets/{long}"), READ_TOKEN).await.status, 400);
    // Over 1 MiB: 413.
    let big = json!({"customer_id": "CUST-1001", "subject": "s", "description": "x".repeat(1_100_000)});
    let r = hub.post("/v1/tickets", WRITE_TOKEN, big, &[]).await;
    assert_eq!((r.status, r.json()["code"].clone()), (413, json!("payload_too_large")));
    // Unknown fields and wrong types: 422 naming the field.
    let r = hub
        .post(
            "/v1/tickets",
            WRITE_TOKEN,
            json!({"customer_id": "CUST-1001", "subject": "s", "description": "d", "extra": 1}),
            &[],
        )
        .await;
    assert_eq!(r.status, 422);
    let r = hub
        .post(
            "/v1/tickets",
            WRITE_TOKEN,
            json!({"customer_id": "CUST-1001", "subject": 5, "description": "d"}),
            &[],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.json()["detail"].as_str().unwrap().contains("subject"));
    assert!(
        hub.sim.control().requests(&RequestFilter::default()).is_empty(),
        "nothing reached the upstream"
    );
    hub.stop().await;
}

#[tokio::test]
async fn no_secret_appears_in_any_answer_or_record() {
    let hub = Hub::start(Options::default()).await;
    hub.sim
        .control()
        .add_fault(
            hub_sim::FaultRule::new(hub_sim::FaultKind::Error)
                .system(hub_sim::System::Sales)
                .times(3),
        )
        .unwrap();
    let mut bodies = Vec::new();
    for r in [
        hub.post(
            "/v1/tickets",
            WRITE_TOKEN,
            json!({"customer_id": "CUST-1001", "subject": "s", "description": "d"}),
            &[],
        )
        .await,
        hub.get("/v1/transactions/TXN-5001", READ_TOKEN).await,
        hub.post(
            "/v1/transactions/drafts",
            WRITE_TOKEN,
            json!({"customer_id": "CUST-1001", "amount": "2", "description": "x", "metadata": {"nested": {"Password": "canary-metadata-pw-91"}}}),
            &[],
        )
        .await,
        hub.get("/v1/dlq", ADMIN_TOKEN).await,
        hub.get("/v1/audit?limit=100", ADMIN_TOKEN).await,
        hub.get("/v1/transactions/TXN-5001", "wrong-token").await,
        hub.send(Method::GET, "/openapi.json", None, None, &[]).await,
        hub.send(Method::GET, "/readyz", None, None, &[]).await,
        hub.send(Method::GET, "/metrics", None, None, &[]).await,
    ] {
        bodies.push(String::from_utf8_lossy(&r.body).into_owned());
        bodies.push(format!("{:?}", r.headers));
    }
    bodies.push(format!("{:?}", hub.hub.state));
    let logs = hub_tests::captured_logs();
    assert!(logs.contains("upstream call"), "the calls were logged");
    bodies.push(logs);
    let all = bodies.join("\n");
    for (name, value) in secrets_env() {
        if name == "AGENT_EMAIL" {
            continue; // An e-mail address, not a secret.
        }
        assert!(!all.contains(value), "{name}'s value leaked");
    }
    assert!(all.contains("create_ticket"), "the audit listing was read");
    // A payload field named like a secret is redacted in the audit trail and the logs
    // (the DLQ keeps the business payload it needs for replay).
    let audit = hub.get("/v1/audit?limit=100", ADMIN_TOKEN).await;
    let audit = String::from_utf8_lossy(&audit.body);
    assert!(audit.contains("create_draft_transaction"), "{audit}");
    assert!(!audit.contains("canary-metadata-pw-91"), "{audit}");
    assert!(!hub_tests::captured_logs().contains("canary-metadata-pw-91"));
    hub.stop().await;
}

#[tokio::test]
async fn a_malformed_cursor_is_the_callers_mistake_not_a_store_failure() {
    // Regression (found by schemathesis): `GET /v1/dlq?cursor=__main__` answered 503
    // store_unavailable, a server error for a bad query parameter.
    let hub = Hub::start(Options::default()).await;
    for path in [
        "/v1/dlq?cursor=__main__",
        "/v1/dlq?cursor=MTIz",
        "/v1/audit?cursor=__main__",
        "/v1/audit?cursor=MS94",
    ] {
        let r = hub.get(path, ADMIN_TOKEN).await;
        assert_eq!(r.status, 422, "{path}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["code"], "invalid_body", "{path}");
        assert!(r.json()["detail"].as_str().unwrap().starts_with("cursor: "), "{path}");
    }
    // A cursor the hub issued still pages.
    let first = hub.get("/v1/audit?limit=1", ADMIN_TOKEN).await;
    assert_eq!(first.status, 200);
    hub.stop().await;
}
