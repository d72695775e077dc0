//! One module per simulated system, each adding its routes under its own path prefix.

pub(crate) mod generic;
pub(crate) mod jira;
pub(crate) mod notify;
pub(crate) mod sales;
pub(crate) mod transactions;
pub(crate) mod vault;
pub(crate) mod zendesk;
pub(crate) mod zendesk_oauth;

use std::sync::Arc;

use axum::Router;

use crate::state::SimState;

/// The router of every simulated system.
pub(crate) fn routes() -> Router<Arc<SimState>> {
    let router = Router::new();
    let router = generic::routes(router);
    let router = zendesk::routes(router);
    let router = zendesk_oauth::routes(router);
    let router = jira::routes(router);
    let router = transactions::routes(router);
    let router = sales::routes(router);
    let router = vault::routes(router);
    notify::routes(router)
}

/// A route path under a system's prefix.
pub(crate) fn at(system: crate::System, path: &str) -> String {
    format!("{}{path}", system.prefix())
}
