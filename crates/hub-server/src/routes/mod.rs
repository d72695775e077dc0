//! The router: every route of contract section 1, the layers around them, and the fallbacks.

pub mod audit;
pub mod dlq;
pub mod drafts;
pub mod events;
pub mod health;
pub mod tickets;
pub mod transactions;
pub mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, Uri};
use axum::routing::{get, post};
use hub_core::CacheOutcome;

use tower::Layer as _;

use crate::auth::{self, ROUTES};
use crate::correlation;
use crate::edge::{Edge, EdgeLayer};
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;

/// Runs `op` through the application's idempotent write and answers it.
pub(crate) async fn write(
    state: &AppState,
    corr: &correlation::Correlation,
    principal: Option<&auth::Principal>,
    key: hub_app::KeySource,
    op: hub_app::WriteOp,
) -> axum::response::Response {
    let request = hub_app::WriteRequest {
        ctx: corr.call_context(),
        caller: principal.map(|p| p.name.to_string()),
        key,
        op,
    };
    crate::answer::respond(state.hub.write(request).await)
}

/// `Cache-Status`.
pub static CACHE_STATUS: HeaderName = HeaderName::from_static("cache-status");

/// The RFC 9211 `Cache-Status` value for a read's cache outcome.
///
/// ```
/// use hub_core::CacheOutcome;
/// use hub_server::routes::cache_status;
/// assert_eq!(cache_status(CacheOutcome::Hit), "integration-hub; hit");
/// assert_eq!(cache_status(CacheOutcome::Miss), "integration-hub; fwd=miss");
/// assert_eq!(cache_status(CacheOutcome::Stale), "integration-hub; hit; stale");
/// ```
pub fn cache_status(outcome: CacheOutcome) -> HeaderValue {
    HeaderValue::from_static(match outcome {
        CacheOutcome::Hit => "integration-hub; hit",
        CacheOutcome::Miss => "integration-hub; fwd=miss",
        CacheOutcome::Stale => "integration-hub; hit; stale",
        CacheOutcome::Bypass => "integration-hub; fwd=bypass",
    })
}

/// The hub's HTTP API over `state`: [`Edge`] (request ids, the bearer check, problem
/// bodies completed with the request id, the access line and metrics) around the router.
pub fn build_router(state: AppState) -> Edge<Router> {
    EdgeLayer::new(state.clone()).layer(routes(state))
}

/// The routes, the fallbacks and the body limit, without the [`Edge`].
fn routes(state: AppState) -> Router {
    let body_limit = state.settings.body_limit;
    Router::new()
        .route("/v1/tickets", post(tickets::create_ticket))
        .route("/v1/tickets/{ticket_id}", get(tickets::get_ticket))
        .route("/v1/tickets/{ticket_id}/comments", post(tickets::add_comment))
        .route(transactions::TRANSACTION_ROUTE, get(transactions::get_transaction))
        .route(
            "/v1/customers/{customer_id}/transactions",
            get(transactions::get_history),
        )
        .route("/v1/transactions/drafts", post(drafts::create_draft))
        .route("/v1/transactions/drafts/{draft_id}/commit", post(drafts::commit))
        .route("/v1/transactions/drafts/{draft_id}/cancel", post(drafts::cancel))
        .route("/v1/dlq", get(dlq::list))
        .route("/v1/dlq/{id}", get(dlq::get_entry))
        .route("/v1/dlq/{id}/replay", post(dlq::replay))
        .route("/v1/dlq/{id}/discard", post(dlq::discard))
        .route("/v1/audit", get(audit::list))
        .route("/v1/events", get(events::subscribe))
        .route("/webhooks/transaction_updated", post(webhooks::transaction_updated))
        .route("/webhooks/ticket_updated", post(webhooks::ticket_updated))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(crate::openapi::serve))
        // The supervisor's page authenticates by session cookie; the edge checks no bearer token on it.
        .merge(hub_admin::router(admin_page(&state)))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// The supervisor's page over the server's state; its replays carry the request's correlation ids.
fn admin_page(state: &AppState) -> hub_admin::Page {
    hub_admin::Page {
        hub: state.hub.clone(),
        auth: state.auth.clone(),
        sessions: state.sessions.clone(),
        throttle: state.signin_throttle.clone(),
        error_rates: state.error_rates.clone(),
        circuits: state.circuits.clone(),
        budgets: state.budgets.clone(),
        context: |extensions| {
            extensions
                .get::<correlation::Correlation>()
                .map(correlation::Correlation::call_context)
        },
    }
}

async fn not_found(uri: Uri) -> Problem {
    Problem::new(ProblemCode::NotFound, format!("no route for {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> Problem {
    let allow = allowed_methods(uri.path()).join(", ");
    Problem::method_not_allowed(method.as_str(), uri.path(), allow)
}

/// The methods [`ROUTES`] and the supervisor's page ([`hub_admin::ROUTES`]) have for a concrete path.
///
/// The router picks a route by path alone, a literal segment before a parameter, so only
/// the most specific matching template counts: `/v1/transactions/drafts` is the drafts
/// route (POST), not `/v1/transactions/{transaction_id}` (GET).
///
/// ```
/// use hub_server::routes::allowed_methods;
/// assert_eq!(allowed_methods("/v1/transactions/drafts"), ["POST"]);
/// assert_eq!(allowed_methods("/v1/transactions/TXN-1"), ["GET"]);
/// ```
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    let all = || ROUTES.iter().chain(hub_admin::ROUTES);
    // Per segment, whether the template has a literal there: the router's preference.
    let specificity = |template: &str| -> Option<Vec<bool>> {
        let parts: Vec<&str> = template.split('/').collect();
        (parts.len() == segments.len() && parts.iter().zip(&segments).all(|(t, s)| t.starts_with('{') || t == s))
            .then(|| parts.iter().map(|t| !t.starts_with('{')).collect())
    };
    let best = all().filter_map(|r| specificity(r.path)).max();
    let mut methods: Vec<&'static str> = all()
        .filter(|r| best.is_some() && specificity(r.path) == best)
        .map(|r| r.method)
        .collect();
    methods.sort_unstable();
    methods.dedup();
    methods
}
