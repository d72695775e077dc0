//! The server's state around the composed hub ([`hub_runtime::compose()`]): the API's
//! tokens, the webhook receiver, the supervisor's sessions, the probes and the metrics.

use std::sync::Arc;

use hub_app::health::CacheProbe;
use hub_config::Config;
use hub_core::{EventPublisher, SecretSource};
use hub_runtime::{Caches, ComposeError, Composed, Tasks};
use hub_store::Stores;
use hub_upstream::Endpoint;

use crate::answer::HttpAnswers;
use crate::state::AppState;

/// The assembled hub: what to serve, and what to close on shutdown.
pub struct Hub {
    /// The state the router serves.
    pub state: AppState,
    /// The stores (flushed and closed on shutdown).
    pub stores: Arc<Stores>,
    /// The read caches.
    pub caches: Caches,
    /// Each adapter's endpoint (circuit states, tests).
    pub endpoints: Vec<Arc<Endpoint>>,
    tasks: Tasks,
}

impl Hub {
    /// Stops the background tasks, flushes the audit log and closes the stores.
    pub async fn shutdown(&self) {
        self.tasks.abort();
        if let Err(e) = self.stores.shutdown().await {
            tracing::error!(error = %e, "closing the stores");
        }
    }
}

/// Assembles the hub from its configuration, the `[store]` section and the secrets layer,
/// with the stores' own event bus (in-process, or on Redis when `redis_url` is set, so
/// events reach `/v1/events` subscribers on every instance). What `hub-server` serves.
pub async fn assemble(
    config: &Config,
    store: toml::Table,
    secrets: Arc<dyn SecretSource>,
) -> Result<Hub, ComposeError> {
    assemble_with(config, store, secrets, None).await
}

/// [`assemble`] with another event bus instead of the stores' own (tests).
pub async fn build(
    config: &Config,
    store: toml::Table,
    secrets: Arc<dyn SecretSource>,
    events: Arc<dyn EventPublisher>,
) -> Result<Hub, ComposeError> {
    assemble_with(config, store, secrets, Some(events)).await
}

async fn assemble_with(
    config: &Config,
    store: toml::Table,
    secrets: Arc<dyn SecretSource>,
    events: Option<Arc<dyn EventPublisher>>,
) -> Result<Hub, ComposeError> {
    let composed = hub_runtime::compose(config, store, secrets.clone(), Arc::new(HttpAnswers), events).await?;
    let auth = hub_runtime::authenticator(config, secrets.as_ref()).await?;
    let webhooks = hub_runtime::webhook_receiver(config, secrets.as_ref(), &composed).await?;
    let mut state = AppState::new(composed.app.clone(), auth, crate::settings::api_settings(config))
        .with_circuits(composed.circuits())
        .with_budgets(composed.budgets.clone())
        .with_error_rates(composed.error_rates.clone())
        .with_sessions(Arc::new(hub_admin::Sessions::new(
            hub_admin::SessionSettings::default(),
            composed.stores.admin_sessions.clone(),
        )))
        .with_probe(Arc::new(CacheProbe(composed.cache_store.clone())))
        .with_webhooks(Arc::new(webhooks));
    if let Some(handle) = hub_telemetry::prometheus::handle() {
        state = state.with_metrics(Arc::new(move || handle.render()));
    }
    let tasks = composed.spawn_tasks();
    let Composed {
        stores,
        caches,
        endpoints,
        ..
    } = composed;
    Ok(Hub {
        state,
        stores,
        caches,
        endpoints,
        tasks,
    })
}
