//! Webhooks out: Standard Webhooks signatures verified by a tiny receiver, tampering, redelivery.

use std::convert::Infallible;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use hub_sim::{DEFAULT_WEBHOOK_SECRET, System, Tamper, WebhookRequest};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::support::{call, start, token};

/// Starts a receiver that records every request and answers 204.
async fn receiver() -> (String, mpsc::UnboundedReceiver<(HeaderMap, Bytes)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/transaction_updated", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let tx = tx.clone();
                    async move {
                        let headers = req.headers().clone();
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        tx.send((headers, body)).unwrap();
                        let mut resp = Response::new(Full::new(Bytes::new()));
                        *resp.status_mut() = http::StatusCode::NO_CONTENT;
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (url, rx)
}

/// Verifies a Standard Webhooks signature independently of hub-sim's code.
fn verifies(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let h = |n: &str| headers.get(n).unwrap().to_str().unwrap().to_owned();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", h("webhook-id"), h("webhook-timestamp")).as_bytes());
    mac.update(body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    h("webhook-signature").split(' ').any(|s| s == expected)
}

#[tokio::test]
async fn signed_deliveries_and_tampering() {
    let sim = start().await;
    let (url, mut rx) = receiver().await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let mut req = WebhookRequest::transaction_updated(&url, "TXN-5002", "completed");
    req.secret = secret.to_owned();
    req.data["customer_id"] = "CUST-1001".into();
    let delivery = sim.control().send_webhook(req.clone()).await.unwrap();
    assert_eq!(delivery.status, 204);
    assert!(delivery.applied);
    let (headers, body) = rx.recv().await.unwrap();
    assert!(verifies(secret, &headers, &body));
    let sent: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(sent["transaction_id"], "TXN-5002");
    assert_eq!(sent["status"], "completed");
    assert_eq!(sent["customer_id"], "CUST-1001");
    assert!(sent["updated_at"].is_string());
    let ts: i64 = headers["webhook-timestamp"].to_str().unwrap().parse().unwrap();
    assert!((ts - crate::support::now_unix()).abs() < 60);

    // The change was applied: the status system now reports it.
    let t = format!("Bearer {}", token(&sim, System::Status).await);
    let read = call(
        "GET",
        &format!("{}/transactions/TXN-5002", sim.url(System::Status)),
        &[("authorization", &t)],
        b"",
    )
    .await;
    assert_eq!(read.json()["status"], "completed");

    let mut bad = req.clone();
    bad.tamper = Some(Tamper::BadSignature);
    sim.control().send_webhook(bad).await.unwrap();
    let (headers, body) = rx.recv().await.unwrap();
    assert!(!verifies(secret, &headers, &body));

    let mut stale = req.clone();
    stale.tamper = Some(Tamper::StaleTimestamp);
    let stale_delivery = sim.control().send_webhook(stale).await.unwrap();
    let (headers, body) = rx.recv().await.unwrap();
    assert!(verifies(secret, &headers, &body), "correctly signed, just old");
    let ts: i64 = headers["webhook-timestamp"].to_str().unwrap().parse().unwrap();
    assert!(crate::support::now_unix() - ts > 300);

    let mut repeat = req.clone();
    repeat.repeat_last_id = true;
    let again = sim.control().send_webhook(repeat).await.unwrap();
    let (headers, _) = rx.recv().await.unwrap();
    assert_eq!(headers["webhook-id"].to_str().unwrap(), again.id);
    assert_eq!(again.id, stale_delivery.id, "a redelivery reuses the previous id");
    assert_ne!(delivery.id, stale_delivery.id);
}

#[tokio::test]
async fn webhooks_over_the_control_api() {
    let sim = start().await;
    let (url, mut rx) = receiver().await;
    let body = serde_json::json!({
        "url": url,
        "event": "ticket.updated",
        "data": {"ticket_id": "SUP-1", "status": "In Progress"},
        "system": "jira",
        "id": "msg_fixed",
    });
    let r = call(
        "POST",
        &format!("{}/_sim/webhooks", sim.base_url()),
        &[crate::support::JSON],
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.json()["id"], "msg_fixed");
    assert_eq!(r.json()["applied"], true);
    let (headers, body) = rx.recv().await.unwrap();
    assert_eq!(headers["webhook-id"], "msg_fixed");
    assert!(verifies(DEFAULT_WEBHOOK_SECRET, &headers, &body));
    let issue = call(
        "GET",
        &format!("{}/rest/api/3/issue/SUP-1", sim.url(System::Jira)),
        &[(
            "authorization",
            &crate::support::basic("agent@example.com", "sim-jira-token"),
        )],
        b"",
    )
    .await
    .json();
    assert_eq!(issue["fields"]["status"]["statusCategory"]["key"], "indeterminate");

    let nowhere = serde_json::json!({"url": "http://127.0.0.1:1/x", "event": "transaction.updated", "data": {"transaction_id": "TXN-5001", "status": "failed"}});
    let r = call(
        "POST",
        &format!("{}/_sim/webhooks", sim.base_url()),
        &[crate::support::JSON],
        nowhere.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 502);
    let bad = serde_json::json!({"url": url, "secret": "whsec_!!", "event": "transaction.updated", "data": {}});
    let r = call(
        "POST",
        &format!("{}/_sim/webhooks", sim.base_url()),
        &[crate::support::JSON],
        bad.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 422);
}
