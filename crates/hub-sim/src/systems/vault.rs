//! HashiCorp Vault's KV v2 read endpoint, with secrets set through the control API.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::auth;
use crate::clock::rfc3339;
use crate::config::Credentials;
use crate::reply::Reply;
use crate::state::{SimState, lock};
use crate::system::System;
use crate::systems::at;
use crate::webhooks::DEFAULT_WEBHOOK_SECRET;

#[derive(Debug, Clone)]
struct Secret {
    data: Map<String, Value>,
    version: u64,
    created: OffsetDateTime,
}

/// Secrets by mount and path.
#[derive(Debug, Default)]
pub(crate) struct Data {
    secrets: BTreeMap<(String, String), Secret>,
}

impl Data {
    /// The credentials the other systems accept, under mount `secret`, paths `hub/*` (see the README).
    pub(crate) fn seeded(c: &Credentials) -> Self {
        let mut data = Self::default();
        let now = OffsetDateTime::now_utc();
        let seeds: [(&str, Vec<(&str, &str)>); 6] = [
            ("hub/generic", vec![("api_key", &c.generic_api_key)]),
            (
                "hub/zendesk",
                vec![("email", &c.zendesk_email), ("api_token", &c.zendesk_api_token)],
            ),
            (
                "hub/jira",
                vec![("email", &c.jira_email), ("api_token", &c.jira_api_token)],
            ),
            (
                "hub/status",
                vec![
                    ("client_id", &c.status_client_id),
                    ("client_secret", &c.status_client_secret),
                ],
            ),
            (
                "hub/sales",
                vec![
                    ("client_id", &c.sales_client_id),
                    ("client_secret", &c.sales_client_secret),
                    ("hmac_secret", &c.sales_hmac_secret),
                ],
            ),
            ("hub/webhooks", vec![("secret", DEFAULT_WEBHOOK_SECRET)]),
        ];
        for (path, fields) in seeds {
            let map = fields
                .into_iter()
                .map(|(k, v)| (k.to_owned(), Value::from(v)))
                .collect();
            data.put("secret", path, map, now);
        }
        data
    }

    /// Writes a new version of a secret; returns the version.
    pub(crate) fn put(&mut self, mount: &str, path: &str, data: Map<String, Value>, now: OffsetDateTime) -> u64 {
        let key = (mount.to_owned(), path.trim_matches('/').to_owned());
        let version = self.secrets.get(&key).map_or(1, |s| s.version + 1);
        self.secrets.insert(
            key,
            Secret {
                data,
                version,
                created: now,
            },
        );
        version
    }
}

pub(crate) fn routes(router: Router<Arc<SimState>>) -> Router<Arc<SimState>> {
    let s = System::Vault;
    router
        .route(&at(s, "/v1/sys/health"), get(health))
        .route(&at(s, "/v1/{mount}/data/{*path}"), get(read))
}

async fn health() -> Reply {
    Reply::json(
        StatusCode::OK,
        &json!({"initialized": true, "sealed": false, "standby": false, "version": "1.15.0-sim"}),
    )
}

async fn read(
    State(st): State<Arc<SimState>>,
    Path((mount, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Reply {
    let authorised =
        auth::header(&headers, "x-vault-token").is_some_and(|t| auth::same(t, &st.credentials.vault_token));
    if !authorised {
        return Reply::json(StatusCode::FORBIDDEN, &json!({"errors": ["permission denied"]}));
    }
    let data = lock(&st.vault);
    let Some(secret) = data.secrets.get(&(mount, path.trim_matches('/').to_owned())) else {
        return Reply::json(StatusCode::NOT_FOUND, &json!({"errors": []}));
    };
    Reply::json(
        StatusCode::OK,
        &json!({
            "request_id": uuid::Uuid::new_v4().to_string(),
            "lease_id": "",
            "renewable": false,
            "lease_duration": 0,
            "data": {
                "data": secret.data,
                "metadata": {
                    "created_time": rfc3339(secret.created),
                    "custom_metadata": null,
                    "deletion_time": "",
                    "destroyed": false,
                    "version": secret.version,
                },
            },
            "wrap_info": null,
            "warnings": null,
            "auth": null,
        }),
    )
}
