//! Interoperability with hub-sim: its signed webhooks are accepted (and its tampered ones
//! refused), and the supervisor's alert webhook reaches its notification sink, signed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use hub_app::SupervisorNotifier;
use hub_app::webhooks::WebhookReceiver;
use hub_app::webhooks::signature::WebhookKeys;
use hub_core::{Alert, Notifier, Topic};
use hub_runtime::WebhookSink;
use hub_sim::{DEFAULT_WEBHOOK_SECRET, Sim, SimConfig, System, Tamper, WebhookRequest};
use hub_upstream::{ClientConfig, HttpClient};

use crate::support::*;

fn alert() -> Alert {
    let at = time::OffsetDateTime::now_utc();
    Alert {
        adapter: "transaction_create".to_owned(),
        operation: "commit_transaction".to_owned(),
        summary: "writes dead-lettered".to_owned(),
        count: 42,
        first_at: at,
        last_at: at,
        sample_dlq_ids: vec!["dlq-1".to_owned(), "dlq-2".to_owned()],
    }
}

fn sink(url: &str) -> WebhookSink {
    let client = HttpClient::new(&ClientConfig::default()).unwrap();
    WebhookSink::new(
        client,
        url.parse().unwrap(),
        DEFAULT_WEBHOOK_SECRET,
        Duration::from_secs(5),
    )
    .unwrap()
}

#[tokio::test]
async fn the_sims_webhooks_are_verified_as_sent() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let hub = Hub::new();
    let keys = WebhookKeys::parse([DEFAULT_WEBHOOK_SECRET]).unwrap();
    let srv = Server::start(hub.state.clone().with_webhooks(Arc::new(WebhookReceiver::new(keys)))).await;
    let url = format!("http://{}/webhooks/transaction_updated", srv.addr);
    let send = |tamper: Option<Tamper>, repeat: bool| {
        let mut req = WebhookRequest::transaction_updated(&url, "TXN-5002", "completed");
        req.tamper = tamper;
        req.repeat_last_id = repeat;
        req.apply = false;
        sim.control().send_webhook(req)
    };
    assert_eq!(send(None, false).await.unwrap().status, 204);
    assert_eq!(send(None, true).await.unwrap().status, 204);
    assert_eq!(send(Some(Tamper::BadSignature), false).await.unwrap().status, 401);
    assert_eq!(send(Some(Tamper::StaleTimestamp), false).await.unwrap().status, 401);
    let events = hub.events.all();
    assert_eq!(events.len(), 1, "the repeated delivery is not processed again");
    assert_eq!(events[0].topic, Topic::TransactionUpdated);
    assert_eq!(events[0].data["transaction_id"], "TXN-5002");
    assert!(events[0].data["updated_at"].is_string());
}

#[tokio::test]
async fn alerts_reach_the_sims_notification_sink() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let notifier = SupervisorNotifier::default().with_sink("webhook", Arc::new(sink(&sim.url(System::Notify))));
    notifier.notify(&alert()).await.unwrap();
    let got = sim
        .control()
        .wait_for_notifications(1, Duration::from_secs(5))
        .await
        .unwrap();
    let note = &got[0];
    for h in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        assert!(note.headers.contains_key(h), "{h} in {:?}", note.headers);
    }
    assert!(note.headers["webhook-signature"].starts_with("v1,"));
    assert_eq!(note.body["count"], 42);
    assert_eq!(note.body["sample_dlq_ids"][1], "dlq-2");
}

#[tokio::test]
async fn alerts_are_signed_over_the_bytes_sent_and_failures_reported() {
    // A receiver of our own, to check the signature over the exact bytes.
    let received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let sink_state = received.clone();
    let app = axum::Router::new().route(
        "/alerts",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let r = sink_state.clone();
            async move {
                r.lock().unwrap().push((headers, body));
                http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let notifier = SupervisorNotifier::default().with_sink("webhook", Arc::new(sink(&format!("http://{addr}/alerts"))));
    notifier.notify(&alert()).await.unwrap();
    let (headers, body) = received.lock().unwrap()[0].clone();
    let h = |n: &str| headers.get(n).unwrap().to_str().unwrap().to_owned();
    let keys = WebhookKeys::parse([DEFAULT_WEBHOOK_SECRET]).unwrap();
    let ts: i64 = h("webhook-timestamp").parse().unwrap();
    keys.verify(
        &h("webhook-id"),
        &h("webhook-timestamp"),
        &h("webhook-signature"),
        &body,
        ts,
    )
    .unwrap();
    let sent: Alert = serde_json::from_slice(&body).unwrap();
    assert_eq!(sent, alert_with_times(&sent));
    // A sink that refuses: reported as an error (the log line and metric still happen).
    let missing = SupervisorNotifier::default().with_sink("webhook", Arc::new(sink(&format!("http://{addr}/nowhere"))));
    assert!(missing.notify(&alert()).await.is_err());
}

fn alert_with_times(sent: &Alert) -> Alert {
    Alert {
        first_at: sent.first_at,
        last_at: sent.last_at,
        ..alert()
    }
}
