//! The configuration's sections and their defaults.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use hub_core::{Currency, SecretRef};
/// `[log]`: the logging setup's own settings.
pub use hub_telemetry::logging::{LogConfig, LogFormat};
use serde::{Deserialize, Deserializer};

/// A credential reference; a literal value is refused without being echoed.
#[derive(Clone, PartialEq, Eq)]
pub struct CredentialRef(pub SecretRef);

impl fmt::Debug for CredentialRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for CredentialRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        raw.parse().map(CredentialRef).map_err(|_| {
            serde::de::Error::custom(
                "not a secret reference (expected env:NAME, file:/path or vault:mount/path#field); \
                 credentials are never written in the configuration itself",
            )
        })
    }
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[server]`.
    #[serde(default)]
    pub server: ServerConfig,
    /// `[store]`: hub-store's section (database and Redis), passed through; see `store_section`.
    #[serde(default)]
    pub store: toml::Table,
    /// `[idempotency]`.
    #[serde(default)]
    pub idempotency: IdempotencyConfig,
    /// `[dlq]`.
    #[serde(default)]
    pub dlq: DlqConfig,
    /// `[auth]`.
    #[serde(default)]
    pub auth: AuthConfig,
    /// `[log]`.
    #[serde(default)]
    pub log: LogConfig,
    /// `[webhooks]`: incoming webhooks.
    #[serde(default)]
    pub webhooks: WebhooksConfig,
    /// `[events]`: `/v1/events` connections.
    #[serde(default)]
    pub events: EventsConfig,
    /// `[notify]`: supervisor alerts.
    #[serde(default)]
    pub notify: NotifyConfig,
    /// `[telemetry]`: distributed tracing.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    /// `[adapters.*]`.
    pub adapters: AdaptersConfig,
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Where to listen (default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// The largest request body, in bytes (default 1 MiB).
    pub body_limit_bytes: usize,
    /// How long in-flight requests may run after SIGTERM/SIGINT, in seconds (default 30).
    pub shutdown_grace_s: u64,
    /// The currency of drafts that name none (default `USD`).
    pub default_currency: Currency,
    /// The longest `/readyz` waits for one store, in milliseconds (default 2000).
    pub probe_timeout_ms: u64,
    /// The longest a client may take to send a request's headers, and how long an idle
    /// keep-alive connection is kept, in seconds (default 30).
    pub header_read_timeout_s: u64,
    /// The longest a client may take to send a request's body once its headers are in,
    /// in seconds (default 30); then 408.
    pub body_read_timeout_s: u64,
    /// At most this many client connections at once (default 10000); one more is closed
    /// as soon as it is accepted. Keep it well under the process's open-file limit.
    pub max_connections: usize,
    /// At most this many writes in flight at once (default 1024); one more is answered 503
    /// `overloaded` with `Retry-After`, nothing sent.
    pub max_write_tasks: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit_bytes: 1024 * 1024,
            shutdown_grace_s: 30,
            default_currency: Currency::USD,
            probe_timeout_ms: 2000,
            header_read_timeout_s: 30,
            body_read_timeout_s: 30,
            max_connections: 10_000,
            max_write_tasks: 1024,
        }
    }
}

/// `[telemetry]`: distributed tracing over OTLP/HTTP, off unless `otlp_endpoint` is set.
///
/// Keys set here (or by `HUB__TELEMETRY__…`) win; the standard variables
/// `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_SERVICE_NAME` and `OTEL_TRACES_SAMPLER_ARG` fill in
/// the keys the file leaves out.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// The collector's OTLP/HTTP base URL (`http://127.0.0.1:4318`); spans are posted to
    /// `/v1/traces` under it. Absent: no tracing at all.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` of the hub's spans (default `integration-hub`).
    pub service_name: String,
    /// The share of new traces kept, 0.0 to 1.0 (default 1.0); a caller's sampling
    /// decision in `traceparent` is followed.
    pub sample_ratio: f64,
    /// How long one export may take (default 10000 ms); its spans are dropped after.
    pub export_timeout_ms: u64,
    /// The most spans in one export (default 512).
    pub batch_size: usize,
    /// The most spans waiting for export (default 2048); more are dropped and counted in
    /// `integration_telemetry_spans_dropped_total`.
    pub queue_size: usize,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: "integration-hub".to_owned(),
            sample_ratio: 1.0,
            export_timeout_ms: 10_000,
            batch_size: 512,
            queue_size: 2048,
        }
    }
}

/// The standard OpenTelemetry variables and the `[telemetry]` key each fills in.
pub const OTEL_VARIABLES: &[(&str, &str)] = &[
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "otlp_endpoint"),
    ("OTEL_SERVICE_NAME", "service_name"),
    ("OTEL_TRACES_SAMPLER_ARG", "sample_ratio"),
];

/// `[idempotency]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdempotencyConfig {
    /// How long a claim lasts unless completed, in seconds (default 120; keep it above every adapter's deadline).
    pub lease_s: u64,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        Self { lease_s: 120 }
    }
}

/// `[dlq]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DlqConfig {
    /// How long one replay may hold its entry, in seconds (default 120).
    pub replay_lease_s: u64,
}

impl Default for DlqConfig {
    fn default() -> Self {
        Self { replay_lease_s: 120 }
    }
}

/// `[webhooks]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// References to the `whsec_<base64>` secrets deliveries may be signed with (several
    /// during a rotation); none: every delivery is refused with 401.
    pub secrets: Vec<CredentialRef>,
    /// How long a `webhook-id` is remembered, in seconds (default 600, at least 600:
    /// twice the 5-minute timestamp tolerance).
    pub id_memory_s: u64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            secrets: Vec::new(),
            id_memory_s: 600,
        }
    }
}

/// `[events]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// Messages waiting to be written to one subscriber before it is closed as too slow (default 64).
    pub send_buffer: usize,
    /// Seconds between pings on an idle connection (default 20).
    pub heartbeat_s: u64,
    /// The longest one write to a subscriber may take, in seconds (default 10).
    pub send_timeout_s: u64,
    /// At most this many subscriptions at once; one more is refused with 503 (default 4096).
    pub max_subscribers: usize,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            send_buffer: 64,
            heartbeat_s: 20,
            send_timeout_s: 10,
            max_subscribers: 4096,
        }
    }
}

/// `[notify]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// Failures of one adapter and operation within this many seconds become one alert (default 60).
    pub window_s: u64,
    /// Dead-letter ids an alert carries as examples (default 5).
    pub max_samples: usize,
    /// Where alerts are POSTed as signed JSON, if anywhere.
    pub webhook_url: Option<String>,
    /// Reference to the `whsec_<base64>` secret alerts are signed with (required with `webhook_url`).
    pub webhook_secret: Option<CredentialRef>,
    /// The longest one alert delivery may take, in milliseconds (default 5000).
    pub webhook_timeout_ms: u64,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            window_s: 60,
            max_samples: 5,
            webhook_url: None,
            webhook_secret: None,
            webhook_timeout_ms: 5_000,
        }
    }
}

/// `[auth]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// `[[auth.tokens]]`: the bearer tokens the API accepts.
    pub tokens: Vec<TokenConfig>,
}

/// One accepted bearer token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who holds it (logged and recorded as the actor of DLQ actions).
    pub name: String,
    /// `read`, `write` or `admin`.
    pub role: TokenRole,
    /// Where the token is.
    pub token: CredentialRef,
}

/// What a token may do, as `[[auth.tokens]]` names it; each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenRole {
    /// `read`: reads of tickets and transactions.
    Read,
    /// `write`: reads, plus writes of tickets and transactions.
    Write,
    /// `admin`: everything, the dead-letter queue and the audit log included.
    Admin,
}

/// `[adapters]`: one section per upstream.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaptersConfig {
    /// `[adapters.ticketing]`: dialect `generic`, `zendesk` or `jira`.
    pub ticketing: AdapterConfig,
    /// `[adapters.transaction_status]`: dialect `generic`.
    pub transaction_status: AdapterConfig,
    /// `[adapters.transaction_create]`: dialect `generic`.
    pub transaction_create: AdapterConfig,
}

impl AdaptersConfig {
    /// `(name, section)` for each adapter.
    pub fn iter(&self) -> [(&'static str, &AdapterConfig); 3] {
        [
            ("ticketing", &self.ticketing),
            ("transaction_status", &self.transaction_status),
            ("transaction_create", &self.transaction_create),
        ]
    }
}

/// How backoff waits are randomised: hub-resilience's jitter kinds, named in lower case
/// (`none`, `full`, `equal`, `decorrelated`).
pub use hub_resilience::backoff::Jitter;

/// `[adapters.ticketing.jira]`: where issues are created (Jira dialect only).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JiraConfig {
    /// The project issues are created in (`SUP`).
    pub project_key: String,
    /// The issue type (default `Task`).
    #[serde(default = "default_issue_type")]
    pub issue_type: String,
    /// The site people open, for `/browse/{key}` links; default the `base_url`.
    #[serde(default)]
    pub browse_url: Option<String>,
    /// The project is a Jira Service Management service project, so internal comments
    /// (`is_public: false`) are possible; default false, and then an internal comment is
    /// refused with 422 rather than posted publicly.
    #[serde(default)]
    pub service_management: bool,
    /// Send `priority` with creates (default false: the project's create screen must
    /// have Priority, or Jira refuses every create).
    #[serde(default)]
    pub priority: bool,
    /// The Jira priority names for `low`, `normal`, `high`, `urgent` (default Jira's
    /// scheme: Low, Medium, High, Highest); only with `priority = true`.
    #[serde(default)]
    pub priority_names: Option<JiraPriorityNames>,
    /// Where the customer id goes: `labels` (a `customer-{id}` label) or a field id such
    /// as `customfield_10050`; default: not sent.
    #[serde(default)]
    pub customer_field: Option<String>,
    /// Fields sent unchanged with every create (`components = [{ name = "Payments" }]`).
    #[serde(default)]
    pub fixed_fields: serde_json::Map<String, serde_json::Value>,
}

/// `[adapters.ticketing.zendesk]`: who a new ticket's requester is (Zendesk dialect only).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZendeskConfig {
    /// `api_user` (default: the credentials' user is the requester and receives public
    /// comments' notifications), `external_id` (the Zendesk user whose external id is the
    /// customer id) or `email` (the user with the e-mail `requester_email` makes).
    #[serde(default)]
    pub requester: ZendeskRequester,
    /// With `requester = "email"`: a template such as `{customer_id}@customers.example.com`.
    #[serde(default)]
    pub requester_email: Option<String>,
}

/// How `customer_id` maps to a Zendesk requester.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZendeskRequester {
    /// The API user.
    #[default]
    ApiUser,
    /// By the user's external id.
    ExternalId,
    /// By an e-mail made from a template.
    Email,
}

/// `[adapters.ticketing.jira.priority_names]`: each defaults to Jira's default scheme.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JiraPriorityNames {
    /// For `low` (default `Low`).
    #[serde(default = "jira_low")]
    pub low: String,
    /// For `normal` (default `Medium`).
    #[serde(default = "jira_normal")]
    pub normal: String,
    /// For `high` (default `High`).
    #[serde(default = "jira_high")]
    pub high: String,
    /// For `urgent` (default `Highest`).
    #[serde(default = "jira_urgent")]
    pub urgent: String,
}

fn jira_low() -> String {
    "Low".to_owned()
}
fn jira_normal() -> String {
    "Medium".to_owned()
}
fn jira_high() -> String {
    "High".to_owned()
}
fn jira_urgent() -> String {
    "Highest".to_owned()
}

fn default_issue_type() -> String {
    "Task".to_owned()
}

/// Which wire format an upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// The original design's generic API.
    Generic,
    /// Zendesk Support API v2.
    Zendesk,
    /// Jira Cloud REST v3.
    Jira,
}

impl Dialect {
    /// The configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generic => "generic",
            Self::Zendesk => "zendesk",
            Self::Jira => "jira",
        }
    }
}

/// One upstream.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdapterConfig {
    /// The wire format.
    pub dialect: Dialect,
    /// `http(s)://host[:port][/prefix]`.
    pub base_url: String,
    /// The OAuth2 token endpoint; default `{base_url}/oauth/token` (transaction adapters).
    #[serde(default)]
    pub token_url: Option<String>,
    /// `[adapters.X.timeouts]`.
    #[serde(default)]
    pub timeouts: TimeoutsConfig,
    /// `[adapters.X.resilience]`.
    #[serde(default)]
    pub resilience: ResilienceConfig,
    /// `[adapters.X.cache]`.
    #[serde(default)]
    pub cache: CacheConfig,
    /// `[adapters.X.credentials]`: name → reference; which names depends on the adapter and dialect.
    #[serde(default)]
    pub credentials: BTreeMap<String, CredentialRef>,
    /// `[adapters.ticketing.jira]`: the Jira dialect's project settings.
    #[serde(default)]
    pub jira: Option<JiraConfig>,
    /// `[adapters.ticketing.zendesk]`: the Zendesk dialect's requester mapping.
    #[serde(default)]
    pub zendesk: Option<ZendeskConfig>,
    /// `[adapters.X.rate]`: the upstream account's rate budget; none when absent.
    #[serde(default)]
    pub rate: Option<RateLimitConfig>,
}

/// The rate budget of one upstream account (`[adapters.X.rate]`): the ceiling the hub
/// keeps its calls under, narrowed at run time by what the vendor says.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Sustained requests per second, for every hub instance together.
    pub requests_per_s: f64,
    /// Requests that may go at once after a quiet spell.
    pub burst: u32,
    /// The share of the burst kept for writes, 0.0–1.0 (default 0.2).
    #[serde(default = "default_write_reserve")]
    pub write_reserve: f64,
    /// How many hub instances share the budget: when Redis is unreachable each one
    /// admits `requests_per_s / instances_hint` (default 1).
    #[serde(default = "default_instances_hint")]
    pub instances_hint: u32,
    /// How long an admission waits for Redis before answering locally, in milliseconds (default 50).
    #[serde(default = "default_redis_timeout_ms")]
    pub redis_timeout_ms: u64,
}

fn default_write_reserve() -> f64 {
    0.2
}
fn default_instances_hint() -> u32 {
    1
}
fn default_redis_timeout_ms() -> u64 {
    50
}

impl RateLimitConfig {
    /// How long an admission waits for Redis.
    pub fn redis_timeout(&self) -> Duration {
        Duration::from_millis(self.redis_timeout_ms)
    }
}

impl ZendeskConfig {
    /// The dialect's requester mapping, or why the configuration cannot give one.
    pub fn requester(&self) -> Result<hub_ticketing::zendesk::Requester, String> {
        use hub_ticketing::zendesk::Requester;
        match (self.requester, &self.requester_email) {
            (ZendeskRequester::Email, Some(t)) => Requester::email_template(t).map_err(|e| e.to_string()),
            (ZendeskRequester::Email, None) => Err("requester = \"email\" needs requester_email".to_owned()),
            (_, Some(_)) => Err("requester_email is used only with requester = \"email\"".to_owned()),
            (ZendeskRequester::ApiUser, None) => Ok(Requester::ApiUser),
            (ZendeskRequester::ExternalId, None) => Ok(Requester::ExternalId),
        }
    }
}

/// Timeouts of one upstream.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimeoutsConfig {
    /// Connecting, in milliseconds (default 2000).
    pub connect_ms: u64,
    /// One attempt, in milliseconds (default 10000).
    pub attempt_ms: u64,
    /// One call, every attempt and wait included, in seconds (default 30).
    pub deadline_s: u64,
}

impl Default for TimeoutsConfig {
    fn default() -> Self {
        Self {
            connect_ms: 2_000,
            attempt_ms: 10_000,
            deadline_s: 30,
        }
    }
}

impl TimeoutsConfig {
    /// Connecting.
    pub fn connect(&self) -> Duration {
        Duration::from_millis(self.connect_ms)
    }

    /// One attempt.
    pub fn attempt(&self) -> Duration {
        Duration::from_millis(self.attempt_ms)
    }

    /// The overall deadline.
    pub fn deadline(&self) -> Duration {
        Duration::from_secs(self.deadline_s)
    }
}

/// Retry and circuit breaker settings of one upstream (contract section 4's defaults).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResilienceConfig {
    /// Attempts in all, first included (default 3).
    pub max_attempts: u32,
    /// First backoff, in milliseconds (default 2000).
    pub backoff_initial_ms: u64,
    /// Backoff growth factor (default 2.0).
    pub backoff_multiplier: f64,
    /// Longest backoff, in milliseconds (default 10000).
    pub backoff_max_ms: u64,
    /// How each backoff is randomised: `none` (default: the contract's 2 s, 4 s, 8 s …),
    /// `full`, `equal` or `decorrelated`.
    pub jitter: Jitter,
    /// Consecutive failed attempts that open the circuit (default 5).
    pub breaker_failures: u32,
    /// How long the circuit stays open, in seconds (default 60).
    pub breaker_open_s: u64,
}

impl Default for ResilienceConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            backoff_initial_ms: 2_000,
            backoff_multiplier: 2.0,
            backoff_max_ms: 10_000,
            jitter: Jitter::None,
            breaker_failures: 5,
            breaker_open_s: 60,
        }
    }
}

impl ResilienceConfig {
    /// The first backoff.
    pub fn backoff_initial(&self) -> Duration {
        Duration::from_millis(self.backoff_initial_ms)
    }

    /// The longest backoff.
    pub fn backoff_max(&self) -> Duration {
        Duration::from_millis(self.backoff_max_ms)
    }

    /// How long the circuit stays open.
    pub fn breaker_open(&self) -> Duration {
        Duration::from_secs(self.breaker_open_s)
    }
}

/// Read-cache lifetimes of one upstream.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Freshness of a status read, in seconds (default: ticket 300, transaction 120).
    pub status_ttl_s: Option<u64>,
    /// Freshness of a transaction history, in seconds (default 300).
    pub history_ttl_s: Option<u64>,
    /// How long past freshness an entry may be served stale when the upstream fails, in seconds (default 600).
    pub max_stale_s: u64,
    /// The last part of an entry's freshness, in percent, in which a read starts one
    /// background refresh of it while readers are served (default 20; 0 turns it off).
    pub refresh_ahead_percent: u8,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            status_ttl_s: None,
            history_ttl_s: None,
            max_stale_s: 600,
            refresh_ahead_percent: 20,
        }
    }
}

impl CacheConfig {
    /// How long past freshness an entry may be served stale.
    pub fn max_stale(&self) -> Duration {
        Duration::from_secs(self.max_stale_s)
    }
}

impl AdaptersConfig {
    /// Ticket status freshness (default 300 s).
    pub fn ticket_status_ttl(&self) -> Duration {
        Duration::from_secs(self.ticketing.cache.status_ttl_s.unwrap_or(300))
    }

    /// Transaction status freshness (default 120 s).
    pub fn transaction_status_ttl(&self) -> Duration {
        Duration::from_secs(self.transaction_status.cache.status_ttl_s.unwrap_or(120))
    }

    /// Transaction history freshness (default 300 s).
    pub fn transaction_history_ttl(&self) -> Duration {
        Duration::from_secs(self.transaction_status.cache.history_ttl_s.unwrap_or(300))
    }
}

impl Config {
    /// Every credential reference with its dotted key, for checking and resolving.
    pub fn secret_refs(&self) -> Vec<(String, &SecretRef)> {
        let mut refs: Vec<(String, &SecretRef)> = self
            .auth
            .tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("auth.tokens[{i}].token"), &t.token.0))
            .collect();
        for (i, s) in self.webhooks.secrets.iter().enumerate() {
            refs.push((format!("webhooks.secrets[{i}]"), &s.0));
        }
        if let Some(s) = &self.notify.webhook_secret {
            refs.push(("notify.webhook_secret".to_owned(), &s.0));
        }
        for (name, adapter) in self.adapters.iter() {
            for (k, v) in &adapter.credentials {
                refs.push((format!("adapters.{name}.credentials.{k}"), &v.0));
            }
        }
        refs
    }
}
