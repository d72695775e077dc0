//! The port that fans hub events out to live subscribers, on one instance or many.

use std::fmt;
use std::pin::Pin;

use async_trait::async_trait;
use futures_core::Stream;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::store_error::StoreError;

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Topic {
    /// A transaction changed (from a webhook).
    #[serde(rename = "transaction.updated")]
    TransactionUpdated,
    /// A ticket changed (from a webhook).
    #[serde(rename = "ticket.updated")]
    TicketUpdated,
    /// A failed write went to the dead-letter queue.
    #[serde(rename = "dlq.enqueued")]
    DlqEnqueued,
    /// An adapter's circuit changed state.
    #[serde(rename = "circuit.changed")]
    CircuitChanged,
}

impl Topic {
    /// Every topic.
    pub const ALL: [Topic; 4] = [
        Self::TransactionUpdated,
        Self::TicketUpdated,
        Self::DlqEnqueued,
        Self::CircuitChanged,
    ];

    /// The wire name (`transaction.updated`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TransactionUpdated => "transaction.updated",
            Self::TicketUpdated => "ticket.updated",
            Self::DlqEnqueued => "dlq.enqueued",
            Self::CircuitChanged => "circuit.changed",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique id (webhook id for `*.updated`, generated otherwise).
    pub id: String,
    /// The topic.
    #[serde(rename = "event")]
    pub topic: Topic,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Its payload.
    pub data: serde_json::Value,
}

/// A subscriber fell behind and missed this many events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("subscriber lagged and missed {missed} events")]
pub struct Lagged {
    /// How many.
    pub missed: u64,
}

/// A live feed of events; a `Lagged` item tells a slow subscriber it lost some.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<Event, Lagged>> + Send>>;

/// Publishes events and hands out live feeds of them.
///
/// ```
/// use hub_core::{Event, EventPublisher, StoreError, Topic};
/// async fn announce(bus: &dyn EventPublisher, event: Event) -> Result<(), StoreError> {
///     assert_eq!(Topic::parse(event.topic.as_str()), Some(event.topic));
///     bus.publish(event).await
/// }
/// ```
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait EventPublisher: Send + Sync {
    /// Publishes to every subscriber (on every instance when shared).
    async fn publish(&self, event: Event) -> Result<(), StoreError>;

    /// A feed of events published from now on.
    fn subscribe(&self) -> EventStream;
}
