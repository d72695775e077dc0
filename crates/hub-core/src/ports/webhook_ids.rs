//! The port to the memory of processed webhook deliveries, so a redelivery is
//! acknowledged without being processed again.

use std::time::Duration;

use async_trait::async_trait;

use crate::store_error::StoreError;

/// Remembers `webhook-id`s; shared by every instance when it is a shared store.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait WebhookIds: Send + Sync {
    /// Records `id` for `ttl`; `true` when it was not already remembered.
    async fn remember(&self, id: &str, ttl: Duration) -> Result<bool, StoreError>;
}
