//! Ticketing adapters (generic, Zendesk v2, Jira Cloud v3) behind hub-core's `TicketingPort`.
//!
//! Each vendor is a [`dialect::Dialect`]: pure mapping between the hub's domain and the
//! vendor's wire shapes. One adapter runs any dialect's calls through the shared
//! resilient path of `hub-upstream`.
//!
//! # Configuration
//!
//! An adapter is a dialect, an [`hub_upstream::Endpoint`] (base URL, authentication,
//! retry policy, breaker, budget, audit log) and, optionally, a read cache with the
//! ticket-status TTL ([`cache_keys::TICKET_STATUS_TTL`], 300 s). Credentials are secret
//! references resolved by a [`hub_core::SecretSource`] when first needed and again after
//! a 401:
//!
//! | dialect | authentication | credentials |
//! |---|---|---|
//! | [`Generic`] | `X-API-Key` header ([`hub_upstream::auth::ApiKey`]) | API key |
//! | [`Zendesk`] | OAuth bearer ([`hub_upstream::auth::Bearer`]) or basic `{email}/token:{api_token}` ([`hub_upstream::auth::Basic::zendesk`]) | access token, or e-mail and API token |
//! | [`Jira`] | basic `{email}:{api_token}` ([`hub_upstream::auth::Basic::jira`]) | e-mail, API token; plus project key, issue type, browse URL, whether it is a service project |
//!
//! A rejection's reason is read from the vendor's error body by
//! [`zendesk::reject_reason`] and [`jira::reject_reason`] (set as the endpoint's
//! `reject_reason`), redacted and bounded by [`reject`].
//!
//! ```no_run
//! use std::sync::Arc;
//! use hub_resilience::cache::CacheManager;
//! use hub_resilience::memory_store::MemoryCache;
//! use hub_resilience::retry::RetryPolicy;
//! use hub_ticketing::{TicketingAdapter, Zendesk};
//! use hub_upstream::auth::Basic;
//! use hub_upstream::{ClientConfig, Endpoint, EndpointParts, HttpClient, SecretCell};
//!
//! # fn build(secrets: Arc<dyn hub_core::SecretSource>, audit: Arc<dyn hub_core::AuditLog>) -> Result<(), Box<dyn std::error::Error>> {
//! let http = HttpClient::new(&ClientConfig::default())?;
//! let mut parts = EndpointParts::new(hub_core::Adapter::Ticketing, "https://acme.zendesk.com".parse()?, http, audit);
//! let token = SecretCell::new(secrets, "env:ZENDESK_API_TOKEN".parse()?);
//! parts.auth = Arc::new(Basic::zendesk("agent@acme.example", token));
//! parts.policy = RetryPolicy::default(); // 3 attempts, 2 s ×2 up to 10 s, 30 s deadline
//! let cache = Arc::new(CacheManager::builder(Arc::new(MemoryCache::default())).build());
//! let port = TicketingAdapter::new(Zendesk::default(), Arc::new(Endpoint::new(parts)))
//!     .with_cache(cache, hub_ticketing::cache_keys::TICKET_STATUS_TTL);
//! # let _ = port; Ok(()) }
//! ```

pub mod adapter;
pub mod adf;
pub mod cache_keys;
pub mod createmeta;
pub mod dialect;
pub mod generic;
pub mod jira;
pub mod reject;
pub mod zendesk;

pub use adapter::TicketingAdapter;
pub use dialect::Dialect;
pub use generic::Generic;
pub use jira::Jira;
pub use zendesk::Zendesk;
