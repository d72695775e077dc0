//! Generic ticketing: API key auth, tickets, comments and the Idempotency-Key extension.

use hub_sim::{EffectFilter, EffectKind, System};

use crate::support::{JSON, call, start};

const KEY: (&str, &str) = ("x-api-key", "sim-generic-key");

#[tokio::test]
async fn api_key_is_required() {
    let sim = start().await;
    let url = format!("{}/tickets/TCK-1001", sim.url(System::Generic));
    assert_eq!(call("GET", &url, &[], b"").await.status, 401);
    assert_eq!(call("GET", &url, &[("x-api-key", "wrong")], b"").await.status, 401);
    let r = call("GET", &url, &[KEY], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "new");
}

#[tokio::test]
async fn tickets_and_comments() {
    let sim = start().await;
    let base = sim.url(System::Generic);
    let seeded = call("GET", &format!("{base}/tickets/TCK-1002"), &[KEY], b"")
        .await
        .json();
    assert_eq!(seeded["assignee"]["email"], "alice@example.com");
    assert!(seeded["updated_at"].is_string());

    let body = br#"{"subject":"Printer on fire","description":"help","priority":"urgent","custom_fields":{"customer_id":"CUST-1001"}}"#;
    let r = call("POST", &format!("{base}/tickets"), &[KEY, JSON], body).await;
    assert_eq!(r.status, 201);
    let created = r.json();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["status"], "new");
    assert!(created["url"].as_str().unwrap().ends_with(&id));

    let got = call("GET", &format!("{base}/tickets/{id}"), &[KEY], b"").await.json();
    assert_eq!(got["custom_fields"]["customer_id"], "CUST-1001");
    assert_eq!(got["assignee"], serde_json::Value::Null);

    let r = call(
        "POST",
        &format!("{base}/tickets/{id}/comments"),
        &[KEY, JSON],
        br#"{"body":"on it","public":false}"#,
    )
    .await;
    assert_eq!(r.status, 201);
    assert!(r.json()["id"].is_string());
    assert_eq!(
        call(
            "POST",
            &format!("{base}/tickets/NOPE/comments"),
            &[KEY, JSON],
            br#"{"body":"x"}"#
        )
        .await
        .status,
        404
    );
    assert_eq!(
        call(
            "POST",
            &format!("{base}/tickets"),
            &[KEY, JSON],
            br#"{"subject":"x","priority":"meh"}"#
        )
        .await
        .status,
        400
    );
    assert_eq!(
        call("GET", &format!("{base}/tickets/NOPE"), &[KEY], b"").await.status,
        404
    );

    let effects = sim.control().effects(&EffectFilter {
        system: Some(System::Generic),
        ..Default::default()
    });
    let kinds: Vec<_> = effects.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EffectKind::TicketCreated, EffectKind::CommentAdded]);
    assert_eq!(effects[1].related.as_deref(), Some(id.as_str()));
}

#[tokio::test]
async fn idempotency_key_replays_and_refuses_other_bodies() {
    let sim = start().await;
    let url = format!("{}/tickets", sim.url(System::Generic));
    let body = br#"{"subject":"Once","description":"only once"}"#;
    let first = call("POST", &url, &[KEY, JSON, ("idempotency-key", "g-1")], body).await;
    let again = call("POST", &url, &[KEY, JSON, ("idempotency-key", "g-1")], body).await;
    assert_eq!((first.status, again.status), (201, 201));
    assert_eq!(first.json()["id"], again.json()["id"]);
    assert_eq!(first.header("x-idempotency-lookup"), Some("miss"));
    assert_eq!(again.header("x-idempotency-lookup"), Some("hit"));
    let other = call(
        "POST",
        &url,
        &[KEY, JSON, ("idempotency-key", "g-1")],
        br#"{"subject":"Twice"}"#,
    )
    .await;
    assert_eq!(other.status, 400);
    let created = sim.control().effects(&EffectFilter::kind(EffectKind::TicketCreated));
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].idempotency_key.as_deref(), Some("g-1"));
}

#[tokio::test]
async fn urls_in_answers_use_the_public_url() {
    let config = hub_sim::SimConfig {
        public_url: Some("http://proxy.test:8080/".into()),
        ..Default::default()
    };
    let sim = hub_sim::Sim::start(config).await.unwrap();
    let r = call(
        "POST",
        &format!("{}/tickets", sim.url(System::Generic)),
        &[KEY, JSON],
        br#"{"subject":"s"}"#,
    )
    .await;
    assert!(
        r.json()["url"]
            .as_str()
            .unwrap()
            .starts_with("http://proxy.test:8080/generic/tickets/")
    );
    assert!(sim.base_url().starts_with("http://127.0.0.1:"));
}
