//! The live-event bus behind `GET /v1/events`: in-process fan-out, or shared by every hub
//! instance through Redis pub/sub.
//!
//! Both types implement [`hub_core::EventPublisher`]. [`open`] picks one from a
//! [`StoreConfig`] — [`RedisEvents`] when `redis_url` is set, else [`LocalEvents`] — and
//! [`crate::Stores`] holds the result as `Arc<dyn EventPublisher>` in its `events` field.

mod local;
mod redis;

use std::sync::Arc;

use hub_core::EventPublisher;

pub use self::local::{DEFAULT_CAPACITY, LocalEvents};
pub use self::redis::RedisEvents;
use crate::config::StoreConfig;
use crate::error::OpenError;

/// The bus `config` asks for: [`RedisEvents`] on `redis_url` (channel
/// `{redis_key_prefix}:events`) when it is set, else [`LocalEvents`]; both with
/// `events_capacity`. Does not connect yet; needs a Tokio runtime for Redis.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use futures_util::StreamExt;
/// use hub_core::{Event, EventPublisher, Topic};
/// use hub_store::StoreConfig;
/// let bus = hub_store::events::open(&StoreConfig::default())?; // no Redis: in-process
/// let mut feed = bus.subscribe();
/// let event = Event {
///     id: "evt-1".to_owned(),
///     topic: Topic::CircuitChanged,
///     at: time::OffsetDateTime::now_utc(),
///     data: serde_json::json!({"adapter": "ticketing", "from": "closed", "to": "open"}),
/// };
/// bus.publish(event.clone()).await?;
/// assert_eq!(feed.next().await, Some(Ok(event)));
/// # Ok(()) }
/// ```
pub fn open(config: &StoreConfig) -> Result<Arc<dyn EventPublisher>, OpenError> {
    Ok(match &config.redis_url {
        Some(url) => Arc::new(RedisEvents::open(url, config)?),
        None => Arc::new(LocalEvents::new(config.events_capacity)),
    })
}
