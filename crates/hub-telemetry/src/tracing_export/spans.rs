//! The hub's spans and W3C trace context: a request's trace, decided before its server
//! span opens (its parent from the caller's `traceparent`), a use case span the request
//! keeps, the client span of an upstream attempt (its context sent as `traceparent`), and
//! the trace id for log lines.
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
use opentelemetry_sdk::trace::IdGenerator as _;
use tracing::Span;
use tracing::field::Empty;

use super::record::{self, Recorded};

use crate::logging::context::{self, LogContext, LogId, TraceId, TraceIds};

/// How a request is traced, decided before any span of it is built: not at all (tracing
/// is off), by a server span (its trace is sampled), or by the context it passes on
/// (its trace is not sampled, so no span of it is built).
#[derive(Debug)]
enum Mode {
    Off,
    Sampled(Recorded),
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
///
/// The server span is the request's own record, not a `tracing` span: the hub's spans
/// opened while the request is served take it as their parent when no hub span encloses
/// them, and it is exported as the request ends. (A `tracing` span would cost a sampled
/// request the subscriber's span bookkeeping: a slot, an entry and exit on every poll,
/// look-ups to record its answer, a close.)
pub fn request(method: &http::Method, headers: &HeaderMap, request_id: &LogId) -> RequestTrace {
    decide(method, headers, || headers.contains_key(&TRACEPARENT), request_id)
}

/// [`request`] for a caller that has already looked for [`TRACEPARENT`] in `headers` (in
/// the one pass over them it makes for its own headers): `has_traceparent` says whether
/// it found one, and is believed.
pub fn request_with(
    method: &http::Method,
    headers: &HeaderMap,
    has_traceparent: bool,
    request_id: &LogId,
) -> RequestTrace {
    decide(method, headers, || has_traceparent, request_id)
}

fn decide(
    method: &http::Method,
    headers: &HeaderMap,
    has_traceparent: impl FnOnce() -> bool,
    request_id: &LogId,
) -> RequestTrace {
    let Some(ratio) = super::sampling::sample_ratio() else {
        return RequestTrace { mode: Mode::Off };
    };
    let parent = has_traceparent()
        .then(|| TraceContextPropagator::new().extract(&HeaderExtractor(headers)))
        .filter(|cx| cx.span().span_context().is_valid());
    let ids = super::ids::Ids;
    let mode = match parent {
        Some(cx) if !cx.span().span_context().is_sampled() => Mode::Unsampled(cx.span().span_context().clone()),
        Some(cx) => {
            let span = cx.span();
            let parent = span.span_context();
            let context = SpanContext::new(
                parent.trace_id(),
                ids.new_span_id(),
                parent.trace_flags(),
                false,
                parent.trace_state().clone(),
            );
            Mode::Sampled(server_span(method, request_id, context, Some(parent)))
        }
        None => {
            let trace_id = ids.new_trace_id();
            let flags = if super::sampling::keeps(ratio, trace_id) {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::NOT_SAMPLED
            };
            let context = SpanContext::new(trace_id, ids.new_span_id(), flags, false, TraceState::NONE);
            if context.is_sampled() {
                Mode::Sampled(server_span(method, request_id, context, None))
            } else {
                Mode::Unsampled(context)
            }
        }
    };
    RequestTrace { mode }
}

/// The W3C header that carries the caller's trace context, named once (looking it up by a
/// string would parse the name per request).
pub static TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");

/// The server span with `context`, the root of the hub's part of its trace: the child of
/// the caller's span `parent` when there is one. Its name and method are the method's
/// (shared when standard) and its request id is shared with the log context's.
fn server_span(
    method: &http::Method,
    request_id: &LogId,
    context: SpanContext,
    parent: Option<&SpanContext>,
) -> Recorded {
    let method = method_name(method);
    let attributes = vec![
        KeyValue::new("http.request.method", method.clone()),
        KeyValue::new("hub.request_id", request_id.text()),
    ];
    Recorded::server(method, context, parent, attributes)
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
        self.context().map(|sc| TraceId(sc.trace_id().to_bytes()))
    }

    /// The request's place in its trace, as its log context keeps it.
    fn ids(&self) -> Option<TraceIds> {
        self.context().map(ids_of)
    }

    /// The context the request's hub spans descend from: its server span's when sampled,
    /// else the one it passes on.
    fn context(&self) -> Option<&SpanContext> {
        match &self.mode {
            Mode::Off => None,
            Mode::Sampled(server) => Some(&server.context),
            Mode::Unsampled(sc) => Some(sc),
        }
    }

    /// Runs `request` (the request's work) in its trace with `log` as the context of every
    /// line it logs: the log context also keeps the request's place in its trace (one
    /// task-local for both), and [`in_current_trace`] carries it into a task the request
    /// spawns.
    /// Sampled: the hub's spans it opens are children of its server span, which records
    /// what `answer` reads off the response (its status and the route template that
    /// matched; for a 5xx the status is also the error type) and is exported as the
    /// request ends, or without an answer when the request is dropped unfinished. Not
    /// sampled: every hub span is turned off and upstream calls carry the decision on
    /// ([`inject`]). Tracing off: the request as it is.
    pub async fn within<F: Future>(
        self,
        mut log: LogContext,
        request: F,
        answer: impl FnOnce(&F::Output) -> (u16, Option<&'static str>),
    ) -> F::Output {
        log.trace = self.ids();
        match self.mode {
            Mode::Sampled(server) => {
                let mut server = Exported(Some(server));
                let output = context::scope(log, request).await;
                if let Some(server) = &mut server.0 {
                    let (status, route) = answer(&output);
                    server.answer(status, route);
                }
                output
            }
            Mode::Off | Mode::Unsampled(_) => context::scope(log, request).await,
        }
    }
}

/// A server span, exported when dropped: as the request ends, or when it is dropped unfinished.
struct Exported(Option<Recorded>);

impl Drop for Exported {
    fn drop(&mut self) {
        if let Some(server) = self.0.take() {
            record::export(server);
        }
    }
}

/// `ids` of the context `sc`.
fn ids_of(sc: &SpanContext) -> TraceIds {
    let state = sc.trace_state();
    TraceIds::new(
        TraceId(sc.trace_id().to_bytes()),
        sc.span_id().to_bytes(),
        sc.is_sampled(),
        (*state != TraceState::NONE).then(|| state.header().into()),
    )
}

/// The span context of `ids` (a local one: the request's open use case span or server
/// span, or the context the request passes on).
fn context_of(ids: &TraceIds) -> SpanContext {
    let flags = if ids.sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::NOT_SAMPLED
    };
    let state = ids
        .state
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or(TraceState::NONE);
    SpanContext::new(
        opentelemetry::trace::TraceId::from_bytes(ids.trace_id.0),
        opentelemetry::trace::SpanId::from_bytes(ids.parent_span_id()),
        flags,
        false,
        state,
    )
}

/// `f` of the place in its trace of the request the current task serves, if any.
fn with_request<R>(f: impl FnOnce(&TraceIds) -> R) -> Option<R> {
    context::with_current(|c| c.trace.as_ref().map(f)).flatten()
}

/// How a use case about to run in the calling task is traced ([`use_case`]).
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "a kept span is moved once, into its caller's box; boxing it here would allocate twice"
)]
pub enum UseCaseTrace {
    /// By a `tracing` span the use case opens, which every layer sees: the task serves no
    /// request traced by the hub (tracing is off, or the work is not a request's).
    Span,
    /// Not at all: the request the task serves is not sampled and builds no span.
    Skipped,
    /// By a span the request keeps itself.
    Kept(UseCaseSpan),
}

/// How the use case `name`, about to run in the calling task, is traced. In a sampled
/// request its span is kept by the request, as its server span is, rather than by the
/// subscriber: it is the child of the request's span (its server span, or the use case
/// span open), and while it is open the request's other hub spans outside any `tracing`
/// hub span descend from it. Kept spans nest (an inner one gives the parent back to the
/// outer as it closes); two polled side by side in one request would take each other as
/// parent, so a request runs its kept spans one within another. The span exported is named
/// `name` and has the attribute `hub.use_case`. (A `tracing` span
/// would cost a sampled request the subscriber's bookkeeping, as the server span would;
/// the price is that other layers do not see it.) Tracing off: one task-local look-up.
pub fn use_case(name: &'static str) -> UseCaseTrace {
    with_request(|ids| {
        if ids.sampled {
            UseCaseTrace::Kept(UseCaseSpan::open(ids, name))
        } else {
            UseCaseTrace::Skipped
        }
    })
    .unwrap_or(UseCaseTrace::Span)
}

/// A use case's span kept by the request it serves ([`use_case`]); exported when dropped.
#[derive(Debug)]
pub struct UseCaseSpan(Option<Recorded>);

impl UseCaseSpan {
    fn open(ids: &TraceIds, name: &'static str) -> Self {
        let parent = context_of(ids);
        let context = SpanContext::new(
            parent.trace_id(),
            super::ids::Ids.new_span_id(),
            parent.trace_flags(),
            false,
            parent.trace_state().clone(),
        );
        ids.parent.set(context.span_id().to_bytes());
        let attributes = vec![KeyValue::new("hub.use_case", name)];
        Self(Some(Recorded::internal(name, context, parent.span_id(), attributes)))
    }

    /// Records the attribute `key` as `value`.
    pub fn record(&mut self, key: &'static str, value: &'static str) {
        if let Some(record) = &mut self.0 {
            record.set(key, Value::from(value));
        }
    }
}

impl Drop for UseCaseSpan {
    fn drop(&mut self) {
        let Some(record) = self.0.take() else {
            return;
        };
        let own = record.context.span_id().to_bytes();
        let parent = record.parent_span_id().to_bytes();
        with_request(|ids| {
            if ids.parent.get() == own {
                ids.parent.set(parent);
            }
        });
        record::export(record);
    }
}

/// `task`, about to be spawned, made to keep the calling task's request context
/// ([`RequestTrace::within`]) — its log context, which holds its place in its trace: a
/// task-local is not inherited by a spawned task. The task's log lines name the request
/// that spawned it. (The enclosing hub span, when there is one, is carried by
/// instrumenting the task with it.)
pub fn in_current_trace<F: Future>(task: F) -> impl Future<Output = F::Output> {
    let log = context::current();
    async move {
        match log {
            Some(log) => context::scope(log, task).await,
            None => task.await,
        }
    }
}

/// Whether the current task serves a request whose trace is not sampled ([`RequestTrace::within`]).
pub(crate) fn unsampled_here() -> bool {
    with_request(|ids| !ids.sampled).unwrap_or(false)
}

/// The server span's context of the sampled request the current task serves, if any.
pub(super) fn sampled_request() -> Option<SpanContext> {
    with_request(|ids| ids.sampled.then(|| context_of(ids))).flatten()
}

/// The trace id of `span`'s trace; `None` when the span is disabled.
pub fn trace_id(span: &Span) -> Option<TraceId> {
    record::with(span, |r| r.context.trace_id())
        .filter(|id| *id != opentelemetry::trace::TraceId::INVALID)
        .map(|id| TraceId(id.to_bytes()))
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
/// upstream's spans are its children. Without a recorded span (while serving a request
/// whose trace is not sampled, its spans are not built), the request's context is sent
/// instead, flagged not sampled, so the upstream does not start a trace of its own.
/// Tracing off, nothing.
pub fn inject(span: &Span, headers: &mut HeaderMap) {
    let Some(sc) = record::with(span, |r| r.context.clone()).or_else(|| with_request(context_of)) else {
        return;
    };
    let cx = opentelemetry::Context::new().with_remote_span_context(sc);
    TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(headers));
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
    /// The ids of a request's place in its trace (always valid: the hub drew or checked them).
    fn of_request(ids: &TraceIds) -> Self {
        Self {
            trace_id: ids.trace_id.0,
            span_id: ids.parent_span_id(),
            sampled: ids.sampled,
        }
    }

    fn of(sc: &SpanContext) -> Option<Self> {
        sc.is_valid().then(|| Self {
            trace_id: sc.trace_id().to_bytes(),
            span_id: sc.span_id().to_bytes(),
            sampled: sc.is_sampled(),
        })
    }
}

/// The context of the hub span the calling task is in; outside any, the context of the
/// request it serves (its server span's, or flagged not sampled). `None` when tracing is
/// off (then nothing is looked up but the subscriber's layer, and nothing is allocated)
/// or the task is in neither.
pub fn current_ids() -> Option<SpanIds> {
    super::sampling::sample_ratio()?;
    match record::with(&Span::current(), |r| SpanIds::of(&r.context)) {
        Some(ids) => ids,
        None => with_request(SpanIds::of_request),
    }
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
