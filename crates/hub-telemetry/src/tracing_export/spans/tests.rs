use std::sync::{Arc, Mutex};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tracing_subscriber::layer::SubscriberExt as _;

use super::*;

/// Keeps every exported span.
#[derive(Debug, Clone, Default)]
struct Kept(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Kept {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

/// Runs `f` under a subscriber with the OpenTelemetry layer, and returns the spans it ended.
fn traced(f: impl FnOnce()) -> Vec<SpanData> {
    let kept = Kept::default();
    let provider = SdkTracerProvider::builder().with_simple_exporter(kept.clone()).build();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("test"))
        .with_filter(tracing_subscriber::filter::filter_fn(|m| m.is_span()));
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f);
    kept.0.lock().unwrap().clone()
}

use tracing_subscriber::Layer as _;

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
fn a_request_continues_the_callers_trace_and_an_attempt_sends_its_own_span() {
    let mut headers = HeaderMap::new();
    headers.insert("traceparent", PARENT.parse().unwrap());
    let mut sent = HeaderMap::new();
    let mut seen_trace = None;
    let spans = traced(|| {
        let server = server_span("GET", &headers, "req-1");
        seen_trace = trace_id(&server);
        let _in = server.enter();
        let attempt = attempt_span(
            "get_ticket",
            &"http://user:secret@tickets.example:8443/t/1?x=2".parse().unwrap(),
            0,
        );
        inject(&attempt, &mut sent);
        record_attempt(&attempt, Some(503), Some("upstream_5xx"));
        breaker_transition(&attempt, "ticketing", "closed", "open");
        budget_wait(&server, 40);
        drop(attempt);
        record_answer(&server, 502, Some("/v1/tickets/{id}"), None);
    });
    assert_eq!(seen_trace.map(|t| t.hex()), Some(*b"4bf92f3577b34da6a3ce929d0e0e4736"));
    let server = spans.iter().find(|s| s.name == "GET").unwrap();
    let attempt = spans.iter().find(|s| s.name == "get_ticket").unwrap();
    assert_eq!(server.parent_span_id.to_string(), "00f067aa0ba902b7");
    assert_eq!(
        server.span_context.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(attempt.parent_span_id, server.span_context.span_id());
    let traceparent = sent.get("traceparent").unwrap().to_str().unwrap();
    assert_eq!(
        traceparent,
        format!(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-{}-01",
            attempt.span_context.span_id()
        )
    );
    let attr = |s: &SpanData, k: &str| {
        s.attributes
            .iter()
            .find(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(attr(server, "http.route").as_deref(), Some("/v1/tickets/{id}"));
    assert_eq!(attr(server, "http.response.status_code").as_deref(), Some("502"));
    assert_eq!(attr(server, "error.type").as_deref(), Some("502"));
    assert_eq!(attr(server, "hub.request_id").as_deref(), Some("req-1"));
    assert_eq!(attr(attempt, "http.request.resend_count").as_deref(), Some("0"));
    assert_eq!(attr(attempt, "error.type").as_deref(), Some("upstream_5xx"));
    assert_eq!(attr(attempt, "server.address").as_deref(), Some("tickets.example"));
    let events = |s: &SpanData| s.events.iter().map(|e| e.name.to_string()).collect::<Vec<_>>();
    assert_eq!(events(attempt), ["circuit changed"]);
    assert_eq!(events(server), ["rate budget wait"]);
    assert_eq!(
        attr(attempt, "url.full").as_deref(),
        Some("http://tickets.example:8443/t/1?x=2")
    );
}

#[test]
fn a_malformed_traceparent_starts_a_new_trace() {
    let mut headers = HeaderMap::new();
    headers.insert("traceparent", "00-zz-00f067aa0ba902b7-01".parse().unwrap());
    let spans = traced(|| drop(server_span("GET", &headers, "req-2")));
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].parent_span_id, opentelemetry::trace::SpanId::INVALID);
}

/// The hub's subscriber without tracing: no trace id, nothing sent. (Whether the span is
/// disabled depends on the other tests' subscribers alive at the time, so it is not asserted.)
#[test]
fn without_the_layer_nothing_is_traced_or_sent() {
    #[derive(Default)]
    struct Discard;
    impl crate::logging::LineSink for Discard {
        fn append(&self, _line: &[u8]) {}
    }
    let subscriber = tracing_subscriber::registry().with(crate::logging::layer(
        crate::logging::Style::Json,
        "trace",
        Arc::new(Discard),
    ));
    tracing::subscriber::with_default(subscriber, || {
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", PARENT.parse().unwrap());
        let server = server_span("GET", &headers, "req-3");
        assert!(trace_id(&server).is_none());
        let mut sent = HeaderMap::new();
        inject(&attempt_span("op", &"http://h/".parse().unwrap(), 0), &mut sent);
        assert!(sent.is_empty());
    });
}
