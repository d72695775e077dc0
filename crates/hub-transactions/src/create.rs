//! The transaction-create (sales) adapter: drafts, signed commits with idempotency keys, cancellations.

use std::sync::Arc;

use async_trait::async_trait;
use http::Method;
use hub_core::{
    CallContext, CancelResult, CommitResult, Draft, DraftId, Error, IdempotencyKey, NewDraft, TransactionCreatePort,
};
use hub_upstream::request::Idempotency;
use hub_upstream::response::decode;
use hub_upstream::{Call, Endpoint};
use serde_json::json;

use crate::wire::{WireCancel, WireCommit, WireDraft};

/// Implements [`TransactionCreatePort`] over an [`Endpoint`] (OAuth2 plus HMAC signing).
///
/// Creating a draft is not idempotent upstream, so it is retried only when it provably
/// never left; a commit carries the caller's idempotency key and is safe to retry after
/// an outcome-unknown failure because of it; a cancellation is idempotent by nature.
#[derive(Debug)]
pub struct TransactionCreateAdapter {
    endpoint: Arc<Endpoint>,
}

impl TransactionCreateAdapter {
    /// An adapter writing through `endpoint`.
    pub fn new(endpoint: Arc<Endpoint>) -> Self {
        Self { endpoint }
    }

    /// The endpoint (for readiness: its circuit state).
    pub fn endpoint(&self) -> &Arc<Endpoint> {
        &self.endpoint
    }
}

/// `POST /transactions/drafts`.
pub(crate) fn draft_call(draft: &NewDraft) -> Result<Call, Error> {
    let body = json!({
        "customer_id": draft.customer_id.as_str(),
        "amount": draft.money.amount,
        "currency": draft.money.currency,
        "description": draft.description,
        "metadata": draft.metadata,
    });
    Ok(Call::json(
        "create_draft_transaction",
        Method::POST,
        "/transactions/drafts".to_owned(),
        &body,
        Idempotency::NonIdempotent,
    )?
    .with_params(json!({
        "customer_id": draft.customer_id.as_str(),
        "amount": draft.money.amount,
        "currency": draft.money.currency,
        "metadata": draft.metadata,
    })))
}

/// `POST /transactions/drafts/{id}/commit` with `Idempotency-Key`.
pub(crate) fn commit_call(draft_id: &DraftId, key: &IdempotencyKey) -> Result<Call, Error> {
    let body = json!({"draft_id": draft_id.as_str()});
    Ok(Call::json(
        "commit_transaction",
        Method::POST,
        format!("/transactions/drafts/{}/commit", draft_id.path_segment()),
        &body,
        Idempotency::Keyed(key.as_str().to_owned()),
    )?
    .with_params(json!({"draft_id": draft_id.as_str(), "idempotency_key": key.as_str()})))
}

/// `POST /transactions/drafts/{id}/cancel`.
pub(crate) fn cancel_call(draft_id: &DraftId) -> Result<Call, Error> {
    Ok(Call::json(
        "cancel_draft",
        Method::POST,
        format!("/transactions/drafts/{}/cancel", draft_id.path_segment()),
        &json!({}),
        Idempotency::Idempotent,
    )?
    .with_params(json!({"draft_id": draft_id.as_str()})))
}

#[async_trait]
impl TransactionCreatePort for TransactionCreateAdapter {
    async fn create_draft_transaction(&self, ctx: &CallContext, draft: &NewDraft) -> Result<Draft, Error> {
        let response = self.endpoint.send(ctx, &draft_call(draft)?).await?;
        decode::<WireDraft>(&response.body)?.into_domain(draft.money.currency)
    }

    async fn commit_transaction(
        &self,
        ctx: &CallContext,
        draft_id: &DraftId,
        idempotency_key: &IdempotencyKey,
    ) -> Result<CommitResult, Error> {
        let response = self
            .endpoint
            .send(ctx, &commit_call(draft_id, idempotency_key)?)
            .await?;
        decode::<WireCommit>(&response.body)?.into_domain()
    }

    async fn cancel_draft(&self, ctx: &CallContext, draft_id: &DraftId) -> Result<CancelResult, Error> {
        let response = self.endpoint.send(ctx, &cancel_call(draft_id)?).await?;
        Ok(decode::<WireCancel>(&response.body)?.into_domain(draft_id))
    }
}
