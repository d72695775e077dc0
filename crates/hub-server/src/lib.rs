//! The Integration Hub server: the hub's HTTP API over hub-app's use cases, its security
//! and idempotency headers, the supervisor's page mounted from `hub-admin`, and the hub
//! composed by `hub-runtime` served with read timeouts and a graceful drain.
//!
//! Compose an [`AppState`] from `Arc<dyn Port>`s, then serve it with
//! [`shutdown::serve`] (the router with read timeouts, a connection limit and a
//! graceful drain; [`build_router`] alone gives the bare router, without them):
//!
//! ```no_run
//! # async fn run(state: hub_server::AppState) -> std::io::Result<()> {
//! use std::time::Duration;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! hub_server::shutdown::serve(listener, state, hub_server::shutdown::signal(), Duration::from_secs(30)).await?;
//! # Ok(())
//! # }
//! ```

pub mod answer;
pub mod auth;
pub mod conditional;
pub mod correlation;
pub mod edge;
pub mod events_ws;
pub mod extract;
pub mod http_metrics;
pub mod idempotency;
pub mod openapi;
pub mod problem;
pub mod request_headers;
pub mod routes;
pub mod settings;
pub mod shutdown;
pub mod state;
pub mod wire;
pub mod wiring;

pub use auth::{Authenticator, Role};
pub use hub_app::health::{CircuitState, CircuitStates, StoreProbe};
pub use hub_app::{Ports, Services};
pub use routes::build_router;
pub use state::{ApiSettings, AppState, MetricsRender};
