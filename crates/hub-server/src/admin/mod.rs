//! The supervisor's page `/admin`: server-rendered HTML over the DLQ, the audit trail and the circuits.
//!
//! It is signed into with an admin token through a form and then uses a session cookie,
//! not the bearer header, so its routes have a table of their own ([`ROUTES`]) beside
//! [`crate::auth::ROUTES`]: the router mounts them outside the bearer-token layer, a
//! session layer checks them against this table (fail closed, like the bearer table), and
//! the 405 answer reads both tables. They are not in `/openapi.json`, which describes the
//! JSON API. See docs/decisions.md ("hub-server: the supervisor's page").

pub mod cookie;
pub mod csrf;
pub mod headers;
pub mod render;
mod routes;

use axum::Router;
use axum::http::Method;
use axum::middleware;
use axum::routing::{get, post};

use crate::auth::{Role, RouteRule, role_in};
use crate::state::AppState;
pub use hub_app::supervisor::{
    SessionSettings, Sessions, Throttle, ThrottleSettings, random, sessions as session, throttle,
};

const fn rule(method: &'static str, path: &'static str, role: Option<Role>) -> RouteRule {
    RouteRule { method, path, role }
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
/// use hub_server::Role;
/// use hub_server::admin::required_role;
/// assert_eq!(required_role(&Method::GET, "/admin"), None);
/// assert_eq!(required_role(&Method::HEAD, "/admin/fragment"), Some(Role::Admin));
/// assert_eq!(required_role(&Method::POST, "/admin/unlisted"), Some(Role::Admin));
/// ```
pub fn required_role(method: &Method, path: &str) -> Option<Role> {
    role_in(ROUTES, method, path)
}

/// The page's routes, with the session check, route labels for the HTTP metrics and the
/// security headers; merged into [`crate::build_router`] outside the bearer-token layer.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/admin", get(routes::page))
        .route("/admin/login", post(routes::login))
        .route("/admin/admin.js", get(routes::script))
        .route("/admin/admin.css", get(routes::stylesheet))
        .route("/admin/logout", post(routes::logout))
        .route("/admin/fragment", get(routes::fragment))
        .route("/admin/dlq/{id}/replay", post(routes::replay))
        .route("/admin/dlq/{id}/discard", post(routes::discard))
        .route_layer(middleware::from_fn_with_state(state, routes::require_session))
        .route_layer(middleware::from_fn(crate::http_metrics::label_route))
        .layer(middleware::from_fn(headers::layer))
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
        assert!(
            crate::auth::ROUTES.iter().all(|r| !r.path.starts_with("/admin")),
            "the bearer table holds no page route"
        );
    }
}
