//! The hub's own HTTP server metrics: `http_server_requests_total` and
//! `http_server_request_duration_seconds`, labelled by method, route template and status.
//!
//! Labels are static strings wherever the value is known in advance (every route of the
//! route tables, the usual methods and status codes), so recording a request allocates
//! nothing: the profile of the cached read showed the six label `String`s per request.

use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use metrics::SharedString;

/// The route template a response answered, carried out to the outer layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteLabel(pub SharedString);

/// Route middleware: labels the response with the matched route template (bounded cardinality).
pub async fn label_route(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|m| route_label(m.as_str()));
    let mut res = next.run(req).await;
    if let Some(route) = route {
        res.extensions_mut().insert(RouteLabel(route));
    }
    res
}

/// The label of a matched route template: the route table's own `&'static str` when the
/// template is in one, else a copy.
///
/// ```
/// use hub_server::http_metrics::route_label;
/// assert_eq!(&*route_label("/v1/transactions/{transaction_id}"), "/v1/transactions/{transaction_id}");
/// assert_eq!(&*route_label("/not/a/route"), "/not/a/route");
/// ```
pub fn route_label(template: &str) -> SharedString {
    crate::auth::ROUTES
        .iter()
        .map(|r| r.path)
        .chain(hub_admin::ROUTES.iter().map(|r| r.path))
        .find(|p| *p == template)
        .map_or_else(
            || SharedString::from_owned(template.to_owned()),
            SharedString::const_str,
        )
}

/// The method label: the method for the usual ones, `other` for the rest.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The status label, without allocating for the codes the hub answers.
fn status_label(status: StatusCode) -> SharedString {
    const KNOWN: &[(u16, &str)] = &[
        (200, "200"),
        (201, "201"),
        (202, "202"),
        (204, "204"),
        (303, "303"),
        (304, "304"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (409, "409"),
        (413, "413"),
        (415, "415"),
        (422, "422"),
        (429, "429"),
        (500, "500"),
        (502, "502"),
        (503, "503"),
        (504, "504"),
    ];
    let code = status.as_u16();
    KNOWN.iter().find(|(c, _)| *c == code).map_or_else(
        || SharedString::from_owned(code.to_string()),
        |(_, s)| SharedString::const_str(s),
    )
}

/// Records one answered request.
pub fn record(method: &Method, res: &Response, elapsed: Duration) {
    let route = res
        .extensions()
        .get::<RouteLabel>()
        .map_or(SharedString::const_str("unmatched"), |r| r.0.clone());
    let labels = [
        ("method", SharedString::const_str(method_label(method))),
        ("route", route),
        ("status", status_label(res.status())),
    ];
    metrics::counter!("http_server_requests_total", &labels).increment(1);
    metrics::histogram!("http_server_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_the_values_they_stand_for() {
        for code in [200, 201, 204, 303, 404, 418, 422, 503, 599] {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(&*status_label(status), code.to_string(), "{code}");
        }
        for (m, label) in [
            (Method::GET, "GET"),
            (Method::HEAD, "HEAD"),
            (Method::POST, "POST"),
            (Method::PATCH, "PATCH"),
            (Method::TRACE, "other"),
            (Method::CONNECT, "other"),
        ] {
            assert_eq!(method_label(&m), label);
        }
        for r in crate::auth::ROUTES {
            assert_eq!(&*route_label(r.path), r.path);
        }
        assert_eq!(&*route_label("/v1/x/{y}"), "/v1/x/{y}");
    }
}
