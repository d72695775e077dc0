//! Body parsing (data-driven and property-based) and the receiver's decisions.

use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;

use super::*;
use crate::webhook_signature::sign;

const KEY: &[u8] = b"webhook-test-key-0123456789abcdef";

#[track_caller]
fn check(kind: WebhookKind, body: &str, expected: Result<Change, &str>) {
    match (parse_body(kind, body.as_bytes()), expected) {
        (Ok((change, data)), Ok(want)) => {
            assert_eq!(change, want, "{body}");
            assert_eq!(data, serde_json::from_str::<Value>(body).unwrap());
        }
        (Err(p), Err(fragment)) => {
            assert_eq!((p.status, p.code), (422, ProblemCode::InvalidBody), "{body}");
            assert!(
                p.detail.contains(fragment),
                "{body}: {} should say {fragment}",
                p.detail
            );
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

/// Records what was invalidated.
#[derive(Default)]
struct Recorder(Mutex<Vec<Change>>);

#[async_trait]
impl Invalidate for Recorder {
    async fn invalidate(&self, change: &Change) -> Result<(), StoreError> {
        self.0.lock().unwrap().push(change.clone());
        Ok(())
    }
}

fn headers(id: &str, ts: i64, sig: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("webhook-id", id.parse().unwrap());
    h.insert("webhook-timestamp", ts.to_string().parse().unwrap());
    h.insert("webhook-signature", sig.parse().unwrap());
    h
}

#[tokio::test]
async fn a_delivery_is_processed_once_and_forgeries_never() {
    let keys = WebhookKeys::parse([format!("whsec_{}", STANDARD.encode(KEY)).as_str()]).unwrap();
    let recorder = Arc::new(Recorder::default());
    let receiver = WebhookReceiver::new(keys).with_caches(recorder.clone());
    let events = hub_store::LocalEvents::default();
    let now = 1_800_000_000;
    let body = br#"{"ticket_id":"T-9","status":"open"}"#;
    let good = headers("msg_1", now, &sign(KEY, "msg_1", now, body));
    let kind = WebhookKind::TicketUpdated;
    assert_eq!(
        receiver.receive(kind, &good, body, now, &events).await,
        Ok(Received::Processed)
    );
    assert_eq!(
        receiver.receive(kind, &good, body, now, &events).await,
        Ok(Received::Duplicate)
    );
    assert_eq!(recorder.0.lock().unwrap().len(), 1);
    let forged = headers("msg_2", now, &sign(b"other", "msg_2", now, body));
    let stale = headers("msg_3", now - 301, &sign(KEY, "msg_3", now - 301, body));
    for h in [forged, stale, HeaderMap::new()] {
        let p = receiver.receive(kind, &h, body, now, &events).await.unwrap_err();
        assert_eq!((p.status, p.code), (401, ProblemCode::Unauthorized));
    }
    let bad = br#"{"ticket_id":"T 9","status":"open"}"#;
    let h = headers("msg_4", now, &sign(KEY, "msg_4", now, bad));
    assert_eq!(
        receiver.receive(kind, &h, bad, now, &events).await.unwrap_err().status,
        422
    );
    assert_eq!(recorder.0.lock().unwrap().len(), 1);
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
            Err(p) => {
                prop_assert_eq!(p.status, 422);
                prop_assert!(TransactionId::parse(&id).is_err() || status.is_empty());
            }
        }
    }
}

/// A cache store that is down.
struct Down;

#[async_trait]
impl Invalidate for Down {
    async fn invalidate(&self, _: &Change) -> Result<(), StoreError> {
        Err(StoreError::Unavailable {
            reason: "redis down".to_owned(),
        })
    }
}

/// Records published events.
#[derive(Default)]
struct Bus(Mutex<Vec<Event>>);

#[async_trait]
impl EventPublisher for Bus {
    async fn publish(&self, e: Event) -> Result<(), StoreError> {
        self.0.lock().unwrap().push(e);
        Ok(())
    }
    fn subscribe(&self) -> hub_core::EventStream {
        Box::pin(futures_util::stream::empty())
    }
}

#[tokio::test]
async fn a_failed_invalidation_is_reported_and_the_event_still_published() {
    let keys = WebhookKeys::parse([format!("whsec_{}", STANDARD.encode(KEY)).as_str()]).unwrap();
    let receiver = WebhookReceiver::new(keys).with_caches(Arc::new(Down));
    let bus = Bus::default();
    let now = 1_800_000_000;
    let body = br#"{"transaction_id":"TX-1","status":"failed","customer_id":"C-1"}"#;
    let h = headers("msg_d", now, &sign(KEY, "msg_d", now, body));
    let got = receiver
        .receive(WebhookKind::TransactionUpdated, &h, body, now, &bus)
        .await;
    assert_eq!(got, Ok(Received::Processed));
    let events = bus.0.lock().unwrap();
    assert_eq!((events.len(), events[0].id.as_str()), (1, "msg_d"));
}
