//! Transactions: reads, history, drafts, signed commits replayed by key, cancellations.

use hub_sim::{EffectFilter, EffectKind};
use hub_tests::{Hub, Options, READ_TOKEN, WRITE_TOKEN};
use serde_json::json;

#[tokio::test]
async fn reads_and_history() {
    let hub = Hub::start(Options::default()).await;
    let t = hub.get("/v1/transactions/TXN-5001", READ_TOKEN).await;
    assert_eq!(t.status, 200);
    let body = t.json();
    assert_eq!(body["transaction_id"], "TXN-5001");
    assert!(body["amount"].is_string(), "amounts are exact decimal strings: {body}");
    assert!(body["currency"].is_string() && body["created_at"].is_string());
    assert!(body.get("completed_at").is_some());
    assert_eq!(
        hub.get("/v1/transactions/TXN-5001", READ_TOKEN)
            .await
            .header("cache-status"),
        Some("integration-hub; hit")
    );

    let history = hub
        .get("/v1/customers/CUST-1001/transactions?limit=2", READ_TOKEN)
        .await;
    assert_eq!(history.status, 200);
    let items = history.json()["transactions"].as_array().unwrap().clone();
    assert!(!items.is_empty() && items.len() <= 2);
    for item in &items {
        assert!(item["amount"].is_string() && item["transaction_id"].is_string());
    }
    for bad in ["0", "101", "ten"] {
        let r = hub
            .get(&format!("/v1/customers/CUST-1001/transactions?limit={bad}"), READ_TOKEN)
            .await;
        assert_eq!(r.status, 422, "limit={bad}");
        assert!(
            r.json()["detail"].as_str().unwrap().contains("limit"),
            "limit={bad}: the field is named"
        );
    }
    hub.stop().await;
}

#[tokio::test]
async fn draft_commit_replay_cancel() {
    let hub = Hub::start(Options::default()).await;
    let before = hub.get("/v1/customers/CUST-1002/transactions", READ_TOKEN).await;
    assert_eq!(before.header("cache-status"), Some("integration-hub; fwd=miss"));

    // The amount as a JSON number with a trailing zero, exactly as a client writes it.
    let draft = hub
        .post_text(
            "/v1/transactions/drafts",
            WRITE_TOKEN,
            r#"{"customer_id": "CUST-1002", "amount": 500.10, "description": "Replacement"}"#,
            &[],
        )
        .await;
    assert_eq!(draft.status, 201, "{}", String::from_utf8_lossy(&draft.body));
    let d = draft.json();
    assert_eq!(d["amount"], "500.10", "a JSON number came through exactly");
    assert_eq!(d["status"], "pending_confirmation");
    let draft_id = d["draft_id"].as_str().unwrap().to_owned();

    let commit_path = format!("/v1/transactions/drafts/{draft_id}/commit");
    let committed = hub
        .post(
            &commit_path,
            WRITE_TOKEN,
            json!({}),
            &[("idempotency-key", "commit-e2e-1")],
        )
        .await;
    assert_eq!(committed.status, 200, "{}", String::from_utf8_lossy(&committed.body));
    let c = committed.json();
    assert_eq!(c["amount"], "500.10");
    let again = hub
        .post(
            &commit_path,
            WRITE_TOKEN,
            json!({}),
            &[("idempotency-key", "commit-e2e-1")],
        )
        .await;
    assert_eq!((again.status, again.json()), (200, c.clone()));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        hub.sim
            .control()
            .effects(&EffectFilter::kind(EffectKind::DraftCommitted))
            .len(),
        1
    );

    // The commit invalidated the customer's history.
    let after = hub.get("/v1/customers/CUST-1002/transactions", READ_TOKEN).await;
    assert_eq!(after.header("cache-status"), Some("integration-hub; fwd=miss"));
    let ids: Vec<_> = after.json()["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["transaction_id"].clone())
        .collect();
    assert!(ids.contains(&c["transaction_id"]));

    let other = hub
        .post(
            "/v1/transactions/drafts",
            WRITE_TOKEN,
            json!({"customer_id": "CUST-1002", "amount": "1.00", "currency": "EUR", "description": "x"}),
            &[],
        )
        .await
        .json();
    let cancel = hub
        .post(
            &format!("/v1/transactions/drafts/{}/cancel", other["draft_id"].as_str().unwrap()),
            WRITE_TOKEN,
            json!({}),
            &[],
        )
        .await;
    assert_eq!(
        (cancel.status, cancel.json()["status"].clone()),
        (200, json!("cancelled"))
    );
    hub.stop().await;
}
