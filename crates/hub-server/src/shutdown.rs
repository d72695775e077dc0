//! Serving the hub's API: its router on hub-listener's connections; on shutdown the live
//! event subscriptions are told to close, and once drained the audit log is flushed.

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;

pub use hub_listener::{BodyReadTimeout, ServeSettings, Stopped, signal};

use crate::routes::build_router;
use crate::state::AppState;

/// Serves the API on `listener` until `shutdown` completes, then drains for at most
/// `grace` and flushes the audit log (whatever happened to the requests); the read
/// timeouts are [`ServeSettings`]'s defaults.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<Stopped> {
    let settings = ServeSettings {
        grace,
        ..ServeSettings::default()
    };
    serve_with(listener, state, shutdown, settings).await
}

/// [`serve`] with every setting given.
pub async fn serve_with(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    settings: ServeSettings,
) -> std::io::Result<Stopped> {
    let audit = state.hub.services.audit.clone();
    let stopping = state.stopping.clone();
    let router = build_router(state);
    // Live connections are not requests the drain waits for: tell them to close.
    let draining = move || {
        stopping.send_replace(true);
    };
    let outcome = hub_listener::serve(listener, router, shutdown, settings, draining).await?;
    match audit.flush().await {
        Ok(()) => tracing::info!("audit log flushed"),
        Err(e) => tracing::error!(error = %e, "could not flush the audit log"),
    }
    Ok(outcome)
}
