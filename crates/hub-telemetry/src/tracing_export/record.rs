//! The layer that records the hub's own spans as OpenTelemetry span data, and hands each
//! sampled one to the export's span processor when it closes.
//!
//! It does for the hub's spans what `tracing-opentelemetry` does for any span, without
//! building an SDK span, a shared lock and an OpenTelemetry context per span: a span's
//! record lives in its `tracing` extensions and becomes the exported `SpanData` as it
//! is. The fields `otel.name` and `otel.kind` name the span and give its kind; every
//! other field is an attribute. A request's server span is a record of the same kind
//! kept by the request itself ([`super::spans::request`]) and exported through [`export`].

use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::trace::{Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::trace::{IdGenerator as _, SpanData, SpanEvents, SpanLinks, SpanProcessor};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Metadata, Span, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, Registry};

use super::{ids, sampling, spans};
use crate::logging::layer::LogLayer;

/// One span as it is being recorded: its place in the trace and what it will export.
#[derive(Debug)]
pub(super) struct Recorded {
    /// Its trace id, its own id, whether it is sampled, and the trace's state.
    pub(super) context: SpanContext,
    parent_span_id: SpanId,
    parent_is_remote: bool,
    kind: SpanKind,
    name: Cow<'static, str>,
    start: SystemTime,
    attributes: Vec<KeyValue>,
    events: Vec<Event>,
    links: Vec<Link>,
    status: Status,
}

impl Recorded {
    /// A sampled server span with `context`, named `name`, starting now: the child of
    /// `parent`, the caller's span in another process, when there is one.
    pub(super) fn server(
        name: Cow<'static, str>,
        context: SpanContext,
        parent: Option<&SpanContext>,
        attributes: Vec<KeyValue>,
    ) -> Self {
        let parent_span_id = parent.map_or(SpanId::INVALID, SpanContext::span_id);
        Self::new(
            SpanKind::Server,
            name,
            context,
            (parent_span_id, parent.is_some()),
            attributes,
        )
    }

    /// A sampled internal span with `context`, named `name`, starting now: the child of
    /// the local span `parent`.
    pub(super) fn internal(
        name: &'static str,
        context: SpanContext,
        parent: SpanId,
        attributes: Vec<KeyValue>,
    ) -> Self {
        Self::new(
            SpanKind::Internal,
            Cow::Borrowed(name),
            context,
            (parent, false),
            attributes,
        )
    }

    /// A span of `kind` starting now; `parent` is its parent's span id and whether that
    /// span is remote.
    fn new(
        kind: SpanKind,
        name: Cow<'static, str>,
        context: SpanContext,
        parent: (SpanId, bool),
        attributes: Vec<KeyValue>,
    ) -> Self {
        Self {
            context,
            parent_span_id: parent.0,
            parent_is_remote: parent.1,
            kind,
            name,
            start: SystemTime::now(),
            attributes,
            events: Vec::new(),
            links: Vec::new(),
            status: Status::Unset,
        }
    }

    /// Its parent's span id (invalid for a root span).
    pub(super) fn parent_span_id(&self) -> SpanId {
        self.parent_span_id
    }

    /// Records a server span's answer: its status, the route template that matched (when
    /// one did), and for a 5xx the status as the error type and the span's status.
    pub(super) fn answer(&mut self, status: u16, route: Option<&'static str>) {
        self.set("http.response.status_code", Value::I64(i64::from(status)));
        if let Some(route) = route {
            self.set("http.route", Value::from(route));
        }
        if status >= 500 {
            let error_type = status.to_string();
            self.set("error.type", Value::from(error_type.clone()));
            self.set_status(Status::error(error_type));
        }
    }

    /// Sets the span's status.
    pub(super) fn set_status(&mut self, status: Status) {
        if self.context.is_sampled() {
            self.status = status;
        }
    }

    /// Adds the event `name` with `attributes`, at the current time.
    pub(super) fn add_event(&mut self, name: &'static str, attributes: Vec<KeyValue>) {
        if self.context.is_sampled() {
            self.events.push(Event::new(name, SystemTime::now(), attributes, 0));
        }
    }

    /// Adds a link to the span `to`.
    pub(super) fn add_link(&mut self, to: SpanContext) {
        if self.context.is_sampled() {
            self.links.push(Link::with_context(to));
        }
    }

    /// Sets the attribute `key` (replacing an earlier value of it), or the span's name or
    /// kind for `otel.name` and `otel.kind`.
    pub(super) fn set(&mut self, key: &'static str, value: Value) {
        match key {
            "otel.name" => self.name = Cow::Owned(value.as_str().into_owned()),
            "otel.kind" => self.kind = kind(&value.as_str()),
            _ => self.put(key, value, false),
        }
    }

    /// Sets the attribute `key`: added without looking for an earlier value when `new`
    /// (a span's fields as it opens are each named once).
    fn put(&mut self, key: &'static str, value: Value, new: bool) {
        let earlier = if new {
            None
        } else {
            self.attributes.iter_mut().find(|kv| kv.key.as_str() == key)
        };
        match earlier {
            Some(kv) => kv.value = value,
            None => self.attributes.push(KeyValue::new(key, value)),
        }
    }

    /// The span data to export, ended now.
    fn end(self, scope: InstrumentationScope) -> SpanData {
        let mut events = SpanEvents::default();
        events.events = self.events;
        let mut links = SpanLinks::default();
        links.links = self.links;
        SpanData {
            span_context: self.context,
            parent_span_id: self.parent_span_id,
            parent_span_is_remote: self.parent_is_remote,
            span_kind: self.kind,
            name: self.name,
            start_time: self.start,
            end_time: SystemTime::now(),
            attributes: self.attributes,
            dropped_attributes_count: 0,
            events,
            links,
            status: self.status,
            instrumentation_scope: scope,
        }
    }
}

/// The span kind an `otel.kind` value names; anything else is internal.
fn kind(value: &str) -> SpanKind {
    match value {
        "server" => SpanKind::Server,
        "client" => SpanKind::Client,
        "producer" => SpanKind::Producer,
        "consumer" => SpanKind::Consumer,
        _ => SpanKind::Internal,
    }
}

/// Writes a span's fields into its record: those it opens with (`new`), or later ones.
struct Fields<'a> {
    record: &'a mut Recorded,
    new: bool,
}

impl Fields<'_> {
    fn set(&mut self, key: &'static str, value: Value) {
        match key {
            "otel.name" | "otel.kind" => self.record.set(key, value),
            _ => self.record.put(key, value, self.new),
        }
    }
}

impl Visit for Fields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field.name(), Value::F64(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field.name(), Value::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        let value = i64::try_from(value).map_or_else(|_| Value::from(value.to_string()), Value::I64);
        self.set(field.name(), value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field.name(), Value::Bool(value));
    }

    // The name and kind are read without an attribute's copy of the text.
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "otel.name" => self.record.name = Cow::Owned(value.to_owned()),
            "otel.kind" => self.record.kind = kind(value),
            name => self.set(name, Value::from(value.to_owned())),
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.set(field.name(), Value::from(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.set(field.name(), Value::from(format!("{value:?}")));
    }
}

/// The layer: records the hub's spans and exports the sampled ones through `processor`.
///
/// A span's parent is the enclosing hub span (explicit or current); a span without one
/// starts a trace, sampled when it is a server span (its request's trace was sampled
/// before it opened) and otherwise by the trace-id ratio. A child follows its parent.
///
/// It filters for itself, as a plain layer, not through a per-layer filter: those look the
/// span up in the registry on every enter, exit, record and close (a tenth of a traced
/// read's time). It turns the hub's spans off while the current task serves a request
/// whose trace is not sampled ([`super::spans::request`]), so that such a request builds
/// no span for any layer, and leaves every other span and event to the other layers.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    processor: Arc<dyn SpanProcessor>,
    scope: InstrumentationScope,
    sample_ratio: f64,
}

impl Recorder {
    pub(super) fn new(processor: Arc<dyn SpanProcessor>, scope: InstrumentationScope, sample_ratio: f64) -> Self {
        Self {
            processor,
            scope,
            sample_ratio,
        }
    }

    /// The share of new traces (other than requests', decided before) it samples.
    pub(super) fn sample_ratio(&self) -> f64 {
        self.sample_ratio
    }
}

impl<S> Layer<S> for Recorder
where
    S: Subscriber + for<'a> LookupSpan<'a> + 'static,
{
    // The hub's log layer, when it was added before this one, lets no span through until
    // told (added after, it finds this layer itself).
    fn on_layer(&mut self, inner: &mut S) {
        let inner: &dyn Subscriber = inner;
        if let Some(log) = inner.downcast_ref::<LogLayer>() {
            log.let_hub_spans_through();
        }
    }

    // A hub span is asked about each time: the answer depends on the task.
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if crate::hub_span(meta) {
            Interest::sometimes()
        } else {
            Interest::always()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        !(crate::hub_span(meta) && spans::unsampled_here())
    }

    // The hub's spans are of any level: a log level above theirs must not turn them off.
    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::TRACE)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !crate::hub_span(attrs.metadata()) {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        let parent = if attrs.is_root() {
            None
        } else if let Some(parent) = attrs.parent() {
            ctx.span(parent)
        } else {
            ctx.lookup_current()
        };
        let parent = parent.and_then(|p| p.extensions().get::<Recorded>().map(|r| r.context.clone()));
        // Outside any hub span, a span of a sampled request is its server span's child.
        let parent = match parent {
            None if attrs.is_contextual() => spans::sampled_request(),
            parent => parent,
        };
        let ids = ids::Ids;
        // Its context and parent are set once its fields (`otel.kind` among them) are read.
        let mut recorded = Recorded::new(
            SpanKind::Internal,
            Cow::Borrowed(attrs.metadata().name()),
            SpanContext::NONE,
            (SpanId::INVALID, false),
            Vec::with_capacity(attrs.fields().len()),
        );
        attrs.record(&mut Fields {
            record: &mut recorded,
            new: true,
        });
        recorded.context = match parent {
            Some(parent) => {
                recorded.parent_span_id = parent.span_id();
                SpanContext::new(
                    parent.trace_id(),
                    ids.new_span_id(),
                    parent.trace_flags(),
                    false,
                    parent.trace_state().clone(),
                )
            }
            None => {
                let trace_id = ids.new_trace_id();
                let sampled = recorded.kind == SpanKind::Server || sampling::keeps(self.sample_ratio, trace_id);
                let flags = if sampled {
                    TraceFlags::SAMPLED
                } else {
                    TraceFlags::NOT_SAMPLED
                };
                SpanContext::new(trace_id, ids.new_span_id(), flags, false, TraceState::NONE)
            }
        };
        if !recorded.context.is_sampled() {
            recorded.attributes = Vec::new();
        }
        span.extensions_mut().insert(recorded);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if let Some(recorded) = extensions.get_mut::<Recorded>()
            && recorded.context.is_sampled()
        {
            values.record(&mut Fields {
                record: recorded,
                new: false,
            });
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: Context<'_, S>) {
        let Some(to) = ctx
            .span(follows)
            .and_then(|f| f.extensions().get::<Recorded>().map(|r| r.context.clone()))
        else {
            return;
        };
        if let Some(span) = ctx.span(id)
            && let Some(recorded) = span.extensions_mut().get_mut::<Recorded>()
        {
            recorded.add_link(to);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let recorded = span.extensions_mut().remove::<Recorded>();
        if let Some(recorded) = recorded
            && recorded.context.is_sampled()
        {
            self.processor.on_end(recorded.end(self.scope.clone()));
        }
    }
}

/// Hands the ended span `recorded` to the export of the subscriber's recorder (none when
/// tracing is off).
pub(super) fn export(recorded: Recorded) {
    let mut recorded = Some(recorded);
    tracing::dispatcher::get_default(|dispatch| {
        if let Some(recorder) = dispatch.downcast_ref::<Recorder>()
            && let Some(recorded) = recorded.take()
        {
            recorder.processor.on_end(recorded.end(recorder.scope.clone()));
        }
    });
}

/// Runs `f` on the record of `span`; `None` when the span is disabled or not recorded
/// (tracing is off, or the span is not the hub's).
pub(super) fn with<R>(span: &Span, f: impl FnOnce(&mut Recorded) -> R) -> Option<R> {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        let data = registry.span(id)?;
        let mut extensions = data.extensions_mut();
        extensions.get_mut::<Recorded>().map(f)
    })
    .flatten()
}

#[cfg(test)]
mod tests;
