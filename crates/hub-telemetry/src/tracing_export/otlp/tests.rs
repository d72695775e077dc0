use std::borrow::Cow;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_http::{HttpError, Response};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
use proptest::prelude::*;
use proptest::strategy::ValueTree as _;
use prost::Message as _;

use super::*;

/// What `opentelemetry-proto`'s own conversion makes of `spans` (the exporter the hub's
/// replaced), to compare with what the hub's encoding decodes to.
fn reference(resource: &Resource, spans: Vec<SpanData>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(spans, &ResourceAttributesWithSchema::from(resource)),
    }
}

fn decoded(resource: &Resource, spans: &[SpanData]) -> ExportTraceServiceRequest {
    let bytes = encode_request(&EncodedResource::new(resource), spans);
    ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap()
}

fn value() -> impl Strategy<Value = Value> {
    // Short texts, and some whose length takes two bytes.
    let text = prop_oneof![4 => "[a-zé/ _-]{0,12}", 1 => "[a-z]{120,200}"].prop_map(|s: String| StringValue::from(s));
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::I64),
        // NaN is not equal to itself; any other double is compared.
        any::<f64>()
            .prop_filter("comparable", |f| !f.is_nan())
            .prop_map(Value::F64),
        text.clone().prop_map(Value::String),
        proptest::collection::vec(any::<bool>(), 0..3).prop_map(|v| Value::Array(Array::Bool(v))),
        proptest::collection::vec(any::<i64>(), 0..3).prop_map(|v| Value::Array(Array::I64(v))),
        proptest::collection::vec(-1e9f64..1e9, 0..3).prop_map(|v| Value::Array(Array::F64(v))),
        proptest::collection::vec(text, 0..3).prop_map(|v| Value::Array(Array::String(v))),
    ]
}

fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    proptest::collection::vec(("[a-z.]{0,16}", value()).prop_map(|(k, v)| KeyValue::new(k, v)), 0..5)
}

fn context() -> impl Strategy<Value = SpanContext> {
    (
        1u128..,
        1u64..,
        any::<bool>(),
        any::<bool>(),
        prop::option::of("[a-z]{1,5}=[a-z0-9]{1,5}"),
    )
        .prop_map(|(trace, span, sampled, remote, state)| {
            let state = state.map_or(TraceState::NONE, |s| s.parse().unwrap());
            let flags = if sampled {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::default()
            };
            SpanContext::new(TraceId::from(trace), SpanId::from(span), flags, remote, state)
        })
}

fn time() -> impl Strategy<Value = SystemTime> {
    (0u64..4_000_000_000_000_000_000).prop_map(|n| SystemTime::UNIX_EPOCH + Duration::from_nanos(n))
}

fn scope() -> impl Strategy<Value = InstrumentationScope> {
    (
        prop::sample::select(vec!["integration-hub", "other"]),
        prop::option::of("1\\.[0-9]"),
        any::<bool>(),
    )
        .prop_map(|(name, version, schema)| {
            let mut scope = InstrumentationScope::builder(name);
            if let Some(version) = version {
                scope = scope.with_version(version);
            }
            if schema {
                scope = scope.with_schema_url("https://opentelemetry.io/schemas/1.26.0");
            }
            scope.build()
        })
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Unset),
        Just(Status::Ok),
        "[a-z ]{0,10}".prop_map(|d| Status::Error {
            description: Cow::Owned(d)
        }),
    ]
}

fn kind() -> impl Strategy<Value = SpanKind> {
    prop::sample::select(vec![
        SpanKind::Internal,
        SpanKind::Server,
        SpanKind::Client,
        SpanKind::Producer,
        SpanKind::Consumer,
    ])
}

fn event() -> impl Strategy<Value = Event> {
    ("[a-z ]{0,10}", time(), attributes(), 0u32..3)
        .prop_map(|(name, at, attributes, dropped)| Event::new(name, at, attributes, dropped))
}

fn link() -> impl Strategy<Value = Link> {
    (context(), attributes(), 0u32..3)
        .prop_map(|(context, attributes, dropped)| Link::new(context, attributes, dropped))
}

prop_compose! {
    fn span()(
        context in context(),
        parent in any::<u64>(),
        parent_span_is_remote in any::<bool>(),
        span_kind in kind(),
        name in "[a-zA-Z /{}]{0,20}",
        start_time in time(),
        end_time in time(),
        attributes in attributes(),
        dropped_attributes_count in 0u32..3,
        events in proptest::collection::vec(event(), 0..3),
        dropped_events in 0u32..3,
        links in proptest::collection::vec(link(), 0..3),
        dropped_links in 0u32..3,
        status in status(),
        instrumentation_scope in scope(),
    ) -> SpanData {
        SpanData {
            span_context: context,
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote,
            span_kind,
            name: Cow::Owned(name),
            start_time,
            end_time,
            attributes,
            dropped_attributes_count,
            events: { let mut e = SpanEvents::default(); e.events = events; e.dropped_count = dropped_events; e },
            links: { let mut l = SpanLinks::default(); l.links = links; l.dropped_count = dropped_links; l },
            status,
            instrumentation_scope,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Any batch decodes to exactly what the OpenTelemetry exporter's own conversion makes
    /// of it: the same resource, the same scopes in the same order, every field of every span.
    #[test]
    fn a_batch_decodes_to_what_opentelemetrys_conversion_makes(
        spans in proptest::collection::vec(span(), 0..6),
        service in "[a-z-]{1,12}",
        schema in any::<bool>(),
    ) {
        let mut resource = Resource::builder_empty()
            .with_service_name(service)
            .with_attribute(KeyValue::new("deployment.environment", "test"));
        if schema {
            resource = resource.with_schema_url(Vec::<KeyValue>::new(), "https://opentelemetry.io/schemas/1.26.0");
        }
        let resource = resource.build();
        prop_assert_eq!(decoded(&resource, &spans), reference(&resource, spans));
    }
}

/// A client that keeps each request and answers with `status`.
#[derive(Debug)]
struct Collector {
    status: u16,
    seen: Mutex<Vec<Request<Bytes>>>,
}

#[async_trait::async_trait]
impl HttpClient for Collector {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        self.seen.lock().unwrap().push(request);
        let mut response = Response::new(Bytes::new());
        *response.status_mut() = http::StatusCode::from_u16(self.status)?;
        Ok(response)
    }
}

fn exporter(status: u16) -> (Arc<Collector>, OtlpExporter) {
    let collector = Arc::new(Collector {
        status,
        seen: Mutex::default(),
    });
    let headers = parse_headers("x-api-key=s3cret%21, x-team = hub");
    let exporter = OtlpExporter::new(
        collector.clone(),
        Uri::from_static("http://collector:4318/v1/traces"),
        headers,
    );
    (collector, exporter)
}

fn one_span() -> SpanData {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    span().new_tree(&mut runner).unwrap().current()
}

#[tokio::test]
async fn a_batch_is_posted_as_protobuf_with_the_configured_headers() {
    let (collector, mut exporter) = exporter(200);
    let resource = Resource::builder_empty().with_service_name("integration-hub").build();
    exporter.set_resource(&resource);
    let span = one_span();
    exporter.export(vec![span.clone()]).await.unwrap();
    let seen = collector.seen.lock().unwrap();
    let request = &seen[0];
    assert_eq!(request.method(), Method::POST);
    assert_eq!(request.uri(), "http://collector:4318/v1/traces");
    assert_eq!(request.headers()[CONTENT_TYPE], "application/x-protobuf");
    assert_eq!(request.headers()["x-api-key"], "s3cret!");
    assert!(request.headers()["x-api-key"].is_sensitive());
    assert_eq!(request.headers()["x-team"], "hub");
    let body = ExportTraceServiceRequest::decode(request.body().as_ref()).unwrap();
    assert_eq!(body, reference(&resource, vec![span]));
}

#[tokio::test]
async fn a_refused_batch_is_an_error_and_a_stopped_exporter_sends_nothing() {
    let (collector, exporter) = exporter(503);
    let refused = exporter.export(vec![one_span()]).await.unwrap_err();
    assert!(refused.to_string().contains("503"), "{refused}");
    exporter.shutdown().unwrap();
    assert!(matches!(
        exporter.export(vec![one_span()]).await,
        Err(OTelSdkError::AlreadyShutdown)
    ));
    assert!(matches!(exporter.shutdown(), Err(OTelSdkError::AlreadyShutdown)));
    assert_eq!(collector.seen.lock().unwrap().len(), 1);
}

#[test]
fn headers_are_parsed_as_opentelemetrys_exporters_parse_them() {
    let parsed: Vec<(String, String)> = parse_headers(" a=1 ,b = two%20words,,bad name=x,c=,=d,e=%zz,f=%41")
        .into_iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    let expected = [("a", "1"), ("b", "two words"), ("e", "%zz"), ("f", "A")];
    assert_eq!(parsed, expected.map(|(n, v)| (n.to_owned(), v.to_owned())).to_vec());
}

proptest! {
    /// Any `name=value` list with valid names and printable values reads back as written,
    /// percent-escapes included.
    #[test]
    fn a_header_list_reads_back(pairs in proptest::collection::vec(("[a-z][a-z0-9-]{0,10}", "[!-~]{1,12}"), 0..5)) {
        let text: Vec<String> = pairs
            .iter()
            .map(|(n, v)| {
                let escaped: String = v.bytes().map(|b| format!("%{b:02X}")).collect();
                format!("{n}={escaped}")
            })
            .collect();
        let parsed: Vec<(String, String)> = parse_headers(&text.join(","))
            .into_iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        prop_assert_eq!(parsed, pairs);
    }
}
