//! The one middleware in front of the router: correlation ids, the route a request is for,
//! the bearer check, and the request's access line and metrics, in one pass and one future.
//!
//! It wraps the whole router rather than each route: a `route_layer` per concern cost the
//! cached read three boxed futures, a clone of every route's boxed service and an
//! extension per layer (the allocation profile in `docs/benchmarks.md`). The route is
//! found here with the router's own path matcher (`matchit`) over the same tables the
//! router is built from ([`crate::auth::ROUTES`], [`hub_admin::ROUTES`]), so a request is checked and
//! labelled exactly when the router has a handler for its method and path.
//!
//! The hottest read, `GET /v1/transactions/{id}` of an id that needs no percent-decoding,
//! is answered here without the router (whose route clones, boxed futures, path
//! parameters and extensions were half of a cached hit's remaining allocations), by the
//! same function its handler calls. Every other request, and every request this one
//! could answer differently (HEAD, an encoded or invalid id), goes to the router.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use hub_core::TransactionId;
use hub_telemetry::logging::context::{LogContext, LogId};
use hub_telemetry::tracing_export::spans;
use tower::{Layer, Service};

use crate::auth::{self, Authenticator, QUERY_TOKEN_ROUTES, RouteRule};
use crate::conditional::IfNoneMatch;
use crate::correlation::{Correlation, X_REQUEST_ID};
use crate::http_metrics;
use crate::problem::Problem;
use crate::request_headers::RequestHeaders;
use crate::routes::transactions;
use crate::state::AppState;

/// A route of [`crate::auth::ROUTES`] (the API: bearer-checked) or of the supervisor's page (which
/// checks its own session), by its index in [`http_metrics::known_routes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Matched {
    /// The route's rule.
    pub rule: &'static RouteRule,
    /// Its index among the known routes (the metrics table's row).
    pub index: usize,
    /// Whether it is an API route, whose role this layer checks.
    pub api: bool,
}

/// Every known route template, in the router's matcher.
static TEMPLATES: LazyLock<matchit::Router<&'static str>> = LazyLock::new(|| {
    let mut matcher = matchit::Router::new();
    for path in http_metrics::known_routes() {
        // A template listed twice (one per method) is inserted once.
        if matcher.at(path).map(|m| *m.value) != Ok(path) {
            let inserted = matcher.insert(path, path);
            debug_assert!(inserted.is_ok(), "{path}: {inserted:?}");
        }
    }
    matcher
});

/// The route the router answers `method path` with, if it has one: HEAD is answered by
/// GET's handler. `None` for a path no route has (404) or a method the route lacks (405).
pub fn route_of(method: &Method, path: &str) -> Option<Matched> {
    let template = *TEMPLATES.at(path).ok()?.value;
    let method = if *method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    http_metrics::known_routes_with_rules()
        .enumerate()
        .find(|(_, (rule, _))| rule.path == template && rule.method == method)
        .map(|(index, (rule, api))| Matched { rule, index, api })
}

/// The [`Edge`] middleware over the API's state (its tokens, and the hub the direct read calls).
#[derive(Clone)]
pub struct EdgeLayer {
    state: AppState,
}

impl EdgeLayer {
    /// The middleware over `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            state: self.state.clone(),
        }
    }
}

/// See the module documentation.
#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
    state: AppState,
}

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The service polled ready is the one called; a clone stays for the next request.
        let ready = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, ready);
        let state = self.state.clone();
        Box::pin(async move { Ok(handle(req, inner, &state).await) })
    }
}

/// Sets [`Correlation`] on the request and the log context of everything it logs, checks
/// the bearer token of an API route and puts the [`auth::Principal`] in the request,
/// echoes `X-Request-Id`, puts the request id into problem bodies that lack it, and writes
/// the request's one access line (`answered`) and metrics.
async fn handle<S>(mut req: Request, mut inner: S, state: &AppState) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let seen = RequestHeaders::scan(req.headers());
    let corr = Correlation::from_values(seen.request_id, seen.conversation_id);
    let log_request_id = LogId::shared(corr.request_id.shared());
    // The request's trace (nothing, and free, unless traces are exported).
    let trace = spans::request_with(req.method(), req.headers(), seen.traceparent, &log_request_id);
    // Its place in the trace is added by `within`.
    let log = LogContext {
        request_id: log_request_id,
        conversation_id: corr.conversation_id.as_ref().map(|c| LogId::shared(c.shared())),
        trace: None,
    };
    let request_id = corr.request_id.clone();
    let method = req.method().clone();
    let started = std::time::Instant::now();
    let matched = route_of(&method, req.uri().path());
    let route = matched.map(|m| m.rule.path);
    let direct = matched.and_then(|m| direct_read(&method, m, req.uri().path()));
    // Shared, not copied (the future below takes the request), and only where needed: the
    // token for the bearer check of an API route, the tag for a read answered here (the
    // router's handlers read their own).
    let authorization = seen.authorization.filter(|_| matched.is_some_and(|m| m.api)).cloned();
    let if_none_match = IfNoneMatch(direct.as_ref().and(seen.if_none_match).cloned());
    // Boxed once: the trace and its log context wrap it, and would otherwise copy the
    // whole request's future (the router's call included) as they are built.
    let request = Box::pin(async move {
        let checked = match matched {
            Some(m) if m.api => check_bearer(&state.auth, m.rule, &req, authorization.as_ref()),
            _ => Ok(None),
        };
        // The URI is kept for the log line: taken from a request answered here, cloned
        // (its parts are shared bytes) from one the router takes.
        let (mut res, uri) = match (checked, direct) {
            (Err(problem), _) => (problem.into_response(), std::mem::take(req.uri_mut())),
            (Ok(_), Some(id)) => {
                let res = transactions::transaction(state, &corr, &id, &if_none_match)
                    .await
                    .unwrap_or_else(IntoResponse::into_response);
                (res, std::mem::take(req.uri_mut()))
            }
            (Ok(principal), None) => {
                req.extensions_mut().insert(corr);
                if let Some(principal) = principal {
                    req.extensions_mut().insert(principal);
                }
                let uri = req.uri().clone();
                // The router's error type is `Infallible`.
                match inner.call(req).await {
                    Ok(res) => (res, uri),
                    Err(never) => match never {},
                }
            }
        };
        if let Some(problem) = res.extensions().get::<Problem>()
            && problem.request_id.is_none()
        {
            let problem = problem.clone().with_request_id(request_id.as_str());
            let headers = res.headers().clone();
            res = problem.into_response();
            for (name, value) in &headers {
                if name != header::CONTENT_LENGTH {
                    res.headers_mut().insert(name, value.clone());
                }
            }
        }
        if let Ok(v) = HeaderValue::from_str(request_id.as_str()) {
            res.headers_mut().insert(X_REQUEST_ID.clone(), v);
        }
        let elapsed = started.elapsed();
        http_metrics::record(&method, matched.map(|m| m.index), res.status(), elapsed);
        // The message as a plain `&str` field: written as it is, not through `fmt`.
        tracing::info!(
            message = "answered",
            method = method.as_str(),
            path = uri.path(),
            status = res.status().as_u16(),
            duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        );
        res
    });
    trace
        .within(log, request, |res: &Response| (res.status().as_u16(), route))
        .await
}

/// The transaction id of a request the edge answers itself: a GET (not HEAD, whose body
/// the router strips) of the transaction route, with an id that parses as it is.
fn direct_read(method: &Method, matched: Matched, path: &str) -> Option<TransactionId> {
    if *method != Method::GET || matched.rule.path != transactions::TRANSACTION_ROUTE {
        return None;
    }
    let raw = path.rsplit_once('/')?.1;
    if raw.contains('%') {
        return None;
    }
    raw.parse().ok()
}

/// The bearer check of an API route: its token (the request's `Authorization` value, or
/// `?access_token=` on the routes that accept it) against the role the route needs; the
/// caller it names, for the handler.
fn check_bearer(
    auth: &Authenticator,
    rule: &RouteRule,
    req: &Request,
    authorization: Option<&HeaderValue>,
) -> Result<Option<auth::Principal>, Problem> {
    let Some(needed) = rule.role else {
        return Ok(None);
    };
    let from_query = if QUERY_TOKEN_ROUTES.contains(&rule.path) && authorization.is_none() {
        auth::query_token(req.uri())
    } else {
        None
    };
    let principal = match from_query {
        Some(token) => auth::authorize_token(auth, &token, needed)?,
        None => auth::authorize(auth, authorization, needed)?,
    };
    tracing::debug!(principal = %principal.name, role = %principal.role, "authenticated");
    Ok(Some(principal))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_found_by_its_own_method_and_path() {
        for (rule, api) in http_metrics::known_routes_with_rules() {
            let path = rule.path.replace("{", "x").replace("}", "");
            let method = Method::from_bytes(rule.method.as_bytes()).unwrap_or(Method::GET);
            let found = route_of(&method, &path);
            assert_eq!(
                found.map(|m| (m.rule.path, m.api)),
                Some((rule.path, api)),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn literal_segments_win_and_unknown_methods_and_paths_match_nothing() {
        let drafts = route_of(&Method::POST, "/v1/transactions/drafts").map(|m| m.rule.path);
        assert_eq!(drafts, Some("/v1/transactions/drafts"));
        // GET on the drafts path is a 405: the literal route has no GET, and the
        // parameter route is not tried.
        assert_eq!(route_of(&Method::GET, "/v1/transactions/drafts"), None);
        let head = route_of(&Method::HEAD, "/v1/transactions/TXN-1").map(|m| m.rule.path);
        assert_eq!(head, Some("/v1/transactions/{transaction_id}"));
        assert_eq!(route_of(&Method::GET, "/v1/nothing"), None);
        assert_eq!(route_of(&Method::DELETE, "/v1/tickets"), None);
        assert!(route_of(&Method::GET, "/admin").is_some_and(|m| !m.api));
    }

    #[test]
    fn only_plain_gets_of_a_transaction_are_answered_directly() {
        let direct = |method: Method, path: &str| {
            route_of(&method, path)
                .and_then(|m| direct_read(&method, m, path))
                .map(|id| id.as_str().to_owned())
        };
        assert_eq!(direct(Method::GET, "/v1/transactions/TXN-1").as_deref(), Some("TXN-1"));
        assert_eq!(direct(Method::HEAD, "/v1/transactions/TXN-1"), None);
        assert_eq!(direct(Method::GET, "/v1/transactions/TXN%2D1"), None);
        assert_eq!(direct(Method::GET, "/v1/transactions/-bad"), None);
        assert_eq!(direct(Method::GET, "/v1/tickets/T-1"), None);
        assert_eq!(direct(Method::POST, "/v1/transactions/drafts"), None);
    }
}
