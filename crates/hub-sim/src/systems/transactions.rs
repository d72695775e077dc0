//! The transaction status system: OAuth2 client credentials, transactions and customer histories.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::oauth::Client;
use crate::payments::Transaction;
use crate::reply::Reply;
use crate::state::{SimState, lock};
use crate::system::System;
use crate::systems::at;

pub(crate) fn routes(router: Router<Arc<SimState>>) -> Router<Arc<SimState>> {
    let s = System::Status;
    router
        .route(&at(s, "/oauth/token"), post(token))
        .route(&at(s, "/transactions/{id}"), get(read))
        .route(&at(s, "/customers/{id}/transactions"), get(history))
}

fn error(status: StatusCode, code: &str, message: &str) -> Reply {
    Reply::json(status, &json!({"error": code, "message": message}))
}

async fn token(State(st): State<Arc<SimState>>, headers: HeaderMap, body: Bytes) -> Reply {
    let client = Client {
        id: st.credentials.status_client_id.clone(),
        secret: st.credentials.status_client_secret.clone(),
    };
    st.status_tokens
        .token_endpoint(&client, &headers, &body, st.settings().token_ttl_s, st.clock.now())
}

async fn read(State(st): State<Arc<SimState>>, Path(id): Path<String>, headers: HeaderMap) -> Reply {
    if let Err(e) = st.status_tokens.check(&headers, st.clock.now()) {
        return e.reply();
    }
    let data = lock(&st.money);
    match data.transactions.get(&id) {
        Some(t) => Reply::json(StatusCode::OK, &t.json()),
        None => error(StatusCode::NOT_FOUND, "not_found", "no such transaction"),
    }
}

#[derive(Deserialize)]
struct HistoryQuery {
    limit: Option<String>,
}

async fn history(
    State(st): State<Arc<SimState>>,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
    headers: HeaderMap,
) -> Reply {
    if let Err(e) = st.status_tokens.check(&headers, st.clock.now()) {
        return e.reply();
    }
    let limit = match q.limit.as_deref().map(str::parse::<usize>) {
        None => 10,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => return error(StatusCode::BAD_REQUEST, "invalid_limit", "limit must be within 1..=100"),
    };
    let data = lock(&st.money);
    if !data.customers.contains_key(&id) {
        return error(StatusCode::NOT_FOUND, "not_found", "no such customer");
    }
    let list: Vec<Value> = data
        .by_customer
        .get(&id)
        .map(|ids| {
            ids.iter()
                .rev()
                .filter_map(|t| data.transactions.get(t))
                .take(limit)
                .map(Transaction::json)
                .collect()
        })
        .unwrap_or_default();
    Reply::json(StatusCode::OK, &json!({"customer_id": id, "transactions": list}))
}

/// Sets a transaction's status (used by `transaction.updated` webhooks); false when unknown.
pub(crate) fn set_status(st: &SimState, id: &str, status: &str) -> bool {
    let now = st.clock.now();
    let mut data = lock(&st.money);
    match data.transactions.get_mut(id) {
        Some(t) => {
            status.clone_into(&mut t.status);
            if matches!(status, "completed" | "failed" | "refunded" | "cancelled") && t.completed_at.is_none() {
                t.completed_at = Some(now);
            }
            true
        }
        None => false,
    }
}

/// Adds `count` copies of the seeded `TXN-5001` under fresh ids (`TXN-<n>`, numbered on
/// from the last transaction, in its customer's history), for load tests that need many
/// distinct transactions; returns the first and last new number (`None` when `count` is 0
/// or the seed is gone).
pub(crate) fn add_copies(st: &SimState, count: u64) -> Option<(u64, u64)> {
    let mut data = lock(&st.money);
    let template = data.transactions.get("TXN-5001").cloned()?;
    let first = data.next_transaction;
    for _ in 0..count {
        let n = data.next_transaction;
        data.next_transaction += 1;
        let id = format!("TXN-{n}");
        data.insert(Transaction {
            description: format!("Copy of TXN-5001: {id}"),
            id,
            ..template.clone()
        });
    }
    (count > 0).then(|| (first, data.next_transaction - 1))
}

/// The customer names (for documentation and the control API).
pub(crate) fn customers(st: &SimState) -> Vec<Value> {
    lock(&st.money)
        .customers
        .values()
        .map(|c| json!({"id": c.id, "name": c.name}))
        .collect()
}
