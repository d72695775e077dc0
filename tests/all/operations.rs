//! The operating surface through the composed hub: webhooks invalidating reads, the
//! dead-letter queue replayed after an outage, the supervisor's alert, metrics, and log
//! lines a log pipeline accepts.

use http::Method;
use hub_sim::{EffectFilter, EffectKind, RequestFilter, System, Tamper, WebhookRequest};
use hub_tests::{ADMIN_TOKEN, Hub, Options, READ_TOKEN, WRITE_TOKEN};
use serde_json::json;

#[tokio::test]
async fn a_signed_webhook_invalidates_the_cached_read_and_forgeries_do_nothing() {
    let hub = Hub::start(Options::default()).await;
    let path = "/v1/transactions/TXN-5002";
    let before = hub.get(path, READ_TOKEN).await.json();
    assert_eq!(before["status"], "pending");
    assert_eq!(
        hub.get(path, READ_TOKEN).await.header("cache-status"),
        Some("integration-hub; hit")
    );
    let url = format!("{}/webhooks/transaction_updated", hub.url);

    // Forged and stale deliveries are refused and change nothing (the sim does not apply them).
    for tamper in [Tamper::BadSignature, Tamper::StaleTimestamp] {
        let mut forged = WebhookRequest::transaction_updated(&url, "TXN-5002", "failed");
        forged.tamper = Some(tamper);
        forged.apply = false;
        let delivery = hub.sim.control().send_webhook(forged).await.unwrap();
        assert_eq!(delivery.status, 401, "{tamper:?}");
    }
    assert_eq!(
        hub.get(path, READ_TOKEN).await.header("cache-status"),
        Some("integration-hub; hit")
    );

    // The real one: the sim completes the transaction and tells the hub.
    let delivery = hub
        .sim
        .control()
        .send_webhook(WebhookRequest::transaction_updated(&url, "TXN-5002", "completed"))
        .await
        .unwrap();
    assert_eq!(delivery.status, 204);
    let after = hub.get(path, READ_TOKEN).await;
    assert_eq!(after.header("cache-status"), Some("integration-hub; fwd=miss"));
    assert_eq!(after.json()["status"], "completed");
    // The cache refuses to store a fetch that began in the invalidation's millisecond (its
    // no-resurrection rule, at millisecond resolution), so the entry may take one more read.
    let mut rewarmed = None;
    for _ in 0..50 {
        rewarmed = hub
            .get(path, READ_TOKEN)
            .await
            .header("cache-status")
            .map(str::to_owned);
        if rewarmed.as_deref() == Some("integration-hub; hit") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    assert_eq!(rewarmed.as_deref(), Some("integration-hub; hit"));
    // A redelivery of the same id is acknowledged and ignored: the entry stays cached.
    let mut again = WebhookRequest::transaction_updated(&url, "TXN-5002", "completed");
    again.repeat_last_id = true;
    assert_eq!(hub.sim.control().send_webhook(again).await.unwrap().status, 204);
    assert_eq!(
        hub.get(path, READ_TOKEN).await.header("cache-status"),
        Some("integration-hub; hit")
    );
    hub.stop().await;
}

#[tokio::test]
async fn an_outage_dead_letters_writes_and_a_replay_after_recovery_makes_one_effect() {
    let hub = Hub::start(Options {
        max_attempts: 2,
        ..Options::default()
    })
    .await;
    hub.sim.control().set_outage(System::Generic, true);
    let failed = hub
        .post(
            "/v1/tickets",
            WRITE_TOKEN,
            json!({"customer_id": "CUST-1003", "subject": "s", "description": "d"}),
            &[("idempotency-key", "outage-1")],
        )
        .await;
    assert_eq!(failed.status, 502, "{}", String::from_utf8_lossy(&failed.body));
    let dlq_id = failed.json()["dlq_id"].as_str().unwrap().to_owned();
    let entry = hub.get(&format!("/v1/dlq/{dlq_id}"), ADMIN_TOKEN).await.json();
    assert_eq!(entry["attempts"], 2, "the entry records the attempts made");
    assert_eq!(entry["idempotency_key"], "outage-1");
    // The same key while dead-lettered answers the stored failure, without a second attempt.
    let sent = hub
        .sim
        .control()
        .requests(&RequestFilter {
            system: Some(System::Generic),
            ..RequestFilter::default()
        })
        .len();
    let repeated = hub
        .post(
            "/v1/tickets",
            WRITE_TOKEN,
            json!({"customer_id": "CUST-1003", "subject": "s", "description": "d"}),
            &[("idempotency-key", "outage-1")],
        )
        .await;
    assert_eq!(
        (repeated.status, repeated.json()["dlq_id"].as_str()),
        (502, Some(dlq_id.as_str()))
    );
    assert_eq!(
        hub.sim
            .control()
            .requests(&RequestFilter {
                system: Some(System::Generic),
                ..RequestFilter::default()
            })
            .len(),
        sent
    );

    // The supervisor heard about it through the notification sink.
    let alerts = hub
        .sim
        .control()
        .wait_for_notifications(1, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(alerts[0].body["adapter"], "ticketing");
    assert!(alerts[0].headers.contains_key("webhook-signature"));

    hub.sim.control().set_outage(System::Generic, false);
    let replay = hub
        .send(
            Method::POST,
            &format!("/v1/dlq/{dlq_id}/replay"),
            Some(ADMIN_TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(replay.status, 200, "{}", String::from_utf8_lossy(&replay.body));
    assert_eq!(replay.json()["status"], "replayed");
    let created = hub
        .sim
        .control()
        .effects(&EffectFilter::kind(EffectKind::TicketCreated));
    assert_eq!(created.len(), 1);
    assert_eq!(
        created[0].idempotency_key.as_deref(),
        Some("outage-1"),
        "the replay reused the key"
    );
    let second = hub
        .send(
            Method::POST,
            &format!("/v1/dlq/{dlq_id}/replay"),
            Some(ADMIN_TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(
        (second.status, second.json()["code"].clone()),
        (409, json!("dlq_conflict"))
    );

    // The metrics moved, and the exposition parses line by line.
    let metrics = hub.send(Method::GET, "/metrics", None, None, &[]).await;
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "not a sample line: {line}");
    }
    for name in [
        "integration_requests_total",
        "integration_retries_total",
        "integration_latency_seconds_bucket",
        "http_server_requests_total",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics");
    }
    hub_tests::promtool_check(&text);
    hub.stop().await;
}

/// Every JSON log line names each key once (a log pipeline may refuse a document with a
/// key twice, and a lenient parser keeps one of the two silently), including the lines
/// of upstream calls, which carry their call's request id while the request's own log
/// context also holds one.
#[tokio::test]
async fn every_log_line_names_each_key_once() {
    let hub = Hub::start(Options::default()).await;
    let conversation = [("x-conversation-id", "conv-keys-1")];
    let read = hub
        .send(
            Method::GET,
            "/v1/transactions/TXN-5002",
            Some(READ_TOKEN),
            None,
            &conversation,
        )
        .await;
    assert_eq!(read.status, 200);
    let write = hub
        .post(
            "/v1/tickets",
            WRITE_TOKEN,
            json!({"customer_id": "CUST-1001", "subject": "keys", "description": "once"}),
            &conversation,
        )
        .await;
    assert_eq!(write.status, 201, "{:?}", write.body);
    hub.stop().await;
    let logs = hub_tests::captured_logs();
    let request_id = read.header("x-request-id").expect("a request id").to_owned();
    let mut calls_seen = 0;
    for line in logs.lines() {
        let keys = keys_of(line);
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), keys.len(), "a key named twice: {line}");
        if line.contains("\"upstream call\"") && line.contains(&request_id) {
            calls_seen += 1;
            assert!(line.contains("conv-keys-1"), "{line}");
        }
    }
    assert!(
        calls_seen >= 1,
        "the read's upstream call was logged with its request id"
    );
}

/// The keys of the JSON object `line`, in order and with any repeats (a map parser keeps
/// one of two equal keys).
fn keys_of(line: &str) -> Vec<String> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut keys = Vec::new();
            while let Some((key, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                keys.push(key);
            }
            Ok(keys)
        }
    }
    let mut de = serde_json::Deserializer::from_str(line);
    (&mut de)
        .deserialize_map(Keys)
        .unwrap_or_else(|e| panic!("not a JSON object ({e}): {line}"))
}
