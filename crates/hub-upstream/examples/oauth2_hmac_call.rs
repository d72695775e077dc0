//! One call authenticated with OAuth2 client credentials and signed with HMAC-SHA256,
//! against hub-sim's sales system started in this process on a loopback port.
//!
//! Run with `cargo run -p hub-upstream --example oauth2_hmac_call`.
#![allow(clippy::print_stdout)] // An example talks to its terminal.

use std::sync::Arc;

use hub_core::{Adapter, AuditLog, Operation};
use hub_sim::{Sim, SimConfig, System};
use hub_upstream::auth::{Chain, HmacSigner, OAuth2ClientCredentials, OAuth2Config};
use hub_upstream::request::Idempotency;
use hub_upstream::testing::{MemoryAudit, StaticSecrets, ctx};
use hub_upstream::{Call, ClientConfig, Endpoint, EndpointParts, HttpClient, SecretCell};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Sim::start(SimConfig::default()).await?;
    let base = sim.url(System::Sales);
    // The credentials hub-sim's sales system accepts; in production these are
    // `env:`, `file:` or `vault:` references resolved by hub-secrets.
    let secrets = Arc::new(StaticSecrets::default());
    secrets.set("env:SALES_ID", "hub-sales");
    secrets.set("env:SALES_SECRET", "sim-sales-secret");
    secrets.set("env:SALES_HMAC", "sim-sales-hmac-secret");
    let cell =
        |r: &str| -> Result<SecretCell, hub_core::SecretError> { Ok(SecretCell::new(secrets.clone(), r.parse()?)) };

    let http = HttpClient::new(&ClientConfig::default())?;
    // A bearer token from `POST {base}/oauth/token`, cached until it expires; then every
    // attempt signed over the exact bytes it sends.
    let oauth = OAuth2ClientCredentials::new(
        http.clone(),
        OAuth2Config::new(format!("{base}/oauth/token").parse()?, Adapter::TransactionCreate),
        cell("env:SALES_ID")?,
        cell("env:SALES_SECRET")?,
    );
    let audit = Arc::new(MemoryAudit::default());
    let mut parts = EndpointParts::new(Adapter::TransactionCreate, base.parse()?, http, audit.clone());
    parts.auth = Arc::new(Chain(vec![
        Arc::new(oauth),
        Arc::new(HmacSigner::new(cell("env:SALES_HMAC")?)),
    ]));
    let endpoint = Endpoint::new(parts);

    let call = Call::json(
        Operation::CreateDraftTransaction,
        http::Method::POST,
        "/transactions/drafts".to_owned(),
        &json!({"customer_id": "CUST-1001", "amount": "25.00", "currency": "USD", "description": "Replacement card", "metadata": {}}),
        Idempotency::Keyed("example-draft-1".to_owned()),
    )?;
    let answer = endpoint.send(&ctx("example-1"), &call).await?;
    let draft: serde_json::Value = serde_json::from_slice(&answer.body)?;
    println!("HTTP {}: draft {} ({})", answer.status, draft["id"], draft["status"]);

    // The same key again: the sales system answers the stored draft, nothing new is made.
    let again = endpoint.send(&ctx("example-2"), &call).await?;
    let same: serde_json::Value = serde_json::from_slice(&again.body)?;
    println!("HTTP {}: same key, draft {}", again.status, same["id"]);
    assert_eq!(draft["id"], same["id"]);

    audit.flush().await?;
    for r in audit.records() {
        println!(
            "audit: {} {} {}",
            r.operation,
            r.outcome.as_str(),
            r.http_status.unwrap_or(0)
        );
    }
    sim.shutdown().await;
    Ok(())
}
