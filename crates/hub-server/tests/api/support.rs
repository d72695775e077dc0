//! In-memory fakes of every port, a server on an ephemeral port, and a small HTTP client.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hub_core::testing::{FakeUpstream, MemoryAudit, MemoryDlq, MemoryIdempotency, RecordingEvents};
use hub_core::*;
use hub_server::{ApiSettings, AppState, Authenticator, Ports, Role, Services, build_router};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub const READ: &str = "canary-tok-read-5b1e";
pub const WRITE: &str = "canary-tok-write-9c2f";
pub const ADMIN: &str = "canary-tok-admin-3d4a";

/// Seeding and reading the in-memory dead-letter queue the way these tests need it.
pub trait DlqExt {
    /// A pending entry of `operation` as a failed write of the sales system left it.
    fn seed(&self, operation: &str, payload: Value, key: Option<&str>) -> DlqId;
    /// Entry `id`, if any.
    fn get_sync(&self, id: &str) -> Option<DlqEntry>;
}

impl DlqExt for MemoryDlq {
    fn seed(&self, operation: &str, payload: Value, key: Option<&str>) -> DlqId {
        self.insert(NewDlqEntry {
            adapter: "transaction_create".into(),
            operation: operation.into(),
            payload,
            idempotency_key: key.map(str::to_owned),
            error: "the upstream did not answer in time".into(),
            error_code: "timeout".into(),
            attempts: 3,
            request_id: Some("req-0".into()),
            conversation_id: Some("conv-0".into()),
            traceparent: None,
        })
        .id
    }
    fn get_sync(&self, id: &str) -> Option<DlqEntry> {
        self.entry(id)
    }
}

/// Everything a test can look at after driving the server.
pub struct Hub {
    pub upstream: Arc<FakeUpstream>,
    pub idem: Arc<MemoryIdempotency>,
    pub dlq: Arc<MemoryDlq>,
    pub audit: Arc<MemoryAudit>,
    pub events: Arc<RecordingEvents>,
    pub state: AppState,
}

pub fn authenticator() -> Authenticator {
    Authenticator::default()
        .with_token("reader", Role::Read, &READ.to_owned().into())
        .with_token("writer", Role::Write, &WRITE.to_owned().into())
        .with_token("ops", Role::Admin, &ADMIN.to_owned().into())
}

impl Hub {
    pub fn new() -> Self {
        Self::with_ports(None)
    }

    /// A hub whose ports are `ports` when given, else the shared fake upstream.
    pub fn with_ports(ports: Option<Ports>) -> Self {
        Self::build(ports, hub_app::Settings::default())
    }

    /// A hub whose use cases run with `settings`.
    pub fn with_settings(settings: hub_app::Settings) -> Self {
        Self::build(None, settings)
    }

    fn build(ports: Option<Ports>, app_settings: hub_app::Settings) -> Self {
        let upstream = Arc::new(FakeUpstream::default());
        let idem = Arc::new(MemoryIdempotency::default());
        let dlq = Arc::new(MemoryDlq::default());
        let audit = Arc::new(MemoryAudit::default());
        let events = Arc::new(RecordingEvents::default());
        let ports = ports.unwrap_or_else(|| Ports {
            ticketing: upstream.clone(),
            transaction_status: upstream.clone(),
            transaction_create: upstream.clone(),
        });
        let services = Services {
            idempotency: idem.clone(),
            dlq: dlq.clone(),
            audit: audit.clone(),
            events: events.clone(),
        };
        let settings = ApiSettings {
            default_currency: Currency::parse("EUR").unwrap(),
            ..ApiSettings::default()
        };
        let supervisor = hub_app::Supervisor::new(
            Arc::new(hub_app::SupervisorNotifier::default()),
            hub_app::AlertSettings::default(),
        );
        let app = hub_app::Hub::new(
            ports,
            services,
            Arc::new(hub_server::answer::HttpAnswers),
            supervisor,
            app_settings,
        );
        let state = AppState::new(app, authenticator(), settings);
        Self {
            upstream,
            idem,
            dlq,
            audit,
            events,
            state,
        }
    }

    pub async fn serve(&self) -> Server {
        Server::start(self.state.clone()).await
    }
}

pub struct Server {
    pub addr: SocketAddr,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Server {
    pub async fn start(state: AppState) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // On the hub's own accept loop, which gives each request its peer address (the sign-in throttle reads it).
        let app = build_router(state);
        let settings = hub_listener::ServeSettings::default();
        tokio::spawn(hub_listener::serve(
            listener,
            app,
            std::future::pending(),
            settings,
            || {},
        ));
        Self {
            addr,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub fn req(&self, method: &str, path: &str) -> Req<'_> {
        Req {
            server: self,
            method: method.to_owned(),
            path: path.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}

pub struct Req<'a> {
    server: &'a Server,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Req<'_> {
    pub fn token(self, t: &str) -> Self {
        self.header("authorization", &format!("Bearer {t}"))
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_owned(), v.to_owned()));
        self
    }
    pub fn json(mut self, v: Value) -> Self {
        self.body = serde_json::to_vec(&v).unwrap();
        self.header("content-type", "application/json")
    }
    pub fn raw(mut self, b: impl Into<Vec<u8>>) -> Self {
        self.body = b.into();
        self
    }
    pub async fn send(self) -> Resp {
        let uri = format!("http://{}{}", self.server.addr, self.path);
        let mut b = http::Request::builder().method(self.method.as_str()).uri(uri);
        for (k, v) in &self.headers {
            b = b.header(k, v);
        }
        let req = b.body(Full::new(Bytes::from(self.body))).unwrap();
        let res = self.server.client.request(req).await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        Resp { status, headers, body }
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// Asserts a problem+json body with this code and status, returning it.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text()
        );
        let v = self.json();
        assert_eq!(v["code"], code, "{v}");
        assert_eq!(v["type"], format!("urn:integration-hub:problem:{code}"));
        assert_eq!(v["status"], status);
        assert!(v["title"].is_string() && v["detail"].is_string(), "{v}");
        assert_eq!(v["request_id"].as_str(), self.header("x-request-id"), "{v}");
        for canary in [READ, WRITE, ADMIN] {
            assert!(!self.text().contains(canary));
        }
        v
    }
}
