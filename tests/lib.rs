//! The end-to-end harness: hub-sim and the real hub, started in-process on ephemeral
//! ports, driven over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test harness: fail loudly.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use hub_secrets::{EnvSource, Secrets};
use hub_server::wiring;
use hub_sim::{Sim, SimConfig, SimHandle, System};
use hub_upstream::{ClientConfig, HttpClient};
use serde_json::Value;

/// Canary tokens and credentials: none may ever appear in a response, log or record.
pub const READ_TOKEN: &str = "canary-read-token-7d1e";
/// The write role's token.
pub const WRITE_TOKEN: &str = "canary-write-token-4b9a";
/// The admin role's token.
pub const ADMIN_TOKEN: &str = "canary-admin-token-0c3f";

/// Every log line the hubs of this test binary wrote (JSON, debug level for hub crates).
static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

struct Capture(Arc<Mutex<Vec<u8>>>);

impl hub_telemetry::logging::LineSink for Capture {
    fn append(&self, line: &[u8]) {
        self.0.lock().unwrap().extend_from_slice(line);
    }
}

fn capture_logs() {
    LOGS.get_or_init(|| {
        use tracing_subscriber::layer::SubscriberExt as _;
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let layer = hub_telemetry::logging::layer(
            hub_telemetry::logging::Style::Json,
            "info,hub_upstream=debug,hub_server=debug,hub_admin=debug,hub_runtime=debug,hub_store=debug",
            Arc::new(Capture(buffer.clone())),
        );
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
        buffer
    });
}

/// The log lines written so far by every hub in this test binary.
pub fn captured_logs() -> String {
    LOGS.get()
        .map(|b| String::from_utf8_lossy(&b.lock().unwrap()).into_owned())
        .unwrap_or_default()
}

/// How to start a hub.
#[derive(Debug, Clone)]
pub struct Options {
    /// `generic`, `zendesk`, `zendesk-oauth` (an OAuth bearer token against a Zendesk
    /// that refuses API tokens) or `jira`.
    pub dialect: &'static str,
    /// Ticket and transaction status TTL in seconds (contract defaults when `None`).
    pub status_ttl_s: Option<u64>,
    /// The part of a TTL, in percent, in which a hit starts a background refresh (the
    /// default, 20, when `None`); applies with `status_ttl_s`.
    pub refresh_ahead_percent: Option<u8>,
    /// Attempts in all per call.
    pub max_attempts: u32,
    /// Per-attempt timeout in milliseconds.
    pub attempt_ms: u64,
    /// Extra TOML appended to the configuration.
    pub extra: String,
    /// Extra keys of the `[store]` section (`key = value` lines).
    pub store: String,
    /// The `[store]` section's `database_url`; `None`: a SQLite file of the hub's own.
    pub database_url: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            dialect: "generic",
            status_ttl_s: None,
            refresh_ahead_percent: None,
            max_attempts: 3,
            attempt_ms: 5_000,
            extra: String::new(),
            store: String::new(),
            database_url: None,
        }
    }
}

/// A running sim and hub.
pub struct Hub {
    /// The simulated upstreams (shared by the hubs started with [`Hub::start_with`]).
    pub sim: Arc<SimHandle>,
    /// The hub's base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    /// The assembled hub (stores, caches, endpoints).
    pub hub: wiring::Hub,
    /// Where the SQLite file lives.
    pub dir: tempfile::TempDir,
    client: HttpClient,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Resp {
    /// The status.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Resp {
    /// The body as JSON (`Null` when empty).
    pub fn json(&self) -> Value {
        if self.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&self.body).unwrap()
        }
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn config(sim: &SimHandle, dir: &std::path::Path, o: &Options) -> String {
    let ticketing = match o.dialect {
        "generic" => format!(
            "dialect = \"generic\"\nbase_url = \"{}\"\ncredentials = {{ api_key = \"env:GENERIC_KEY\" }}",
            sim.url(System::Generic)
        ),
        "zendesk" => format!(
            "dialect = \"zendesk\"\nbase_url = \"{}\"\ncredentials = {{ email = \"env:AGENT_EMAIL\", api_token = \"env:ZENDESK_TOKEN\" }}",
            sim.url(System::Zendesk)
        ),
        "zendesk-oauth" => format!(
            "dialect = \"zendesk\"\nbase_url = \"{}\"\ncredentials = {{ oauth_token = \"env:ZENDESK_OAUTH_TOKEN\" }}",
            sim.url(System::Zendesk)
        ),
        "jira" => format!(
            "dialect = \"jira\"\nbase_url = \"{}\"\ncredentials = {{ email = \"env:AGENT_EMAIL\", api_token = \"env:JIRA_TOKEN\" }}\njira = {{ project_key = \"SUP\", service_management = true }}",
            sim.url(System::Jira)
        ),
        other => panic!("unknown dialect {other}"),
    };
    let resilience = format!(
        "resilience = {{ max_attempts = {}, backoff_initial_ms = 10, backoff_max_ms = 40 }}\ntimeouts = {{ attempt_ms = {}, deadline_s = 20 }}",
        o.max_attempts, o.attempt_ms
    );
    let ttl = o
        .status_ttl_s
        .map(|t| {
            let refresh = o.refresh_ahead_percent.unwrap_or(20);
            format!("cache = {{ status_ttl_s = {t}, max_stale_s = 600, refresh_ahead_percent = {refresh} }}")
        })
        .unwrap_or_default();
    format!(
        r#"
[store]
database_url = "{db}"
{store}

[[auth.tokens]]
name = "reader"
role = "read"
token = "env:T_READ"
[[auth.tokens]]
name = "platform"
role = "write"
token = "env:T_WRITE"
[[auth.tokens]]
name = "operator"
role = "admin"
token = "env:T_ADMIN"

[adapters.ticketing]
{ticketing}
{resilience}
{ttl}

[adapters.transaction_status]
dialect = "generic"
base_url = "{status}"
credentials = {{ client_id = "env:STATUS_ID", client_secret = "env:STATUS_SECRET" }}
{resilience}
{ttl}

[adapters.transaction_create]
dialect = "generic"
base_url = "{sales}"
credentials = {{ client_id = "env:SALES_ID", client_secret = "env:SALES_SECRET", hmac_secret = "env:SALES_HMAC" }}
{resilience}

[webhooks]
secrets = ["env:WEBHOOK_SECRET"]

[notify]
webhook_url = "{notify}/alerts"
webhook_secret = "env:NOTIFY_SECRET"
{extra}
"#,
        db = o
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", dir.join("hub.sqlite3").display())),
        status = sim.url(System::Status),
        sales = sim.url(System::Sales),
        notify = sim.url(System::Notify),
        extra = o.extra,
        store = o.store,
    )
}

/// The environment the configuration's `env:` references resolve in.
pub fn secrets_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("T_READ", READ_TOKEN),
        ("T_WRITE", WRITE_TOKEN),
        ("T_ADMIN", ADMIN_TOKEN),
        ("GENERIC_KEY", "sim-generic-key"),
        ("AGENT_EMAIL", "agent@example.com"),
        ("ZENDESK_TOKEN", "sim-zendesk-token"),
        ("ZENDESK_OAUTH_TOKEN", "sim-zendesk-oauth"),
        ("JIRA_TOKEN", "sim-jira-token"),
        ("STATUS_ID", "hub-status"),
        ("STATUS_SECRET", "sim-status-secret"),
        ("SALES_ID", "hub-sales"),
        ("SALES_SECRET", "sim-sales-secret"),
        ("SALES_HMAC", "sim-sales-hmac-secret"),
        ("WEBHOOK_SECRET", hub_sim::DEFAULT_WEBHOOK_SECRET),
        ("NOTIFY_SECRET", hub_sim::DEFAULT_WEBHOOK_SECRET),
    ]
}

impl Hub {
    /// Starts a sim and a hub over it with `options`.
    pub async fn start(options: Options) -> Self {
        let sim = Arc::new(Sim::start(SimConfig::default()).await.unwrap());
        Self::start_with(sim, options).await
    }

    /// Starts a hub with `options` over a running `sim` (another hub's, say).
    pub async fn start_with(sim: Arc<SimHandle>, options: Options) -> Self {
        capture_logs();
        if options.dialect == "zendesk-oauth" {
            // A Zendesk account whose API tokens are retired: basic auth would get 401.
            sim.control().set_settings(hub_sim::Settings {
                zendesk_oauth_only: true,
                ..sim.control().settings()
            });
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hub.toml");
        std::fs::write(&file, config(&sim, dir.path(), &options)).unwrap();
        let loaded = hub_config::load(&file, std::iter::empty::<(String, String)>())
            .unwrap_or_else(|e| panic!("test configuration: {e:?}"));
        let secrets = Arc::new(Secrets::new(EnvSource::from_pairs(secrets_env()), None));
        // The hub exactly as the binary assembles it, with the stores' own event bus.
        let hub = wiring::assemble(&loaded.config, loaded.store_section(), secrets)
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = hub.state.clone();
        let server = tokio::spawn(async move {
            let _ = hub_server::shutdown::serve(
                listener,
                state,
                async move {
                    let _ = stopped.await;
                },
                std::time::Duration::from_secs(5),
            )
            .await;
        });
        let client = HttpClient::new(&ClientConfig::default()).unwrap();
        Self {
            sim,
            url,
            hub,
            dir,
            client,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// Sends a request with an optional bearer token, body and extra headers.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let bytes = body
            .map(|b| Bytes::from(serde_json::to_vec(&b).unwrap()))
            .unwrap_or_default();
        self.send_raw(req.body(bytes).unwrap()).await
    }

    /// `POST path` with `token` and a body given as exact JSON text (numbers as written).
    pub async fn post_text(&self, path: &str, token: &str, body: &str, headers: &[(&str, &str)]) -> Resp {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(format!("{}{path}", self.url))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send_raw(req.body(Bytes::copy_from_slice(body.as_bytes())).unwrap())
            .await
    }

    /// Sends a prepared request.
    pub async fn send_raw(&self, req: Request<Bytes>) -> Resp {
        let r = self.client.send(req).await.unwrap();
        Resp {
            status: r.status.as_u16(),
            headers: r.headers,
            body: r.body,
        }
    }

    /// `GET path` with `token`.
    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.send(Method::GET, path, Some(token), None, &[]).await
    }

    /// `POST path` with `token` and a JSON body.
    pub async fn post(&self, path: &str, token: &str, body: Value, headers: &[(&str, &str)]) -> Resp {
        self.send(Method::POST, path, Some(token), Some(body), headers).await
    }

    /// Stops the server (draining), then the stores.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.hub.shutdown().await;
    }
}

/// The promtool binary: `HUB_PROMTOOL` (set by `cargo xtask test`), else `promtool` on the PATH.
pub fn promtool_bin() -> std::ffi::OsString {
    std::env::var_os("HUB_PROMTOOL").unwrap_or_else(|| "promtool".into())
}

/// Fails saying how to install promtool, after running `promtool` failed with `error`.
pub fn promtool_missing(promtool: &std::ffi::OsStr, error: &std::io::Error) -> ! {
    panic!(
        "promtool ({}) could not be run: {error}. Run the tests with `cargo xtask test`, which installs \
         it, or `apt-get install prometheus` (or set HUB_PROMTOOL to a promtool binary)",
        promtool.to_string_lossy()
    )
}

/// Runs `promtool check metrics` over a Prometheus exposition and fails with its complaints.
///
/// promtool must be there: `cargo xtask test` installs it (Debian's `prometheus`) and sets
/// `HUB_PROMTOOL`; without it this panics saying how to install it, never skips.
pub fn promtool_check(text: &str) {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let promtool = promtool_bin();
    let spawned = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = spawned.unwrap_or_else(|e| promtool_missing(&promtool, &e));
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(text.as_bytes()).expect("writing to promtool");
    }
    let out = child.wait_with_output().expect("waiting for promtool");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
