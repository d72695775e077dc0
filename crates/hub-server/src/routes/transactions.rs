//! `/v1/transactions/{id}` and `/v1/customers/{id}/transactions`: cached transaction reads.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use hub_core::{CustomerId, HistoryLimit, Operation, TransactionId};

use crate::correlation::Correlation;
use crate::extract::{PathId, QueryMap};
use crate::problem::Problem;
use crate::routes::{CACHE_STATUS, cache_status};
use crate::state::AppState;
use crate::wire::{HistoryBody, TransactionBody};

/// Reads one transaction (cached).
#[utoipa::path(
    get, path = "/v1/transactions/{transaction_id}", tag = "transactions", operation_id = "get_transaction",
    params(("transaction_id" = String, Path, description = "The contract's id rule", example = "TXN-5001", pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")),
    responses(
        (status = 200, description = "The transaction; `Cache-Status` says where it came from", body = TransactionBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_transaction(
    State(state): State<AppState>,
    Extension(corr): Extension<Correlation>,
    PathId(id): PathId<TransactionId>,
) -> Result<Response, Problem> {
    let fetched = state
        .hub
        .transaction(&corr.call_context(), &id)
        .await
        .map_err(|e| Problem::upstream(&e, Operation::GetTransactionStatus))?;
    let mut res = Json(TransactionBody::from(fetched.value)).into_response();
    res.headers_mut()
        .insert(CACHE_STATUS.clone(), cache_status(fetched.cache));
    Ok(res)
}

/// Reads a customer's most recent transactions (cached).
#[utoipa::path(
    get, path = "/v1/customers/{customer_id}/transactions", tag = "transactions", operation_id = "list_customer_transactions",
    params(
        ("customer_id" = String, Path, description = "The contract's id rule", example = "CUST-1001", pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"),
        ("limit" = Option<u32>, Query, description = "1..100, default 10", minimum = 1, maximum = 100),
    ),
    responses(
        (status = 200, description = "Newest first; `Cache-Status` says where it came from", body = HistoryBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_history(
    State(state): State<AppState>,
    Extension(corr): Extension<Correlation>,
    PathId(id): PathId<CustomerId>,
    query: QueryMap,
) -> Result<Response, Problem> {
    let n = query.limit(
        "limit",
        HistoryLimit::MIN,
        HistoryLimit::MAX,
        HistoryLimit::default().get(),
    )?;
    let limit = HistoryLimit::new(n).map_err(|e| Problem::invalid_body("limit", e))?;
    let fetched = state
        .hub
        .history(&corr.call_context(), &id, limit)
        .await
        .map_err(|e| Problem::upstream(&e, Operation::GetTransactionHistory))?;
    let mut res = Json(HistoryBody::from(fetched.value)).into_response();
    res.headers_mut()
        .insert(CACHE_STATUS.clone(), cache_status(fetched.cache));
    Ok(res)
}
