//! `POST /webhooks/*` over real HTTP: signed deliveries invalidate the caches and publish
//! once; forged, stale, replayed and malformed ones are refused or ignored.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hub_app::webhooks::signature::{WebhookKeys, sign};
use hub_app::webhooks::{MemorySeenIds, WebhookReceiver};
use hub_core::{Cache, CacheEntry, StoreError, Topic};
use hub_resilience::cache::CacheManager;
use hub_runtime::Caches;
use serde_json::json;

use crate::support::*;

pub const KEY: &[u8] = b"api-test-webhook-key-32-bytes-ok";

/// A cache that holds nothing and records every invalidation.
#[derive(Default)]
pub struct RecordingCache(pub Mutex<Vec<String>>);

#[async_trait]
impl Cache for RecordingCache {
    async fn get(&self, _: &str) -> Result<Option<CacheEntry>, StoreError> {
        Ok(None)
    }
    async fn put(&self, _: &str, _: CacheEntry, _: &[String]) -> Result<(), StoreError> {
        Ok(())
    }
    async fn invalidate(&self, key: &str) -> Result<(), StoreError> {
        self.0.lock().unwrap().push(format!("key {key}"));
        Ok(())
    }
    async fn invalidate_tag(&self, tag: &str) -> Result<(), StoreError> {
        self.0.lock().unwrap().push(format!("tag {tag}"));
        Ok(())
    }
}

impl RecordingCache {
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// The hub's receiver with the test key (plus a rotated-out one) and the recording cache.
pub fn receiver(cache: &Arc<RecordingCache>) -> Arc<WebhookReceiver> {
    let store: Arc<dyn Cache> = cache.clone();
    let manager = Arc::new(CacheManager::builder(store).build());
    let caches = Caches {
        tickets: manager.clone(),
        transactions: manager,
    };
    let keys = WebhookKeys::parse([
        format!("whsec_{}", STANDARD.encode(b"old key being rotated out")).as_str(),
        format!("whsec_{}", STANDARD.encode(KEY)).as_str(),
    ])
    .unwrap();
    Arc::new(
        WebhookReceiver::new(keys)
            .with_caches(Arc::new(caches))
            .with_seen_ids(Arc::new(MemorySeenIds::default())),
    )
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub async fn deliver(srv: &Server, route: &str, id: &str, ts: i64, signature: &str, body: &[u8]) -> Resp {
    srv.req("POST", &format!("/webhooks/{route}"))
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", &ts.to_string())
        .header("webhook-signature", signature)
        .raw(body.to_vec())
        .send()
        .await
}

pub async fn signed(srv: &Server, route: &str, id: &str, body: &serde_json::Value) -> Resp {
    let body = serde_json::to_vec(body).unwrap();
    let ts = now();
    deliver(srv, route, id, ts, &sign(KEY, id, ts, &body), &body).await
}

async fn start() -> (Hub, Arc<RecordingCache>, Server) {
    let hub = Hub::new();
    let cache = Arc::new(RecordingCache::default());
    let srv = Server::start(hub.state.clone().with_webhooks(receiver(&cache))).await;
    (hub, cache, srv)
}

#[tokio::test]
async fn a_signed_transaction_webhook_invalidates_then_publishes_once() {
    let (hub, cache, srv) = start().await;
    let body = json!({"transaction_id": "TX-1", "status": "completed", "customer_id": "C:7", "extra": [1, 2]});
    let res = signed(&srv, "transaction_updated", "msg_1", &body).await;
    assert_eq!(res.status, 204, "{}", res.text());
    assert!(res.body.is_empty());
    assert_eq!(
        cache.take(),
        vec![
            "key integration:transaction_status:id=TX-1".to_owned(),
            "tag customer:C%3A7".to_owned()
        ]
    );
    let events = hub.events.all();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].id, "msg_1");
    assert_eq!(events[0].topic, Topic::TransactionUpdated);
    assert_eq!(events[0].data, body);

    // The same delivery again: acknowledged, nothing done.
    let again = signed(&srv, "transaction_updated", "msg_1", &body).await;
    assert_eq!(again.status, 204);
    assert!(cache.take().is_empty());
    assert_eq!(hub.events.all().len(), 1);
}

#[tokio::test]
async fn a_ticket_webhook_invalidates_the_ticket_status() {
    let (hub, cache, srv) = start().await;
    let res = signed(
        &srv,
        "ticket_updated",
        "msg_t",
        &json!({"ticket_id": "ABC-12", "status": "solved"}),
    )
    .await;
    assert_eq!(res.status, 204, "{}", res.text());
    assert_eq!(cache.take(), vec!["key integration:ticket_status:id=ABC-12".to_owned()]);
    assert_eq!(hub.events.all()[0].topic, Topic::TicketUpdated);
}

#[tokio::test]
async fn forged_stale_and_unsigned_deliveries_are_401_and_do_nothing() {
    let (hub, cache, srv) = start().await;
    let body = br#"{"transaction_id":"TX-1","status":"failed"}"#;
    let ts = now();
    let forged = sign(b"someone else's key", "msg_f", ts, body);
    deliver(&srv, "transaction_updated", "msg_f", ts, &forged, body)
        .await
        .problem(401, "unauthorized");
    // Signed over other bytes (a re-serialised body).
    let other = sign(KEY, "msg_b", ts, br#"{"transaction_id": "TX-1", "status": "failed"}"#);
    deliver(&srv, "transaction_updated", "msg_b", ts, &other, body)
        .await
        .problem(401, "unauthorized");
    // Far outside the tolerance on either side, so a clock tick between this test and the
    // server cannot bring one inside it; the exact boundary is a unit test with a fixed `now`.
    for stale in [ts - 3_600, ts + 3_600] {
        let sig = sign(KEY, "msg_s", stale, body);
        deliver(&srv, "transaction_updated", "msg_s", stale, &sig, body)
            .await
            .problem(401, "unauthorized");
    }
    srv.req("POST", "/webhooks/transaction_updated")
        .raw(body.to_vec())
        .send()
        .await
        .problem(401, "unauthorized");
    assert!(cache.take().is_empty());
    assert!(hub.events.all().is_empty());
    // A rejected id was not remembered: the genuine delivery with it still counts.
    let sig = sign(KEY, "msg_f", ts, body);
    assert_eq!(
        deliver(&srv, "transaction_updated", "msg_f", ts, &sig, body)
            .await
            .status,
        204
    );
    assert_eq!(hub.events.all().len(), 1);
}

#[tokio::test]
async fn a_signed_but_invalid_body_is_422() {
    let (hub, cache, srv) = start().await;
    for (route, body) in [
        (
            "transaction_updated",
            br#"{"transaction_id":"../x","status":"failed"}"#.to_vec(),
        ),
        ("transaction_updated", b"not json".to_vec()),
        ("ticket_updated", br#"{"ticket_id":"T-1"}"#.to_vec()),
    ] {
        let ts = now();
        let id = format!("msg_{}", body.len());
        let sig = sign(KEY, &id, ts, &body);
        deliver(&srv, route, &id, ts, &sig, &body)
            .await
            .problem(422, "invalid_body");
    }
    assert!(cache.take().is_empty());
    assert!(hub.events.all().is_empty());
}

#[tokio::test]
async fn without_keys_every_delivery_is_refused() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    signed(
        &srv,
        "ticket_updated",
        "msg_1",
        &json!({"ticket_id": "T-1", "status": "open"}),
    )
    .await
    .problem(401, "unauthorized");
}
