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

/// Zendesk forgets a create's key after `zendesk_key_ttl_s` (two hours by default, on the
/// simulated clock): the same request then makes a second ticket. The tickets carrying
/// an external id are listed by it.
#[tokio::test]
async fn create_keys_expire_and_tickets_are_listed_by_external_id() {
    let sim = start().await;
    assert_eq!(sim.control().settings().zendesk_key_ttl_s, 7200);
    let url = format!("{}/api/v2/tickets.json", sim.url(System::Zendesk));
    let a = auth();
    let h = [("authorization", a.as_str()), JSON, ("idempotency-key", "z-exp")];
    let body = br#"{"ticket":{"subject":"Once","comment":{"body":"x"},"external_id":"hub:z-exp"}}"#;
    let first = call("POST", &url, &h, body).await;
    sim.control().advance_clock(std::time::Duration::from_secs(7199));
    let within = call("POST", &url, &h, body).await;
    assert_eq!(first.json()["ticket"]["id"], within.json()["ticket"]["id"]);
    assert_eq!(within.header("x-idempotency-lookup"), Some("hit"));
    sim.control().advance_clock(std::time::Duration::from_secs(1));
    let after = call("POST", &url, &h, body).await;
    assert_eq!(after.status, 201);
    assert_eq!(after.header("x-idempotency-lookup"), Some("miss"));
    assert_ne!(first.json()["ticket"]["id"], after.json()["ticket"]["id"]);

    let listed = call(
        "GET",
        &format!("{url}?external_id=hub%3Az-exp"),
        &[("authorization", a.as_str())],
        b"",
    )
    .await;
    assert_eq!(listed.status, 200);
    let ids: Vec<_> = listed.json()["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].clone())
        .collect();
    assert_eq!(
        ids,
        vec![
            first.json()["ticket"]["id"].clone(),
            after.json()["ticket"]["id"].clone()
        ]
    );
    let none = call(
        "GET",
        &format!("{url}?external_id=nothing"),
        &[("authorization", a.as_str())],
        b"",
    )
    .await;
    assert_eq!(none.json()["tickets"], serde_json::json!([]));

    // A shorter window is a setting.
    sim.control().set_settings(hub_sim::Settings {
        zendesk_key_ttl_s: 60,
        ..sim.control().settings()
    });
    let h2 = [("authorization", a.as_str()), JSON, ("idempotency-key", "z-short")];
    let one = call("POST", &url, &h2, body).await;
    sim.control().advance_clock(std::time::Duration::from_secs(60));
    let two = call("POST", &url, &h2, body).await;
    assert_ne!(one.json()["ticket"]["id"], two.json()["ticket"]["id"]);
}

/// A create names its requester by e-mail or external id: a known user is found, an
/// unknown one is made an end-user (with the name given); without one, the API user is
/// the requester. A requester without an e-mail or external id, or a bad e-mail, is 422.
#[tokio::test]
async fn creates_name_their_requester_by_email_or_external_id() {
    let sim = start().await;
    let base = sim.url(System::Zendesk);
    let url = format!("{base}/api/v2/tickets.json");
    let a = auth();
    let h = [("authorization", a.as_str()), JSON];
    let create = |requester: serde_json::Value| {
        let body = serde_json::json!({"ticket": {"subject": "s", "comment": {"body": "x"}, "requester": requester}});
        let url = url.clone();
        let a = a.clone();
        async move {
            let h = [("authorization", a.as_str()), JSON];
            call("POST", &url, &h, body.to_string().as_bytes()).await
        }
    };
    let carol = create(serde_json::json!({"external_id": "CUST-1001", "name": "CUST-1001"})).await;
    assert_eq!(carol.status, 201, "{:?}", carol.json());
    assert_eq!(carol.json()["ticket"]["requester_id"], 9101);
    let by_email = create(serde_json::json!({"email": "carol@example.com", "name": "ignored"})).await;
    assert_eq!(by_email.json()["ticket"]["requester_id"], 9101);

    let new = create(serde_json::json!({"external_id": "CUST-2002", "name": "CUST-2002"})).await;
    assert_eq!(new.status, 201);
    let made = new.json()["ticket"]["requester_id"].clone();
    assert!(made.as_u64().unwrap() >= 9200, "{made}");
    let again = create(serde_json::json!({"external_id": "CUST-2002", "name": "CUST-2002"})).await;
    assert_eq!(again.json()["ticket"]["requester_id"], made, "found, not made twice");
    let user = call("GET", &format!("{base}/api/v2/users/{made}.json"), &h[..1], b"").await;
    assert_eq!(user.json()["user"]["external_id"], "CUST-2002");
    assert_eq!(user.json()["user"]["role"], "end-user");

    let unnamed = create(serde_json::json!({"email": "new@customers.example.com"})).await;
    assert_eq!(unnamed.status, 422);
    assert!(unnamed.json()["details"]["requester"].is_array());
    for bad in [
        serde_json::json!({"email": "CUST:1@customers.example.com", "name": "n"}),
        serde_json::json!({"email": "no-at-sign", "name": "n"}),
        serde_json::json!({"name": "n"}),
    ] {
        assert_eq!(create(bad.clone()).await.status, 422, "{bad}");
    }

    let none = call(
        "POST",
        &url,
        &h,
        br#"{"ticket":{"subject":"s","comment":{"body":"x"}}}"#,
    )
    .await;
    assert_eq!(none.json()["ticket"]["requester_id"], 9000, "the API user");
}
