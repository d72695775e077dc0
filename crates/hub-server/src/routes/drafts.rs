//! `/v1/transactions/drafts`: create, commit and cancel draft transactions.

use axum::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use hub_app::WriteOp;
use hub_core::{DraftId, Money, NewDraft};

use crate::auth::Principal;
use crate::correlation::Correlation;
use crate::extract::{EmptyBody, JsonBody, PathId};
use crate::idempotency::key_from_headers;
use crate::problem::Problem;
use crate::routes::write;
use crate::state::AppState;
use crate::wire::{CancelBody, CommitBody, CreateDraftRequest, DraftBody};

/// Creates a draft transaction.
#[utoipa::path(
    post, path = "/v1/transactions/drafts", tag = "drafts", operation_id = "create_draft",
    request_body = CreateDraftRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a repeat return the first answer", pattern = "^[!-~]{1,255}$")),
    responses(
        (status = 201, description = "Created", body = DraftBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_draft(
    State(state): State<AppState>,
    Extension(corr): Extension<Correlation>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<CreateDraftRequest>,
) -> Result<Response, Problem> {
    let key = key_from_headers(&headers, false)?;
    if !req.amount.is_positive() {
        return Err(Problem::invalid_body("amount", "must be greater than zero"));
    }
    let currency = req.currency.unwrap_or(state.settings.default_currency);
    let op = WriteOp::CreateDraft(NewDraft {
        customer_id: req.customer_id,
        money: Money::new(req.amount, currency),
        description: req.description,
        metadata: req.metadata.unwrap_or_default(),
    });
    Ok(write(&state, &corr, principal.as_deref(), key, op).await)
}

/// Commits a draft; `Idempotency-Key` is required.
#[utoipa::path(
    post, path = "/v1/transactions/drafts/{draft_id}/commit", tag = "drafts", operation_id = "commit_draft",
    params(
        ("draft_id" = String, Path, description = "The contract's id rule", pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"),
        ("Idempotency-Key" = String, Header, description = "Required", pattern = "^[!-~]{1,255}$"),
    ),
    responses(
        (status = 200, description = "Committed", body = CommitBody),
    ),
    security(("bearer" = []))
)]
pub async fn commit(
    State(state): State<AppState>,
    Extension(corr): Extension<Correlation>,
    principal: Option<Extension<Principal>>,
    PathId(id): PathId<DraftId>,
    headers: HeaderMap,
    _body: EmptyBody,
) -> Result<Response, Problem> {
    let key = key_from_headers(&headers, true)?;
    Ok(write(&state, &corr, principal.as_deref(), key, WriteOp::Commit(id)).await)
}

/// Cancels a draft.
#[utoipa::path(
    post, path = "/v1/transactions/drafts/{draft_id}/cancel", tag = "drafts", operation_id = "cancel_draft",
    params(
        ("draft_id" = String, Path, description = "The contract's id rule", pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a repeat return the first answer", pattern = "^[!-~]{1,255}$"),
    ),
    responses(
        (status = 200, description = "Cancelled", body = CancelBody),
    ),
    security(("bearer" = []))
)]
pub async fn cancel(
    State(state): State<AppState>,
    Extension(corr): Extension<Correlation>,
    principal: Option<Extension<Principal>>,
    PathId(id): PathId<DraftId>,
    headers: HeaderMap,
    _body: EmptyBody,
) -> Result<Response, Problem> {
    let key = key_from_headers(&headers, false)?;
    Ok(write(&state, &corr, principal.as_deref(), key, WriteOp::Cancel(id)).await)
}
