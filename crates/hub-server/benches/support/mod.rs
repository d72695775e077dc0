//! The hub's router over a running hub-sim, assembled from a configuration as the binary
//! assembles it (its metrics recorder, its JSON log at `info` into a sink), driven
//! in-process without sockets: shared by the handler benchmark and the allocation count.

use std::hint::black_box;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use hub_secrets::{EnvSource, Secrets};
use hub_server::edge::Edge;
use hub_server::wiring;
use hub_sim::{Sim, SimConfig, SimHandle, System as SimSystem};
use tower::ServiceExt as _;

pub(crate) const READ_TOKEN: &str = "bench-read-token-0123456789abcdef";
/// Its `Authorization` header, made once: the count is of the hub's allocations, not the client's.
pub(crate) const AUTHORIZATION: &str = "Bearer bench-read-token-0123456789abcdef";
/// Cached once, then read from the cache (its TTL outlasts the run).
pub(crate) const CACHED: &str = "/v1/transactions/TXN-5001";
/// Never cached: read while the status system is down, until its circuit opens.
pub(crate) const REFUSED: &str = "/v1/transactions/TXN-5002";

/// The hub over a running sim, on a single-threaded runtime so that nothing but the
/// request being driven allocates while the count runs.
pub(crate) struct Bench {
    rt: tokio::runtime::Runtime,
    router: Edge<Router>,
    _logs: hub_telemetry::logging::LogGuard,
    sim: SimHandle,
    _hub: wiring::Hub,
    _dir: tempfile::TempDir,
}

fn config(sim: &SimHandle, dir: &std::path::Path) -> String {
    let resilience = "resilience = { max_attempts = 1, breaker_failures = 1, breaker_open_s = 3600 }";
    format!(
        r#"
[store]
database_url = "sqlite://{db}"

[[auth.tokens]]
name = "reader"
role = "read"
token = "env:T_READ"

[adapters.ticketing]
dialect = "generic"
base_url = "{generic}"
credentials = {{ api_key = "env:GENERIC_KEY" }}

[adapters.transaction_status]
dialect = "generic"
base_url = "{status}"
credentials = {{ client_id = "env:STATUS_ID", client_secret = "env:STATUS_SECRET" }}
{resilience}
cache = {{ status_ttl_s = 86400, max_stale_s = 600 }}

[adapters.transaction_create]
dialect = "generic"
base_url = "{sales}"
credentials = {{ client_id = "env:SALES_ID", client_secret = "env:SALES_SECRET", hmac_secret = "env:SALES_HMAC" }}
"#,
        db = dir.join("hub.sqlite3").display(),
        generic = sim.url(SimSystem::Generic),
        status = sim.url(SimSystem::Status),
        sales = sim.url(SimSystem::Sales),
    )
}

/// The hub's log as `hub_telemetry::logging::init` installs it (JSON at `info`, through
/// the background writer), into a sink rather than stdout.
fn log_to_sink() -> hub_telemetry::logging::LogGuard {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let (writer, guard) = hub_telemetry::logging::background(std::io::sink);
    let layer = hub_telemetry::logging::layer(hub_telemetry::logging::Style::Json, "info", Arc::new(writer));
    let installed = tracing_subscriber::registry().with(layer).try_init();
    assert!(installed.is_ok(), "a subscriber was already installed");
    guard
}

impl Bench {
    pub(crate) fn start() -> Self {
        assert_eq!(AUTHORIZATION, format!("Bearer {READ_TOKEN}"));
        let logs = log_to_sink();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (sim, hub) = rt.block_on(async {
            let sim = Sim::start(SimConfig::default()).await.unwrap();
            let file = dir.path().join("hub.toml");
            std::fs::write(&file, config(&sim, dir.path())).unwrap();
            let loaded = hub_config::load(&file, std::iter::empty::<(String, String)>()).unwrap();
            let env = EnvSource::from_pairs([
                ("T_READ", READ_TOKEN),
                ("GENERIC_KEY", "sim-generic-key"),
                ("STATUS_ID", "hub-status"),
                ("STATUS_SECRET", "sim-status-secret"),
                ("SALES_ID", "hub-sales"),
                ("SALES_SECRET", "sim-sales-secret"),
                ("SALES_HMAC", "sim-sales-hmac-secret"),
            ]);
            let secrets = Arc::new(Secrets::new(env, None));
            let hub = wiring::assemble(&loaded.config, loaded.store_section(), secrets)
                .await
                .unwrap();
            (sim, hub)
        });
        let router = hub_server::build_router(hub.state.clone());
        let bench = Self {
            rt,
            router,
            _logs: logs,
            sim,
            _hub: hub,
            _dir: dir,
        };
        // The first read fills the cache from the sim; the second must be a hit.
        assert_eq!(bench.get(CACHED), StatusCode::OK);
        let hit = bench.rt.block_on(bench.send(CACHED));
        assert_eq!(hit.status(), StatusCode::OK);
        assert!(
            hit.headers()
                .get("cache-status")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("hit")),
            "the second read was not a cache hit: {:?}",
            hit.headers()
        );
        // The status system goes down; the first failure opens its circuit (one failure, one attempt).
        bench.sim.control().set_outage(SimSystem::Status, true);
        let refused = (0..10).map(|_| bench.read(REFUSED)).find(|(status, body)| {
            *status == StatusCode::SERVICE_UNAVAILABLE && body.windows(12).any(|w| w == b"circuit_open")
        });
        assert!(refused.is_some(), "the status system's circuit did not open");
        bench
    }

    pub(crate) async fn send(&self, path: &str) -> http::Response<Body> {
        let req = Request::get(path)
            .header("authorization", http::HeaderValue::from_static(AUTHORIZATION))
            .body(Body::empty())
            .unwrap();
        self.router.clone().oneshot(req).await.unwrap()
    }

    /// Drives one request and reads its whole body, as a client would.
    pub(crate) fn read(&self, path: &str) -> (StatusCode, bytes::Bytes) {
        self.rt.block_on(async {
            let answer = self.send(path).await;
            let status = answer.status();
            (status, answer.into_body().collect().await.unwrap().to_bytes())
        })
    }

    /// [`Bench::read`]'s status, the body read and dropped.
    pub(crate) fn get(&self, path: &str) -> StatusCode {
        let (status, body) = self.read(path);
        black_box(body);
        status
    }
}
