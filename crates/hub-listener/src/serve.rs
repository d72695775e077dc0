//! The accept loop: HTTP/1.1 and HTTP/2 (cleartext, prior knowledge) connections on one
//! port with header, body and idle timeouts and a connection limit, until a shutdown
//! signal; then stop accepting and let in-flight requests finish within a grace period.
//!
//! The loop is its own rather than `axum::serve`, which sets no timer on its connections:
//! a client sending its headers one byte a minute (slowloris), or its body that way, or
//! holding an idle keep-alive connection, kept a connection and its task forever. hyper's
//! HTTP/2 server has no header read timeout, so every connection also has an idle timer
//! of its own: one that has carried no request for the header read timeout (or has not
//! sent its first bytes by then) is shut down gracefully, and closed if it still lingers
//! one more timeout later (a client that never answers the HTTP/2 shutdown's ping).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use std::convert::Infallible;

use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::{Service, ServiceExt as _};

use crate::body::ReadDeadline;
use crate::idle::Activity;

/// How serving ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every in-flight request finished.
    Drained,
    /// The grace period ran out with requests still running; they were abandoned.
    GraceExpired,
}

/// How connections are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeSettings {
    /// How long in-flight requests may run after the shutdown signal.
    pub grace: Duration,
    /// The longest a client may take to send a request's headers; also how long an idle
    /// keep-alive connection is kept (the wait for the next request's headers).
    pub header_read_timeout: Duration,
    /// The longest a client may take to send a request's body, counted from its headers.
    pub body_read_timeout: Duration,
    /// At most this many client connections at once; one more is closed as soon as it is
    /// accepted, so clients cannot take the descriptors the hub needs for its upstreams
    /// and stores.
    pub max_connections: usize,
}

impl Default for ServeSettings {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 10_000,
        }
    }
}

/// Serves `router` (an axum `Router`, or any service of axum's request and response) on `listener` until `shutdown` completes; then stops accepting, calls
/// `draining` (to tell long-lived connections such as WebSockets, which the drain does not
/// wait for, to close) and waits at most `settings.grace` for every connection to end.
/// Every request carries its connection's peer address as axum's `ConnectInfo`.
pub async fn serve<S>(
    listener: TcpListener,
    router: S,
    shutdown: impl Future<Output = ()> + Send + 'static,
    settings: ServeSettings,
    draining: impl FnOnce() + Send,
) -> std::io::Result<Stopped>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    // Each connection holds a receiver of `open`: once all are dropped, every connection is closed.
    let (open, open_rx) = watch::channel(());
    let (drain, drain_rx) = watch::channel(false);
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match Arc::clone(&slots).try_acquire_owned() {
                    Ok(slot) => spawn_connection((stream, peer), router.clone(), settings, drain_rx.clone(), (open_rx.clone(), slot)),
                    Err(_) => {
                        // Closed at once: the client learns now rather than waiting in the backlog.
                        drop(stream);
                        metrics::counter!("integration_connections_refused_total").increment(1);
                        tracing::debug!(max = settings.max_connections, "connection limit reached: closed a new connection");
                    }
                },
                Err(e) if is_connection_error(&e) => {}
                Err(e) => {
                    // Out of file descriptors, most likely: wait for connections to close.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            },
        }
    }
    drop(listener);
    draining();
    drain.send_replace(true);
    drop(open_rx);
    tracing::info!(
        grace_s = settings.grace.as_secs_f64(),
        "no longer accepting; draining in-flight requests"
    );
    let outcome = match tokio::time::timeout(settings.grace, open.closed()).await {
        Ok(()) => Stopped::Drained,
        Err(_) => {
            tracing::warn!("grace period over: abandoning the requests still running");
            Stopped::GraceExpired
        }
    };
    Ok(outcome)
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}

/// Serves one connection: HTTP/1.1 with upgrades (WebSockets) or HTTP/2 with prior
/// knowledge, whichever the client's first bytes say; the header read timeout on hyper's
/// timer (HTTP/1.1) and on the connection's idle timer (both); each request's body under
/// its deadline; closes gracefully on drain.
fn spawn_connection<S>(
    (stream, peer): (TcpStream, SocketAddr),
    router: S,
    settings: ServeSettings,
    mut drain: watch::Receiver<bool>,
    open: (watch::Receiver<()>, OwnedSemaphorePermit),
) where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    // Small answers go out at once rather than waiting on Nagle's algorithm and the
    // client's delayed ACK (what nginx's `tcp_nodelay on` does). A failure only costs latency.
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "could not set TCP_NODELAY");
    }
    let body_timeout = settings.body_read_timeout;
    let activity = Activity::new();
    let tracked = Arc::clone(&activity);
    // Every request carries its connection's peer address (`ConnectInfo`), which the
    // sign-in throttle counts failures against.
    let service = router
        .map_request(move |req: http::Request<Incoming>| {
            let mut req = req.map(|body| axum::body::Body::new(ReadDeadline::new(body, body_timeout)));
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        })
        .map_future(move |answer| {
            let busy = tracked.enter();
            async move {
                let answer = answer.await;
                drop(busy);
                answer
            }
        });
    let service = TowerToHyperService::new(service);
    tokio::spawn(async move {
        let _open = open;
        let idle_limit = settings.header_read_timeout;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // No header read timer of hyper's: it is armed and cancelled for every request (a
        // twentieth of a cached read's instructions). The connection's own idle timer below
        // bounds the wait for headers instead, once per idle period.
        builder.http1().timer(TokioTimer::new()).header_read_timeout(None);
        builder.http2().timer(TokioTimer::new());
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        tokio::pin!(conn);
        let draining = async move {
            // The guard `wait_for` returns is not Send: drop it at once.
            drop(drain.wait_for(|d| *d).await.map(drop));
        };
        let result = tokio::select! {
            result = conn.as_mut() => result,
            () = draining => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
            () = activity.idle_for(idle_limit) => {
                if activity.carried_any() {
                    // Between requests an HTTP/1.1 connection closes at once when asked
                    // (also while the next request's headers trickle in); HTTP/2 says
                    // GOAWAY first.
                    conn.as_mut().graceful_shutdown();
                    match tokio::time::timeout(idle_limit, conn).await {
                        Ok(result) => result,
                        Err(_) => {
                            tracing::debug!("an idle connection did not close when asked: dropped it");
                            Ok(())
                        }
                    }
                } else {
                    // Nothing ever asked on it (a silent client, or one trickling its first
                    // request's headers): closed at once, as a header read timeout closes it.
                    Ok(())
                }
            }
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, "connection ended with an error");
        }
    });
}
