//! `/v1/transactions/{id}` and `/v1/customers/{id}/transactions`: cached transaction reads.

use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use hub_core::{CustomerId, HistoryLimit, Operation, TransactionId};

use crate::conditional::{self, IfNoneMatch};
use crate::correlation::Correlation;
use crate::extract::{PathId, QueryMap};
use crate::problem::Problem;
use crate::state::AppState;
use crate::wire::{HistoryBody, TransactionBody};

/// Reads one transaction (cached).
#[utoipa::path(
    get, path = "/v1/transactions/{transaction_id}", tag = "transactions", operation_id = "get_transaction",
    params(("transaction_id" = String, Path, description = "The contract's id rule", example = "TXN-5001", pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")),
    responses(
        (status = 200, description = "The transaction; `Cache-Status` says where it came from, `ETag` validates it", body = TransactionBody),
        (status = 304, description = "`If-None-Match` matched the answer's `ETag`: no body"),
    ),
    security(("bearer" = []))
)]
pub async fn get_transaction(
    State(state): State<AppState>,
    Extension(corr): Extension<Correlation>,
    PathId(id): PathId<TransactionId>,
    if_none_match: IfNoneMatch,
) -> Result<Response, Problem> {
    transaction(&state, &corr, &id, &if_none_match).await
}

/// The route of [`get_transaction`], which [`crate::edge`] also answers directly.
pub const TRANSACTION_ROUTE: &str = "/v1/transactions/{transaction_id}";

/// [`get_transaction`] once its request is parsed.
pub(crate) async fn transaction(
    state: &AppState,
    corr: &Correlation,
    id: &TransactionId,
    if_none_match: &IfNoneMatch,
) -> Result<Response, Problem> {
    // The domain transaction's JSON is the answer's body (`TransactionBody`), so the
    // cached bytes go out as they are.
    let fetched = state
        .hub
        .transaction_encoded(&corr.call_context(), id)
        .await
        .map_err(|e| Problem::upstream(&e, Operation::GetTransactionStatus))?;
    Ok(conditional::encoded(if_none_match, fetched.value, fetched.cache))
}

/// Reads a customer's most recent transactions (cached).
#[utoipa::path(
    get, path = "/v1/customers/{customer_id}/transactions", tag = "transactions", operation_id = "list_customer_transactions",
    params(
        ("customer_id" = String, Path, description = "The contract's id rule", example = "CUST-1001", pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"),
        ("limit" = Option<u32>, Query, description = "1..100, default 10", minimum = 1, maximum = 100),
    ),
    responses(
        (status = 200, description = "Newest first; `Cache-Status` says where it came from, `ETag` validates it", body = HistoryBody),
        (status = 304, description = "`If-None-Match` matched the answer's `ETag`: no body"),
    ),
    security(("bearer" = []))
)]
pub async fn get_history(
    State(state): State<AppState>,
    Extension(corr): Extension<Correlation>,
    PathId(id): PathId<CustomerId>,
    query: QueryMap,
    if_none_match: IfNoneMatch,
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
    Ok(conditional::json_of(
        &if_none_match,
        &HistoryBody::from(fetched.value),
        fetched.cache,
    ))
}
