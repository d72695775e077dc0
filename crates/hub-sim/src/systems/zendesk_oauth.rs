//! Zendesk's "Create Token for Grant Type" (`POST /oauth/tokens`) for the client-credentials grant.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::json;

use crate::auth;
use crate::reply::Reply;
use crate::state::SimState;
use crate::system::System;
use crate::systems::at;

/// The routes of Zendesk's token endpoint.
pub(crate) fn routes(router: Router<Arc<SimState>>) -> Router<Arc<SimState>> {
    router.route(&at(System::Zendesk, "/oauth/tokens"), post(token))
}

/// The request parameters, which Zendesk requires as a JSON object.
#[derive(Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

const SCOPES: &[&str] = &["read", "write"];

async fn token(State(st): State<Arc<SimState>>, headers: HeaderMap, body: Bytes) -> Reply {
    let store = &st.zendesk_tokens;
    let refuse = |status: StatusCode, error: &str, description: &str| {
        store.refuse_with(status, &json!({"error": error, "error_description": description}))
    };
    let is_json = auth::header(&headers, "content-type").is_some_and(|ct| ct.trim().starts_with("application/json"));
    let parsed = serde_json::from_slice::<TokenRequest>(&body);
    let request = match parsed {
        Ok(r) if is_json => r,
        _ => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The parameters must be JSON.",
            );
        }
    };
    if request.grant_type.as_deref() != Some("client_credentials") {
        return refuse(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        );
    }
    let c = &st.credentials;
    let known = match (&request.client_id, &request.client_secret) {
        (Some(id), Some(secret)) => {
            auth::same(id, &c.zendesk_client_id) && auth::same(secret, &c.zendesk_client_secret)
        }
        _ => false,
    };
    if !known {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed due to unknown client, no client authentication included, \
             or unsupported authentication method.",
        );
    }
    let scope = request.scope.unwrap_or_default();
    if scope.split_whitespace().next().is_none() || !scope.split_whitespace().all(|s| SCOPES.contains(&s)) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "The requested scope is invalid, unknown, or malformed.",
        );
    }
    let token = store.issue(st.settings().token_ttl_s, st.clock.now());
    Reply::json(
        StatusCode::OK,
        &json!({"access_token": token, "token_type": "bearer", "scope": scope}),
    )
}
