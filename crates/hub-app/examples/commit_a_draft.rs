//! Commits a draft with an idempotency key through `hub-app` alone — no web server: the
//! sales system's adapter (`hub-transactions`) over the resilient client (`hub-upstream`),
//! the stores on SQLite (`hub-store`), the in-process cache (`hub-resilience`), against
//! the simulated sales system (`hub-sim`). Run: `cargo run -p hub-app --example commit_a_draft`.
#![allow(clippy::print_stdout)] // An example shows its result on the terminal.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use hub_app::{
    AlertSettings, Hub, KeySource, PlainAnswers, Ports, Services, Settings, Supervisor, WriteOp, WriteRequest,
};
use hub_core::{
    CallContext, Currency, IdempotencyKey, Money, NewDraft, RequestId, SecretError, SecretRef, SecretSource,
};
use hub_resilience::cache::CacheManager;
use hub_resilience::memory_store::MemoryCache;
use hub_sim::{Sim, SimConfig, System};
use hub_store::{StoreConfig, Stores};
use hub_transactions::TransactionCreateAdapter;
use hub_upstream::auth::{Chain, HmacSigner, OAuth2ClientCredentials, OAuth2Config};
use hub_upstream::{ClientConfig, Endpoint, EndpointParts, HttpClient, SecretCell};
use secrecy::SecretString;

/// Secrets by reference; a real service uses hub-secrets (environment, files, Vault).
struct Secrets(HashMap<String, String>);

#[async_trait]
impl SecretSource for Secrets {
    async fn resolve(&self, r: &SecretRef) -> Result<SecretString, SecretError> {
        let value = self
            .0
            .get(&r.to_string())
            .ok_or_else(|| SecretError::NotFound(r.to_string()))?;
        Ok(SecretString::from(value.clone()))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Sim::start(SimConfig::default()).await?;
    let creds = SimConfig::default().credentials;
    let secrets: Arc<dyn SecretSource> = Arc::new(Secrets(HashMap::from([
        ("env:SALES_CLIENT_ID".to_owned(), creds.sales_client_id),
        ("env:SALES_CLIENT_SECRET".to_owned(), creds.sales_client_secret),
        ("env:SALES_HMAC".to_owned(), creds.sales_hmac_secret),
    ])));
    let cell = |r: &str| -> Result<SecretCell, SecretError> { Ok(SecretCell::new(secrets.clone(), r.parse()?)) };

    // The stores: audit log, dead letters, idempotency keys, on a SQLite file.
    let db = std::env::temp_dir().join(format!("hub-app-example-{}.sqlite3", std::process::id()));
    let stores = Stores::open(StoreConfig {
        database_url: format!("sqlite://{}", db.display()),
        ..StoreConfig::default()
    })
    .await?;

    // The sales system: OAuth2 client credentials, every request HMAC-signed, reads cached.
    let http = HttpClient::new(&ClientConfig::default())?;
    let sales_url = sim.url(System::Sales);
    let token_url = format!("{sales_url}/oauth/token").parse()?;
    let oauth = OAuth2ClientCredentials::new(
        http.clone(),
        OAuth2Config::new(token_url, hub_core::Adapter::TransactionCreate),
        cell("env:SALES_CLIENT_ID")?,
        cell("env:SALES_CLIENT_SECRET")?,
    );
    let mut parts = EndpointParts::new(
        hub_core::Adapter::TransactionCreate,
        sales_url.parse()?,
        http,
        stores.audit.clone(),
    );
    parts.auth = Arc::new(Chain(vec![
        Arc::new(oauth),
        Arc::new(HmacSigner::new(cell("env:SALES_HMAC")?)),
    ]));
    let cache = Arc::new(CacheManager::builder(Arc::new(MemoryCache::default())).build());
    let sales = TransactionCreateAdapter::new(Arc::new(Endpoint::new(parts))).with_cache(cache);

    // The application: only the sales system is wired; the other ports refuse unsent.
    let ports = Ports {
        transaction_create: Arc::new(sales),
        ..Ports::default()
    };
    let services = Services {
        idempotency: stores.idempotency.clone(),
        dlq: stores.dlq.clone(),
        audit: stores.audit.clone(),
        events: stores.events.clone(),
    };
    let alerts = Supervisor::new(
        Arc::new(hub_app::SupervisorNotifier::default()),
        AlertSettings::default(),
    );
    let hub = Hub::new(ports, services, Arc::new(PlainAnswers), alerts, Settings::default());

    let ctx = |id: &str| RequestId::parse(id).map(CallContext::new);
    let draft = NewDraft {
        customer_id: "CUST-1001".parse()?,
        money: Money::new("49.90".parse()?, Currency::parse("EUR")?),
        description: "Refund for order 77".to_owned(),
        metadata: serde_json::Map::new(),
    };
    let key = |k: &str| IdempotencyKey::parse(k).map(KeySource::Client);
    let created = hub
        .write(WriteRequest {
            ctx: ctx("example-1")?,
            caller: None,
            key: key("draft-77")?,
            op: WriteOp::CreateDraft(draft),
        })
        .await;
    let draft_id: String = serde_json::from_slice::<serde_json::Value>(&created.response.body)?["draft_id"]
        .as_str()
        .ok_or("the draft was not created")?
        .to_owned();
    let commit = WriteOp::Commit(draft_id.parse()?);
    let request = |rid| -> Result<WriteRequest, Box<dyn std::error::Error>> {
        Ok(WriteRequest {
            ctx: ctx(rid)?,
            caller: None,
            key: key("commit-77")?,
            op: commit.clone(),
        })
    };
    let committed = hub.write(request("example-2")?).await;
    // The same key again: the stored answer, nothing sent twice.
    let repeated = hub.write(request("example-3")?).await;
    println!("committed: {}", String::from_utf8_lossy(&committed.response.body));
    println!(
        "repeated ({}): {}",
        if repeated.replayed { "replayed" } else { "sent again" },
        String::from_utf8_lossy(&repeated.response.body)
    );

    stores.shutdown().await?;
    sim.shutdown().await;
    std::fs::remove_file(&db).ok();
    if committed.response.status != 200 || !repeated.replayed || repeated.response.body != committed.response.body {
        return Err("the commit did not go through exactly once".into());
    }
    Ok(())
}
