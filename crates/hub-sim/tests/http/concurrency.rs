//! Concurrency: many clients at once, keyed writes never duplicated, connections kept alive.

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hub_sim::{EffectFilter, EffectKind, FaultKind, FaultRule, RequestFilter, System};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::support::{JSON, send, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_keyed_creates_make_one_ticket_per_key() {
    let sim = start().await;
    let url = format!("{}/tickets", sim.url(System::Generic));
    let mut tasks = Vec::new();
    for i in 0..200 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let key = format!("key-{}", i % 10);
            let body = format!(r#"{{"subject":"ticket for {key}"}}"#);
            let headers = [
                ("x-api-key", "sim-generic-key"),
                JSON,
                ("idempotency-key", key.as_str()),
            ];
            send("POST", &url, &headers, body.as_bytes()).await.unwrap().status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
    let created = sim.control().effects(&EffectFilter::kind(EffectKind::TicketCreated));
    assert_eq!(created.len(), 10, "one ticket per key");
    let recorded = sim.control().requests(&RequestFilter {
        system: Some(System::Generic),
        ..Default::default()
    });
    assert_eq!(recorded.len(), 200, "every request is in the ledger");
}

#[tokio::test]
async fn connections_are_kept_alive_until_a_reset() {
    let sim = start().await;
    let stream = TcpStream::connect(sim.addr()).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let request = || {
        Request::get("/generic/tickets/TCK-1001")
            .header("host", sim.addr().to_string())
            .header("x-api-key", "sim-generic-key")
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    for _ in 0..5 {
        let r = sender.send_request(request()).await.unwrap();
        assert_eq!(r.status(), 200);
        r.into_body().collect().await.unwrap();
    }
    sim.control()
        .add_fault(FaultRule::new(FaultKind::Reset).system(System::Generic).times(1))
        .unwrap();
    assert!(sender.send_request(request()).await.is_err());
    let fresh = send(
        "GET",
        &format!("{}/tickets/TCK-1001", sim.url(System::Generic)),
        &[("x-api-key", "sim-generic-key")],
        b"",
    )
    .await;
    assert_eq!(fresh.unwrap().status, 200);
}
