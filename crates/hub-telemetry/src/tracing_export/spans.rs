//! The hub's spans and W3C trace context: a request's trace, decided before its server
//! span opens (its parent from the caller's `traceparent`), the client span of an
//! upstream attempt (its context sent as `traceparent`), and the trace id for log lines.
//!
//! Every helper first asks whether its span is enabled: without the OpenTelemetry layer
//! none is, and nothing is parsed, allocated or looked up.

use std::future::Future;

use http::HeaderMap;
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{SpanContext, Status, TraceContextExt as _, TraceFlags, TraceState};
use opentelemetry::{KeyValue, Value};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{IdGenerator as _, RandomIdGenerator};
use tracing::field::Empty;
use tracing::{Instrument as _, Span};

use super::record;

use crate::logging::context::TraceId;

/// How a request is traced, decided before any span of it is built: not at all (tracing
/// is off), by a server span (its trace is sampled), or by the context it passes on
/// (its trace is not sampled, so no span of it is built).
#[derive(Debug)]
enum Mode {
    Off,
    Sampled(Span),
    Unsampled(SpanContext),
}

/// The trace of one request to the hub ([`request`]): run the request's work in it with
/// [`RequestTrace::within`].
#[derive(Debug)]
pub struct RequestTrace {
    mode: Mode,
}

/// Decides how the request with `headers` is traced, and opens its server span when its
/// trace is sampled: `http.request.method` and the request id now, the rest by
/// [`record_answer`].
///
/// The decision is parent-based, as the exporter's sampler ([`super::start`]): a valid
/// `traceparent` (with its `tracestate`) decides by its sampled flag and becomes the
/// server span's parent; without one, a new trace is sampled with the configured ratio.
/// A request whose trace is not sampled builds no span at all: it passes the caller's
/// context on (or a new one, flagged not sampled), so its upstreams follow the decision.
/// Tracing off (no [`super::Tracing::layer`] in the subscriber): nothing is parsed.
pub fn request(method: &str, headers: &HeaderMap, request_id: &str) -> RequestTrace {
    let Some(ratio) = super::sampling::sample_ratio() else {
        return RequestTrace { mode: Mode::Off };
    };
    let parent = headers
        .contains_key(&TRACEPARENT)
        .then(|| TraceContextPropagator::new().extract(&HeaderExtractor(headers)))
        .filter(|cx| cx.span().span_context().is_valid());
    let mode = match parent {
        Some(cx) if !cx.span().span_context().is_sampled() => Mode::Unsampled(cx.span().span_context().clone()),
        Some(cx) => {
            let span = server_span(method, request_id);
            record::with(&span, |r| r.continue_remote(cx.span().span_context()));
            Mode::Sampled(span)
        }
        None => {
            let ids = RandomIdGenerator::default();
            let trace_id = ids.new_trace_id();
            if super::sampling::keeps(ratio, trace_id) {
                let span = server_span(method, request_id);
                record::with(&span, |r| r.start_trace(trace_id));
                Mode::Sampled(span)
            } else {
                Mode::Unsampled(SpanContext::new(
                    trace_id,
                    ids.new_span_id(),
                    TraceFlags::NOT_SAMPLED,
                    false,
                    TraceState::NONE,
                ))
            }
        }
    };
    RequestTrace { mode }
}

/// The W3C header, named once (looking it up by a string would parse the name per request).
static TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");

/// The server span, the root of the hub's part of its trace (the caller's span, when
/// there is one, is set as its remote parent by [`request`]).
fn server_span(method: &str, request_id: &str) -> Span {
    tracing::info_span!(
        parent: None,
        "request",
        otel.name = method,
        otel.kind = "server",
        http.request.method = method,
        http.route = Empty,
        http.response.status_code = Empty,
        error.type = Empty,
        hub.request_id = request_id,
    )
}

impl RequestTrace {
    /// The request's trace id, sampled or not; `None` when tracing is off.
    pub fn trace_id(&self) -> Option<TraceId> {
        match &self.mode {
            Mode::Off => None,
            Mode::Sampled(span) => trace_id(span),
            Mode::Unsampled(sc) => Some(TraceId(sc.trace_id().to_bytes())),
        }
    }

    /// Runs `request` (the request's work) in its trace: inside its server span when
    /// sampled; when not, with every other hub span turned off and its upstream calls
    /// carrying the decision on ([`inject`]); tracing off, as it is.
    pub async fn within<F: Future>(self, request: F) -> F::Output {
        match self.mode {
            Mode::Off => request.await,
            Mode::Sampled(span) => request.instrument(span).await,
            Mode::Unsampled(sc) => UNSAMPLED.scope(sc, request).await,
        }
    }
}

tokio::task_local! {
    /// Set while serving a request whose trace is not sampled: the hub's spans stay off,
    /// and upstream calls carry this context on, flagged not sampled.
    static UNSAMPLED: SpanContext;
}

/// `task`, about to be spawned, made to keep the calling task's decision not to sample
/// its trace ([`RequestTrace::within`]): a task-local is not inherited by a spawned task.
/// (A sampled trace is carried by instrumenting the task with the current span.)
pub fn in_current_trace<F: Future>(task: F) -> impl Future<Output = F::Output> {
    let unsampled = UNSAMPLED.try_with(Clone::clone).ok();
    async move {
        match unsampled {
            Some(sc) => UNSAMPLED.scope(sc, task).await,
            None => task.await,
        }
    }
}

/// Whether the current task serves a request whose trace is not sampled ([`RequestTrace::within`]).
pub(crate) fn unsampled_here() -> bool {
    UNSAMPLED.try_with(|_| ()).is_ok()
}

/// The trace id of `span`'s trace; `None` when the span is disabled.
pub fn trace_id(span: &Span) -> Option<TraceId> {
    record::with(span, |r| r.context.trace_id())
        .filter(|id| *id != opentelemetry::trace::TraceId::INVALID)
        .map(|id| TraceId(id.to_bytes()))
}

/// Records the answer on a server span: its status, the route template that matched
/// (when one did), and for a 5xx the error type (`error`, the problem's type or the status).
/// Written straight into the span's record (one look-up, no copy of the route), not
/// through `tracing`'s field recording.
pub fn record_answer(span: &Span, status: u16, route: Option<&'static str>, error_type: Option<&str>) {
    if span.is_disabled() {
        return;
    }
    record::with(span, |r| {
        r.set("http.response.status_code", Value::I64(i64::from(status)));
        if let Some(route) = route {
            r.set("http.route", Value::from(route));
        }
        if status >= 500 {
            let error_type = error_type.map_or_else(|| status.to_string(), str::to_owned);
            r.set("error.type", Value::from(error_type.clone()));
            r.set_status(Status::error(error_type));
        }
    });
}

/// Sets `span`'s status.
fn set_status(span: &Span, status: Status) {
    record::with(span, |r| r.set_status(status));
}

/// The client span of one attempt of an upstream call to `uri` (written as `url.full`
/// without any user-info part: credentials go in headers, never in the URL);
/// `resend_count` is 0 for the first attempt.
pub fn attempt_span(operation: &str, uri: &http::Uri, resend_count: u32) -> Span {
    tracing::info_span!(
        "upstream attempt",
        otel.name = operation,
        otel.kind = "client",
        server.address = uri.host().unwrap_or_default(),
        url.full = %UrlFull(uri),
        http.request.resend_count = resend_count,
        http.response.status_code = Empty,
        error.type = Empty,
        hub.retry.reason = Empty,
        hub.retry.wait_ms = Empty,
    )
}

/// A URI as sent, less any user-info (`user:password@`). Formatted only for an enabled span.
struct UrlFull<'a>(&'a http::Uri);

impl std::fmt::Display for UrlFull<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(scheme) = self.0.scheme_str() {
            write!(f, "{scheme}://")?;
        }
        if let Some(authority) = self.0.authority() {
            let host_port = authority
                .as_str()
                .rsplit_once('@')
                .map_or(authority.as_str(), |(_, h)| h);
            f.write_str(host_port)?;
        }
        f.write_str(self.0.path_and_query().map_or("", |p| p.as_str()))
    }
}

/// Sets `traceparent` (and `tracestate`) in `headers` to `span`'s context, so the
/// upstream's spans are its children. While serving a request whose trace is not sampled
/// (its other spans are not built), the request's context is sent instead, flagged not
/// sampled, so the upstream does not start a trace of its own. Tracing off, nothing.
pub fn inject(span: &Span, headers: &mut HeaderMap) {
    let propagator = TraceContextPropagator::new();
    let unsampled = UNSAMPLED.try_with(|sc| {
        let cx = opentelemetry::Context::new().with_remote_span_context(sc.clone());
        propagator.inject_context(&cx, &mut HeaderInjector(headers));
    });
    if unsampled.is_err()
        && let Some(sc) = record::with(span, |r| r.context.clone())
    {
        let cx = opentelemetry::Context::new().with_remote_span_context(sc);
        propagator.inject_context(&cx, &mut HeaderInjector(headers));
    }
}

/// Records how an attempt ended: its status when it had one, its error code when it failed.
pub fn record_attempt(span: &Span, status: Option<u16>, error: Option<&str>) {
    if span.is_disabled() {
        return;
    }
    if let Some(status) = status {
        span.record("http.response.status_code", status);
    }
    if let Some(error) = error {
        span.record("error.type", error);
        set_status(span, Status::error(error.to_owned()));
    }
}

/// Records on an attempt span why the call was retried (the previous attempt's error
/// code) and how long it waited before this attempt.
pub fn record_retry(span: &Span, reason: &str, waited_ms: u64) {
    if span.is_disabled() {
        return;
    }
    span.record("hub.retry.reason", reason);
    span.record("hub.retry.wait_ms", waited_ms);
}

/// Adds the event `rate budget wait` to `span`: the call waited `waited_ms` for its slot
/// in the adapter's rate budget before an attempt.
pub fn budget_wait(span: &Span, waited_ms: u64) {
    if span.is_disabled() {
        return;
    }
    let waited = i64::try_from(waited_ms).unwrap_or(i64::MAX);
    record::with(span, |r| {
        r.add_event("rate budget wait", vec![KeyValue::new("hub.wait_ms", waited)]);
    });
}

/// Adds the event `circuit changed` to `span`: the adapter's breaker went from `from` to `to`.
pub fn breaker_transition(span: &Span, adapter: &str, from: &'static str, to: &'static str) {
    if span.is_disabled() {
        return;
    }
    record::with(span, |r| {
        r.add_event(
            "circuit changed",
            vec![
                KeyValue::new("hub.adapter", adapter.to_owned()),
                KeyValue::new("hub.circuit.from", from),
                KeyValue::new("hub.circuit.to", to),
            ],
        );
    });
}

/// A span's W3C context as plain values, for a caller that stores it (a dead letter
/// keeps the context of the span its write failed in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanIds {
    /// The trace id.
    pub trace_id: [u8; 16],
    /// The span id.
    pub span_id: [u8; 8],
    /// Whether the trace is sampled.
    pub sampled: bool,
}

impl SpanIds {
    fn of(sc: &SpanContext) -> Option<Self> {
        sc.is_valid().then(|| Self {
            trace_id: sc.trace_id().to_bytes(),
            span_id: sc.span_id().to_bytes(),
            sampled: sc.is_sampled(),
        })
    }
}

/// The context of the hub span the calling task is in; while serving a request whose
/// trace is not sampled, that request's context (flagged not sampled). `None` when
/// tracing is off (then nothing is looked up but the subscriber's layer, and nothing is
/// allocated) or no hub span is current.
pub fn current_ids() -> Option<SpanIds> {
    super::sampling::sample_ratio()?;
    if let Ok(ids) = UNSAMPLED.try_with(SpanIds::of) {
        return ids;
    }
    record::with(&Span::current(), |r| SpanIds::of(&r.context)).flatten()
}

/// Adds to the span the calling task is in a link to the span `to` (a span of another
/// trace, ended long ago: the write a replay runs again). Nothing when that span is off.
pub fn link_current(to: SpanIds) {
    let span = Span::current();
    if span.is_disabled() {
        return;
    }
    let flags = if to.sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::NOT_SAMPLED
    };
    let to = SpanContext::new(
        opentelemetry::trace::TraceId::from_bytes(to.trace_id),
        opentelemetry::trace::SpanId::from_bytes(to.span_id),
        flags,
        true,
        TraceState::NONE,
    );
    record::with(&span, |r| r.add_link(to));
}

#[cfg(test)]
mod tests;
