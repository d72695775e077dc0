//! The OTLP/HTTP span exporter: each batch written straight from the SDK's span data into
//! one `ExportTraceServiceRequest` in protobuf and posted to the collector's `/v1/traces`.
//!
//! Why not `opentelemetry-otlp`'s exporter: it copies every span into the generated
//! protobuf types (a `String` or `Vec` per id, name and attribute) and groups them by
//! resource and scope through a hash map before encoding; on the hub's cached reads that
//! was 8 % of the process's CPU with every request traced (docs/decisions.md).

use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Method, Request, Uri};
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceState};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_http::{Bytes, HttpClient};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::protobuf::Writer;

/// The variables naming extra headers for every export (`key=value,key2=value2`, values
/// percent-encoded), the traces' own first, as OpenTelemetry's exporters read them.
pub const HEADER_VARIABLES: [&str; 2] = ["OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"];

/// Posts batches of spans to one collector through `client`.
#[derive(Debug)]
pub struct OtlpExporter {
    client: Arc<dyn HttpClient>,
    url: Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// The resource of every request, encoded once.
    resource: EncodedResource,
    stopped: AtomicBool,
}

impl OtlpExporter {
    /// An exporter posting to `url` with `headers` on every request.
    pub fn new(client: Arc<dyn HttpClient>, url: Uri, headers: Vec<(HeaderName, HeaderValue)>) -> Self {
        Self {
            client,
            url,
            headers,
            resource: EncodedResource::default(),
            stopped: AtomicBool::new(false),
        }
    }
}

impl SpanExporter for OtlpExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if self.stopped.load(Ordering::Acquire) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let body = encode_request(&self.resource, &batch);
        let mut request = Request::new(Bytes::from(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.url.clone();
        let headers = request.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"));
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
        let response = self
            .client
            .send_bytes(request)
            .await
            .map_err(|e| OTelSdkError::InternalFailure(format!("the collector could not be reached: {e}")))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(OTelSdkError::InternalFailure(format!(
                "the collector answered {}",
                response.status()
            )))
        }
    }

    fn shutdown_with_timeout(&self, _timeout: std::time::Duration) -> OTelSdkResult {
        if self.stopped.swap(true, Ordering::AcqRel) {
            Err(OTelSdkError::AlreadyShutdown)
        } else {
            Ok(())
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = EncodedResource::new(resource);
    }
}

/// The extra headers the environment names ([`HEADER_VARIABLES`]: the first one set wins).
pub fn headers_from_env() -> Vec<(HeaderName, HeaderValue)> {
    HEADER_VARIABLES
        .iter()
        .find_map(|name| std::env::var(name).ok())
        .map(|value| parse_headers(&value))
        .unwrap_or_default()
}

/// The headers `value` names (`key=value,key2=value2`, each value percent-decoded), in
/// order; a pair that is not a valid header name and value is left out, as OpenTelemetry's
/// exporters leave it out. Values are marked sensitive (they are often API keys).
pub fn parse_headers(value: &str) -> Vec<(HeaderName, HeaderValue)> {
    value
        .split_terminator(',')
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            let (name, value) = (name.trim(), value.trim());
            let decoded = percent_decode(value).unwrap_or_else(|| value.to_owned());
            let name = HeaderName::from_str(name).ok()?;
            let mut value = HeaderValue::from_str(&decoded).ok().filter(|v| !v.is_empty())?;
            value.set_sensitive(true);
            Some((name, value))
        })
        .collect()
}

/// `value` with each `%XX` replaced by its byte; `None` when an escape is malformed or the
/// result is not UTF-8.
fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// An `ExportTraceServiceRequest` of `spans` under one resource, one `ScopeSpans` per
/// instrumentation scope in the order scopes first appear.
pub(crate) fn encode_request(resource: &EncodedResource, spans: &[SpanData]) -> Vec<u8> {
    // Each span's scope, as an index into `scopes`: nearly always one scope, all the hub's.
    let mut scopes: Vec<&InstrumentationScope> = Vec::new();
    let mut scope_of = Vec::with_capacity(spans.len());
    for span in spans {
        let scope = &span.instrumentation_scope;
        let i = match scopes.iter().position(|s| same_scope(s, scope)) {
            Some(i) => i,
            None => {
                scopes.push(scope);
                scopes.len() - 1
            }
        };
        scope_of.push(i);
    }
    // Up to about 500 bytes per span of the hub's (a client span's URL is the longest part).
    let mut w = Writer::with_capacity(resource.body.len() + 64 + spans.len() * 512);
    // The lengths' room is that of their usual sizes: a batch's up to 2 MiB, a span's up to
    // 16 KiB, so that no body is moved to fit its length.
    let batch = usize::from(spans.len() > 30) + 2;
    // ExportTraceServiceRequest.resource_spans
    w.message_sized(1, batch, |w| {
        // ResourceSpans.resource
        w.bytes_field(1, &resource.body);
        for (i, scope) in scopes.iter().enumerate() {
            // ResourceSpans.scope_spans
            w.message_sized(2, batch, |w| {
                w.message(1, |w| encode_scope(w, scope));
                for (span, _) in spans.iter().zip(&scope_of).filter(|(_, s)| **s == i) {
                    w.message_sized(2, 2, |w| encode_span(w, span));
                }
                w.string(3, scope.schema_url().unwrap_or_default());
            });
        }
        w.string(3, &resource.schema_url);
    });
    w.into_bytes()
}

/// A resource as every request carries it: the `Resource` message's body, and the schema
/// URL that goes beside it.
#[derive(Debug, Default)]
pub(crate) struct EncodedResource {
    body: Vec<u8>,
    schema_url: String,
}

impl EncodedResource {
    pub(crate) fn new(resource: &Resource) -> Self {
        let mut w = Writer::default();
        for (key, value) in resource.iter() {
            w.message(1, |w| encode_key_value(w, key.as_str(), value));
        }
        Self {
            body: w.into_bytes(),
            schema_url: resource.schema_url().unwrap_or_default().to_owned(),
        }
    }
}

/// Whether two spans' scopes are one: the same name, version, schema URL and attributes
/// in the same order. (`InstrumentationScope`'s own equality sorts copies of both
/// attribute lists, per comparison; scopes equal but for their attributes' order are
/// written as two `ScopeSpans`, which a collector reads alike.)
fn same_scope(a: &InstrumentationScope, b: &InstrumentationScope) -> bool {
    a.name() == b.name()
        && a.version() == b.version()
        && a.schema_url() == b.schema_url()
        && a.attributes().eq(b.attributes())
}

fn encode_scope(w: &mut Writer, scope: &InstrumentationScope) {
    w.string(1, scope.name());
    w.string(2, scope.version().unwrap_or_default());
    for kv in scope.attributes() {
        w.message(3, |w| encode_key_value(w, kv.key.as_str(), &kv.value));
    }
}

fn encode_span(w: &mut Writer, span: &SpanData) {
    let context = &span.span_context;
    w.bytes(1, &context.trace_id().to_bytes());
    w.bytes(2, &context.span_id().to_bytes());
    encode_trace_state(w, 3, context.trace_state());
    if span.parent_span_id != SpanId::INVALID {
        w.bytes(4, &span.parent_span_id.to_bytes());
    }
    w.string(5, &span.name);
    w.uint(6, kind_number(&span.span_kind));
    w.fixed64(7, nanos(span.start_time));
    w.fixed64(8, nanos(span.end_time));
    encode_attributes(w, 9, &span.attributes);
    w.uint(10, u64::from(span.dropped_attributes_count));
    for event in &span.events.events {
        w.message(11, |w| {
            w.fixed64(1, nanos(event.timestamp));
            w.string(2, &event.name);
            encode_attributes(w, 3, &event.attributes);
            w.uint(4, u64::from(event.dropped_attributes_count));
        });
    }
    w.uint(12, u64::from(span.events.dropped_count));
    for link in &span.links.links {
        w.message(13, |w| {
            w.bytes(1, &link.span_context.trace_id().to_bytes());
            w.bytes(2, &link.span_context.span_id().to_bytes());
            encode_trace_state(w, 3, link.span_context.trace_state());
            encode_attributes(w, 4, &link.attributes);
            w.uint(5, u64::from(link.dropped_attributes_count));
            w.fixed32(6, flags(&link.span_context, link.span_context.is_remote()));
        });
    }
    w.uint(14, u64::from(span.links.dropped_count));
    w.message(15, |w| match &span.status {
        Status::Unset => {}
        Status::Ok => w.uint(3, 1),
        Status::Error { description } => {
            w.string(2, description);
            w.uint(3, 2);
        }
    });
    w.fixed32(16, flags(context, span.parent_span_is_remote));
}

/// A span's or link's `flags`: the trace flags, and whether the parent (or the linked
/// span) is remote, with the bit saying that this is known.
fn flags(context: &SpanContext, remote: bool) -> u32 {
    const HAS_IS_REMOTE: u32 = 0x100;
    const IS_REMOTE: u32 = 0x200;
    let mut flags = u32::from(context.trace_flags().to_u8()) | HAS_IS_REMOTE;
    if remote {
        flags |= IS_REMOTE;
    }
    flags
}

fn encode_trace_state(w: &mut Writer, field: u32, state: &TraceState) {
    if *state != TraceState::NONE {
        w.string(field, &state.header());
    }
}

fn kind_number(kind: &SpanKind) -> u64 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

fn nanos(time: std::time::SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn encode_attributes(w: &mut Writer, field: u32, attributes: &[KeyValue]) {
    for kv in attributes {
        w.message(field, |w| encode_key_value(w, kv.key.as_str(), &kv.value));
    }
}

fn encode_key_value(w: &mut Writer, key: &str, value: &Value) {
    w.string(1, key);
    w.message(2, |w| encode_value(w, value));
}

/// An `AnyValue`'s body: its one member, written whatever its value.
fn encode_value(w: &mut Writer, value: &Value) {
    match value {
        Value::Bool(b) => w.varint_field(2, u64::from(*b)),
        Value::I64(i) => w.varint_field(3, u64::from_ne_bytes(i.to_ne_bytes())),
        Value::F64(f) => w.fixed64_field(4, f.to_bits()),
        Value::String(s) => w.bytes_field(1, s.as_str().as_bytes()),
        Value::Array(array) => w.message(5, |w| encode_array(w, array)),
        // A kind of value added to the API later: its text.
        other => w.bytes_field(1, other.to_string().as_bytes()),
    }
}

/// An `ArrayValue`'s body: one `AnyValue` per element.
fn encode_array(w: &mut Writer, array: &Array) {
    match array {
        Array::Bool(values) => values
            .iter()
            .for_each(|v| w.message(1, |w| encode_value(w, &Value::Bool(*v)))),
        Array::I64(values) => values
            .iter()
            .for_each(|v| w.message(1, |w| encode_value(w, &Value::I64(*v)))),
        Array::F64(values) => values
            .iter()
            .for_each(|v| w.message(1, |w| encode_value(w, &Value::F64(*v)))),
        Array::String(values) => values
            .iter()
            .for_each(|v| w.message(1, |w| w.bytes_field(1, v.as_str().as_bytes()))),
        other => w.message(1, |w| w.bytes_field(1, other.to_string().as_bytes())),
    }
}

#[cfg(test)]
mod tests;
