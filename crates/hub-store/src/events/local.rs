//! In-process fan-out of events over a Tokio broadcast channel.

use async_trait::async_trait;
use hub_core::{Event, EventPublisher, EventStream, Lagged, StoreError};
use tokio::sync::broadcast;

/// The default number of events a subscriber may fall behind before it lags.
pub const DEFAULT_CAPACITY: usize = 1024;

/// The largest capacity accepted; larger values are clamped (the channel allocates its
/// slots up front).
const MAX_CAPACITY: usize = 1 << 20;

/// The [`EventPublisher`] port within one process: every subscriber gets every event
/// published after it subscribed.
///
/// Publishing never waits: the channel keeps the last `capacity` events, and a
/// subscriber that falls further behind gets `Err(Lagged { missed })` from its stream,
/// then continues with the oldest event still kept (the server closes that WebSocket
/// with a reason). Publishing with no subscriber is not an error. The streams end when
/// the `LocalEvents` (and every clone of it) is dropped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use futures_util::StreamExt;
/// use hub_core::{Event, EventPublisher, Lagged, Topic};
/// use hub_store::events::LocalEvents;
/// let bus = LocalEvents::new(2);
/// let mut slow = bus.subscribe();
/// for n in 0..3 {
///     let data = serde_json::json!({"dlq_id": n, "adapter": "ticketing", "operation": "create_ticket"});
///     bus.publish(Event { id: format!("evt-{n}"), topic: Topic::DlqEnqueued, at: time::OffsetDateTime::now_utc(), data }).await?;
/// }
/// assert_eq!(slow.next().await, Some(Err(Lagged { missed: 1 })));
/// assert_eq!(slow.next().await.and_then(Result::ok).map(|e| e.id), Some("evt-1".to_owned()));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct LocalEvents {
    sender: broadcast::Sender<Event>,
}

impl Default for LocalEvents {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl LocalEvents {
    /// A bus keeping the last `capacity` events for slow subscribers (at least 1, at
    /// most 2^20).
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.clamp(1, MAX_CAPACITY));
        Self { sender }
    }

    /// Hands `event` to every current subscriber without waiting; returns how many
    /// there were.
    pub fn send(&self, event: Event) -> usize {
        self.sender.send(event).unwrap_or(0)
    }

    /// How many subscribers there are now.
    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }
}

#[async_trait]
impl EventPublisher for LocalEvents {
    /// Never fails.
    async fn publish(&self, event: Event) -> Result<(), StoreError> {
        self.send(event);
        Ok(())
    }

    fn subscribe(&self) -> EventStream {
        let receiver = self.sender.subscribe();
        Box::pin(futures_util::stream::unfold(receiver, |mut receiver| async move {
            match receiver.recv().await {
                Ok(event) => Some((Ok(event), receiver)),
                Err(broadcast::error::RecvError::Lagged(missed)) => Some((Err(Lagged { missed }), receiver)),
                Err(broadcast::error::RecvError::Closed) => None,
            }
        }))
    }
}

#[cfg(test)]
mod tests;
