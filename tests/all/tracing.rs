//! Distributed tracing end to end: a hub with the OTLP exporter on, pointed at a collector
//! run inside the test (a hyper server decoding `ExportTraceServiceRequest`), checked for
//! the tree of one request, the `traceparent` each upstream attempt carried, no credential
//! in any span, and requests that go on when the collector is gone.
//!
//! The tracing subscriber is this thread's (`set_default`) and every test runs on a
//! current-thread runtime, so the hub under test — its server, use cases and upstream
//! calls all spawned on that runtime — reports to it, and the other tests' hubs do not.
//! A traced hub that writes keeps its stores on PostgreSQL ([`Schema`]): SQLite's
//! connection threads are handed the caller's span with each statement and may drop it
//! last, closing a request's spans under their own (global) subscriber, which does not
//! know them.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hub_config::TelemetryConfig;
use hub_sim::{FaultKind, FaultRule, RequestFilter, System, WebhookRequest};
use hub_telemetry::tracing_export::Tracing;
use hub_tests::{ADMIN_TOKEN, Hub, Options, READ_TOKEN, WRITE_TOKEN, secrets_env};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message as _;
use tracing_subscriber::layer::SubscriberExt as _;

/// The caller's trace: every span of the request belongs to it.
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
/// A caller's trace that it does not sample.
const UNSAMPLED_TRACE: &str = "5cf92f3577b34da6a3ce929d0e0e4737";
/// The caller's span: the hub's server span is its child.
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// An OTLP/HTTP collector on a free port, keeping every span it is sent.
struct Collector {
    url: String,
    spans: Arc<Mutex<Vec<Span>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Collector {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let spans = Arc::new(Mutex::new(Vec::new()));
        let kept = spans.clone();
        let server = tokio::spawn(async move {
            // Dropped with the task: stopping the collector closes its connections too.
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let kept = kept.clone();
                let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let kept = kept.clone();
                    async move {
                        let path = req.uri().path().to_owned();
                        let body = req
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let status = match ExportTraceServiceRequest::decode(body) {
                            Ok(export) if path == "/v1/traces" => {
                                let mut kept = kept.lock().unwrap();
                                for resource in export.resource_spans {
                                    for scope in resource.scope_spans {
                                        kept.extend(scope.spans);
                                    }
                                }
                                200
                            }
                            _ => 400,
                        };
                        let mut res = http::Response::new(Full::new(Bytes::new()));
                        *res.status_mut() = http::StatusCode::from_u16(status).unwrap();
                        Ok::<_, Infallible>(res)
                    }
                });
                connections.spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        Self { url, spans, server }
    }

    fn spans(&self) -> Vec<Span> {
        self.spans.lock().unwrap().clone()
    }

    fn stop(&self) {
        self.server.abort();
    }
}

/// A PostgreSQL schema of one test's own, for a traced hub's stores.
struct Schema {
    base: String,
    name: String,
}

impl Schema {
    /// Creates one in the tests' database (`HUB_TEST_DATABASE_URL`); fails, never skips,
    /// when PostgreSQL does not answer.
    async fn create() -> Self {
        use sqlx::Connection as _;
        let base = std::env::var("HUB_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/test".to_owned());
        // Unique across processes (the pid) and within one (the clock, then a counter).
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("hub_tracing_{}_{nanos}_{n}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(&base)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {base} does not answer: {e}"));
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let _ = admin.close().await;
        Self { base, name }
    }

    /// The `database_url` of the schema, without the password the configuration refuses
    /// (the tests' PostgreSQL trusts local connections, or has a password file).
    fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        let base = match self.base.split_once("://").and_then(|(scheme, rest)| {
            let (user_info, host) = rest.split_once('@')?;
            let user = user_info.split(':').next()?;
            Some(format!("{scheme}://{user}@{host}"))
        }) {
            Some(without_password) => without_password,
            None => self.base.clone(),
        };
        format!("{base}{sep}options=-csearch_path%3D{}", self.name)
    }
}

/// Removes the schema, also when the test failed: on a thread of its own, with a
/// runtime of its own (the test's may be gone or inside a panic).
impl Drop for Schema {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            use sqlx::Connection as _;
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&base).await?;
                sqlx::query(&format!("DROP SCHEMA {name} CASCADE"))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if !std::thread::panicking() {
            dropped.unwrap().unwrap();
        }
    }
}

/// Starts the export to `collector` as the binary does, and makes this thread's
/// subscriber the hub's: the OpenTelemetry layer and the JSON log layer into `logs`.
fn traced(collector_url: &str, logs: Arc<Mutex<Vec<u8>>>) -> (Tracing, tracing::subscriber::DefaultGuard) {
    traced_at(collector_url, logs, 1.0)
}

/// [`traced`] with new traces sampled at `sample_ratio`.
fn traced_at(
    collector_url: &str,
    logs: Arc<Mutex<Vec<u8>>>,
    sample_ratio: f64,
) -> (Tracing, tracing::subscriber::DefaultGuard) {
    let config = TelemetryConfig {
        otlp_endpoint: Some(collector_url.to_owned()),
        sample_ratio,
        ..TelemetryConfig::default()
    };
    let tracing = hub_runtime::traces::start(&config).unwrap().unwrap();
    let subscriber = tracing_subscriber::registry()
        .with(tracing.layer())
        .with(hub_telemetry::logging::layer(
            hub_telemetry::logging::Style::Json,
            "info",
            Arc::new(Lines(logs)),
        ));
    let guard = tracing::subscriber::set_default(subscriber);
    (tracing, guard)
}

struct Lines(Arc<Mutex<Vec<u8>>>);

impl hub_telemetry::logging::LineSink for Lines {
    fn append(&self, line: &[u8]) {
        self.0.lock().unwrap().extend_from_slice(line);
    }
}

/// Sends what is queued (from a blocking thread: the export runs on this runtime).
async fn flush(tracing: &Tracing) {
    let tracing = tracing.clone();
    tokio::task::spawn_blocking(move || tracing.force_flush())
        .await
        .unwrap();
}

/// Waits (polling, generous deadline) until `done` holds for the collector's spans.
async fn spans_until(tracing: &Tracing, collector: &Collector, done: impl Fn(&[Span]) -> bool) -> Vec<Span> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        flush(tracing).await;
        let spans = collector.spans();
        if done(&spans) {
            return spans;
        }
        assert!(Instant::now() < deadline, "spans never arrived: {spans:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An attribute's value as text.
fn attr(span: &Span, key: &str) -> Option<String> {
    let kv = span.attributes.iter().find(|kv| kv.key == key)?;
    Some(match kv.value.as_ref()?.value.as_ref()? {
        AnyValue::StringValue(s) => s.clone(),
        AnyValue::IntValue(i) => i.to_string(),
        AnyValue::BoolValue(b) => b.to_string(),
        AnyValue::DoubleValue(d) => d.to_string(),
        other => format!("{other:?}"),
    })
}

/// The `traceparent` of each call the status system got for `request_id`'s transaction reads.
fn traceparents_sent(hub: &Hub, request_id: &str) -> Vec<Option<String>> {
    hub.sim
        .control()
        .requests(&RequestFilter {
            system: Some(System::Status),
            request_id: Some(request_id.to_owned()),
            path_prefix: Some("/status/transactions/".to_owned()),
            ..RequestFilter::default()
        })
        .into_iter()
        .map(|r| r.traceparent)
        .collect()
}

/// Reads `path` as a caller whose sampled span is [`CALLER_SPAN`] of [`TRACE`], with the
/// request id `request_id`; the read must succeed.
async fn read_in_caller_trace(hub: &Hub, path: &str, request_id: &str) {
    let traceparent = format!("00-{TRACE}-{CALLER_SPAN}-01");
    let resp = hub
        .send(
            http::Method::GET,
            path,
            Some(READ_TOKEN),
            None,
            &[("traceparent", &traceparent), ("x-request-id", request_id)],
        )
        .await;
    assert_eq!(resp.status, 200, "{:?}", resp.json());
}

fn is_request(span: &Span, request_id: &str) -> bool {
    span.kind == SpanKind::Server as i32 && attr(span, "hub.request_id").as_deref() == Some(request_id)
}

/// Sampled at 0: a request of a new trace builds no span, not even its server span, and
/// exports none, and its upstream is told the trace is not sampled; a caller's sampled
/// trace is still followed, all the way to the upstream attempt.
#[tokio::test(flavor = "current_thread")]
async fn an_unsampled_request_exports_nothing_and_a_sampled_caller_is_followed() {
    let collector = Collector::start().await;
    let (tracing, _subscriber) = traced_at(&collector.url, Arc::new(Mutex::new(Vec::new())), 0.0);
    // It writes: its stores are on PostgreSQL (see the module's documentation).
    let schema = Schema::create().await;
    let hub = Hub::start(Options {
        database_url: Some(schema.url()),
        ..Options::default()
    })
    .await;
    let read = |path: &'static str, headers: Vec<(&'static str, String)>| {
        let hub = &hub;
        async move {
            let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let resp = hub
                .send(http::Method::GET, path, Some(READ_TOKEN), None, &headers)
                .await;
            assert_eq!(resp.status, 200, "{path}");
        }
    };
    read(
        "/v1/transactions/TXN-5001",
        vec![("x-request-id", "trace-unsampled-1".to_owned())],
    )
    .await;
    let sampled_caller = vec![
        ("traceparent", format!("00-{TRACE}-{CALLER_SPAN}-01")),
        ("x-request-id", "trace-sampled-1".to_owned()),
    ];
    read("/v1/transactions/TXN-5002", sampled_caller).await;
    // A write runs in a task of its own: the caller's decision not to sample goes with it,
    // and the upstream gets the caller's context as it came.
    let unsampled_caller = format!("00-{UNSAMPLED_TRACE}-{CALLER_SPAN}-00");
    let write = hub
        .send(
            http::Method::POST,
            "/v1/tickets",
            Some(WRITE_TOKEN),
            Some(serde_json::json!({"customer_id": "CUST-1001", "subject": "s", "description": "d"})),
            &[
                ("traceparent", &unsampled_caller),
                ("x-request-id", "trace-unsampled-write-1"),
            ],
        )
        .await;
    assert!(write.status < 300, "{:?}", write.json());
    let spans = spans_until(&tracing, &collector, |spans| {
        spans
            .iter()
            .any(|s| s.kind == SpanKind::Client as i32 && hex(&s.trace_id) == TRACE)
    })
    .await;
    assert!(spans.iter().any(|s| is_request(s, "trace-sampled-1")));
    let request_ids: Vec<Option<String>> = spans.iter().map(|s| attr(s, "hub.request_id")).collect();
    assert!(
        spans.iter().all(|s| hex(&s.trace_id) == TRACE),
        "a span of the unsampled request was exported: {request_ids:?}"
    );
    let sent = traceparents_sent(&hub, "trace-unsampled-1");
    assert!(!sent.is_empty(), "the unsampled read reached the status system");
    assert!(
        sent.iter()
            .all(|t| t.as_ref().is_some_and(|t| t.len() == 55 && t.ends_with("-00"))),
        "{sent:?}"
    );
    let written: Vec<Option<String>> = hub
        .sim
        .control()
        .requests(&RequestFilter {
            system: Some(System::Generic),
            request_id: Some("trace-unsampled-write-1".to_owned()),
            ..RequestFilter::default()
        })
        .into_iter()
        .map(|r| r.traceparent)
        .collect();
    assert!(!written.is_empty(), "the write reached the ticketing system");
    assert!(
        written.iter().all(|t| t.as_deref() == Some(unsampled_caller.as_str())),
        "{written:?}"
    );
    assert!(!spans.iter().any(|s| hex(&s.trace_id) == UNSAMPLED_TRACE));
    hub.stop().await;
    collector.stop();
}

#[tokio::test(flavor = "current_thread")]
async fn one_request_is_one_tree_and_each_attempt_sends_its_own_span() {
    let collector = Collector::start().await;
    let logs = Arc::new(Mutex::new(Vec::new()));
    let (tracing, _subscriber) = traced(&collector.url, logs.clone());
    let hub = Hub::start(Options::default()).await;
    // Two 503s: the read needs three attempts.
    hub.sim
        .control()
        .add_fault(
            FaultRule::new(FaultKind::Error)
                .system(System::Status)
                .route("GET", "/transactions/{id}")
                .times(2),
        )
        .unwrap();
    read_in_caller_trace(&hub, "/v1/transactions/TXN-5002", "trace-e2e-1").await;
    let spans = spans_until(&tracing, &collector, |spans| {
        spans.iter().any(|s| is_request(s, "trace-e2e-1"))
    })
    .await;
    let in_trace: Vec<&Span> = spans.iter().filter(|s| hex(&s.trace_id) == TRACE).collect();
    let server = in_trace.iter().find(|s| is_request(s, "trace-e2e-1")).unwrap();
    assert_eq!(
        hex(&server.parent_span_id),
        CALLER_SPAN,
        "the caller's span is the root's parent"
    );
    assert_eq!(attr(server, "http.request.method").as_deref(), Some("GET"));
    assert_eq!(
        attr(server, "http.route").as_deref(),
        Some("/v1/transactions/{transaction_id}")
    );
    assert_eq!(attr(server, "http.response.status_code").as_deref(), Some("200"));
    let use_case = in_trace
        .iter()
        .find(|s| s.parent_span_id == server.span_id)
        .expect("a use case span under the server span");
    assert_eq!(attr(use_case, "hub.use_case").as_deref(), Some("transaction"));
    assert_eq!(attr(use_case, "hub.cache.status").as_deref(), Some("miss"));
    let mut attempts: Vec<&&Span> = in_trace
        .iter()
        .filter(|s| s.kind == SpanKind::Client as i32 && s.parent_span_id == use_case.span_id)
        // The OAuth2 token request, made before the first attempt, is a client span too.
        .filter(|s| s.name != "oauth2_token")
        .collect();
    attempts.sort_by_key(|s| attr(s, "http.request.resend_count"));
    let resends: Vec<String> = attempts
        .iter()
        .filter_map(|s| attr(s, "http.request.resend_count"))
        .collect();
    assert_eq!(resends, ["0", "1", "2"], "one client span per attempt");
    assert_eq!(attr(attempts[0], "error.type").as_deref(), Some("upstream_5xx"));
    assert_eq!(attr(attempts[1], "hub.retry.reason").as_deref(), Some("upstream_5xx"));
    assert!(attr(attempts[1], "hub.retry.wait_ms").is_some());
    assert_eq!(attr(attempts[2], "http.response.status_code").as_deref(), Some("200"));
    assert!(
        attr(attempts[0], "url.full")
            .unwrap()
            .ends_with("/status/transactions/TXN-5002")
    );
    // The upstream got each attempt's own span as its parent.
    let received: BTreeSet<String> = traceparents_sent(&hub, "trace-e2e-1").into_iter().flatten().collect();
    let expected: BTreeSet<String> = attempts
        .iter()
        .map(|s| format!("00-{TRACE}-{}-01", hex(&s.span_id)))
        .collect();
    assert_eq!(received, expected);
    // Every log line of the request names its trace.
    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = logs.lines().filter(|l| l.contains("\"trace-e2e-1\"")).collect();
    assert!(!lines.is_empty());
    assert!(
        lines.iter().all(|l| l.contains(&format!("\"trace_id\":\"{TRACE}\""))),
        "{lines:#?}"
    );
    // Its access line (a read the edge answers itself) names the path it was sent.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"message\":\"answered\"") && l.contains("\"path\":\"/v1/transactions/TXN-5002\"")),
        "{lines:#?}"
    );
    hub.stop().await;
    collector.stop();
}

#[tokio::test(flavor = "current_thread")]
async fn no_credential_is_in_any_span() {
    let collector = Collector::start().await;
    let (tracing, _subscriber) = traced(&collector.url, Arc::default());
    let schema = Schema::create().await;
    let hub = Hub::start(Options {
        database_url: Some(schema.url()),
        ..Options::default()
    })
    .await;
    // Reads over an API key and OAuth2, a write signed with HMAC, an admin read.
    let calls = [
        hub.get("/v1/tickets/TCK-1001", READ_TOKEN).await.status,
        hub.get("/v1/transactions/TXN-5001", READ_TOKEN).await.status,
        hub.get("/v1/customers/CUST-1001/transactions", READ_TOKEN).await.status,
        hub.get("/v1/dlq", ADMIN_TOKEN).await.status,
    ];
    assert!(calls.iter().all(|s| *s < 500), "{calls:?}");
    let write = hub
        .post(
            "/v1/tickets",
            WRITE_TOKEN,
            serde_json::json!({"customer_id": "CUST-1001", "subject": "s", "description": "d"}),
            &[],
        )
        .await;
    assert!(write.status < 500, "{:?}", write.json());
    let spans = spans_until(&tracing, &collector, |spans| {
        spans.iter().filter(|s| s.kind == SpanKind::Server as i32).count() >= 5
    })
    .await;
    let everything = format!("{spans:?}");
    for (name, value) in secrets_env() {
        if name.starts_with('T') || name.contains("KEY") || name.contains("TOKEN") || name.contains("SECRET") {
            assert!(!everything.contains(value), "{name}'s value is in an exported span");
        }
    }
    for canary in [READ_TOKEN, WRITE_TOKEN, ADMIN_TOKEN] {
        assert!(!everything.contains(canary), "a token is in an exported span");
    }
    assert!(!everything.to_lowercase().contains("authorization"));
    hub.stop().await;
    collector.stop();
}

#[tokio::test(flavor = "current_thread")]
async fn with_the_collector_gone_requests_go_on_and_the_spans_are_counted_dropped() {
    let collector = Collector::start().await;
    let (tracing, _subscriber) = traced(&collector.url, Arc::default());
    let hub = Hub::start(Options::default()).await;
    collector.stop();
    let dropped = || async {
        let metrics = hub.send(http::Method::GET, "/metrics", None, None, &[]).await;
        String::from_utf8_lossy(&metrics.body)
            .lines()
            .find_map(|l| l.strip_prefix("integration_telemetry_spans_dropped_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let before = dropped().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let resp = hub.get("/v1/transactions/TXN-5001", READ_TOKEN).await;
        assert_eq!(resp.status, 200, "a request fails without its collector");
        flush(&tracing).await;
        if dropped().await > before {
            break;
        }
        assert!(Instant::now() < deadline, "no span was counted dropped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    hub.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn the_supervisor_alert_of_a_failed_write_is_linked_to_its_trace() {
    const WRITE_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
    let collector = Collector::start().await;
    let (tracing, _subscriber) = traced(&collector.url, Arc::default());
    let schema = Schema::create().await;
    let hub = Hub::start(Options {
        max_attempts: 2,
        database_url: Some(schema.url()),
        ..Options::default()
    })
    .await;
    hub.sim.control().set_outage(System::Generic, true);
    let traceparent = format!("00-{WRITE_TRACE}-b7ad6b7169203331-01");
    let failed = hub
        .post(
            "/v1/tickets",
            WRITE_TOKEN,
            serde_json::json!({"customer_id": "CUST-1003", "subject": "s", "description": "d"}),
            &[("idempotency-key", "traced-outage-1"), ("traceparent", &traceparent)],
        )
        .await;
    assert_eq!(failed.status, 502, "{:?}", failed.json());
    let alerts = hub
        .sim
        .control()
        .wait_for_notifications(1, Duration::from_secs(30))
        .await
        .unwrap();
    let sent = alerts[0]
        .headers
        .get("traceparent")
        .expect("the alert carries a traceparent");
    let spans = spans_until(&tracing, &collector, |spans| {
        spans.iter().any(|s| s.name == "notify_supervisor") && spans.iter().any(|s| s.name == "supervisor alert")
    })
    .await;
    // The webhook carried its own client span, in the alert's trace.
    let notify = spans.iter().find(|s| s.name == "notify_supervisor").unwrap();
    assert_eq!(
        sent,
        &format!("00-{}-{}-01", hex(&notify.trace_id), hex(&notify.span_id))
    );
    // The alert's trace links to the write that raised it.
    let alert = spans.iter().find(|s| s.name == "supervisor alert").unwrap();
    assert_eq!(notify.parent_span_id, alert.span_id);
    let use_case = spans
        .iter()
        .find(|s| attr(s, "hub.use_case").as_deref() == Some("create_ticket"))
        .expect("the write's use case span");
    assert_eq!(hex(&use_case.trace_id), WRITE_TRACE);
    assert_eq!(attr(use_case, "hub.idempotency.replayed").as_deref(), Some("false"));
    assert!(
        alert.links.iter().any(|l| hex(&l.trace_id) == WRITE_TRACE),
        "{:?}",
        alert.links
    );
    hub.stop().await;
    collector.stop();
}

/// The OAuth2 token request the first status read needs is a client span of that read's
/// use case, and an incoming webhook has a use case span under its server span.
#[tokio::test(flavor = "current_thread")]
async fn the_token_request_and_an_incoming_webhook_have_spans_of_their_own() {
    let collector = Collector::start().await;
    let (tracing, _subscriber) = traced(&collector.url, Arc::default());
    let hub = Hub::start(Options::default()).await;
    read_in_caller_trace(&hub, "/v1/transactions/TXN-5001", "trace-token-1").await;
    let url = format!("{}/webhooks/transaction_updated", hub.url);
    let delivery = hub
        .sim
        .control()
        .send_webhook(WebhookRequest::transaction_updated(&url, "TXN-5001", "completed"))
        .await
        .unwrap();
    assert_eq!(delivery.status, 204);
    let webhook_result = |s: &Span| attr(s, "hub.webhook.result");
    // The webhook's server span ends after its answer is sent, so possibly after the
    // sim has it: wait for the parent of the webhook's span as well.
    let spans = spans_until(&tracing, &collector, |spans| {
        spans.iter().any(|s| s.name == "oauth2_token")
            && spans
                .iter()
                .any(|s| webhook_result(s).is_some() && spans.iter().any(|p| p.span_id == s.parent_span_id))
    })
    .await;
    let token = spans.iter().find(|s| s.name == "oauth2_token").unwrap();
    let use_case = spans
        .iter()
        .find(|s| hex(&s.trace_id) == TRACE && attr(s, "hub.use_case").as_deref() == Some("transaction"))
        .expect("the read's use case span");
    assert_eq!(token.kind, SpanKind::Client as i32);
    assert_eq!(hex(&token.trace_id), TRACE);
    assert_eq!(token.parent_span_id, use_case.span_id);
    assert_eq!(attr(token, "http.response.status_code").as_deref(), Some("200"));
    let everything = format!("{token:?}");
    for (name, value) in secrets_env() {
        assert!(!everything.contains(value), "{name}'s value is in the token span");
    }
    let webhook = spans.iter().find(|s| webhook_result(s).is_some()).unwrap();
    assert_eq!(webhook_result(webhook).as_deref(), Some("processed"));
    assert_eq!(
        attr(webhook, "hub.webhook.topic").as_deref(),
        Some("transaction.updated")
    );
    let server = spans
        .iter()
        .find(|s| s.span_id == webhook.parent_span_id)
        .expect("the webhook's server span");
    assert_eq!(server.kind, SpanKind::Server as i32);
    assert_eq!(
        attr(server, "http.route").as_deref(),
        Some("/webhooks/transaction_updated")
    );
    hub.stop().await;
    collector.stop();
}

/// The `trace_id` of each audit record of `operation` made for `request_id`, oldest first.
async fn audit_trace_ids(hub: &Hub, operation: &str, request_id: &str) -> Vec<serde_json::Value> {
    let page = hub
        .get(&format!("/v1/audit?operation={operation}&limit=200"), ADMIN_TOKEN)
        .await;
    assert_eq!(page.status, 200, "{:?}", page.json());
    let mut ids: Vec<serde_json::Value> = page.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["request_id"] == request_id)
        .map(|r| r["trace_id"].clone())
        .collect();
    ids.reverse();
    ids
}

/// A write that fails through an outage and is dead-lettered, then replayed over
/// `POST /v1/dlq/{id}/replay` with `replay_headers`; returns the entry's id, the entry
/// as listed before the replay and the replay's answer.
async fn dead_letter_then_replay(
    hub: &Hub,
    write_headers: &[(&str, &str)],
    replay_headers: &[(&str, &str)],
) -> (String, serde_json::Value, serde_json::Value) {
    hub.sim.control().set_outage(System::Generic, true);
    let failed = hub
        .post(
            "/v1/tickets",
            WRITE_TOKEN,
            serde_json::json!({"customer_id": "CUST-1003", "subject": "s", "description": "d"}),
            write_headers,
        )
        .await;
    assert_eq!(failed.status, 502, "{:?}", failed.json());
    let dlq_id = failed.json()["dlq_id"].as_str().expect("dead-lettered").to_owned();
    let entry = hub.get(&format!("/v1/dlq/{dlq_id}"), ADMIN_TOKEN).await;
    assert_eq!(entry.status, 200);
    hub.sim.control().set_outage(System::Generic, false);
    let replayed = hub
        .send(
            http::Method::POST,
            &format!("/v1/dlq/{dlq_id}/replay"),
            Some(ADMIN_TOKEN),
            None,
            replay_headers,
        )
        .await;
    assert_eq!(replayed.status, 200, "{:?}", replayed.json());
    assert_eq!(replayed.json()["status"], "replayed");
    (dlq_id, entry.json(), replayed.json())
}

/// A dead letter keeps the trace of the write that failed: replayed over the API in a
/// trace of its own, the replay's span links to the failed write's span and names its
/// trace, the entry shows that trace's id, and the audit records of both calls carry
/// their own trace ids.
#[tokio::test(flavor = "current_thread")]
async fn a_replay_links_to_the_trace_of_the_write_it_runs_again() {
    const WRITE_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
    const REPLAY_TRACE: &str = "5a3e1b2c4d6f708192a3b4c5d6e7f801";
    let collector = Collector::start().await;
    let (tracing, _subscriber) = traced(&collector.url, Arc::default());
    let schema = Schema::create().await;
    let hub = Hub::start(Options {
        max_attempts: 2,
        database_url: Some(schema.url()),
        ..Options::default()
    })
    .await;
    let write_parent = format!("00-{WRITE_TRACE}-b7ad6b7169203331-01");
    let replay_parent = format!("00-{REPLAY_TRACE}-{CALLER_SPAN}-01");
    let (dlq_id, entry, replayed) = dead_letter_then_replay(
        &hub,
        &[
            ("idempotency-key", "traced-replay-1"),
            ("traceparent", &write_parent),
            ("x-request-id", "trace-dlq-write-1"),
        ],
        &[("traceparent", &replay_parent), ("x-request-id", "trace-dlq-replay-1")],
    )
    .await;
    assert_eq!(entry["trace_id"], WRITE_TRACE);
    assert_eq!(
        replayed["trace_id"], WRITE_TRACE,
        "the entry keeps the failed write's trace"
    );

    let use_case = |s: &Span, name: &str| attr(s, "hub.use_case").as_deref() == Some(name);
    let spans = spans_until(&tracing, &collector, |spans| {
        spans.iter().any(|s| use_case(s, "replay")) && spans.iter().any(|s| is_request(s, "trace-dlq-replay-1"))
    })
    .await;
    let write = spans
        .iter()
        .find(|s| use_case(s, "create_ticket") && hex(&s.trace_id) == WRITE_TRACE)
        .expect("the failed write's use case span");
    let replay = spans.iter().find(|s| use_case(s, "replay")).unwrap();
    let server = spans.iter().find(|s| is_request(s, "trace-dlq-replay-1")).unwrap();
    assert_eq!(
        hex(&replay.trace_id),
        REPLAY_TRACE,
        "the replay is in its request's trace"
    );
    assert_eq!(replay.parent_span_id, server.span_id);
    assert_eq!(attr(replay, "hub.dlq.id").as_deref(), Some(dlq_id.as_str()));
    assert_eq!(
        attr(replay, "hub.replay.original_trace_id").as_deref(),
        Some(WRITE_TRACE)
    );
    let links: Vec<(String, String)> = replay
        .links
        .iter()
        .map(|l| (hex(&l.trace_id), hex(&l.span_id)))
        .collect();
    assert_eq!(links, [(WRITE_TRACE.to_owned(), hex(&write.span_id))]);
    assert!(
        spans
            .iter()
            .any(|s| s.kind == SpanKind::Client as i32 && s.parent_span_id == replay.span_id),
        "the replay's upstream attempt is its child"
    );

    // The audit records of each call (`started`, then its ending) carry its trace id.
    let write_records = audit_trace_ids(&hub, "create_ticket", "trace-dlq-write-1").await;
    assert_eq!(write_records.len(), 2, "{write_records:?}");
    assert!(write_records.iter().all(|t| t == WRITE_TRACE), "{write_records:?}");
    let replay_records = audit_trace_ids(&hub, "create_ticket", "trace-dlq-replay-1").await;
    assert_eq!(replay_records.len(), 2, "{replay_records:?}");
    assert!(replay_records.iter().all(|t| t == REPLAY_TRACE), "{replay_records:?}");
    hub.stop().await;
    collector.stop();
}

/// Tracing off (no exporter, no OpenTelemetry layer): a caller's `traceparent` is not
/// followed, dead letters and audit records keep no trace id, and replays work as ever.
#[tokio::test(flavor = "current_thread")]
async fn untraced_dead_letters_and_audit_records_have_no_trace_id() {
    let hub = Hub::start(Options {
        max_attempts: 2,
        ..Options::default()
    })
    .await;
    let caller = format!("00-{TRACE}-{CALLER_SPAN}-01");
    let (_, entry, replayed) = dead_letter_then_replay(
        &hub,
        &[
            ("idempotency-key", "untraced-replay-1"),
            ("traceparent", &caller),
            ("x-request-id", "untraced-dlq-write-1"),
        ],
        &[("traceparent", &caller), ("x-request-id", "untraced-dlq-replay-1")],
    )
    .await;
    assert_eq!(entry["trace_id"], serde_json::Value::Null, "{entry}");
    assert_eq!(replayed["trace_id"], serde_json::Value::Null);
    for request_id in ["untraced-dlq-write-1", "untraced-dlq-replay-1"] {
        let records = audit_trace_ids(&hub, "create_ticket", request_id).await;
        assert_eq!(
            records,
            [serde_json::Value::Null, serde_json::Value::Null],
            "{request_id}"
        );
    }
    hub.stop().await;
}
