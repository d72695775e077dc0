//! The contract's idempotency rules on writes, end to end.

use hub_sim::{EffectFilter, EffectKind, FaultKind, FaultRule, System};
use hub_tests::{Hub, Options, WRITE_TOKEN};
use serde_json::json;

fn ticket(subject: &str) -> serde_json::Value {
    json!({"customer_id": "CUST-1001", "subject": subject, "description": "d"})
}

#[tokio::test]
async fn replay_mismatch_and_missing_key() {
    let hub = Hub::start(Options::default()).await;
    let key = [("idempotency-key", "ticket-e2e-1")];
    let first = hub.post("/v1/tickets", WRITE_TOKEN, ticket("a"), &key).await;
    assert_eq!(first.status, 201);
    let replay = hub.post("/v1/tickets", WRITE_TOKEN, ticket("a"), &key).await;
    assert_eq!((replay.status, replay.json()), (201, first.json()));
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        hub.sim
            .control()
            .effects(&EffectFilter::kind(EffectKind::TicketCreated))
            .len(),
        1
    );

    let other = hub.post("/v1/tickets", WRITE_TOKEN, ticket("b"), &key).await;
    assert_eq!(
        (other.status, other.json()["code"].clone()),
        (422, json!("idempotency_mismatch"))
    );

    let missing = hub
        .post("/v1/transactions/drafts/DRF-1/commit", WRITE_TOKEN, json!({}), &[])
        .await;
    assert_eq!(
        (missing.status, missing.json()["code"].clone()),
        (400, json!("idempotency_key_missing"))
    );
    hub.stop().await;
}

#[tokio::test]
async fn a_key_in_flight_is_a_conflict() {
    let hub = Hub::start(Options::default()).await;
    // Whichever request claims the key first holds it for the upstream's five seconds;
    // the other, sent at the same moment, finds it in flight.
    hub.sim
        .control()
        .add_fault(
            FaultRule::new(FaultKind::Latency)
                .system(System::Generic)
                .ms(5_000)
                .times(1),
        )
        .unwrap();
    let key = [("idempotency-key", "ticket-in-flight")];
    let (a, b) = tokio::join!(
        hub.post("/v1/tickets", WRITE_TOKEN, ticket("slow"), &key),
        hub.post("/v1/tickets", WRITE_TOKEN, ticket("slow"), &key),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409], "{a:?} {b:?}");
    let conflict = if a.status == 409 { a } else { b };
    assert_eq!(conflict.json()["code"], "idempotency_in_flight");
    assert_eq!(
        hub.sim
            .control()
            .effects(&EffectFilter::kind(EffectKind::TicketCreated))
            .len(),
        1
    );
    hub.stop().await;
}
