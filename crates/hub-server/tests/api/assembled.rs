//! The hub as `wiring::assemble` builds it from a configuration: webhook keys through the
//! secrets layer, ids in the SQL store, events on the stores' own bus.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use hub_config::load_str;
use hub_core::SecretSource;
use hub_runtime::ComposeError;
use hub_secrets::{EnvSource, Secrets};
use hub_server::wiring;
use hub_sim::DEFAULT_WEBHOOK_SECRET;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::*;

/// A configuration whose ticketing section is `ticketing`, with `extra` sections before it;
/// the transaction adapters point nowhere (these tests do not call them).
fn config_with(extra: &str, ticketing: &str) -> hub_config::Config {
    let text = format!(
        r#"
[store]
database_url = "sqlite::memory:"
{extra}
[adapters.ticketing]
{ticketing}
[adapters.transaction_status]
dialect = "generic"
base_url = "http://127.0.0.1:9"
credentials = {{ client_id = "env:K", client_secret = "env:K" }}
[adapters.transaction_create]
dialect = "generic"
base_url = "http://127.0.0.1:9"
credentials = {{ client_id = "env:K", client_secret = "env:K", hmac_secret = "env:K" }}
"#
    );
    load_str("hub.toml", &text, std::iter::empty()).unwrap().0
}

fn config(secret_ref: &str) -> hub_config::Config {
    config_with(
        &format!(
            r#"[webhooks]
secrets = ["{secret_ref}"]
[[auth.tokens]]
name = "reader"
role = "read"
token = "env:T_READ""#
        ),
        r#"dialect = "generic"
base_url = "http://127.0.0.1:9"
credentials = { api_key = "env:K" }"#,
    )
}

fn secrets() -> Arc<dyn SecretSource> {
    Arc::new(Secrets::new(
        EnvSource::from_pairs([
            ("T_READ", READ),
            ("K", "k"),
            ("WH", DEFAULT_WEBHOOK_SECRET),
            ("BAD", "whsec_!!"),
        ]),
        None,
    ))
}

#[tokio::test]
async fn an_assembled_hub_verifies_remembers_and_publishes() {
    let c = config("env:WH");
    let hub = wiring::assemble(&c, c.store.clone(), secrets()).await.unwrap();
    let srv = Server::start(hub.state.clone()).await;
    let mut req = format!("ws://{}/v1/events?topic=ticket.updated", srv.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {READ}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(req).await.unwrap();

    let key = hub_app::webhooks::signature::decode_secret(DEFAULT_WEBHOOK_SECRET).unwrap();
    let body = serde_json::to_vec(&json!({"ticket_id": "T-1", "status": "solved"})).unwrap();
    let ts = time::OffsetDateTime::now_utc().unix_timestamp();
    let sig = hub_app::webhooks::signature::sign(secrecy::ExposeSecret::expose_secret(&key), "msg_w", ts, &body);
    for _ in 0..2 {
        let res = srv
            .req("POST", "/webhooks/ticket_updated")
            .header("webhook-id", "msg_w")
            .header("webhook-timestamp", &ts.to_string())
            .header("webhook-signature", &sig)
            .raw(body.clone())
            .send()
            .await;
        assert_eq!(res.status, 204, "{}", res.text());
    }
    // Remembered in the SQL store.
    assert!(
        !hub.stores
            .webhook_ids
            .remember("msg_w", Duration::from_secs(600))
            .await
            .unwrap()
    );
    let msg = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let Message::Text(text) = msg else { panic!("{msg:?}") };
    let event: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (event["id"].as_str(), event["event"].as_str()),
        (Some("msg_w"), Some("ticket.updated"))
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn an_unusable_webhook_secret_stops_the_start_naming_the_key() {
    let c = config("env:BAD");
    match wiring::assemble(&c, c.store.clone(), secrets()).await {
        Err(ComposeError::Webhooks { key, .. }) => assert_eq!(key, "webhooks.secrets[0]"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("assembled"),
    }
    let c = config("env:MISSING");
    let err = wiring::assemble(&c, c.store.clone(), secrets()).await.err().unwrap();
    assert!(err.to_string().starts_with("webhooks.secrets[0]"), "{err}");
}

/// A Zendesk deployment configured with an OAuth client: the assembled hub fetches its
/// token at Zendesk's `/oauth/tokens` (JSON, `client_credentials`) and creates tickets at a
/// Zendesk that refuses API-token basic auth.
#[tokio::test]
async fn a_zendesk_oauth_client_configuration_creates_tickets() {
    let sim = hub_sim::Sim::start(hub_sim::SimConfig::default()).await.unwrap();
    sim.control().set_settings(hub_sim::Settings {
        zendesk_oauth_only: true,
        ..sim.control().settings()
    });
    let creds = hub_sim::SimConfig::default().credentials;
    let c = config_with(
        r#"[[auth.tokens]]
name = "writer"
role = "write"
token = "env:T_WRITE""#,
        &format!(
            r#"dialect = "zendesk"
base_url = "{}"
credentials = {{ client_id = "env:ZD_ID", client_secret = "env:ZD_SECRET" }}"#,
            sim.url(hub_sim::System::Zendesk)
        ),
    );
    let secrets: Arc<dyn SecretSource> = Arc::new(Secrets::new(
        EnvSource::from_pairs([
            ("T_WRITE", WRITE),
            ("K", "k"),
            ("ZD_ID", creds.zendesk_client_id.as_str()),
            ("ZD_SECRET", creds.zendesk_client_secret.as_str()),
        ]),
        None,
    ));
    let hub = wiring::assemble(&c, c.store.clone(), secrets).await.unwrap();
    let srv = Server::start(hub.state.clone()).await;
    for n in 0..2 {
        let res = srv
            .req("POST", "/v1/tickets")
            .token(WRITE)
            .json(json!({"customer_id": format!("C-{n}"), "subject": "s", "description": "d"}))
            .send()
            .await;
        assert_eq!(res.status, 201, "{}", res.text());
    }
    hub.shutdown().await;
    sim.shutdown().await;
}
