//! Body parsing (data-driven and property-based) and the receiver's decisions.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;

use super::*;
use hub_core::testing::{RecordingEvents, RecordingInvalidation};
use hub_core::{TicketId, TransactionId};

use super::signature::sign;

const KEY: &[u8] = b"webhook-test-key-0123456789abcdef";

#[track_caller]
fn check(kind: WebhookKind, body: &str, expected: Result<Change, &str>) {
    match (parse_body(kind, body.as_bytes()), expected) {
        (Ok((change, data)), Ok(want)) => {
            assert_eq!(change, want, "{body}");
            assert_eq!(data, serde_json::from_str::<Value>(body).unwrap());
        }
        (Err(e @ (WebhookError::Invalid { .. } | WebhookError::Body(_))), Err(fragment)) => {
            assert!(e.to_string().contains(fragment), "{body}: {e} should say {fragment}");
        }
        (got, want) => panic!("{body}: got {got:?}, wanted {want:?}"),
    }
}

fn txn(id: &str, customer: Option<&str>) -> Change {
    Change::Transaction {
        transaction_id: TransactionId::parse(id).unwrap(),
        customer_id: customer.map(|c| CustomerId::parse(c).unwrap()),
    }
}

#[test]
fn bodies() {
    use WebhookKind::{TicketUpdated as Ticket, TransactionUpdated as Txn};
    check(
        Txn,
        r#"{"transaction_id":"TX-1","status":"completed"}"#,
        Ok(txn("TX-1", None)),
    );
    check(
        Txn,
        r#"{"transaction_id":"TX-1","status":"completed","customer_id":"C-7","updated_at":"2026-01-05T10:00:00Z","extra":{"a":[1]}}"#,
        Ok(txn("TX-1", Some("C-7"))),
    );
    check(
        Txn,
        r#"{"transaction_id":"TX-1","status":"x","customer_id":null}"#,
        Ok(txn("TX-1", None)),
    );
    check(
        Ticket,
        r#"{"ticket_id":"ABC-12","status":"solved"}"#,
        Ok(Change::Ticket {
            ticket_id: TicketId::parse("ABC-12").unwrap(),
        }),
    );
    check(Txn, "not json", Err("not JSON"));
    check(Txn, "[]", Err("JSON object"));
    check(Txn, r#"{"status":"completed"}"#, Err("transaction_id: missing"));
    check(
        Txn,
        r#"{"transaction_id":"../etc","status":"completed"}"#,
        Err("transaction_id"),
    );
    check(
        Txn,
        r#"{"transaction_id":7,"status":"completed"}"#,
        Err("transaction_id: must be a string"),
    );
    check(Txn, r#"{"transaction_id":"TX-1"}"#, Err("status: missing"));
    check(
        Txn,
        r#"{"transaction_id":"TX-1","status":""}"#,
        Err("status: must not be empty"),
    );
    check(
        Txn,
        r#"{"transaction_id":"TX-1","status":"x","customer_id":"a b"}"#,
        Err("customer_id"),
    );
    check(
        Txn,
        r#"{"transaction_id":"TX-1","status":"x","updated_at":"yesterday"}"#,
        Err("updated_at"),
    );
    check(
        Ticket,
        r#"{"transaction_id":"TX-1","status":"x"}"#,
        Err("ticket_id: missing"),
    );
}

fn headers<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> Signed<'a> {
    Signed {
        id: Some(id),
        timestamp: Some(ts),
        signature: Some(sig),
    }
}

#[tokio::test]
async fn a_delivery_is_processed_once_and_forgeries_never() {
    let keys = WebhookKeys::parse([format!("whsec_{}", STANDARD.encode(KEY)).as_str()]).unwrap();
    let recorder = Arc::new(RecordingInvalidation::default());
    let receiver = WebhookReceiver::new(keys).with_caches(recorder.clone());
    let events = RecordingEvents::default();
    let now = 1_800_000_000;
    let (ts, stale_ts) = (now.to_string(), (now - 301).to_string());
    let body = br#"{"ticket_id":"T-9","status":"open"}"#;
    let sig = sign(KEY, "msg_1", now, body);
    let good = headers("msg_1", &ts, &sig);
    let kind = WebhookKind::TicketUpdated;
    assert_eq!(
        receiver.receive(kind, good, body, now, &events).await.unwrap(),
        Received::Processed
    );
    assert_eq!(
        receiver.receive(kind, good, body, now, &events).await.unwrap(),
        Received::Duplicate
    );
    assert_eq!(recorder.changes().len(), 1);
    assert_eq!(events.all().len(), 1);
    let (forged_sig, stale_sig) = (sign(b"other", "msg_2", now, body), sign(KEY, "msg_3", now - 301, body));
    let forged = headers("msg_2", &ts, &forged_sig);
    let stale = headers("msg_3", &stale_ts, &stale_sig);
    for h in [forged, stale, Signed::default()] {
        let e = receiver.receive(kind, h, body, now, &events).await.unwrap_err();
        assert!(matches!(e, WebhookError::Unverified(_)), "{e}");
    }
    let bad = br#"{"ticket_id":"T 9","status":"open"}"#;
    let bad_sig = sign(KEY, "msg_4", now, bad);
    let e = receiver
        .receive(kind, headers("msg_4", &ts, &bad_sig), bad, now, &events)
        .await
        .unwrap_err();
    assert!(matches!(e, WebhookError::Invalid { field: "ticket_id", .. }), "{e}");
    assert_eq!(recorder.changes().len(), 1);
}

#[tokio::test]
async fn memory_ids_expire() {
    let ids = MemorySeenIds::default();
    assert!(ids.remember("a", Duration::from_millis(0)).await.unwrap());
    assert!(ids.remember("a", Duration::from_secs(60)).await.unwrap());
    assert!(!ids.remember("a", Duration::from_secs(60)).await.unwrap());
}

proptest! {
    #[test]
    fn parsing_never_panics_and_accepts_only_valid_ids(body in proptest::collection::vec(any::<u8>(), 0..200), id in "\\PC{0,20}", status in "\\PC{0,8}") {
        let _ = parse_body(WebhookKind::TransactionUpdated, &body);
        let json = serde_json::json!({"transaction_id": id, "status": status}).to_string();
        match parse_body(WebhookKind::TransactionUpdated, json.as_bytes()) {
            Ok((Change::Transaction { transaction_id, .. }, _)) => {
                prop_assert_eq!(transaction_id.as_str(), id.as_str());
                prop_assert!(!status.is_empty());
            }
            Ok(other) => prop_assert!(false, "{other:?}"),
            Err(e) => {
                prop_assert!(matches!(e, WebhookError::Invalid { .. } | WebhookError::Body(_)), "{}", e);
                prop_assert!(TransactionId::parse(&id).is_err() || status.is_empty());
            }
        }
    }
}

#[tokio::test]
async fn a_failed_invalidation_is_reported_and_the_event_still_published() {
    let keys = WebhookKeys::parse([format!("whsec_{}", STANDARD.encode(KEY)).as_str()]).unwrap();
    let down = Arc::new(RecordingInvalidation::default());
    *down.down.lock().unwrap() = true;
    let receiver = WebhookReceiver::new(keys).with_caches(down);
    let bus = RecordingEvents::default();
    let now = 1_800_000_000;
    let ts = now.to_string();
    let body = br#"{"transaction_id":"TX-1","status":"failed","customer_id":"C-1"}"#;
    let sig = sign(KEY, "msg_d", now, body);
    let got = receiver
        .receive(
            WebhookKind::TransactionUpdated,
            headers("msg_d", &ts, &sig),
            body,
            now,
            &bus,
        )
        .await;
    assert_eq!(got.unwrap(), Received::Processed);
    let events = bus.all();
    assert_eq!((events.len(), events[0].id.as_str()), (1, "msg_d"));
}
