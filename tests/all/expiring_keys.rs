//! Zendesk forgets a create's idempotency key after some hours: a dead-lettered create is
//! replayed by looking for the ticket first (the hub's key is its `external_id`), never
//! by trusting the key alone.

use std::time::Duration;

use http::Method;
use hub_sim::{EffectFilter, EffectKind, FaultKind, FaultRule, System};
use hub_tests::{ADMIN_TOKEN, Hub, Options, WRITE_TOKEN};
use serde_json::json;

fn created(hub: &Hub) -> Vec<String> {
    hub.sim
        .control()
        .effects(&EffectFilter::kind(EffectKind::TicketCreated))
        .into_iter()
        .map(|e| e.id)
        .collect()
}

async fn start() -> Hub {
    Hub::start(Options {
        dialect: "zendesk",
        max_attempts: 1,
        attempt_ms: 2_000,
        ..Options::default()
    })
    .await
}

/// Creates a ticket whose connection breaks (`after_handler`: once Zendesk made it, else
/// before); answers the dead-letter id.
async fn lost_create(hub: &Hub, key: &str, after_handler: bool) -> String {
    let mut rule = FaultRule::new(FaultKind::Reset)
        .system(System::Zendesk)
        .route("POST", "/api/v2/tickets.json")
        .times(1);
    if after_handler {
        rule = rule.after_handler();
    }
    hub.sim.control().add_fault(rule).unwrap();
    let res = hub
        .post(
            "/v1/tickets",
            WRITE_TOKEN,
            json!({"customer_id": "CUST-1001", "subject": "Refund", "description": "Please refund."}),
            &[("idempotency-key", key)],
        )
        .await;
    assert_eq!(res.status, 502, "{res:?}");
    res.json()["dlq_id"].as_str().unwrap().to_owned()
}

async fn replay(hub: &Hub, dlq_id: &str) -> hub_tests::Resp {
    hub.send(
        Method::POST,
        &format!("/v1/dlq/{dlq_id}/replay"),
        Some(ADMIN_TOKEN),
        None,
        &[],
    )
    .await
}

/// The ticket was made but the answer lost; the replay comes after Zendesk forgot the
/// key. The hub finds the ticket by its key and settles the entry with it: one ticket.
#[tokio::test]
async fn a_create_replayed_after_the_key_expired_finds_the_ticket() {
    let hub = start().await;
    let dlq_id = lost_create(&hub, "expired-found", true).await;
    let made = created(&hub);
    assert_eq!(made.len(), 1);
    // Past Zendesk's key window: the key alone would now make a second ticket.
    hub.sim
        .control()
        .advance_clock(Duration::from_secs(hub.sim.control().settings().zendesk_key_ttl_s + 60));

    let replayed = replay(&hub, &dlq_id).await;
    assert_eq!(replayed.status, 200, "{replayed:?}");
    let entry = replayed.json();
    assert_eq!(entry["status"], "replayed");
    assert_eq!(entry["result"]["ticket_id"].as_str(), Some(made[0].as_str()), "{entry}");
    assert!(
        entry["result"]["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/agent/tickets/{}", made[0])),
        "{entry}"
    );
    assert_eq!(created(&hub), made, "no second ticket");
    hub.stop().await;
}

/// The create never reached Zendesk: the lookup finds nothing and the replay creates
/// the ticket once, carrying the key as its external id.
#[tokio::test]
async fn a_create_that_never_arrived_is_replayed_once() {
    let hub = start().await;
    let dlq_id = lost_create(&hub, "never-made", false).await;
    assert!(created(&hub).is_empty());
    hub.sim
        .control()
        .advance_clock(Duration::from_secs(hub.sim.control().settings().zendesk_key_ttl_s + 60));

    let replayed = replay(&hub, &dlq_id).await;
    assert_eq!(replayed.status, 200, "{replayed:?}");
    let entry = replayed.json();
    let made = created(&hub);
    assert_eq!(made.len(), 1, "created once");
    assert_eq!(entry["result"]["ticket_id"].as_str(), Some(made[0].as_str()), "{entry}");
    // A second replay is refused (the entry is settled), so nothing more is made.
    assert_eq!(replay(&hub, &dlq_id).await.status, 409);
    assert_eq!(created(&hub).len(), 1);
    hub.stop().await;
}
