//! The transaction-status adapter: one transaction, and a customer's history.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use hub_core::{
    CacheOutcome, CallContext, CustomerId, Encoded, Error, Fetched, HistoryLimit, Operation, Transaction,
    TransactionId, TransactionStatusPort,
};
use hub_resilience::cache::{CacheManager, Lookup, read_through};
use hub_upstream::response::decode;
use hub_upstream::{Call, Endpoint};
use serde_json::json;

use crate::cache_keys::{self, TRANSACTION_HISTORY, TRANSACTION_STATUS, Ttls};
use crate::wire::{WireHistory, WireTransaction};

/// Implements [`TransactionStatusPort`] over an [`Endpoint`] (OAuth2 client credentials).
#[derive(Debug)]
pub struct TransactionStatusAdapter {
    endpoint: Arc<Endpoint>,
    cache: Option<Arc<CacheManager>>,
    ttls: Ttls,
}

impl TransactionStatusAdapter {
    /// An adapter reading from `endpoint`, without a read cache.
    pub fn new(endpoint: Arc<Endpoint>) -> Self {
        Self {
            endpoint,
            cache: None,
            ttls: Ttls::default(),
        }
    }

    /// Caches reads in `cache`: a transaction for `ttls.transaction_status` (120 s by
    /// default), a history page for `ttls.transaction_history` (300 s), tagged with the
    /// customer so that every page of it is invalidated at once.
    #[must_use]
    pub fn with_cache(mut self, cache: Arc<CacheManager>, ttls: Ttls) -> Self {
        self.cache = Some(cache);
        self.ttls = ttls;
        self
    }

    /// The upstream read of `transaction_id`, owning what it uses so the cache can also
    /// run it as a background refresh.
    fn status_fetch(
        &self,
        ctx: &CallContext,
        transaction_id: &TransactionId,
    ) -> impl Future<Output = Result<Transaction, Error>> + Send + 'static {
        let (endpoint, ctx, id) = (self.endpoint.clone(), ctx.clone(), transaction_id.clone());
        async move { fetch_status(&endpoint, &ctx, &id).await }
    }

    /// The endpoint (for readiness: its circuit state).
    pub fn endpoint(&self) -> &Arc<Endpoint> {
        &self.endpoint
    }

    /// The cache entry of a transaction's status.
    fn status_lookup<'a>(&self, key: &'a str) -> Lookup<'a> {
        Lookup {
            operation: TRANSACTION_STATUS,
            key,
            tags: &[],
            ttl: self.ttls.transaction_status,
        }
    }
}

/// Reads one transaction from the status system.
async fn fetch_status(endpoint: &Endpoint, ctx: &CallContext, id: &TransactionId) -> Result<Transaction, Error> {
    let response = endpoint.send(ctx, &status_call(id)).await?;
    decode::<WireTransaction>(&response.body)?.into_domain()
}

/// Reads a customer's history from the status system.
async fn fetch_history(
    endpoint: &Endpoint,
    ctx: &CallContext,
    customer: &CustomerId,
    limit: HistoryLimit,
) -> Result<Vec<Transaction>, Error> {
    let response = endpoint.send(ctx, &history_call(customer, limit)).await?;
    let wire: WireHistory = decode(&response.body)?;
    wire.transactions
        .into_iter()
        .map(WireTransaction::into_domain)
        .collect()
}

/// `GET /transactions/{id}`.
pub(crate) fn status_call(id: &TransactionId) -> Call {
    Call::get(
        Operation::GetTransactionStatus,
        format!("/transactions/{}", id.path_segment()),
    )
    .with_params(json!({"transaction_id": id.as_str()}))
}

/// `GET /customers/{id}/transactions?limit=N`.
pub(crate) fn history_call(customer: &CustomerId, limit: HistoryLimit) -> Call {
    Call::get(
        Operation::GetTransactionHistory,
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
        let key = cache_keys::transaction_status(transaction_id.as_str());
        let fetch = || self.status_fetch(ctx, transaction_id);
        read_through(self.cache.as_deref(), &self.status_lookup(&key), fetch).await
    }

    async fn get_transaction_status_encoded(
        &self,
        ctx: &CallContext,
        transaction_id: &TransactionId,
    ) -> Result<Fetched<Encoded<Transaction>>, Error> {
        let key = cache_keys::transaction_status(transaction_id.as_str());
        let fetch = || self.status_fetch(ctx, transaction_id);
        match self.cache.as_deref() {
            Some(cache) => cache.get_or_fetch_encoded(&self.status_lookup(&key), fetch).await,
            None => {
                // Boxed, as the cache boxes it: a hit's future stays small.
                let value = Box::pin(fetch()).await?;
                Ok(Fetched::new(Encoded::encode(&value)?, CacheOutcome::Bypass))
            }
        }
    }

    async fn get_transaction_history(
        &self,
        ctx: &CallContext,
        customer_id: &CustomerId,
        limit: HistoryLimit,
    ) -> Result<Fetched<Vec<Transaction>>, Error> {
        let key = cache_keys::transaction_history(customer_id.as_str(), limit.get());
        let tags = [cache_keys::customer_tag(customer_id.as_str())];
        let lookup = Lookup {
            operation: TRANSACTION_HISTORY,
            key: &key,
            tags: &tags,
            ttl: self.ttls.transaction_history,
        };
        let fetch = || {
            let (endpoint, ctx, customer) = (self.endpoint.clone(), ctx.clone(), customer_id.clone());
            async move { fetch_history(&endpoint, &ctx, &customer, limit).await }
        };
        read_through(self.cache.as_deref(), &lookup, fetch).await
    }
}
