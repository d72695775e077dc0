//! Integration Hub's composition: a [`hub_app::Hub`] built from a `hub_config`
//! configuration — the stores, the adapters over their resilient endpoints with their
//! credentials from the secrets layer, the read caches and their invalidation, the
//! supervisor's notifier, the API tokens and the webhook keys — and the background tasks
//! a running hub keeps. No HTTP serving: the server, a command line or a queue consumer
//! calls [`compose()`] and gets the same hub.
//!
//! ```no_run
//! # async fn run(loaded: hub_config::Loaded, secrets: std::sync::Arc<dyn hub_core::SecretSource>) -> Result<(), hub_runtime::ComposeError> {
//! let composed = hub_runtime::compose(
//!     &loaded.config,
//!     loaded.store_section(),
//!     secrets,
//!     std::sync::Arc::new(hub_app::PlainAnswers),
//!     None,
//! )
//! .await?;
//! let filter = hub_core::DlqFilter { limit: 50, ..Default::default() };
//! let pending = composed.app.dead_letters(&filter).await;
//! composed.close().await;
//! # let _ = pending;
//! # Ok(())
//! # }
//! ```

pub mod budgets;
pub mod compose;
pub mod notify;
pub mod probe;
pub mod secrets;
pub mod settings;
pub mod traces;

pub use compose::{
    Caches, ComposeError, Composed, Tasks, compose, jira_create_fields, ticketing_endpoint, webhook_receiver,
};
pub use notify::WebhookSink;
pub use secrets::{ResolveError, authenticator, check_secrets};
