//! Composition: the configuration's stores, adapters, caches, observers and credentials
//! assembled into a [`hub_app::Hub`], and the background tasks a running hub keeps.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hub_app::webhooks::signature::WebhookKeys;
use hub_app::{
    AnswerFormat, CountingAudit, ErrorRates, Ports, Services, Supervisor, SupervisorNotifier, TracedAudit,
    WebhookReceiver,
};
use hub_config::{AdapterConfig, Config, Dialect};
use hub_core::{
    Adapter, AuditLog, Cache, Change, Event, EventPublisher, ReadInvalidation, SecretRef, SecretSource, StoreError,
    Topic, TraceContext,
};
use hub_resilience::backoff::Backoff;
use hub_resilience::breaker::{BreakerConfig, BreakerObserver, CircuitState as BreakerState, Transition};
use hub_resilience::cache::{CacheConfig as ManagerConfig, CacheManager};
use hub_resilience::clock::TokioClock;
use hub_resilience::memory_store::MemoryCache;
use hub_resilience::rate_budget::{BudgetKey, LocalBudget, RateBudget, RateConfig};
use hub_resilience::retry::RetryPolicy;
use hub_store::{RedisBudget, SharedBudgetOptions, StoreConfig, Stores};
use hub_ticketing::cache_keys::{self as ticket_keys, TICKET_STATUS_TTL};
use hub_ticketing::{Generic, Jira, TicketingAdapter, Zendesk};
use hub_transactions::cache_keys::{self as transaction_keys, Ttls};
use hub_transactions::{TransactionCreateAdapter, TransactionStatusAdapter};
use hub_upstream::auth::{ApiKey, Basic, Bearer, Chain, HmacSigner, OAuth2ClientCredentials, OAuth2Config, TokenBody};
use hub_upstream::rate_headers::RateFamily;
use hub_upstream::{Authenticate, ClientConfig, Endpoint, EndpointParts, EndpointRate, HttpClient, SecretCell};
use secrecy::ExposeSecret;
use time::OffsetDateTime;

use crate::notify::WebhookSink;
use crate::secrets::ResolveError;
use hub_app::health::{BudgetStates, CircuitState, CircuitStates};

/// Entries the in-process cache holds at most (LRU beyond).
const MEMORY_CACHE_ENTRIES: usize = 100_000;

/// Why the hub could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// The `[store]` section is not a valid store configuration.
    #[error("store: {0}")]
    StoreConfig(String),
    /// The stores could not be opened (the message holds no password).
    #[error("store: {0}")]
    Store(#[from] hub_store::OpenError),
    /// A credential could not be resolved.
    #[error(transparent)]
    Secret(#[from] ResolveError),
    /// A webhook secret is not `whsec_<base64>`, or the alert webhook is unusable.
    #[error("{key}: {reason}")]
    Webhooks {
        /// The dotted key at fault.
        key: String,
        /// Why (never the value).
        reason: String,
    },
    /// An adapter's URL or client could not be built.
    #[error("adapters.{adapter}.{key}: {reason}")]
    Adapter {
        /// The adapter.
        adapter: Adapter,
        /// The key at fault.
        key: &'static str,
        /// Why.
        reason: String,
    },
}

/// The read caches, one manager per cached adapter over one store, for invalidation by webhooks.
#[derive(Clone)]
pub struct Caches {
    /// Ticket status reads.
    pub tickets: Arc<CacheManager>,
    /// Transaction status and history reads (and commits' invalidations).
    pub transactions: Arc<CacheManager>,
}

/// Through the adapters' cache managers, so an in-flight read of the same key is detached
/// and cannot write old data back; with Redis the store is shared, so every instance's
/// next read misses.
#[async_trait]
impl ReadInvalidation for Caches {
    async fn invalidate(&self, change: &Change) -> Result<(), StoreError> {
        match change {
            Change::Transaction {
                transaction_id,
                customer_id,
            } => {
                let status = self
                    .transactions
                    .invalidate(&transaction_keys::transaction_status(transaction_id.as_str()))
                    .await;
                let history = match customer_id {
                    Some(c) => {
                        self.transactions
                            .invalidate_tag(&transaction_keys::customer_tag(c.as_str()))
                            .await
                    }
                    None => Ok(()),
                };
                status.and(history)
            }
            Change::Ticket { ticket_id } => {
                self.tickets
                    .invalidate(&ticket_keys::ticket_status(ticket_id.as_str()))
                    .await
            }
        }
    }
}

/// The application as any binary runs it: the stores, the adapters over their resilient
/// endpoints, the caches, and the use cases over them. API tokens, webhook keys and
/// sessions are the caller's to add ([`crate::authenticator`], [`webhook_receiver`]);
/// background tasks start with [`Composed::spawn_tasks`].
pub struct Composed {
    /// The use cases.
    pub app: hub_app::Hub,
    /// The stores (close them when done).
    pub stores: Arc<Stores>,
    /// The read caches.
    pub caches: Caches,
    /// Each adapter's endpoint.
    pub endpoints: Vec<Arc<Endpoint>>,
    /// The counts the audit log feeds.
    pub error_rates: Arc<ErrorRates>,
    /// The store the read caches keep their entries in (Redis, or this process's memory).
    pub cache_store: Arc<dyn Cache>,
    /// Each adapter's rate budget, for `/readyz` and the supervisor's page.
    pub budgets: Arc<dyn BudgetStates>,
}

impl Composed {
    /// Each adapter's circuit state, read from its endpoint.
    pub fn circuits(&self) -> Arc<dyn CircuitStates> {
        let endpoints = self.endpoints.clone();
        Arc::new(move || {
            endpoints
                .iter()
                .map(|e| (e.adapter().to_owned(), circuit_state(e.circuit_state())))
                .collect()
        })
    }

    /// Starts what a long-running hub keeps doing beside its calls: the stores' sweeper,
    /// and the `integration_dlq_pending` gauge with the metrics recorder's upkeep.
    pub fn spawn_tasks(&self) -> Tasks {
        Tasks(vec![self.stores.spawn_sweeper(), spawn_gauges(self.stores.clone())])
    }

    /// Flushes the audit log and closes the stores.
    pub async fn close(&self) {
        if let Err(e) = self.stores.shutdown().await {
            tracing::error!(error = %e, "closing the stores");
        }
    }
}

/// The background tasks of a running hub ([`Composed::spawn_tasks`]).
#[derive(Debug)]
pub struct Tasks(Vec<tokio::task::JoinHandle<()>>);

impl Tasks {
    /// Stops them.
    pub fn abort(&self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Composes the application from the configuration, the `[store]` section and the
/// secrets layer (only the adapters' credentials and the alert webhook's key are
/// resolved). Answers are written and stored for repeats in `format`; events go to
/// `events`, or to the stores' own bus (in-process, or Redis when `redis_url` is set).
pub async fn compose(
    config: &Config,
    store: toml::Table,
    secrets: Arc<dyn SecretSource>,
    format: Arc<dyn AnswerFormat>,
    events: Option<Arc<dyn EventPublisher>>,
) -> Result<Composed, ComposeError> {
    // Before anything records a metric: the endpoints set their circuit gauges to closed
    // as they are built, and a gauge set before the recorder exists is lost (a fresh hub
    // would show no `integration_circuit_breaker_state` until a circuit first changed).
    hub_telemetry::prometheus::handle();
    let store_config: StoreConfig = toml::Value::Table(store)
        .try_into()
        .map_err(|e: toml::de::Error| ComposeError::StoreConfig(e.message().to_owned()))?;
    // A write waits this long for its audit record before it is refused unsent.
    let audit_timeout = Duration::from_millis(store_config.audit_write_timeout_ms.max(1));
    let rates = Rates(store_config.clone());
    let stores = Arc::new(Stores::open(store_config).await?);
    let events = events.unwrap_or_else(|| stores.events.clone());
    // Every upstream call's outcome passes through the audit log: count it there, and
    // write on it the trace it was made in.
    let error_rates = Arc::new(ErrorRates::default());
    let trace: Arc<dyn TraceContext> = Arc::new(crate::traces::Spans);
    let audit: Arc<dyn AuditLog> = Arc::new(TracedAudit::new(
        Arc::new(CountingAudit::new(stores.audit.clone(), error_rates.clone())),
        trace.clone(),
    ));
    let cache_store: Arc<dyn Cache> = match &stores.cache {
        Some(redis) => redis.clone(),
        None => Arc::new(MemoryCache::builder().max_entries(MEMORY_CACHE_ENTRIES).build()),
    };
    let a = &config.adapters;
    let caches = Caches {
        tickets: cache_manager(&cache_store, &a.ticketing),
        transactions: cache_manager(&cache_store, &a.transaction_status),
    };

    let ticketing = endpoint(
        Adapter::Ticketing,
        &a.ticketing,
        ticketing_auth(&a.ticketing, &secrets).await?,
        (&audit, audit_timeout),
        &events,
        rates.budget(Adapter::Ticketing, &a.ticketing)?,
    )?;
    let status_auth = oauth2(
        Adapter::TransactionStatus,
        &a.transaction_status,
        &secrets,
        &http_client(Adapter::TransactionStatus, &a.transaction_status)?,
        TokenShape::GENERIC,
    )?;
    let status = endpoint(
        Adapter::TransactionStatus,
        &a.transaction_status,
        Arc::new(status_auth),
        (&audit, audit_timeout),
        &events,
        rates.budget(Adapter::TransactionStatus, &a.transaction_status)?,
    )?;
    let create_client = http_client(Adapter::TransactionCreate, &a.transaction_create)?;
    let create_auth = Chain(vec![
        Arc::new(oauth2(
            Adapter::TransactionCreate,
            &a.transaction_create,
            &secrets,
            &create_client,
            TokenShape::GENERIC,
        )?),
        Arc::new(HmacSigner::new(cell(
            &secrets,
            &a.transaction_create,
            "hmac_secret",
            Adapter::TransactionCreate,
        )?)),
    ]);
    let create = endpoint(
        Adapter::TransactionCreate,
        &a.transaction_create,
        Arc::new(create_auth),
        (&audit, audit_timeout),
        &events,
        rates.budget(Adapter::TransactionCreate, &a.transaction_create)?,
    )?;

    let ticket_ttl = ttl(a.ticketing.cache.status_ttl_s, TICKET_STATUS_TTL);
    let ticketing_port: Arc<dyn hub_core::TicketingPort> = match a.ticketing.dialect {
        Dialect::Generic => {
            Arc::new(TicketingAdapter::new(Generic, ticketing.clone()).with_cache(caches.tickets.clone(), ticket_ttl))
        }
        Dialect::Zendesk => {
            let requester = a
                .ticketing
                .zendesk
                .as_ref()
                .map(hub_config::ZendeskConfig::requester)
                .transpose()
                .map_err(|reason| ComposeError::Adapter {
                    adapter: Adapter::Ticketing,
                    key: "zendesk.requester_email",
                    reason,
                })?
                .unwrap_or_default();
            Arc::new(
                TicketingAdapter::new(Zendesk { requester }, ticketing.clone())
                    .with_cache(caches.tickets.clone(), ticket_ttl),
            )
        }
        Dialect::Jira => {
            let jira = a.ticketing.jira.as_ref().ok_or_else(|| ComposeError::Adapter {
                adapter: Adapter::Ticketing,
                key: "jira.project_key",
                reason: "missing: the jira dialect needs a project".to_owned(),
            })?;
            let dialect = Jira {
                project_key: jira.project_key.clone(),
                issue_type: jira.issue_type.clone(),
                browse_url: jira.browse_url.clone().unwrap_or_else(|| a.ticketing.base_url.clone()),
                service_management: jira.service_management,
                create_fields: jira_create_fields(jira),
            };
            Arc::new(TicketingAdapter::new(dialect, ticketing.clone()).with_cache(caches.tickets.clone(), ticket_ttl))
        }
    };
    let defaults = Ttls::default();
    let ttls = Ttls {
        transaction_status: ttl(a.transaction_status.cache.status_ttl_s, defaults.transaction_status),
        transaction_history: ttl(a.transaction_status.cache.history_ttl_s, defaults.transaction_history),
    };
    let ports = Ports {
        ticketing: ticketing_port,
        transaction_status: Arc::new(
            TransactionStatusAdapter::new(status.clone()).with_cache(caches.transactions.clone(), ttls),
        ),
        transaction_create: Arc::new(
            TransactionCreateAdapter::new(create.clone()).with_cache(caches.transactions.clone()),
        ),
    };
    let services = Services {
        idempotency: stores.idempotency.clone(),
        dlq: stores.dlq.clone(),
        audit: audit.clone(),
        events,
    };
    let endpoints = vec![ticketing, status, create];
    let supervisor = Supervisor::new(
        Arc::new(notifier(config, secrets.as_ref()).await?),
        crate::settings::alert_settings(config),
    );
    let app = hub_app::Hub::new(
        ports,
        services,
        format,
        supervisor,
        crate::settings::app_settings(config),
    )
    .with_trace_context(trace);
    let budgets = Arc::new(crate::budgets::EndpointBudgets::new(
        config,
        rates.0.redis_url.is_some(),
        &endpoints,
    ));
    Ok(Composed {
        app,
        stores,
        caches,
        endpoints,
        error_rates,
        cache_store,
        budgets,
    })
}

/// The webhook receiver of the configuration's `[webhooks]`: its keys resolved through
/// the secrets layer, the stores' memory of delivery ids, and the read caches to
/// invalidate.
pub async fn webhook_receiver(
    config: &Config,
    secrets: &dyn SecretSource,
    composed: &Composed,
) -> Result<WebhookReceiver, ComposeError> {
    let receiver = WebhookReceiver::new(webhook_keys(config, secrets).await?)
        .with_seen_ids(composed.stores.webhook_ids.clone())
        .with_caches(Arc::new(composed.caches.clone()))
        .with_id_memory(Duration::from_secs(config.webhooks.id_memory_s));
    if receiver.has_no_keys() {
        tracing::warn!("no [webhooks] secrets configured: every webhook is refused with 401");
    }
    Ok(receiver)
}

/// Resolves `[webhooks] secrets` through the secrets layer and decodes them.
async fn webhook_keys(config: &Config, secrets: &dyn SecretSource) -> Result<WebhookKeys, ComposeError> {
    let mut values = Vec::new();
    for (i, reference) in config.webhooks.secrets.iter().enumerate() {
        let key = format!("webhooks.secrets[{i}]");
        let value = secrets.resolve(&reference.0).await.map_err(|source| ResolveError {
            key: key.clone(),
            source,
        })?;
        WebhookKeys::parse([value.expose_secret()]).map_err(|e| ComposeError::Webhooks {
            key,
            reason: e.to_string(),
        })?;
        values.push(value);
    }
    WebhookKeys::parse(values.iter().map(ExposeSecret::expose_secret)).map_err(|e| ComposeError::Webhooks {
        key: "webhooks.secrets".to_owned(),
        reason: e.to_string(),
    })
}

/// The supervisor's notifier: log and metric, plus the `[notify]` webhook when configured.
async fn notifier(config: &Config, secrets: &dyn SecretSource) -> Result<SupervisorNotifier, ComposeError> {
    let n = &config.notify;
    let (Some(url), Some(secret)) = (&n.webhook_url, &n.webhook_secret) else {
        return Ok(SupervisorNotifier::default());
    };
    let problem = |key: &str, reason: String| ComposeError::Webhooks {
        key: key.to_owned(),
        reason,
    };
    let uri: http::Uri = url
        .parse()
        .map_err(|_| problem("notify.webhook_url", "not a valid URL".to_owned()))?;
    let value = secrets.resolve(&secret.0).await.map_err(|source| ResolveError {
        key: "notify.webhook_secret".to_owned(),
        source,
    })?;
    let client = HttpClient::new(&ClientConfig::default()).map_err(|e| problem("notify.webhook_url", e.to_string()))?;
    let sink = WebhookSink::new(
        client,
        uri,
        value.expose_secret(),
        Duration::from_millis(n.webhook_timeout_ms),
    )
    .map_err(|e| problem("notify.webhook_secret", e.to_string()))?;
    Ok(SupervisorNotifier::default().with_sink("webhook", Arc::new(sink)))
}

/// The fields a Jira create sends, as `[adapters.ticketing.jira]` configures them.
pub fn jira_create_fields(jira: &hub_config::JiraConfig) -> hub_ticketing::jira::CreateFields {
    hub_ticketing::jira::CreateFields {
        priority: jira.priority.then(|| {
            jira.priority_names
                .as_ref()
                .map_or_else(Default::default, |n| hub_ticketing::jira::PriorityNames {
                    low: n.low.clone(),
                    normal: n.normal.clone(),
                    high: n.high.clone(),
                    urgent: n.urgent.clone(),
                })
        }),
        customer_field: jira.customer_field.clone(),
        fixed: jira.fixed_fields.clone(),
    }
}

/// The ticketing adapter's endpoint alone (its base URL, credentials, timeouts and
/// retries), for a command-line probe: its calls go to `audit`, not the hub's store.
pub async fn ticketing_endpoint(
    config: &Config,
    secrets: Arc<dyn SecretSource>,
    audit: Arc<dyn AuditLog>,
) -> Result<Arc<Endpoint>, ComposeError> {
    let a = &config.adapters.ticketing;
    let auth = ticketing_auth(a, &secrets).await?;
    let events: Arc<dyn EventPublisher> = Arc::new(hub_store::LocalEvents::new(16));
    endpoint(
        Adapter::Ticketing,
        a,
        auth,
        (&audit, Duration::from_secs(5)),
        &events,
        None,
    )
}

/// Builds the adapters' rate budgets: shared through Redis when `[store] redis_url` is
/// set, else in process.
struct Rates(StoreConfig);

impl Rates {
    /// `adapter`'s budget, or `None` without an `[adapters.X.rate]` section.
    fn budget(&self, adapter: Adapter, a: &AdapterConfig) -> Result<Option<EndpointRate>, ComposeError> {
        let Some(r) = &a.rate else {
            return Ok(None);
        };
        let rate = RateConfig {
            requests_per_s: r.requests_per_s,
            burst: r.burst,
            write_reserve: r.write_reserve,
            ..RateConfig::default()
        };
        let clock = Arc::new(TokioClock::new());
        let budget: Arc<dyn RateBudget> = match &self.0.redis_url {
            Some(url) => {
                let prefix = format!("{}:rate:{}", self.0.redis_key_prefix, adapter.as_str());
                let options = SharedBudgetOptions {
                    timeout: r.redis_timeout(),
                    instances_hint: r.instances_hint,
                    ..SharedBudgetOptions::new(adapter.as_str(), &prefix)
                };
                Arc::new(RedisBudget::open(url, &self.0, rate, options, clock)?)
            }
            None => Arc::new(LocalBudget::new(rate, clock)),
        };
        Ok(Some(EndpointRate {
            budget,
            key: budget_key(adapter, a),
            family: match a.dialect {
                Dialect::Zendesk => RateFamily::Zendesk,
                Dialect::Jira => RateFamily::Jira,
                Dialect::Generic => RateFamily::Ietf,
            },
        }))
    }
}

/// The account an adapter's budget counts: the adapter, its upstream and a digest of its
/// credential references (which secret is used, never the secret itself), so two
/// configurations naming the same credentials share one budget and different ones do not.
///
/// ```text
/// ticketing:acme.zendesk.com:5f0c3a1b2d4e6f70
/// ```
pub fn budget_key(adapter: Adapter, a: &AdapterConfig) -> BudgetKey {
    // A stable fingerprint, so every instance of every version names the same account alike.
    let mut fingerprint = hub_core::fingerprint::Fnv1a::default();
    for (name, reference) in &a.credentials {
        fingerprint.write(name.as_bytes());
        fingerprint.write(&[0]);
        fingerprint.write(reference.0.to_string().as_bytes());
        fingerprint.write(&[0]);
    }
    let hash = fingerprint.finish();
    let host = a
        .base_url
        .parse::<http::Uri>()
        .ok()
        .and_then(|u| u.authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_default();
    BudgetKey::new(format!("{}:{host}:{hash:016x}", adapter.as_str()))
}

fn ttl(configured: Option<u64>, default: Duration) -> Duration {
    configured.map_or(default, Duration::from_secs)
}

fn cache_manager(store: &Arc<dyn Cache>, a: &AdapterConfig) -> Arc<CacheManager> {
    let config = ManagerConfig {
        max_stale: Duration::from_secs(a.cache.max_stale_s),
        refresh_ahead_percent: a.cache.refresh_ahead_percent,
    };
    Arc::new(
        CacheManager::builder(store.clone())
            .config(config)
            .observer(Arc::new(CacheMetrics::default()))
            .build(),
    )
}

fn circuit_state(s: BreakerState) -> CircuitState {
    match s {
        BreakerState::Closed => CircuitState::Closed,
        BreakerState::Open => CircuitState::Open,
        BreakerState::HalfOpen => CircuitState::HalfOpen,
    }
}

/// The HTTP client of `adapter`, with its connect timeout.
fn http_client(adapter: Adapter, a: &AdapterConfig) -> Result<HttpClient, ComposeError> {
    HttpClient::new(&ClientConfig {
        connect_timeout: a.timeouts.connect(),
        ..ClientConfig::default()
    })
    .map_err(|e| ComposeError::Adapter {
        adapter,
        key: "tls",
        reason: e.to_string(),
    })
}

fn cell(
    secrets: &Arc<dyn SecretSource>,
    a: &AdapterConfig,
    name: &str,
    adapter: Adapter,
) -> Result<SecretCell, ComposeError> {
    let reference: &SecretRef = &a
        .credentials
        .get(name)
        .ok_or_else(|| ComposeError::Adapter {
            adapter,
            key: "credentials",
            reason: format!("missing `{name}`"),
        })?
        .0;
    Ok(SecretCell::new(secrets.clone(), reference.clone()))
}

async fn ticketing_auth(
    a: &AdapterConfig,
    secrets: &Arc<dyn SecretSource>,
) -> Result<Arc<dyn Authenticate>, ComposeError> {
    let email = || async {
        let cell = cell(secrets, a, "email", Adapter::Ticketing)?;
        let email = cell.get().await.map_err(|e| ComposeError::Adapter {
            adapter: Adapter::Ticketing,
            key: "credentials.email",
            reason: e.to_string(),
        })?;
        Ok::<_, ComposeError>(email.expose_secret().to_owned())
    };
    Ok(match a.dialect {
        Dialect::Generic => Arc::new(ApiKey::new(
            http::HeaderName::from_static("x-api-key"),
            cell(secrets, a, "api_key", Adapter::Ticketing)?,
        )),
        // An OAuth access token when one is configured (Zendesk is retiring API tokens),
        // re-read from the secret store after a 401 like every other secret.
        Dialect::Zendesk if a.credentials.contains_key("oauth_token") => {
            Arc::new(Bearer::new(cell(secrets, a, "oauth_token", Adapter::Ticketing)?))
        }
        // An OAuth client: the hub fetches tokens itself at Zendesk's `/oauth/tokens`
        // (client-credentials grant, JSON body).
        Dialect::Zendesk if a.credentials.contains_key("client_id") => {
            let http = http_client(Adapter::Ticketing, a)?;
            Arc::new(oauth2(Adapter::Ticketing, a, secrets, &http, TokenShape::ZENDESK)?)
        }
        Dialect::Zendesk => Arc::new(Basic::zendesk(
            &email().await?,
            cell(secrets, a, "api_token", Adapter::Ticketing)?,
        )),
        Dialect::Jira => Arc::new(Basic::jira(
            &email().await?,
            cell(secrets, a, "api_token", Adapter::Ticketing)?,
        )),
    })
}

/// Where a vendor's token endpoint is by default and how it is asked.
struct TokenShape {
    path: &'static str,
    body: TokenBody,
    scope: Option<&'static str>,
}

impl TokenShape {
    /// RFC 6749: a form-encoded request to `{base_url}/oauth/token`.
    const GENERIC: Self = Self {
        path: "/oauth/token",
        body: TokenBody::Form,
        scope: None,
    };
    /// Zendesk's "Create Token for Grant Type": JSON to `{base_url}/oauth/tokens`.
    const ZENDESK: Self = Self {
        path: "/oauth/tokens",
        body: TokenBody::Json,
        scope: Some("read write"),
    };
}

fn oauth2(
    adapter: Adapter,
    a: &AdapterConfig,
    secrets: &Arc<dyn SecretSource>,
    http: &HttpClient,
    shape: TokenShape,
) -> Result<OAuth2ClientCredentials, ComposeError> {
    let url = a
        .token_url
        .clone()
        .unwrap_or_else(|| format!("{}{}", a.base_url.trim_end_matches('/'), shape.path));
    let token_url = url.parse().map_err(|_| ComposeError::Adapter {
        adapter,
        key: "token_url",
        reason: "not a valid URL".to_owned(),
    })?;
    let mut config = OAuth2Config::new(token_url, adapter);
    config.timeout = a.timeouts.attempt();
    config.body = shape.body;
    config.scope = shape.scope.map(str::to_owned);
    Ok(OAuth2ClientCredentials::new(
        http.clone(),
        config,
        cell(secrets, a, "client_id", adapter)?,
        cell(secrets, a, "client_secret", adapter)?,
    ))
}

fn endpoint(
    adapter: Adapter,
    a: &AdapterConfig,
    auth: Arc<dyn Authenticate>,
    (audit, audit_timeout): (&Arc<dyn AuditLog>, Duration),
    events: &Arc<dyn EventPublisher>,
    rate: Option<EndpointRate>,
) -> Result<Arc<Endpoint>, ComposeError> {
    let base_url = a.base_url.parse().map_err(|_| ComposeError::Adapter {
        adapter,
        key: "base_url",
        reason: "not a valid URL".to_owned(),
    })?;
    let r = &a.resilience;
    let mut parts = EndpointParts::new(adapter, base_url, http_client(adapter, a)?, audit.clone());
    parts.auth = auth;
    parts.audit_timeout = audit_timeout;
    parts.policy = RetryPolicy {
        max_attempts: r.max_attempts,
        backoff: Backoff {
            initial: r.backoff_initial(),
            multiplier: r.backoff_multiplier,
            max: r.backoff_max(),
            jitter: r.jitter,
        },
        per_attempt_timeout: a.timeouts.attempt(),
        deadline: a.timeouts.deadline(),
        ..RetryPolicy::default()
    };
    parts.breaker = BreakerConfig {
        failure_threshold: r.breaker_failures,
        recovery: r.breaker_open(),
        ..BreakerConfig::default()
    };
    parts.breaker_observer = Some(Arc::new(CircuitEvents::new(adapter, events.clone())));
    // A vendor's rejection says why in its own error shape; the reason reaches the
    // problem's detail, the audit record and the DLQ entry.
    parts.reject_reason = match a.dialect {
        Dialect::Generic => None,
        Dialect::Zendesk => Some(hub_ticketing::zendesk::reject_reason),
        Dialect::Jira => Some(hub_ticketing::jira::reject_reason),
    };
    parts.rate = rate;
    Ok(Arc::new(Endpoint::new(parts)))
}

/// Publishes every circuit transition as `circuit.changed` (best effort, off the caller's
/// path), in the order the breaker made them: transitions go onto a queue that one task
/// publishes from, one at a time, so a slow publish cannot let a later transition
/// overtake an earlier one (a subscriber would see `half_open→open` before
/// `open→half_open`).
struct CircuitEvents {
    adapter: Adapter,
    /// `None` outside a Tokio runtime, where nothing can be published.
    queue: Option<tokio::sync::mpsc::UnboundedSender<Event>>,
}

impl CircuitEvents {
    fn new(adapter: Adapter, events: Arc<dyn EventPublisher>) -> Self {
        let queue = tokio::runtime::Handle::try_current().ok().map(|runtime| {
            let (queue, mut transitions) = tokio::sync::mpsc::unbounded_channel::<Event>();
            runtime.spawn(async move {
                while let Some(event) = transitions.recv().await {
                    if let Err(e) = events.publish(event).await {
                        tracing::debug!(error = %e, "circuit.changed not published");
                    }
                }
            });
            queue
        });
        Self { adapter, queue }
    }
}

impl BreakerObserver for CircuitEvents {
    fn on_transition(&self, t: &Transition) {
        let Some(queue) = &self.queue else {
            return;
        };
        let event = Event {
            id: uuid::Uuid::now_v7().to_string(),
            topic: Topic::CircuitChanged,
            at: OffsetDateTime::now_utc(),
            data: serde_json::json!({"adapter": self.adapter.as_str(), "from": t.from.as_str(), "to": t.to.as_str()}),
        };
        // Fails only once the publishing task is gone, with the runtime.
        let _ = queue.send(event);
    }
}

/// Counts cached reads (`integration_cache_requests_total{adapter,operation,result}`) and store failures.
///
/// The counters of the known reads are resolved once, on their first lookup: a cached
/// hit neither builds labels nor looks its series up in the recorder.
#[derive(Default)]
struct CacheMetrics {
    /// Per known operation, per outcome ([`OUTCOMES`]).
    known: [[std::sync::OnceLock<metrics::Counter>; 4]; 3],
}

/// The cached reads with counters of their own, and their adapter.
const KNOWN_READS: [(&str, Adapter); 3] = [
    (hub_ticketing::cache_keys::TICKET_STATUS, Adapter::Ticketing),
    (
        hub_transactions::cache_keys::TRANSACTION_STATUS,
        Adapter::TransactionStatus,
    ),
    (
        hub_transactions::cache_keys::TRANSACTION_HISTORY,
        Adapter::TransactionStatus,
    ),
];

/// Every lookup outcome, in the order of [`CacheMetrics::known`]'s rows.
const OUTCOMES: [hub_core::CacheOutcome; 4] = [
    hub_core::CacheOutcome::Hit,
    hub_core::CacheOutcome::Miss,
    hub_core::CacheOutcome::Stale,
    hub_core::CacheOutcome::Bypass,
];

fn cache_counter(
    adapter: Adapter,
    operation: metrics::SharedString,
    outcome: hub_core::CacheOutcome,
) -> metrics::Counter {
    metrics::counter!("integration_cache_requests_total",
        "adapter" => adapter.as_str(), "operation" => operation, "result" => outcome.as_str())
}

impl hub_resilience::cache::CacheObserver for CacheMetrics {
    fn on_lookup(&self, operation: &str, outcome: hub_core::CacheOutcome) {
        let read = KNOWN_READS.iter().position(|(known, _)| *known == operation);
        let column = OUTCOMES.iter().position(|o| *o == outcome);
        match (read, column) {
            (Some(r), Some(c)) => {
                let (name, adapter) = KNOWN_READS[r];
                self.known[r][c]
                    .get_or_init(|| cache_counter(adapter, metrics::SharedString::const_str(name), outcome))
                    .increment(1);
            }
            _ => cache_counter(Adapter::TransactionStatus, operation.to_owned().into(), outcome).increment(1),
        }
    }

    fn on_store_error(&self, action: &'static str, error: &StoreError) {
        metrics::counter!("integration_cache_store_errors_total", "action" => action).increment(1);
        tracing::warn!(action, error = %error, "cache store failed; the read went on without it");
    }
}

/// Keeps `integration_dlq_pending` current and runs the recorder's upkeep.
fn spawn_gauges(stores: Arc<Stores>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            if let Ok(n) = hub_core::DeadLetterQueue::pending_count(stores.dlq.as_ref()).await {
                // A gauge is an f64; counts this large lose nothing that matters.
                #[allow(clippy::cast_precision_loss)]
                metrics::gauge!("integration_dlq_pending").set(n as f64);
            }
            if let Some(handle) = hub_telemetry::prometheus::handle() {
                handle.run_upkeep();
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use hub_core::{EventStream, StoreError};

    use super::*;

    /// A publisher whose first publish is slow, as a busy Redis can be.
    #[derive(Default)]
    struct SlowFirst {
        calls: std::sync::atomic::AtomicUsize,
        published: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl EventPublisher for SlowFirst {
        async fn publish(&self, event: Event) -> Result<(), StoreError> {
            let first = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
            if first {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let to = event.data["to"].as_str().unwrap_or_default().to_owned();
            self.published.lock().unwrap().push(to);
            Ok(())
        }

        fn subscribe(&self) -> EventStream {
            Box::pin(futures_util::stream::empty())
        }
    }

    /// Found by `cargo xtask chaos`: each transition was published from its own task,
    /// so a subscriber saw a circuit go `half_open→open` before `open→half_open`.
    #[tokio::test(start_paused = true)]
    async fn circuit_events_are_published_in_the_order_of_the_transitions() {
        let publisher = Arc::new(SlowFirst::default());
        let observer = CircuitEvents::new(Adapter::Ticketing, publisher.clone());
        for (from, to) in [
            (BreakerState::Closed, BreakerState::Open),
            (BreakerState::Open, BreakerState::HalfOpen),
            (BreakerState::HalfOpen, BreakerState::Open),
        ] {
            observer.on_transition(&Transition {
                from,
                to,
                consecutive_failures: 5,
            });
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while publisher.published.lock().unwrap().len() < 3 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(*publisher.published.lock().unwrap(), ["open", "half_open", "open"]);
    }

    #[test]
    fn cached_reads_are_counted_by_adapter_operation_and_result() {
        use hub_core::CacheOutcome;
        use hub_resilience::cache::CacheObserver as _;
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            let m = CacheMetrics::default();
            m.on_lookup("transaction_status", CacheOutcome::Hit);
            m.on_lookup("transaction_status", CacheOutcome::Hit);
            m.on_lookup("ticket_status", CacheOutcome::Miss);
            m.on_lookup("some_new_read", CacheOutcome::Bypass);
        });
        let text = handle.render();
        for line in [
            r#"integration_cache_requests_total{adapter="transaction_status",operation="transaction_status",result="hit"} 2"#,
            r#"integration_cache_requests_total{adapter="ticketing",operation="ticket_status",result="miss"} 1"#,
            r#"integration_cache_requests_total{adapter="transaction_status",operation="some_new_read",result="bypass"} 1"#,
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
    }
}
