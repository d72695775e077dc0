//! The hub's own HTTP server metrics: `http_server_requests_total` and
//! `http_server_request_duration_seconds`, labelled by method, route template and status.

use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

/// The route template a response answered, carried out to the outer layers.
#[derive(Debug, Clone)]
pub struct RouteLabel(pub String);

/// Route middleware: labels the response with the matched route template (bounded cardinality).
pub async fn label_route(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned());
    let mut res = next.run(req).await;
    if let Some(route) = route {
        res.extensions_mut().insert(RouteLabel(route));
    }
    res
}

/// Records one answered request.
pub fn record(method: &Method, res: &Response, elapsed: Duration) {
    let route = res
        .extensions()
        .get::<RouteLabel>()
        .map_or_else(|| "unmatched".to_owned(), |r| r.0.clone());
    let method = match *method {
        Method::GET | Method::HEAD | Method::POST | Method::PUT | Method::DELETE | Method::PATCH | Method::OPTIONS => {
            method.as_str().to_owned()
        }
        _ => "other".to_owned(),
    };
    let labels = [
        ("method", method),
        ("route", route),
        ("status", res.status().as_u16().to_string()),
    ];
    metrics::counter!("http_server_requests_total", &labels).increment(1);
    metrics::histogram!("http_server_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
}
