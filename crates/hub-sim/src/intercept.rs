//! The middleware in front of every simulated route: applies faults and writes the request ledger.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use serde_json::json;

use crate::faults::{Action, FaultKind};
use crate::ledger::{REQUEST_ID, RequestRecord};
use crate::reply::Reply;
use crate::state::SimState;
use crate::system::System;

/// Marks a response whose connection must be closed without sending it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AbortConnection;

fn abort() -> Response {
    let mut response = Response::new(Body::empty());
    response.extensions_mut().insert(AbortConnection);
    response
}

/// A malformed body: starts like JSON, is not.
const MALFORMED: &[u8] = b"{\"id\": \"sim\", \"status\": <html>502 Bad Gateway</html>";

struct Seen {
    system: System,
    method: String,
    path: String,
    route: String,
    key: Option<String>,
    request_id: Option<String>,
    traceparent: Option<String>,
}

impl Seen {
    fn record(self, st: &SimState, status: Option<u16>, fault: Option<FaultKind>) {
        tracing::info!(system = %self.system, method = %self.method, path = %self.path, ?status, ?fault, "request");
        st.ledger.record_request(RequestRecord {
            seq: st.ledger.next_seq(),
            at: st.clock.now(),
            system: self.system,
            method: self.method,
            path: self.path,
            route: self.route,
            status,
            idempotency_key: self.key,
            request_id: self.request_id,
            traceparent: self.traceparent,
            fault,
        });
    }
}

async fn truncate(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let cut = Bytes::copy_from_slice(&bytes[..bytes.len() / 2]);
    parts.headers.remove(http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(cut))
}

/// Removes and sets fields of a JSON answer by JSON pointer; a body that is not a JSON
/// object or array is left as it is. Setting a field of a missing parent creates nothing.
async fn reshape(
    response: Response,
    remove: &[String],
    set: &std::collections::BTreeMap<String, serde_json::Value>,
) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    for pointer in remove {
        if let Some((parent, field)) = split_pointer(pointer)
            && let Some(serde_json::Value::Object(map)) = value.pointer_mut(parent)
        {
            map.remove(&field);
        }
    }
    for (pointer, new) in set {
        if let Some((parent, field)) = split_pointer(pointer)
            && let Some(serde_json::Value::Object(map)) = value.pointer_mut(parent)
        {
            map.insert(field, new.clone());
        }
    }
    parts.headers.remove(http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(serde_json::to_vec(&value).unwrap_or_default()))
}

/// `/a/b~1c` → (`/a`, `b/c`): the parent's pointer and the last field, unescaped.
fn split_pointer(pointer: &str) -> Option<(&str, String)> {
    let (parent, last) = pointer.rsplit_once('/')?;
    Some((parent, last.replace("~1", "/").replace("~0", "~")))
}

/// Applies the fault plan to a request of a simulated system and records it.
pub(crate) async fn intercept(State(st): State<Arc<SimState>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let Some(system) = System::from_path(path) else {
        return next.run(req).await;
    };
    let relative = &path[system.prefix().len()..];
    let relative = if relative.is_empty() { "/" } else { relative }.to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|m| m.as_str().strip_prefix(system.prefix()).map(str::to_owned))
        .unwrap_or_else(|| relative.clone());
    let seen = Seen {
        system,
        method: req.method().as_str().to_owned(),
        path: req
            .uri()
            .path_and_query()
            .map_or_else(|| path.to_owned(), |pq| pq.as_str().to_owned()),
        route,
        key: crate::auth::idempotency_key(req.headers()).map(str::to_owned),
        request_id: crate::auth::header(req.headers(), "x-request-id").map(str::to_owned),
        traceparent: crate::auth::header(req.headers(), "traceparent").map(str::to_owned),
    };
    // The route runs with the request id in scope, so the effects it records carry it.
    let request_id = seen.request_id.clone();
    let run_route = move |req: Request| REQUEST_ID.scope(request_id, next.run(req));
    let plan = st.faults.plan(system, &seen.method, &seen.route, &relative);
    if !plan.latency.is_zero() {
        tokio::time::sleep(plan.latency).await;
    }
    let credential = crate::rate_limits::credential(req.headers());
    let Some(verdict) = st.rate_limits.check(system, credential, st.clock.now()) else {
        return answer(&st, seen, plan.action, req, run_route).await;
    };
    if !verdict.allowed {
        seen.record(&st, Some(429), None);
        st.ledger.record_rate_limited(system);
        let reply = Reply::json(StatusCode::TOO_MANY_REQUESTS, &json!({"error": "rate_limited"}));
        return with_headers(reply.into_response(), &verdict.headers);
    }
    let response = answer(&st, seen, plan.action, req, run_route).await;
    if response.extensions().get::<AbortConnection>().is_some() {
        return response;
    }
    with_headers(response, &verdict.headers)
}

/// Adds `headers` to `response`, replacing any of the same name.
fn with_headers(mut response: Response, headers: &[(&'static str, String)]) -> Response {
    for (name, value) in headers {
        if let Ok(value) = http::HeaderValue::from_str(value) {
            response.headers_mut().insert(*name, value);
        }
    }
    response
}

/// The route's answer, or the fault's that takes it over; recorded in the ledger.
async fn answer<F, Fut>(st: &SimState, seen: Seen, action: Option<Action>, req: Request, run_route: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let seen_system = seen.system;
    let Some(action) = action else {
        let response = run_route(req).await;
        seen.record(st, Some(response.status().as_u16()), None);
        return response;
    };
    let kind = Some(action.kind());
    match action {
        Action::Error(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            seen.record(st, Some(status.as_u16()), kind);
            Reply::json(status, &json!({"error": "simulated_fault", "status": status.as_u16()})).into_response()
        }
        Action::RateLimit(retry_after) => {
            seen.record(st, Some(429), kind);
            let reply = Reply::json(StatusCode::TOO_MANY_REQUESTS, &json!({"error": "rate_limited"}));
            let reply = match &retry_after {
                Some(value) => reply.header("retry-after", value),
                None => reply,
            };
            let wait_s = retry_after.as_deref().and_then(|v| v.trim().parse::<i64>().ok());
            vendor_rate_headers(reply, seen_system, wait_s, st.clock.now()).into_response()
        }
        Action::Outage => {
            seen.record(st, Some(503), kind);
            Reply::raw(
                StatusCode::SERVICE_UNAVAILABLE,
                "<html><body><h1>503 Service Unavailable</h1></body></html>",
            )
            .header("content-type", "text/html")
            .into_response()
        }
        Action::Malformed { after_handler } => {
            let status = if after_handler {
                run_route(req).await.status()
            } else {
                StatusCode::OK
            };
            seen.record(st, Some(status.as_u16()), kind);
            Reply::raw(status, MALFORMED)
                .header("content-type", "application/json")
                .into_response()
        }
        Action::Reshape { remove, set } => {
            let response = run_route(req).await;
            seen.record(st, Some(response.status().as_u16()), kind);
            reshape(response, &remove, &set).await
        }
        Action::Truncated => {
            let response = run_route(req).await;
            seen.record(st, Some(response.status().as_u16()), kind);
            truncate(response).await
        }
        Action::Reset { after_handler } => {
            if after_handler {
                drop(run_route(req).await);
            }
            seen.record(st, None, kind);
            abort()
        }
        Action::Hang { after_handler, max } => {
            if after_handler {
                drop(run_route(req).await);
            }
            seen.record(st, None, kind);
            tokio::time::sleep(max).await;
            abort()
        }
    }
}

/// The answer for a path no system route matches.
pub(crate) async fn fallback() -> Reply {
    Reply::json(StatusCode::NOT_FOUND, &json!({"error": "not_found"}))
}

/// The rate-limit headers each vendor sends with a 429, besides `Retry-After`: Jira's
/// `X-RateLimit-*` with an ISO 8601 reset to the minute (`yyyy-MM-ddTHH:mmZ`, the
/// request time plus the wait, rounded up) and `RateLimit-Reason`; Zendesk's
/// `ratelimit-*` and `x-rate-limit*` account headers.
fn vendor_rate_headers(reply: Reply, system: System, wait_s: Option<i64>, now: time::OffsetDateTime) -> Reply {
    match system {
        System::Jira => {
            let reply = reply
                .header("x-ratelimit-limit", "350")
                .header("x-ratelimit-remaining", "0")
                .header("ratelimit-reason", "jira-burst-based");
            match wait_s {
                Some(s) => {
                    let at = now + time::Duration::seconds(s.max(0));
                    reply.header("x-ratelimit-reset", &crate::rate_limits::jira_minute(at))
                }
                None => reply,
            }
        }
        System::Zendesk => {
            let reply = reply
                .header("x-rate-limit", "700")
                .header("ratelimit-limit", "700")
                .header("x-rate-limit-remaining", "0")
                .header("ratelimit-remaining", "0");
            match wait_s {
                Some(s) => reply.header("ratelimit-reset", &s.max(0).to_string()),
                None => reply,
            }
        }
        _ => reply,
    }
}
