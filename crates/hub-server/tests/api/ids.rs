//! Path ids are validated before any port call: bad ids, traversal and percent-encoded tricks.

use std::sync::Arc;

use hub_core::mock::{MockTicketingPort, MockTransactionCreatePort, MockTransactionStatusPort};
use hub_server::Ports;

use crate::support::*;

#[tokio::test]
async fn bad_ids_never_reach_a_port() {
    let mut ticketing = MockTicketingPort::new();
    ticketing.expect_get_ticket_status().never();
    ticketing.expect_add_comment().never();
    let mut status = MockTransactionStatusPort::new();
    status.expect_get_transaction_status().never();
    status.expect_get_transaction_history().never();
    let mut create = MockTransactionCreatePort::new();
    create.expect_commit_transaction().never();
    create.expect_cancel_draft().never();
    let hub = Hub::with_ports(Some(Ports {
        ticketing: Arc::new(ticketing),
        transaction_status: Arc::new(status),
        transaction_create: Arc::new(create),
    }));
    let srv = hub.serve().await;
    let long = "a".repeat(129);
    for bad in [
        "..",
        ".hidden",
        "%2e%2e",
        "..%2F..%2Fadmin",
        "a%2Fb",
        "a%20b",
        "%00",
        "-x",
        "a%3Fb",
        "%C3%A9",
        "%FF",
        long.as_str(),
    ] {
        for (method, template, token) in [
            ("GET", "/v1/tickets/{}", READ),
            ("POST", "/v1/tickets/{}/comments", WRITE),
            ("GET", "/v1/transactions/{}", READ),
            ("GET", "/v1/customers/{}/transactions", READ),
            ("POST", "/v1/transactions/drafts/{}/commit", WRITE),
            ("POST", "/v1/transactions/drafts/{}/cancel", WRITE),
            ("GET", "/v1/dlq/{}", ADMIN),
        ] {
            let path = template.replace("{}", bad);
            let res = srv
                .req(method, &path)
                .token(token)
                .header("idempotency-key", "k")
                .raw(r#"{"comment": "c"}"#)
                .send()
                .await;
            let p = res.problem(400, "invalid_id");
            assert!(
                p["detail"].as_str().unwrap().contains("_id")
                    || p["detail"].as_str().unwrap().starts_with("id")
                    || p["detail"].as_str().unwrap().contains("UTF-8"),
                "{p}"
            );
        }
    }
    // A raw traversal changes the route shape: no route, still no port call.
    srv.req("GET", "/v1/tickets/../../admin")
        .token(READ)
        .send()
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn ids_at_the_edges_of_the_rule_are_accepted() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    let max = format!("A{}", "b".repeat(127));
    for good in ["9", "urn:x.1_2-3", max.as_str()] {
        let res = srv.req("GET", &format!("/v1/tickets/{good}")).token(READ).send().await;
        assert_eq!(res.status, 200, "{good}: {}", res.text());
        assert_eq!(res.json()["ticket_id"], good);
    }
}
