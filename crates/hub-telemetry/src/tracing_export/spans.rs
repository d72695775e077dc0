//! The hub's spans and W3C trace context: a request's trace, decided before its server
//! span opens (its parent from the caller's `traceparent`), the client span of an
//! upstream attempt (its context sent as `traceparent`), and the trace id for log lines.
//!
//! Every helper first asks whether its span is enabled: without the OpenTelemetry layer
//! none is, and nothing is parsed, allocated or looked up.

use std::borrow::Cow;
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

use crate::logging::context::{LogId, TraceId};

/// How a request is traced, decided before any span of it is built: not at all (tracing
/// is off), by a server span (its trace is sampled), or by the context it passes on
/// (its trace is not sampled, so no span of it is built).
#[derive(Debug)]
enum Mode {
    Off,
    Sampled(Span, TraceId),
    Unsampled(SpanContext),
}

/// The trace of one request to the hub ([`request`]): run the request's work in it with
/// [`RequestTrace::within`].
#[derive(Debug)]
pub struct RequestTrace {
    mode: Mode,
}

/// Decides how the request with `method` and `headers` is traced, and opens its server
/// span when its trace is sampled: `http.request.method` and the request id now, the rest
/// as [`RequestTrace::within`] ends.
///
/// The decision is parent-based, as the exporter's sampler ([`super::start`]): a valid
/// `traceparent` (with its `tracestate`) decides by its sampled flag and becomes the
/// server span's parent; without one, a new trace is sampled with the configured ratio.
/// A request whose trace is not sampled builds no span at all: it passes the caller's
/// context on (or a new one, flagged not sampled), so its upstreams follow the decision.
/// Tracing off (no [`super::Tracing::layer`] in the subscriber): nothing is parsed.
pub fn request(method: &http::Method, headers: &HeaderMap, request_id: &LogId) -> RequestTrace {
    let Some(ratio) = super::sampling::sample_ratio() else {
        return RequestTrace { mode: Mode::Off };
    };
    let parent = headers
        .contains_key(&TRACEPARENT)
        .then(|| TraceContextPropagator::new().extract(&HeaderExtractor(headers)))
        .filter(|cx| cx.span().span_context().is_valid());
    let mode = match parent {
        Some(cx) if !cx.span().span_context().is_sampled() => Mode::Unsampled(cx.span().span_context().clone()),
        Some(cx) => server_span(method, request_id, |r| r.continue_remote(cx.span().span_context())),
        None => {
            let ids = RandomIdGenerator::default();
            let trace_id = ids.new_trace_id();
            if super::sampling::keeps(ratio, trace_id) {
                server_span(method, request_id, |r| r.start_trace(trace_id))
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

/// The server span, the root of the hub's part of its trace, placed in it by `place`
/// (under the caller's span, or at the root of a new trace). Its name, method and request
/// id are written straight into its record, shared rather than copied.
fn server_span(method: &http::Method, request_id: &LogId, place: impl FnOnce(&mut record::Recorded)) -> Mode {
    let span = tracing::info_span!(
        parent: None,
        "request",
        otel.kind = "server",
        http.request.method = Empty,
        http.route = Empty,
        http.response.status_code = Empty,
        error.type = Empty,
        hub.request_id = Empty,
    );
    let trace_id = record::with(&span, |r| {
        place(r);
        let method = method_name(method);
        r.rename(method.clone());
        r.set("http.request.method", Value::from(method));
        r.set("hub.request_id", Value::from(request_id.text()));
        TraceId(r.context.trace_id().to_bytes())
    });
    match trace_id {
        Some(trace_id) => Mode::Sampled(span, trace_id),
        // The layer turned the span down after all: nothing of the request is traced.
        None => Mode::Off,
    }
}

/// A method's name: the standard ones without a copy.
fn method_name(method: &http::Method) -> Cow<'static, str> {
    use http::Method;
    let name = match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => return Cow::Owned(method.as_str().to_owned()),
    };
    Cow::Borrowed(name)
}

impl RequestTrace {
    /// The request's trace id, sampled or not; `None` when tracing is off.
    pub fn trace_id(&self) -> Option<TraceId> {
        match &self.mode {
            Mode::Off => None,
            Mode::Sampled(_, trace_id) => Some(*trace_id),
            Mode::Unsampled(sc) => Some(TraceId(sc.trace_id().to_bytes())),
        }
    }

    /// Runs `request` (the request's work) in its trace: inside its server span when
    /// sampled, then records on that span what `answer` reads off the response (its
    /// status and the route template that matched, see [`record_answer`]); when not
    /// sampled, with every other hub span turned off and its upstream calls carrying the
    /// decision on ([`inject`]); tracing off, as it is.
    pub async fn within<F: Future>(
        self,
        request: F,
        answer: impl FnOnce(&F::Output) -> (u16, Option<&'static str>),
    ) -> F::Output {
        match self.mode {
            Mode::Off => request.await,
            Mode::Sampled(span, _) => {
                let mut request = std::pin::pin!(request.instrument(span));
                let output = request.as_mut().await;
                let (status, route) = answer(&output);
                record_answer(request.span(), status, route, None);
                output
            }
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
