//! Serving until a shutdown signal: stop accepting, let in-flight requests finish within
//! a grace period, then flush the audit writer.

use std::future::{Future, IntoFuture};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::routes::build_router;
use crate::state::AppState;

/// How serving ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every in-flight request finished.
    Drained,
    /// The grace period ran out with requests still running; they were abandoned.
    GraceExpired,
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
pub async fn signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received: shutting down"),
        () = term => tracing::info!("SIGTERM received: shutting down"),
    }
}

/// Serves the API on `listener` until `shutdown` completes, then drains for at most
/// `grace` and flushes the audit log (whatever happened to the requests).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<Stopped> {
    let audit = state.services.audit.clone();
    let stopping = state.stopping.clone();
    let (tx, mut rx) = watch::channel(false);
    let server = axum::serve(listener, build_router(state))
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Live connections are not requests the drain waits for: tell them to close.
            stopping.send_replace(true);
            let _ = tx.send(true);
        })
        .into_future();
    tokio::pin!(server);
    let stopping = async move {
        // The guard `wait_for` returns is not Send: drop it at once.
        drop(rx.wait_for(|stopping| *stopping).await.map(drop));
    };
    let outcome = tokio::select! {
        result = &mut server => result.map(|()| Stopped::Drained),
        () = stopping => {
            tracing::info!(grace_s = grace.as_secs_f64(), "no longer accepting; draining in-flight requests");
            match tokio::time::timeout(grace, &mut server).await {
                Ok(result) => result.map(|()| Stopped::Drained),
                Err(_) => {
                    tracing::warn!("grace period over: abandoning the requests still running");
                    Ok(Stopped::GraceExpired)
                }
            }
        }
    };
    match audit.flush().await {
        Ok(()) => tracing::info!("audit log flushed"),
        Err(e) => tracing::error!(error = %e, "could not flush the audit log"),
    }
    outcome
}
