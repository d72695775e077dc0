//! Zendesk v2: basic and bearer auth, ticket shapes, comments through updates, create idempotency.

use hub_sim::{EffectFilter, EffectKind, System};

use crate::support::{JSON, basic, call, start};

fn auth() -> String {
    basic("agent@example.com/token", "sim-zendesk-token")
}

#[tokio::test]
async fn authentication() {
    let sim = start().await;
    let url = format!("{}/api/v2/tickets/1.json", sim.url(System::Zendesk));
    assert_eq!(call("GET", &url, &[], b"").await.status, 401);
    let wrong = basic("agent@example.com", "sim-zendesk-token");
    assert_eq!(call("GET", &url, &[("authorization", &wrong)], b"").await.status, 401);
    let bad_token = basic("agent@example.com/token", "nope");
    assert_eq!(
        call("GET", &url, &[("authorization", &bad_token)], b"").await.status,
        401
    );
    assert_eq!(call("GET", &url, &[("authorization", &auth())], b"").await.status, 200);
    assert_eq!(
        call("GET", &url, &[("authorization", "Bearer sim-zendesk-oauth")], b"")
            .await
            .status,
        200
    );
}

/// Once API tokens are retired (`zendesk_oauth_only`), only an OAuth bearer token works.
#[tokio::test]
async fn oauth_only_refuses_api_token_basic_auth() {
    let sim = start().await;
    sim.control().set_settings(hub_sim::Settings {
        zendesk_oauth_only: true,
        ..sim.control().settings()
    });
    let url = format!("{}/api/v2/tickets/1.json", sim.url(System::Zendesk));
    let r = call("GET", &url, &[("authorization", &auth())], b"").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "Couldn't authenticate you");
    assert_eq!(
        call("GET", &url, &[("authorization", "Bearer sim-zendesk-oauth")], b"")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn create_read_and_comment() {
    let sim = start().await;
    let base = format!("{}/api/v2", sim.url(System::Zendesk));
    let a = auth();
    let h = [("authorization", a.as_str()), JSON];
    let body = br#"{"ticket":{"subject":"Card declined","comment":{"body":"It fails"},"priority":"high","external_id":"CUST-1001"}}"#;
    let r = call("POST", &format!("{base}/tickets.json"), &h, body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let t = r.json()["ticket"].clone();
    let id = t["id"].as_u64().unwrap();
    assert_eq!(t["status"], "new");
    assert_eq!(t["priority"], "high");
    assert_eq!(r.header("location").unwrap(), format!("{base}/tickets/{id}.json"));

    let r = call("GET", &format!("{base}/tickets/2?include=users"), &h, b"")
        .await
        .json();
    assert_eq!(r["ticket"]["status"], "open");
    assert_eq!(r["ticket"]["assignee_id"], 9001);
    let emails: Vec<_> = r["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].clone())
        .collect();
    assert!(emails.contains(&"alice@example.com".into()));
    let user = call("GET", &format!("{base}/users/9001.json"), &h, b"").await.json();
    assert_eq!(user["user"]["email"], "alice@example.com");

    let r = call(
        "PUT",
        &format!("{base}/tickets/{id}.json"),
        &h,
        br#"{"ticket":{"comment":{"body":"Looking","public":false}}}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["ticket"]["status"], "open", "an agent's comment opens a new ticket");
    let events = v["audit"]["events"].as_array().unwrap();
    let comment = events.iter().find(|e| e["type"] == "Comment").unwrap();
    assert_eq!(comment["public"], false);
    let comment_id = comment["id"].as_u64().unwrap().to_string();
    let effects = sim.control().effects(&EffectFilter::kind(EffectKind::CommentAdded));
    assert_eq!(effects.len(), 1);
    assert_eq!(effects[0].id, comment_id);

    assert_eq!(call("GET", &format!("{base}/tickets/999"), &h, b"").await.status, 404);
    let r = call(
        "POST",
        &format!("{base}/tickets"),
        &h,
        br#"{"ticket":{"subject":"no body"}}"#,
    )
    .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["error"], "RecordInvalid");
    assert_eq!(
        call(
            "POST",
            &format!("{base}/tickets"),
            &h,
            br#"{"ticket":{"comment":{"body":"x"},"priority":"meh"}}"#
        )
        .await
        .status,
        422
    );
}

#[tokio::test]
async fn idempotent_create() {
    let sim = start().await;
    let url = format!("{}/api/v2/tickets", sim.url(System::Zendesk));
    let a = auth();
    let h = [("authorization", a.as_str()), JSON, ("idempotency-key", "z-1")];
    let body = br#"{"ticket":{"subject":"Once","comment":{"body":"x"}}}"#;
    let first = call("POST", &url, &h, body).await;
    let again = call("POST", &url, &h, body).await;
    assert_eq!((first.status, again.status), (201, 201));
    assert_eq!(first.json()["ticket"]["id"], again.json()["ticket"]["id"]);
    assert_eq!(again.header("x-idempotency-lookup"), Some("hit"));
    let other = call(
        "POST",
        &url,
        &h,
        br#"{"ticket":{"subject":"Other","comment":{"body":"y"}}}"#,
    )
    .await;
    assert_eq!(other.status, 400);
    let created = sim.control().effects(&EffectFilter {
        system: Some(System::Zendesk),
        kind: Some(EffectKind::TicketCreated),
        ..Default::default()
    });
    assert_eq!(created.len(), 1);
}
