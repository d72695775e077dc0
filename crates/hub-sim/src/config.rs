//! How a simulation is started: listen address, seed, expiry settings and the credentials it accepts.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The credentials the simulated systems accept (test values, published in the README).
///
/// Read from JSON (`hub-sim --credentials FILE`), any field left out keeps its default:
///
/// ```
/// let c: hub_sim::Credentials = serde_json::from_str(r#"{"generic_api_key": "canary-1"}"#).unwrap();
/// assert_eq!(c.generic_api_key, "canary-1");
/// assert_eq!(c.sales_client_id, hub_sim::Credentials::default().sales_client_id);
/// assert!(serde_json::from_str::<hub_sim::Credentials>(r#"{"generic_api_kye": "x"}"#).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Credentials {
    /// Generic ticketing: the `X-API-Key` header value.
    pub generic_api_key: String,
    /// Zendesk: the agent e-mail of basic auth `{email}/token:{api_token}`.
    pub zendesk_email: String,
    /// Zendesk: the API token of basic auth.
    pub zendesk_api_token: String,
    /// Zendesk: an OAuth access token accepted as `Authorization: Bearer`.
    pub zendesk_oauth_token: String,
    /// Zendesk: the OAuth client identifier of the client-credentials grant.
    pub zendesk_client_id: String,
    /// Zendesk: the OAuth client secret of the client-credentials grant.
    pub zendesk_client_secret: String,
    /// Jira: the e-mail of basic auth `email:api_token`.
    pub jira_email: String,
    /// Jira: the API token of basic auth.
    pub jira_api_token: String,
    /// Transaction status: OAuth2 client id.
    pub status_client_id: String,
    /// Transaction status: OAuth2 client secret.
    pub status_client_secret: String,
    /// Sales: OAuth2 client id.
    pub sales_client_id: String,
    /// Sales: OAuth2 client secret.
    pub sales_client_secret: String,
    /// Sales: the HMAC-SHA256 request signing secret.
    pub sales_hmac_secret: String,
    /// Vault: the `X-Vault-Token` value.
    pub vault_token: String,
}

impl Default for Credentials {
    fn default() -> Self {
        Self {
            generic_api_key: "sim-generic-key".to_owned(),
            zendesk_email: "agent@example.com".to_owned(),
            zendesk_api_token: "sim-zendesk-token".to_owned(),
            zendesk_oauth_token: "sim-zendesk-oauth".to_owned(),
            zendesk_client_id: "hub-zendesk".to_owned(),
            zendesk_client_secret: "sim-zendesk-secret".to_owned(),
            jira_email: "agent@example.com".to_owned(),
            jira_api_token: "sim-jira-token".to_owned(),
            status_client_id: "hub-status".to_owned(),
            status_client_secret: "sim-status-secret".to_owned(),
            sales_client_id: "hub-sales".to_owned(),
            sales_client_secret: "sim-sales-secret".to_owned(),
            sales_hmac_secret: "sim-sales-hmac-secret".to_owned(),
            vault_token: "sim-vault-token".to_owned(),
        }
    }
}

/// Settings that can change while the simulation runs (`PUT /_sim/settings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// `expires_in` of issued OAuth2 tokens, in seconds (at least 1).
    pub token_ttl_s: u64,
    /// How long a sales draft stays committable, in seconds.
    pub draft_ttl_s: u64,
    /// Time a commit spends "processing" while its idempotency key is in flight, in ms.
    pub commit_delay_ms: u64,
    /// Whether Jira honours `Idempotency-Key` on creates (a sim extension; real Jira does not).
    pub jira_idempotency: bool,
    /// Whether Zendesk accepts only OAuth bearer tokens, refusing API-token basic
    /// authentication with 401 (an account after Zendesk retires API tokens).
    pub zendesk_oauth_only: bool,
    /// How long Zendesk remembers a ticket create's `Idempotency-Key`, in seconds from its
    /// first use (default 7200: about two hours, as reported of the vendor); after it, the
    /// same key creates a new ticket. Measured on the simulated clock.
    #[serde(default = "default_zendesk_key_ttl_s")]
    pub zendesk_key_ttl_s: u64,
}

fn default_zendesk_key_ttl_s() -> u64 {
    7200
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            token_ttl_s: 3600,
            draft_ttl_s: 900,
            commit_delay_ms: 0,
            jira_idempotency: true,
            zendesk_oauth_only: false,
            zendesk_key_ttl_s: default_zendesk_key_ttl_s(),
        }
    }
}

/// Everything [`crate::Sim::start`] needs.
///
/// ```
/// let config = hub_sim::SimConfig { seed: 7, ..Default::default() };
/// assert_eq!(config.listen.port(), 0);
/// ```
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Seed of the fault dice, so a fault sequence is reproducible.
    pub seed: u64,
    /// Initial run-time settings.
    pub settings: Settings,
    /// Credentials the systems accept.
    pub credentials: Credentials,
    /// How many request records the ledger keeps (the oldest are dropped beyond it).
    pub ledger_capacity: usize,
    /// Upper bound of an accept-then-hang fault that names no `ms` of its own.
    pub hang_max: Duration,
    /// The base URL written into answers (`url`, `self`, `Location`), when clients reach the
    /// sim through a proxy; default: the bound address.
    pub public_url: Option<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: 0,
            settings: Settings::default(),
            credentials: Credentials::default(),
            ledger_capacity: 100_000,
            hang_max: Duration::from_secs(60),
            public_url: None,
        }
    }
}
