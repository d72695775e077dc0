//! Transaction adapters: status reads (`TransactionStatusPort`) and draft, commit and
//! cancel writes (`TransactionCreatePort`), through the shared resilient path of `hub-upstream`.
//!
//! # Configuration
//!
//! Both systems authenticate with OAuth2 client credentials (`POST {base_url}/oauth/token`,
//! the token cached until `expires_in` minus a skew, refreshed by one request however
//! many callers find it expired); the sales system also wants every request signed
//! with HMAC-SHA256 over the exact bytes sent. Reads are cached (transaction 120 s,
//! history 300 s, tagged by customer: [`cache_keys`]); a commit invalidates what it changes.
//!
//! ```no_run
//! use std::sync::Arc;
//! use hub_resilience::cache::CacheManager;
//! use hub_resilience::memory_store::MemoryCache;
//! use hub_transactions::cache_keys::Ttls;
//! use hub_transactions::{TransactionCreateAdapter, TransactionStatusAdapter};
//! use hub_upstream::auth::{Chain, HmacSigner, OAuth2ClientCredentials, OAuth2Config};
//! use hub_upstream::{ClientConfig, Endpoint, EndpointParts, HttpClient, SecretCell};
//!
//! # fn build(secrets: Arc<dyn hub_core::SecretSource>, audit: Arc<dyn hub_core::AuditLog>) -> Result<(), Box<dyn std::error::Error>> {
//! let http = HttpClient::new(&ClientConfig::default())?;
//! let cell = |r: &str| -> Result<SecretCell, hub_core::SecretError> { Ok(SecretCell::new(secrets.clone(), r.parse()?)) };
//! let oauth = OAuth2ClientCredentials::new(
//!     http.clone(),
//!     OAuth2Config::new("https://sales.example.com/api/v1/oauth/token".parse()?, hub_core::Adapter::TransactionCreate),
//!     cell("env:SALES_CLIENT_ID")?,
//!     cell("vault:secret/hub/sales#client_secret")?,
//! );
//! let mut parts = EndpointParts::new(hub_core::Adapter::TransactionCreate, "https://sales.example.com/api/v1".parse()?, http, audit);
//! parts.auth = Arc::new(Chain(vec![Arc::new(oauth), Arc::new(HmacSigner::new(cell("file:/run/secrets/sales_hmac")?))]));
//! let cache = Arc::new(CacheManager::builder(Arc::new(MemoryCache::default())).build());
//! let sales = TransactionCreateAdapter::new(Arc::new(Endpoint::new(parts))).with_cache(cache.clone());
//! # let status_endpoint = sales.endpoint().clone(); // the status system's own endpoint in real use
//! let status = TransactionStatusAdapter::new(status_endpoint).with_cache(cache, Ttls::default());
//! # let _ = status; Ok(()) }
//! ```

pub mod cache_keys;
pub mod create;
pub mod status;
mod wire;

pub use create::TransactionCreateAdapter;
pub use status::TransactionStatusAdapter;
