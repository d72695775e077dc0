//! Graceful shutdown: stop accepting, finish in-flight requests within the grace, flush the audit log.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hub_server::shutdown::{ServeSettings, Stopped, serve, serve_with};

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
    let gate = Arc::new(hub_core::testing::Gate::default());
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
    assert_eq!(hub.audit.flushes.load(Ordering::SeqCst), 0);
    gate.open();
    let answer = in_flight.await.unwrap().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(task.await.unwrap(), Stopped::Drained);
    assert_eq!(hub.audit.flushes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_grace_period_bounds_the_drain() {
    let hub = Hub::new();
    let gate = Arc::new(hub_core::testing::Gate::default());
    *hub.upstream.gate.lock().unwrap() = Some(gate);
    let (addr, stop, task) = start(&hub, Duration::from_millis(50)).await;
    let _stuck = tokio::spawn(get(addr));
    while hub.upstream.calls() == 0 {
        tokio::task::yield_now().await;
    }
    stop.send(()).unwrap();
    assert_eq!(task.await.unwrap(), Stopped::GraceExpired);
    assert_eq!(hub.audit.flushes.load(Ordering::SeqCst), 1);
}

async fn start_with(
    hub: &Hub,
    settings: ServeSettings,
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
        serve_with(listener, state, async move { drop(rx.await) }, settings)
            .await
            .unwrap()
    });
    (addr, tx, task)
}

/// Everything the server sends until it closes the connection; `None` when it is still
/// open after 10 s (an upper bound far above the timeouts under test).
async fn until_closed(s: &mut tokio::net::TcpStream) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    read.ok().map(|_| String::from_utf8_lossy(&out).into_owned())
}

#[tokio::test]
async fn slow_and_idle_connections_are_cut_off() {
    // Regression: `axum::serve` sets no timer, so a client trickling its headers
    // (slowloris), or connecting and sending nothing, held a connection forever.
    use tokio::io::AsyncWriteExt;
    let hub = Hub::new();
    let settings = ServeSettings {
        header_read_timeout: Duration::from_millis(200),
        ..ServeSettings::default()
    };
    let (addr, stop, task) = start_with(&hub, settings).await;
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: a")
        .await
        .unwrap();
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    // One answered request, then the next one's headers trickle in.
    let mut slow_second = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow_second
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\nGET /healthz HTTP/1.1\r\nx-slow: a")
        .await
        .unwrap();
    assert!(
        until_closed(&mut slow).await.is_some(),
        "a slow header sender is still connected"
    );
    let first = until_closed(&mut slow_second)
        .await
        .expect("a slow sender of its second request's headers is still connected");
    assert_eq!(first.matches("HTTP/1.1 200").count(), 1, "{first}");
    assert!(
        until_closed(&mut silent).await.is_some(),
        "a silent client is still connected"
    );
    let answered = until_closed(&mut idle)
        .await
        .expect("an idle keep-alive connection is still open");
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    stop.send(()).unwrap();
    assert_eq!(task.await.unwrap(), Stopped::Drained);
}

#[tokio::test]
async fn silent_and_idle_http2_connections_are_cut_off() {
    // hyper's HTTP/2 server has no header read timeout: without the connection's own
    // idle timer, a client that stops after (part of) the preface held its connection forever.
    use tokio::io::AsyncWriteExt;
    let hub = Hub::new();
    let settings = ServeSettings {
        header_read_timeout: Duration::from_millis(200),
        ..ServeSettings::default()
    };
    let (addr, stop, task) = start_with(&hub, settings).await;
    // Half the preface: which protocol it speaks is not known yet.
    let mut half = tokio::net::TcpStream::connect(addr).await.unwrap();
    half.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    // The whole preface and an empty SETTINGS frame, then silence (not even the answer
    // to the server's shutdown ping).
    let mut quiet = tokio::net::TcpStream::connect(addr).await.unwrap();
    quiet
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    assert!(
        until_closed(&mut half).await.is_some(),
        "a client that sent half the HTTP/2 preface is still connected"
    );
    assert!(
        until_closed(&mut quiet).await.is_some(),
        "a silent HTTP/2 client is still connected"
    );
    stop.send(()).unwrap();
    assert_eq!(task.await.unwrap(), Stopped::Drained);
}

#[tokio::test]
async fn connections_beyond_the_limit_are_closed_until_one_ends() {
    // Regression: nothing bounded the client connections, so clients could take every
    // descriptor the hub needs for its upstreams and stores.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let hub = Hub::new();
    let settings = ServeSettings {
        max_connections: 2,
        ..ServeSettings::default()
    };
    let (addr, stop, task) = start_with(&hub, settings).await;
    // Two silent connections hold both places (the header timeout is 30 s).
    let first = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut second = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = third.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert_eq!(
        until_closed(&mut third).await.as_deref(),
        Some(""),
        "a connection past the limit is closed unanswered"
    );
    // One ends: its place is free again.
    drop(first);
    let mut answered = None;
    for _ in 0..200 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        if s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .is_ok()
            && let Some(out) = until_closed(&mut s).await
            && !out.is_empty()
        {
            answered = Some(out);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let answered = answered.expect("no connection was served after one ended");
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    // The second connection was held all along, and is served.
    second
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    second.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    stop.send(()).unwrap();
    assert_eq!(task.await.unwrap(), Stopped::Drained);
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_answered_408() {
    // Regression: a client sending its headers and then its body a byte at a time, or not
    // at all, held a handler waiting forever.
    use tokio::io::AsyncWriteExt;
    let hub = Hub::new();
    let settings = ServeSettings {
        body_read_timeout: Duration::from_millis(200),
        ..ServeSettings::default()
    };
    let (addr, stop, task) = start_with(&hub, settings).await;
    for (path, auth) in [
        ("/v1/tickets", format!("authorization: Bearer {WRITE}\r\n")),
        ("/webhooks/ticket_updated", String::new()),
    ] {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("POST {path} HTTP/1.1\r\nhost: x\r\n{auth}content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"cust")
                .as_bytes(),
        )
        .await
        .unwrap();
        let answer = until_closed(&mut s).await.expect("still waiting for the body");
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(answer.contains("\"code\":\"invalid_body\""), "{path}: {answer}");
        assert!(answer.contains("not received within"), "{path}: {answer}");
    }
    assert_eq!(hub.upstream.calls(), 0);
    stop.send(()).unwrap();
    assert_eq!(task.await.unwrap(), Stopped::Drained);
}

#[tokio::test]
async fn a_connection_stays_usable_after_a_post_refused_before_its_body_was_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let hub = Hub::new();
    let (addr, stop, task) = start_with(&hub, ServeSettings::default()).await;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut answers = String::new();
    for _ in 0..3 {
        s.write_all(b"POST /v1/dlq/x/discard HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}")
            .await
            .unwrap();
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("no answer")
            .unwrap();
        answers.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert_eq!(answers.matches("HTTP/1.1 401").count(), 3, "{answers}");
    drop(s);
    stop.send(()).unwrap();
    assert_eq!(task.await.unwrap(), Stopped::Drained);
}

/// One HTTP/1.1 exchange over a connection from `from` (a loopback address): status and answer.
async fn exchange(addr: std::net::SocketAddr, from: std::net::IpAddr, request: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(std::net::SocketAddr::new(from, 0)).unwrap();
    let mut s = socket.connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, out)
}

/// Signs in to the page with `token` from `from`: the status of the form's post.
async fn sign_in_from(addr: std::net::SocketAddr, from: std::net::IpAddr, token: &str) -> u16 {
    let (_, page) = exchange(
        addr,
        from,
        "GET /admin HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    let marker = "name=\"login\" value=\"";
    let start = page.find(marker).unwrap() + marker.len();
    let nonce = page[start..].split('"').next().unwrap();
    let body = format!("login={nonce}&token={token}");
    let request = format!(
        "POST /admin/login HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncookie: hub_admin_login={nonce}\r\n\
         content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    exchange(addr, from, &request).await.0
}

/// The hub's own accept loop gives each request its peer address, so the sign-in
/// throttle counts one client's failures against that client only.
#[tokio::test]
async fn sign_in_failures_count_against_the_connections_peer_address() {
    let hub = Hub::new();
    let (addr, stop, task) = start(&hub, Duration::from_secs(5)).await;
    let (one, two) = ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap());
    let limit = hub_admin::ThrottleSettings::default().max_failures;
    for i in 0..limit {
        assert_eq!(sign_in_from(addr, one, &format!("canary-guess-{i}")).await, 401);
    }
    assert_eq!(sign_in_from(addr, one, ADMIN).await, 429);
    assert_eq!(
        sign_in_from(addr, two, "canary-guess-x").await,
        401,
        "another client is not throttled"
    );
    assert_eq!(sign_in_from(addr, two, ADMIN).await, 303);
    stop.send(()).unwrap();
    task.await.unwrap();
}
