//! A summary of what the simulation serves (`GET /_sim/info`): URLs, credentials and seeded ids.

use serde_json::{Value, json};

use crate::state::SimState;
use crate::system::System;
use crate::systems::transactions;
use crate::webhooks::DEFAULT_WEBHOOK_SECRET;

/// The summary as JSON.
pub(crate) fn info(st: &SimState) -> Value {
    let c = &st.credentials;
    let systems: Vec<Value> = System::ALL
        .iter()
        .map(|s| json!({"system": s.name(), "prefix": s.prefix(), "url": st.system_url(*s)}))
        .collect();
    json!({
        "base_url": st.base_url,
        "systems": systems,
        "credentials": {
            "generic": {"header": "X-API-Key", "api_key": c.generic_api_key},
            "zendesk": {"basic_user": format!("{}/token", c.zendesk_email), "api_token": c.zendesk_api_token, "oauth_token": c.zendesk_oauth_token},
            "jira": {"email": c.jira_email, "api_token": c.jira_api_token},
            "status": {"client_id": c.status_client_id, "client_secret": c.status_client_secret},
            "sales": {"client_id": c.sales_client_id, "client_secret": c.sales_client_secret, "hmac_secret": c.sales_hmac_secret},
            "vault": {"token": c.vault_token},
            "webhooks": {"secret": DEFAULT_WEBHOOK_SECRET},
        },
        "seeded": {
            "customers": transactions::customers(st),
            "transactions": ["TXN-5001", "TXN-5002", "TXN-5003", "TXN-5004", "TXN-5005", "TXN-5006", "TXN-5007"],
            "generic_tickets": ["TCK-1001", "TCK-1002", "TCK-1003"],
            "zendesk_tickets": [1, 2, 3, 4],
            "jira_issues": ["SUP-1", "SUP-2", "SUP-3", "SUP-4"],
            "vault_secrets": ["secret/hub/generic", "secret/hub/zendesk", "secret/hub/jira", "secret/hub/status", "secret/hub/sales", "secret/hub/webhooks"],
        },
        "settings": st.settings(),
    })
}
