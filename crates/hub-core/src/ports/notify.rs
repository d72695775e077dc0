//! The port through which the supervisor is told about failures that need a person.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::store_error::StoreError;

/// An aggregated alert: many failures of one kind become one message with a count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// The adapter concerned.
    pub adapter: String,
    /// The operation concerned.
    pub operation: String,
    /// What happened, in one line (`writes dead-lettered`, `circuit opened`, …).
    pub summary: String,
    /// How many occurrences this alert stands for.
    pub count: u64,
    /// The first occurrence in the window.
    #[serde(with = "time::serde::rfc3339")]
    pub first_at: OffsetDateTime,
    /// The last occurrence in the window.
    #[serde(with = "time::serde::rfc3339")]
    pub last_at: OffsetDateTime,
    /// A few dead-letter ids as examples.
    pub sample_dlq_ids: Vec<String>,
}

/// Delivers alerts to the supervisor (a log line, a metric, a webhook, …).
///
/// ```
/// use hub_core::{Alert, Notifier, StoreError};
/// async fn tell(n: &dyn Notifier, alert: &Alert) -> Result<(), StoreError> {
///     n.notify(alert).await
/// }
/// ```
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Delivers one alert.
    async fn notify(&self, alert: &Alert) -> Result<(), StoreError>;
}
