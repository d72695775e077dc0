//! The transaction-create (sales) adapter: drafts, signed commits with idempotency keys, cancellations.

use std::sync::Arc;

use async_trait::async_trait;
use http::Method;
use hub_core::{
    CallContext, CancelResult, CommitResult, Draft, DraftId, Error, IdempotencyKey, NewDraft, Operation,
    TransactionCreatePort,
};
use hub_resilience::cache::CacheManager;
use hub_upstream::request::{Idempotency, write_key};
use hub_upstream::response::decode;
use hub_upstream::{Call, Endpoint};
use serde_json::json;

use crate::cache_keys;
use crate::wire::{WireCancel, WireCommit, WireDraft};

/// Implements [`TransactionCreatePort`] over an [`Endpoint`] (OAuth2 plus HMAC signing).
///
/// Every write carries an idempotency key (the caller's, or one derived from the hub
/// request), which the sales system honours, so each is safe to retry after an
/// outcome-unknown failure; the commit's key is the caller's own and required.
///
/// A commit invalidates the new transaction's cached status and, when the upstream
/// names the customer, every cached page of their history. A cancellation changes only
/// a draft, which no cached read holds.
#[derive(Debug)]
pub struct TransactionCreateAdapter {
    endpoint: Arc<Endpoint>,
    cache: Option<Arc<CacheManager>>,
}

impl TransactionCreateAdapter {
    /// An adapter writing through `endpoint`, invalidating nothing.
    pub fn new(endpoint: Arc<Endpoint>) -> Self {
        Self { endpoint, cache: None }
    }

    /// Invalidates the reads a commit changes in `cache`.
    #[must_use]
    pub fn with_cache(mut self, cache: Arc<CacheManager>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The endpoint (for readiness: its circuit state).
    pub fn endpoint(&self) -> &Arc<Endpoint> {
        &self.endpoint
    }
}

/// `POST /transactions/drafts`.
pub(crate) fn draft_call(draft: &NewDraft, key: &str) -> Result<Call, Error> {
    let body = json!({
        "customer_id": draft.customer_id.as_str(),
        "amount": draft.money.amount,
        "currency": draft.money.currency,
        "description": draft.description,
        "metadata": draft.metadata,
    });
    Ok(Call::json(
        Operation::CreateDraftTransaction,
        Method::POST,
        "/transactions/drafts".to_owned(),
        &body,
        Idempotency::Keyed(key.to_owned()),
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
        Operation::CommitTransaction,
        Method::POST,
        format!("/transactions/drafts/{}/commit", draft_id.path_segment()),
        &body,
        Idempotency::Keyed(key.as_str().to_owned()),
    )?
    .with_params(json!({"draft_id": draft_id.as_str(), "idempotency_key": key.as_str()})))
}

/// `POST /transactions/drafts/{id}/cancel`.
pub(crate) fn cancel_call(draft_id: &DraftId, key: &str) -> Result<Call, Error> {
    Ok(Call::json(
        Operation::CancelDraft,
        Method::POST,
        format!("/transactions/drafts/{}/cancel", draft_id.path_segment()),
        &json!({}),
        Idempotency::Keyed(key.to_owned()),
    )?
    .with_params(json!({"draft_id": draft_id.as_str()})))
}

#[async_trait]
impl TransactionCreatePort for TransactionCreateAdapter {
    async fn create_draft_transaction(&self, ctx: &CallContext, draft: &NewDraft) -> Result<Draft, Error> {
        let call = draft_call(draft, &write_key(ctx, Operation::CreateDraftTransaction))?;
        self.endpoint
            .send_and_read(ctx, &call, |response| {
                decode::<WireDraft>(&response.body)?.into_domain(draft.money)
            })
            .await
    }

    async fn commit_transaction(
        &self,
        ctx: &CallContext,
        draft_id: &DraftId,
        idempotency_key: &IdempotencyKey,
    ) -> Result<CommitResult, Error> {
        let call = commit_call(draft_id, idempotency_key)?;
        let (result, customer) = self
            .endpoint
            .send_and_read(ctx, &call, |response| {
                let wire: WireCommit = decode(&response.body)?;
                let customer = wire.customer_id.clone();
                Ok((wire.into_domain()?, customer))
            })
            .await?;
        if let Some(cache) = &self.cache {
            // An unreachable cache holds nothing to invalidate; the manager counts the failure.
            let _ = cache
                .invalidate(&cache_keys::transaction_status(result.transaction_id.as_str()))
                .await;
            if let Some(customer) = customer {
                let _ = cache.invalidate_tag(&cache_keys::customer_tag(&customer)).await;
            }
        }
        Ok(result)
    }

    async fn cancel_draft(&self, ctx: &CallContext, draft_id: &DraftId) -> Result<CancelResult, Error> {
        let call = cancel_call(draft_id, &write_key(ctx, Operation::CancelDraft))?;
        self.endpoint
            .send_and_read(ctx, &call, |response| {
                Ok(decode::<WireCancel>(&response.body)?.into_domain(draft_id))
            })
            .await
    }
}
