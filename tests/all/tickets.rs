//! Tickets in every dialect: create, read (miss, then hit), comment (which invalidates).

use hub_sim::{EffectFilter, EffectKind};
use hub_tests::{Hub, Options, READ_TOKEN, WRITE_TOKEN};
use serde_json::json;

async fn round_trip(dialect: &'static str) {
    let hub = Hub::start(Options {
        dialect,
        ..Options::default()
    })
    .await;
    let created = hub
        .post(
            "/v1/tickets",
            WRITE_TOKEN,
            json!({"customer_id": "CUST-1001", "subject": "Card declined", "description": "Twice today", "priority": "high"}),
            &[("x-conversation-id", "conv-42")],
        )
        .await;
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    let body = created.json();
    let id = body["ticket_id"].as_str().unwrap().to_owned();
    assert!(body["url"].is_string());
    assert!(body["status"].is_string());
    assert!(created.header("x-request-id").is_some());

    let first = hub.get(&format!("/v1/tickets/{id}"), READ_TOKEN).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("cache-status"), Some("integration-hub; fwd=miss"));
    let t = first.json();
    assert_eq!(t["ticket_id"], id.as_str());
    for field in ["status", "vendor_status", "assigned_to", "last_updated"] {
        assert!(t.get(field).is_some(), "{field} missing from {t}");
    }
    let second = hub.get(&format!("/v1/tickets/{id}"), READ_TOKEN).await;
    assert_eq!(second.header("cache-status"), Some("integration-hub; hit"));

    let comment = hub
        .post(
            &format!("/v1/tickets/{id}/comments"),
            WRITE_TOKEN,
            json!({"comment": "On it", "is_public": false}),
            &[],
        )
        .await;
    assert_eq!(comment.status, 201, "{}", String::from_utf8_lossy(&comment.body));
    assert!(comment.json()["comment_id"].is_string());
    let third = hub.get(&format!("/v1/tickets/{id}"), READ_TOKEN).await;
    assert_eq!(
        third.header("cache-status"),
        Some("integration-hub; fwd=miss"),
        "the comment invalidated the status"
    );

    let control = hub.sim.control();
    assert_eq!(control.effects(&EffectFilter::kind(EffectKind::TicketCreated)).len(), 1);
    assert_eq!(control.effects(&EffectFilter::kind(EffectKind::CommentAdded)).len(), 1);
    hub.stop().await;
}

#[tokio::test]
async fn generic_tickets() {
    round_trip("generic").await;
}

#[tokio::test]
async fn zendesk_tickets() {
    round_trip("zendesk").await;
}

/// Zendesk with an OAuth bearer token, against a sim that refuses API-token basic auth.
#[tokio::test]
async fn zendesk_oauth_tickets() {
    round_trip("zendesk-oauth").await;
}

#[tokio::test]
async fn jira_tickets() {
    round_trip("jira").await;
}

#[tokio::test]
async fn seeded_jira_statuses_are_normalised_with_the_vendor_value_kept() {
    let hub = Hub::start(Options {
        dialect: "jira",
        ..Options::default()
    })
    .await;
    let t = hub.get("/v1/tickets/SUP-2", READ_TOKEN).await.json();
    assert_eq!(t["status"], "open");
    assert_eq!(t["vendor_status"], "In Progress");
    hub.stop().await;
}
