//! The sales system: OAuth2 plus HMAC-signed requests; drafts that expire, are committed or cancelled.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri};
use hub_core::{Amount, Currency};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

use crate::auth;
use crate::idempotency::{Refusals, fingerprint};
use crate::ledger::EffectKind;
use crate::oauth::Client;
use crate::payments::{Draft, DraftState, Transaction};
use crate::reply::Reply;
use crate::signature::{SignatureError, verify_request};
use crate::state::{SimState, lock};
use crate::system::System;
use crate::systems::at;

pub(crate) fn routes(router: Router<Arc<SimState>>) -> Router<Arc<SimState>> {
    let s = System::Sales;
    router
        .route(&at(s, "/oauth/token"), post(token))
        .route(&at(s, "/transactions/drafts"), post(create))
        .route(&at(s, "/transactions/drafts/{id}"), get(read))
        .route(&at(s, "/transactions/drafts/{id}/commit"), post(commit))
        .route(&at(s, "/transactions/drafts/{id}/cancel"), post(cancel))
}

fn error(status: StatusCode, code: &str, message: &str) -> Reply {
    Reply::json(status, &json!({"error": code, "message": message}))
}

const REFUSALS: Refusals = Refusals {
    mismatch: || {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_mismatch",
            "this Idempotency-Key was used with another request",
        )
    },
    in_flight: || {
        error(
            StatusCode::CONFLICT,
            "idempotency_key_in_flight",
            "a request with this Idempotency-Key is still being processed",
        )
    },
    replay_headers: &[("idempotent-replayed", "true")],
    fresh_headers: &[],
};

async fn token(State(st): State<Arc<SimState>>, headers: HeaderMap, body: Bytes) -> Reply {
    let client = Client {
        id: st.credentials.sales_client_id.clone(),
        secret: st.credentials.sales_client_secret.clone(),
    };
    st.sales_tokens
        .token_endpoint(&client, &headers, &body, st.settings().token_ttl_s, st.clock.now())
}

/// Checks the bearer token, then the HMAC signature over the request exactly as received.
fn check(st: &SimState, headers: &HeaderMap, method: &Method, uri: &Uri, body: &[u8]) -> Result<(), Reply> {
    st.sales_tokens.check(headers, st.clock.now()).map_err(|e| e.reply())?;
    let path = uri.path_and_query().map_or_else(|| uri.path(), |pq| pq.as_str());
    let result = match (
        auth::header(headers, "x-hmac-timestamp"),
        auth::header(headers, "x-hmac-signature"),
    ) {
        (None, _) => Err(SignatureError::MissingTimestamp),
        (_, None) => Err(SignatureError::MissingSignature),
        (Some(ts), Some(sig)) => verify_request(
            st.credentials.sales_hmac_secret.as_bytes(),
            ts,
            sig,
            method.as_str(),
            path,
            body,
            OffsetDateTime::now_utc().unix_timestamp(),
        ),
    };
    result.map_err(|e| error(StatusCode::UNAUTHORIZED, "invalid_signature", &e.to_string()))
}

#[derive(Deserialize)]
struct DraftIn {
    customer_id: String,
    amount: Amount,
    currency: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
}

async fn create(State(st): State<Arc<SimState>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Reply {
    if let Err(r) = check(&st, &headers, &method, &uri, &body) {
        return r;
    }
    let key = auth::idempotency_key(&headers);
    let fp = fingerprint(&[b"POST /transactions/drafts", &body]);
    let store = st.idempotency.drafts.clone();
    store
        .run(key, fp, &REFUSALS, async { create_draft(&st, &body, key) })
        .await
}

fn create_draft(st: &SimState, body: &[u8], key: Option<&str>) -> Reply {
    let input: DraftIn = match serde_json::from_slice(body) {
        Ok(d) => d,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_request", &e.to_string()),
    };
    if !input.amount.is_positive() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_amount",
            "amount must be positive",
        );
    }
    let Ok(currency) = Currency::parse(&input.currency) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_currency",
            "currency must be an ISO 4217 code",
        );
    };
    let now = st.clock.now();
    let ttl = Duration::seconds(i64::try_from(st.settings().draft_ttl_s).unwrap_or(i64::MAX / 2));
    let (id, reply) = {
        let mut data = lock(&st.money);
        if !data.customers.contains_key(&input.customer_id) {
            return error(StatusCode::UNPROCESSABLE_ENTITY, "unknown_customer", "no such customer");
        }
        let id = format!("DRF-{}", data.next_draft);
        data.next_draft += 1;
        let draft = Draft {
            id: id.clone(),
            customer_id: input.customer_id,
            amount: input.amount,
            currency,
            description: input.description,
            metadata: input.metadata.unwrap_or_default(),
            state: DraftState::Pending,
            created_at: now,
            expires_at: now + ttl,
            transaction_id: None,
        };
        let reply = draft.json(now);
        data.drafts.insert(id.clone(), draft);
        (id, reply)
    };
    st.effect(System::Sales, EffectKind::DraftCreated, &id, None, key);
    Reply::json(StatusCode::CREATED, &reply)
}

async fn read(
    State(st): State<Arc<SimState>>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    if let Err(r) = check(&st, &headers, &method, &uri, &body) {
        return r;
    }
    let now = st.clock.now();
    match lock(&st.money).drafts.get(&id) {
        Some(d) => Reply::json(StatusCode::OK, &d.json(now)),
        None => error(StatusCode::NOT_FOUND, "not_found", "no such draft"),
    }
}

/// Refuses a draft that can no longer change; `Ok` when it is pending at `now`.
fn pending(d: &Draft, now: OffsetDateTime) -> Result<(), Reply> {
    match d.status(now) {
        "committed" => Err(error(
            StatusCode::CONFLICT,
            "draft_already_committed",
            "the draft was committed",
        )),
        "cancelled" => Err(error(
            StatusCode::CONFLICT,
            "draft_cancelled",
            "the draft was cancelled",
        )),
        "expired" => Err(error(StatusCode::CONFLICT, "draft_expired", "the draft expired")),
        _ => Ok(()),
    }
}

async fn commit(
    State(st): State<Arc<SimState>>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    if let Err(r) = check(&st, &headers, &method, &uri, &body) {
        return r;
    }
    let Some(key) = auth::idempotency_key(&headers) else {
        return error(
            StatusCode::BAD_REQUEST,
            "idempotency_key_required",
            "commit needs an Idempotency-Key",
        );
    };
    let fp = fingerprint(&[b"POST /transactions/drafts/{id}/commit", id.as_bytes(), &body]);
    let store = st.idempotency.commits.clone();
    let delay = StdDuration::from_millis(st.settings().commit_delay_ms);
    store
        .run(Some(key), fp, &REFUSALS, async {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            commit_draft(&st, &id, key)
        })
        .await
}

fn commit_draft(st: &SimState, id: &str, key: &str) -> Reply {
    let now = st.clock.now();
    let (txn_id, reply) = {
        let mut data = lock(&st.money);
        let txn_id = format!("TXN-{}", data.next_transaction);
        let Some(draft) = data.drafts.get_mut(id) else {
            return error(StatusCode::NOT_FOUND, "not_found", "no such draft");
        };
        if let Err(r) = pending(draft, now) {
            return r;
        }
        draft.state = DraftState::Committed;
        draft.transaction_id = Some(txn_id.clone());
        let t = Transaction {
            id: txn_id.clone(),
            customer_id: draft.customer_id.clone(),
            status: "completed".to_owned(),
            amount: draft.amount,
            currency: draft.currency,
            description: draft.description.clone(),
            created_at: now,
            completed_at: Some(now),
        };
        let mut reply = t.json();
        reply["draft_id"] = Value::from(id);
        data.next_transaction += 1;
        data.insert(t);
        (txn_id, reply)
    };
    st.effect(System::Sales, EffectKind::DraftCommitted, id, Some(&txn_id), Some(key));
    Reply::json(StatusCode::OK, &reply)
}

async fn cancel(
    State(st): State<Arc<SimState>>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    if let Err(r) = check(&st, &headers, &method, &uri, &body) {
        return r;
    }
    let key = auth::idempotency_key(&headers);
    let fp = fingerprint(&[b"POST /transactions/drafts/{id}/cancel", id.as_bytes(), &body]);
    let store = st.idempotency.cancels.clone();
    store
        .run(key, fp, &REFUSALS, async { cancel_draft(&st, &id, key) })
        .await
}

fn cancel_draft(st: &SimState, id: &str, key: Option<&str>) -> Reply {
    let now = st.clock.now();
    let changed = {
        let mut data = lock(&st.money);
        let Some(draft) = data.drafts.get_mut(id) else {
            return error(StatusCode::NOT_FOUND, "not_found", "no such draft");
        };
        if draft.state == DraftState::Cancelled {
            false
        } else {
            if let Err(r) = pending(draft, now) {
                return r;
            }
            draft.state = DraftState::Cancelled;
            true
        }
    };
    if changed {
        st.effect(System::Sales, EffectKind::DraftCancelled, id, None, key);
    }
    Reply::json(StatusCode::OK, &json!({"id": id, "status": "cancelled"}))
}
