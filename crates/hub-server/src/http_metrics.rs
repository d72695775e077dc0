//! The hub's own HTTP server metrics: `http_server_requests_total` and
//! `http_server_request_duration_seconds`, labelled by method, route template and status.
//!
//! A request records into handles resolved once per series (route × method × status) and
//! kept for the life of the process, so recording a request neither allocates nor looks
//! the series up in the recorder: the profile of the cached read showed the label
//! strings and the recorder's lookup per request.

use std::sync::OnceLock;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use hub_app::callers::RouteRule;
use metrics::{Counter, Histogram, SharedString};

/// Every route of the route tables with whether it is an API route (else the supervisor's
/// page), in a fixed order: a route's place in the metrics table and in [`crate::edge::Matched`].
pub fn known_routes_with_rules() -> impl Iterator<Item = (&'static RouteRule, bool)> {
    crate::auth::ROUTES
        .iter()
        .map(|r| (r, true))
        .chain(hub_admin::ROUTES.iter().map(|r| (r, false)))
}

/// Every route template of the route tables (a template with two methods twice).
pub fn known_routes() -> impl Iterator<Item = &'static str> {
    known_routes_with_rules().map(|(r, _)| r.path)
}

/// The methods with a label of their own; the rest are `other`.
const METHODS: &[(Method, &str)] = &[
    (Method::GET, "GET"),
    (Method::HEAD, "HEAD"),
    (Method::POST, "POST"),
    (Method::PUT, "PUT"),
    (Method::DELETE, "DELETE"),
    (Method::PATCH, "PATCH"),
    (Method::OPTIONS, "OPTIONS"),
];

/// The method label: the method for the usual ones, `other` for the rest.
fn method_label(method: &Method) -> &'static str {
    METHODS.iter().find(|(m, _)| m == method).map_or("other", |(_, l)| l)
}

/// The status codes the hub answers, with their labels.
const STATUSES: &[(u16, &str)] = &[
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
    (408, "408"),
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

/// The status label, without allocating for the codes the hub answers.
fn status_label(status: StatusCode) -> SharedString {
    let code = status.as_u16();
    STATUSES.iter().find(|(c, _)| *c == code).map_or_else(
        || SharedString::from_owned(code.to_string()),
        |(_, s)| SharedString::const_str(s),
    )
}

/// One series' handles.
struct Series {
    requests: Counter,
    duration: Histogram,
}

impl Series {
    fn resolve(method: &'static str, route: SharedString, status: SharedString) -> Self {
        let labels = [
            ("method", SharedString::const_str(method)),
            ("route", route),
            ("status", status),
        ];
        Self {
            requests: metrics::counter!("http_server_requests_total", &labels),
            duration: metrics::histogram!("http_server_request_duration_seconds", &labels),
        }
    }
}

/// Each known route × method × status series, resolved on its first request.
static SERIES: OnceLock<Box<[OnceLock<Series>]>> = OnceLock::new();

/// The slot of a series in [`SERIES`], when route, method and status are all known.
fn slot(r: usize, method: &Method, status: StatusCode) -> Option<usize> {
    let m = METHODS.iter().position(|(m, _)| m == method)?;
    let s = STATUSES.iter().position(|(c, _)| *c == status.as_u16())?;
    Some((r * METHODS.len() + m) * STATUSES.len() + s)
}

/// Records one answered request: `route` is its index in [`known_routes_with_rules`]
/// (`None`: no route answered it, a 404 or 405, labelled `unmatched`).
pub fn record(method: &Method, route: Option<usize>, status: StatusCode, elapsed: Duration) {
    // Labels are looked up only when a series is resolved: once per series, not per request.
    let resolve = || {
        let label = route.and_then(|i| known_routes().nth(i)).unwrap_or("unmatched");
        Series::resolve(
            method_label(method),
            SharedString::const_str(label),
            status_label(status),
        )
    };
    let seconds = elapsed.as_secs_f64();
    match route.and_then(|r| slot(r, method, status)) {
        Some(i) => {
            let table = SERIES.get_or_init(|| {
                let n = known_routes().count() * METHODS.len() * STATUSES.len();
                (0..n).map(|_| OnceLock::new()).collect()
            });
            match table.get(i) {
                Some(cell) => {
                    let series = cell.get_or_init(resolve);
                    series.requests.increment(1);
                    series.duration.record(seconds);
                }
                None => record_once(&resolve(), seconds),
            }
        }
        None => record_once(&resolve(), seconds),
    }
}

fn record_once(series: &Series, seconds: f64) {
    series.requests.increment(1);
    series.duration.record(seconds);
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
    }
}
