//! The transaction-status adapter: one transaction, and a customer's history.

use std::sync::Arc;

use async_trait::async_trait;
use hub_core::{
    CacheOutcome, CallContext, CustomerId, Error, Fetched, HistoryLimit, Transaction, TransactionId,
    TransactionStatusPort,
};
use hub_upstream::response::decode;
use hub_upstream::{Call, Endpoint};
use serde_json::json;

use crate::wire::{WireHistory, WireTransaction};

/// Implements [`TransactionStatusPort`] over an [`Endpoint`] (OAuth2 client credentials).
#[derive(Debug)]
pub struct TransactionStatusAdapter {
    endpoint: Arc<Endpoint>,
}

impl TransactionStatusAdapter {
    /// An adapter reading from `endpoint`.
    pub fn new(endpoint: Arc<Endpoint>) -> Self {
        Self { endpoint }
    }

    /// The endpoint (for readiness: its circuit state).
    pub fn endpoint(&self) -> &Arc<Endpoint> {
        &self.endpoint
    }
}

/// `GET /transactions/{id}`.
pub(crate) fn status_call(id: &TransactionId) -> Call {
    Call::get("get_transaction_status", format!("/transactions/{}", id.path_segment()))
        .with_params(json!({"transaction_id": id.as_str()}))
}

/// `GET /customers/{id}/transactions?limit=N`.
pub(crate) fn history_call(customer: &CustomerId, limit: HistoryLimit) -> Call {
    Call::get(
        "get_transaction_history",
        format!("/customers/{}/transactions", customer.path_segment()),
    )
    .with_query(format!("limit={}", limit.get()))
    .with_params(json!({"customer_id": customer.as_str(), "limit": limit.get()}))
}

#[async_trait]
impl TransactionStatusPort for TransactionStatusAdapter {
    async fn get_transaction_status(
        &self,
        ctx: &CallContext,
        transaction_id: &TransactionId,
    ) -> Result<Fetched<Transaction>, Error> {
        let response = self.endpoint.send(ctx, &status_call(transaction_id)).await?;
        let wire: WireTransaction = decode(&response.body)?;
        Ok(Fetched::new(wire.into_domain()?, CacheOutcome::Bypass))
    }

    async fn get_transaction_history(
        &self,
        ctx: &CallContext,
        customer_id: &CustomerId,
        limit: HistoryLimit,
    ) -> Result<Fetched<Vec<Transaction>>, Error> {
        let response = self.endpoint.send(ctx, &history_call(customer_id, limit)).await?;
        let wire: WireHistory = decode(&response.body)?;
        let items = wire
            .transactions
            .into_iter()
            .map(WireTransaction::into_domain)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Fetched::new(items, CacheOutcome::Bypass))
    }
}
