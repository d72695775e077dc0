//! Simulated external systems (ticketing, Zendesk, Jira, transactions, sales, Vault, notifications) over real HTTP.
//!
//! One server serves every system under its own path prefix ([`System::prefix`]), with a
//! control API under `/_sim/` for faults, the ledger, webhooks, reset and the clock. Tests
//! start it in-process:
//!
//! ```
//! use hub_sim::{EffectFilter, EffectKind, FaultKind, FaultRule, Sim, SimConfig, System};
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let sim = Sim::start(SimConfig::default()).await.unwrap();
//! let zendesk_base_url = sim.url(System::Zendesk); // http://127.0.0.1:PORT/zendesk
//! sim.control()
//!     .add_fault(FaultRule::new(FaultKind::Error).system(System::Zendesk).times(1))
//!     .unwrap();
//! // ... drive the hub against `zendesk_base_url` ...
//! let created = sim.control().effects(&EffectFilter::kind(EffectKind::TicketCreated));
//! assert!(created.is_empty());
//! # let _ = zendesk_base_url;
//! # }
//! ```

mod auth;
mod client;
mod clock;
mod config;
mod conn;
mod control;
mod control_http;
mod faults;
mod idempotency;
mod info;
mod intercept;
mod ledger;
mod oauth;
mod payments;
mod rate_limits;
mod reply;
mod server;
pub mod signature;
mod state;
mod system;
mod systems;
mod webhooks;

use std::sync::Arc;

use axum::Router;

pub use client::ClientError;
pub use config::{Credentials, Settings, SimConfig};
pub use control::{Control, WaitTimeout};
pub use faults::{ActiveFault, FaultKind, FaultRule, InvalidFault};
pub use ledger::{EffectFilter, EffectKind, EffectRecord, RequestFilter, RequestRecord, TokenCounters, TokenCounts};
pub use rate_limits::{ActiveRateLimit, RateLimit, RateStyle};
pub use server::{Sim, SimHandle, StartError};
pub use system::{System, UnknownSystem};
pub use systems::notify::Notification;
pub use webhooks::{DEFAULT_WEBHOOK_SECRET, Tamper, WebhookDelivery, WebhookError, WebhookEvent, WebhookRequest};

/// The whole application: every system behind the fault and ledger middleware, plus `/_sim/`.
fn app(state: Arc<SimState>) -> Router {
    let systems = systems::routes()
        .fallback(intercept::fallback)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            intercept::intercept,
        ))
        .with_state(Arc::clone(&state));
    systems.merge(control_http::routes(Control::new(state)))
}

use state::SimState;
