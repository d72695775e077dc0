//! The server's shared state: the application (`hub_app::Hub`), the tokens, the
//! settings and what the HTTP shell keeps of its own.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hub_app::health::{AuditProbe, BudgetStates, CircuitStates, DlqProbe, NoBudgets, NoCircuits, StoreProbe};
use hub_app::{ErrorRates, Hub, WebhookReceiver};
use hub_core::Currency;

use crate::auth::Authenticator;
use crate::events_ws::LiveSettings;
use hub_admin::{Sessions, Throttle};

pub use hub_telemetry::prometheus::{MetricsRender, NoMetrics};

/// The API's tunables (from the `[server]` and `[events]` configuration sections).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSettings {
    /// The currency of drafts that do not name one.
    pub default_currency: Currency,
    /// The largest request body accepted.
    pub body_limit: usize,
    /// The longest `/readyz` waits for one store.
    pub probe_timeout: Duration,
    /// How `/v1/events` connections are run.
    pub live: LiveSettings,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            default_currency: Currency::USD,
            body_limit: 1024 * 1024,
            probe_timeout: Duration::from_secs(2),
            live: LiveSettings::default(),
        }
    }
}

/// Everything a handler needs, behind one `Arc`: axum clones the state for every
/// request and every layer, and one reference count is all that costs.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Replacing a field while the state is built (or in a test) copies the fields first
/// when another clone shares them: each clone keeps what it had, as plain fields would.
impl std::ops::DerefMut for AppState {
    fn deref_mut(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.0)
    }
}

/// What [`AppState`] shares.
#[derive(Clone)]
pub struct Shared {
    /// The use cases, over the ports and services.
    pub hub: Hub,
    /// Each adapter's circuit state.
    pub circuits: Arc<dyn CircuitStates>,
    /// Each adapter's rate budget.
    pub budgets: Arc<dyn BudgetStates>,
    /// The stores `/readyz` checks.
    pub probes: Arc<[Arc<dyn StoreProbe>]>,
    /// `/metrics`.
    pub metrics: Arc<dyn MetricsRender>,
    /// The accepted tokens.
    pub auth: Arc<Authenticator>,
    /// Tunables.
    pub settings: Arc<ApiSettings>,
    /// `POST /webhooks/*`: keys, id memory, caches to invalidate.
    pub webhooks: Arc<WebhookReceiver>,
    /// Set to `true` when the server stops accepting: live connections close (1001).
    pub stopping: Arc<tokio::sync::watch::Sender<bool>>,
    /// Each adapter's recent outcomes (fed by [`hub_app::CountingAudit`]).
    pub error_rates: Arc<ErrorRates>,
    /// The supervisor's page's sessions (in memory until [`AppState::with_sessions`]
    /// puts them in the shared store).
    pub sessions: Arc<Sessions>,
    /// Failed sign-ins to the supervisor's page, per client address and per account
    /// (this instance's memory).
    pub signin_throttle: Arc<Throttle>,
    /// The open `/v1/events` subscriptions, counted against `settings.live.max_subscribers`.
    pub subscribers: Arc<crate::events_ws::Subscribers>,
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("auth", &self.auth)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over `hub`, probing its DLQ and audit stores, with no circuits and no
    /// metrics until set.
    pub fn new(hub: Hub, auth: Authenticator, settings: ApiSettings) -> Self {
        // A shared slice, not a `Vec`: axum clones the state for every request.
        let probes: Arc<[Arc<dyn StoreProbe>]> = Arc::new([
            Arc::new(DlqProbe(hub.services.dlq.clone())) as Arc<dyn StoreProbe>,
            Arc::new(AuditProbe(hub.services.audit.clone())),
        ]);
        Self(Arc::new(Shared {
            hub,
            circuits: Arc::new(NoCircuits),
            budgets: Arc::new(NoBudgets),
            probes,
            metrics: Arc::new(NoMetrics),
            auth: Arc::new(auth),
            settings: Arc::new(settings),
            webhooks: Arc::new(WebhookReceiver::default()),
            stopping: Arc::new(tokio::sync::watch::Sender::new(false)),
            error_rates: Arc::new(ErrorRates::default()),
            sessions: Arc::new(Sessions::new(
                hub_admin::SessionSettings::default(),
                Arc::new(hub_store::MemoryAdminSessions::new(Arc::new(
                    hub_store::clock::SystemClock,
                ))),
            )),
            signin_throttle: Arc::default(),
            subscribers: Arc::default(),
        }))
    }

    /// Replaces the error-rate counts (the ones the audit log feeds).
    #[must_use]
    pub fn with_error_rates(mut self, error_rates: Arc<ErrorRates>) -> Self {
        self.error_rates = error_rates;
        self
    }

    /// Replaces the webhook receiver.
    #[must_use]
    pub fn with_webhooks(mut self, webhooks: Arc<WebhookReceiver>) -> Self {
        self.webhooks = webhooks;
        self
    }

    /// Replaces the circuit-state source.
    #[must_use]
    pub fn with_circuits(mut self, circuits: Arc<dyn CircuitStates>) -> Self {
        self.circuits = circuits;
        self
    }

    /// Replaces the rate-budget source.
    #[must_use]
    pub fn with_budgets(mut self, budgets: Arc<dyn BudgetStates>) -> Self {
        self.budgets = budgets;
        self
    }

    /// Adds a store for `/readyz` to check.
    #[must_use]
    pub fn with_probe(mut self, probe: Arc<dyn StoreProbe>) -> Self {
        self.probes = self.probes.iter().cloned().chain([probe]).collect();
        self
    }

    /// Replaces the metrics renderer.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<dyn MetricsRender>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Keeps the supervisor's page's sessions in `sessions` (the shared SQL store, so
    /// every instance on the same database shares a sign-in).
    #[must_use]
    pub fn with_sessions(mut self, sessions: Arc<Sessions>) -> Self {
        self.sessions = sessions;
        self
    }
}
