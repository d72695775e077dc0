//! Graceful shutdown: stop accepting, finish in-flight requests within the grace, flush the audit log.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hub_server::shutdown::{Stopped, serve};

use crate::support::*;

async fn start(
    hub: &Hub,
    grace: Duration,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Stopped>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let state = hub.state.clone();
    let task = tokio::spawn(async move {
        serve(listener, state, async move { drop(rx.await) }, grace)
            .await
            .unwrap()
    });
    (addr, tx, task)
}

async fn get(addr: std::net::SocketAddr) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(
        format!("GET /v1/tickets/T-1 HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {READ}\r\nconnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    Ok(out)
}

#[tokio::test]
async fn in_flight_requests_finish_and_the_audit_log_is_flushed() {
    let hub = Hub::new();
    let gate = Arc::new(tokio::sync::Notify::new());
    *hub.upstream.gate.lock().unwrap() = Some(gate.clone());
    let (addr, stop, task) = start(&hub, Duration::from_secs(30)).await;
    let in_flight = tokio::spawn(get(addr));
    while hub.upstream.calls() == 0 {
        tokio::task::yield_now().await;
    }
    stop.send(()).unwrap();
    // New connections are refused once the listener is closed.
    let mut refused = false;
    for _ in 0..10_000 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(refused, "the listener still accepts after the signal");
    assert_eq!(hub.audit.flushed.load(Ordering::SeqCst), 0);
    gate.notify_one();
    let answer = in_flight.await.unwrap().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(task.await.unwrap(), Stopped::Drained);
    assert_eq!(hub.audit.flushed.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_grace_period_bounds_the_drain() {
    let hub = Hub::new();
    let gate = Arc::new(tokio::sync::Notify::new());
    *hub.upstream.gate.lock().unwrap() = Some(gate);
    let (addr, stop, task) = start(&hub, Duration::from_millis(50)).await;
    let _stuck = tokio::spawn(get(addr));
    while hub.upstream.calls() == 0 {
        tokio::task::yield_now().await;
    }
    stop.send(()).unwrap();
    assert_eq!(task.await.unwrap(), Stopped::GraceExpired);
    assert_eq!(hub.audit.flushed.load(Ordering::SeqCst), 1);
}
