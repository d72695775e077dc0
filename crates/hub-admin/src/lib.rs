//! The supervisor's page `/admin`: server-rendered HTML over the dead-letter queue, the
//! audit trail and the circuits, as an axum [`Router`] over a [`hub_app::Hub`].
//!
//! It is signed into with an admin token through a form and then uses a session cookie,
//! not a bearer header, so its routes have a table of their own ([`ROUTES`]): a session
//! layer checks them against it (fail closed), and the server that mounts the page reads
//! it for its `405` answers and route labels. Everything the page needs comes in a
//! [`Page`]: the hub, the accepted tokens, the sessions, the sign-in throttle, the error
//! rates, the circuits, and how to read a request's call context. It knows no server:
//!
//! ```
//! # fn mount(page: hub_admin::Page) -> axum::Router {
//! axum::Router::new().merge(hub_admin::router(page))
//! # }
//! ```

pub mod cookie;
pub mod csrf;
pub mod headers;
pub mod render;
mod routes;

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::http::{Extensions, Method};
use axum::middleware;
use axum::routing::{get, post};
use hub_app::callers::{Authenticator, Role, RouteRule, role_in};
use hub_app::health::{BudgetStates, CircuitStates};
pub use hub_app::supervisor::{
    SessionSettings, Sessions, Throttle, ThrottleSettings, random, sessions as session, throttle,
};
use hub_app::{ErrorRates, Hub};
use hub_core::CallContext;

/// Reads the call context (request and conversation ids) the server put in a request's
/// extensions; `None` if it put none there.
pub type ContextOf = fn(&Extensions) -> Option<CallContext>;

/// What the page runs over.
#[derive(Clone)]
pub struct Page {
    /// The use cases (dead letters, replay, the audit trail).
    pub hub: Hub,
    /// The accepted tokens: an admin token signs in.
    pub auth: Arc<Authenticator>,
    /// The signed-in sessions (in memory, or the shared store so that every instance on
    /// the same database shares a sign-in).
    pub sessions: Arc<Sessions>,
    /// Failed sign-ins, per client address and per account (this instance's memory).
    pub throttle: Arc<Throttle>,
    /// Each adapter's recent outcomes.
    pub error_rates: Arc<ErrorRates>,
    /// Each adapter's circuit state.
    pub circuits: Arc<dyn CircuitStates>,
    /// Each adapter's rate budget.
    pub budgets: Arc<dyn BudgetStates>,
    /// The call context of a request (a replay carries it to the upstream and the audit).
    pub context: ContextOf,
}

impl fmt::Debug for Page {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Page").field("auth", &self.auth).finish_non_exhaustive()
    }
}

const fn rule(method: &'static str, path: &'static str, role: Option<Role>) -> RouteRule {
    RouteRule::new(method, path, role)
}

/// Every route of the page; `Some(Role::Admin)` means a signed-in session is needed,
/// `None` that the route is open (the page itself shows the sign-in form when signed out).
pub const ROUTES: &[RouteRule] = &[
    rule("GET", "/admin", None),
    rule("POST", "/admin/login", None),
    rule("GET", "/admin/admin.js", None),
    rule("GET", "/admin/admin.css", None),
    rule("POST", "/admin/logout", Some(Role::Admin)),
    rule("GET", "/admin/fragment", Some(Role::Admin)),
    rule("POST", "/admin/dlq/{id}/replay", Some(Role::Admin)),
    rule("POST", "/admin/dlq/{id}/discard", Some(Role::Admin)),
];

/// The session a route of [`ROUTES`] needs; a route missing from it needs an admin session.
///
/// ```
/// use axum::http::Method;
/// use hub_app::Role;
/// use hub_admin::required_role;
/// assert_eq!(required_role(&Method::GET, "/admin"), None);
/// assert_eq!(required_role(&Method::HEAD, "/admin/fragment"), Some(Role::Admin));
/// assert_eq!(required_role(&Method::POST, "/admin/unlisted"), Some(Role::Admin));
/// ```
pub fn required_role(method: &Method, path: &str) -> Option<Role> {
    role_in(ROUTES, method.as_str(), path)
}

/// The page's routes over `page`, with the session check and the security headers, for
/// any router state: merge it into the server's router beside the API (outside any
/// bearer-token layer; add the server's own route layers, e.g. metrics labels, to it).
pub fn router<S: Clone + Send + Sync + 'static>(page: Page) -> Router<S> {
    let page = Arc::new(page);
    Router::new()
        .route("/admin", get(routes::page))
        .route("/admin/login", post(routes::login))
        .route("/admin/admin.js", get(routes::script))
        .route("/admin/admin.css", get(routes::stylesheet))
        .route("/admin/logout", post(routes::logout))
        .route("/admin/fragment", get(routes::fragment))
        .route("/admin/dlq/{id}/replay", post(routes::replay))
        .route("/admin/dlq/{id}/discard", post(routes::discard))
        .route_layer(middleware::from_fn_with_state(page.clone(), routes::require_session))
        .layer(middleware::from_fn(headers::layer))
        .with_state(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_under_admin_and_only_the_entry_points_are_open() {
        for r in ROUTES {
            assert!(r.path == "/admin" || r.path.starts_with("/admin/"), "{r:?}");
            let open = matches!(
                r.path,
                "/admin" | "/admin/login" | "/admin/admin.js" | "/admin/admin.css"
            );
            assert_eq!(r.role.is_none(), open, "{r:?}");
        }
    }
}
