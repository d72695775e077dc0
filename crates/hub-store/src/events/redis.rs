//! Events shared by every hub instance through Redis pub/sub: one relay task per instance
//! subscribes and feeds this instance's [`LocalEvents`].

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::StreamExt;
use hub_core::{Event, EventPublisher, EventStream, StoreError};
use redis::aio::ConnectionManager;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::local::LocalEvents;
use crate::config::StoreConfig;
use crate::error::OpenError;

/// The first wait before the relay subscribes again after losing Redis.
const RECONNECT_MIN: Duration = Duration::from_millis(100);
/// The longest wait between the relay's attempts (the delay doubles up to it).
const RECONNECT_MAX: Duration = Duration::from_secs(5);
/// How many recently delivered event ids each instance remembers to drop duplicates.
const RECENT_IDS: usize = 4096;

/// The [`EventPublisher`] port shared by every hub instance on one Redis (and key prefix).
///
/// `publish` sends the event as JSON with `PUBLISH {prefix}:events` (bounded by
/// `redis_timeout_ms`) and does **not** deliver it locally: one relay task per instance
/// holds a `SUBSCRIBE` on that channel and feeds every message it receives into this
/// instance's [`LocalEvents`], which `subscribe` reads. So an event published on
/// instance A reaches the subscribers of A and of B once each, and slow subscribers lag
/// exactly as on [`LocalEvents`].
///
/// **When Redis is down**, `publish` delivers the event to this instance's subscribers
/// directly, counts the failure ([`RedisEvents::publish_failures`]) and returns
/// `Err(StoreError::Unavailable)`: the other instances missed it (the server treats
/// publishing as best effort and logs that). It also delivers locally when the relay is
/// not subscribed at the time of the `PUBLISH` (starting, or reconnecting). Each
/// instance remembers the ids of the last 4096 events it delivered and drops a repeat,
/// so an event both delivered directly and relayed (a `PUBLISH` that timed out but
/// reached Redis) is seen once. Meanwhile the relay subscribes again with backoff (100 ms
/// doubling to 5 s) and logs one warning per outage, and one line when it is back; it
/// pings Redis every `events_heartbeat_ms` so that a link that died silently is noticed.
/// Redis pub/sub is at-most-once: events published while an instance's relay is not
/// subscribed never reach that instance.
///
/// The relay task stops when the `RedisEvents` is dropped or [`RedisEvents::shutdown`]
/// is called; subscribers' streams end once the `RedisEvents` is dropped.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use futures_util::StreamExt;
/// use hub_core::{Event, EventPublisher, Topic};
/// use hub_store::{StoreConfig, events::RedisEvents};
/// let config = StoreConfig::default();
/// let a = RedisEvents::open("redis://127.0.0.1:6379", &config)?;
/// let b = RedisEvents::open("redis://127.0.0.1:6379", &config)?; // another instance
/// a.wait_subscribed(Duration::from_secs(5)).await;
/// b.wait_subscribed(Duration::from_secs(5)).await;
/// let mut on_b = b.subscribe();
/// let data = serde_json::json!({"transaction_id": "TX-1", "status": "settled"});
/// a.publish(Event { id: "wh-1".into(), topic: Topic::TransactionUpdated, at: time::OffsetDateTime::now_utc(), data }).await?;
/// assert_eq!(on_b.next().await.and_then(Result::ok).map(|e| e.id), Some("wh-1".to_owned()));
/// # Ok(()) }
/// ```
pub struct RedisEvents {
    shared: Arc<Shared>,
    connection: ConnectionManager,
    channel: String,
    timeout: Duration,
    relay: JoinHandle<()>,
}

/// What the publisher and the relay task share.
struct Shared {
    local: LocalEvents,
    recent: Mutex<RecentIds>,
    relay: watch::Sender<RelayState>,
    publish_failures: AtomicU64,
    outages: AtomicU64,
    malformed: AtomicU64,
}

/// Whether the relay holds a subscription, and which one (a new number per subscribe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct RelayState {
    subscribed: bool,
    session: u64,
}

/// The ids of the last events delivered on this instance, oldest first.
#[derive(Debug, Default)]
struct RecentIds {
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl RecentIds {
    /// Remembers `id`; false when it was already remembered.
    fn insert(&mut self, id: &str) -> bool {
        if self.set.contains(id) {
            return false;
        }
        if self.order.len() >= RECENT_IDS
            && let Some(oldest) = self.order.pop_front()
        {
            self.set.remove(&oldest);
        }
        self.order.push_back(id.to_owned());
        self.set.insert(id.to_owned());
        true
    }
}

impl Shared {
    /// Hands `event` to this instance's subscribers unless it was delivered already.
    fn deliver_once(&self, event: Event) {
        let fresh = self
            .recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(&event.id);
        if fresh {
            self.local.send(event);
        }
    }

    fn set_subscribed(&self, subscribed: bool) {
        self.relay.send_modify(|state| {
            if subscribed && !state.subscribed {
                state.session = state.session.wrapping_add(1);
            }
            state.subscribed = subscribed;
        });
    }
}

impl std::fmt::Debug for RedisEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisEvents")
            .field("channel", &self.channel)
            .field("timeout", &self.timeout)
            .field("subscribed", &self.is_subscribed())
            .finish_non_exhaustive()
    }
}

impl RedisEvents {
    /// A bus on `url`, on the channel `{redis_key_prefix}:events`, with `config`'s
    /// timeout and `events_capacity`. Starts the relay task (which connects in the
    /// background), so it needs a Tokio runtime; never waits for Redis.
    pub fn open(url: &str, config: &StoreConfig) -> Result<Self, OpenError> {
        Self::open_with_prefix(url, &config.redis_key_prefix, config)
    }

    /// [`RedisEvents::open`] with another key prefix (one per deployment, or per test).
    pub fn open_with_prefix(url: &str, prefix: &str, config: &StoreConfig) -> Result<Self, OpenError> {
        let (client, connection) = crate::redis_conn::connect(url, config)?;
        let timeout = crate::redis_conn::call_timeout(config);
        let channel = format!("{prefix}:events");
        let (relay_state, _) = watch::channel(RelayState::default());
        let shared = Arc::new(Shared {
            local: LocalEvents::new(config.events_capacity),
            recent: Mutex::new(RecentIds::default()),
            relay: relay_state,
            publish_failures: AtomicU64::new(0),
            outages: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
        });
        let link = Link {
            client,
            channel: channel.clone(),
            timeout,
            heartbeat: Duration::from_millis(config.events_heartbeat_ms.max(1)),
        };
        let relay = tokio::spawn(relay(Arc::clone(&shared), link));
        Ok(Self {
            shared,
            connection,
            channel,
            timeout,
            relay,
        })
    }

    /// The Redis channel (`{prefix}:events`).
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// Whether the relay holds its subscription now (so events published anywhere
    /// reach this instance).
    pub fn is_subscribed(&self) -> bool {
        self.shared.relay.borrow().subscribed
    }

    /// Waits up to `timeout` for the relay to hold its subscription; true when it does.
    /// For readiness checks and tests: publishing does not need it.
    pub async fn wait_subscribed(&self, timeout: Duration) -> bool {
        let mut state = self.shared.relay.subscribe();
        matches!(
            tokio::time::timeout(timeout, state.wait_for(|s| s.subscribed)).await,
            Ok(Ok(_))
        )
    }

    /// How many `publish` calls failed to reach Redis (and were delivered only here).
    pub fn publish_failures(&self) -> u64 {
        self.shared.publish_failures.load(Ordering::Relaxed)
    }

    /// How many times the relay lost Redis (each logged once).
    pub fn outages(&self) -> u64 {
        self.shared.outages.load(Ordering::Relaxed)
    }

    /// How many messages on the channel were not events and were ignored.
    pub fn malformed(&self) -> u64 {
        self.shared.malformed.load(Ordering::Relaxed)
    }

    /// How many subscribers this instance has now.
    pub fn subscribers(&self) -> usize {
        self.shared.local.subscribers()
    }

    /// Stops the relay task: no more events from Redis reach this instance. Dropping
    /// the `RedisEvents` does the same.
    pub fn shutdown(&self) {
        self.relay.abort();
        self.shared.set_subscribed(false);
    }

    /// Runs one Redis call within the timeout, mapping every failure to `Unavailable`.
    async fn bounded<T>(&self, call: impl Future<Output = redis::RedisResult<T>>) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(StoreError::Unavailable {
                reason: format!("redis: {e}"),
            }),
            Err(_) => Err(StoreError::Unavailable {
                reason: format!("redis did not answer within {} ms", self.timeout.as_millis()),
            }),
        }
    }
}

impl Drop for RedisEvents {
    fn drop(&mut self) {
        self.relay.abort();
    }
}

#[async_trait]
impl EventPublisher for RedisEvents {
    /// Publishes through Redis; see the type's documentation for what happens when
    /// Redis is down (delivered here, counted, `Err(Unavailable)`).
    async fn publish(&self, event: Event) -> Result<(), StoreError> {
        let payload = serde_json::to_vec(&event).map_err(|e| StoreError::Invalid {
            reason: format!("the event does not serialise: {e}"),
        })?;
        let before = *self.shared.relay.borrow();
        let mut connection = self.connection.clone();
        let sent = self
            .bounded(
                redis::cmd("PUBLISH")
                    .arg(&self.channel)
                    .arg(payload)
                    .query_async::<i64>(&mut connection),
            )
            .await;
        let after = *self.shared.relay.borrow();
        // The relay receives it only if one subscription spanned the PUBLISH.
        let relayed = sent.is_ok() && before.subscribed && before == after;
        if !relayed {
            self.shared.deliver_once(event);
        }
        if let Err(e) = &sent {
            self.shared.publish_failures.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(channel = %self.channel, error = %e, "event delivered on this instance only");
        }
        sent.map(drop)
    }

    fn subscribe(&self) -> EventStream {
        self.shared.local.subscribe()
    }
}

/// Where and how the relay subscribes.
struct Link {
    client: redis::Client,
    channel: String,
    timeout: Duration,
    heartbeat: Duration,
}

impl Link {
    /// Subscribes to the channel, connecting and subscribing within twice the timeout.
    async fn subscribe(&self) -> Result<(redis::aio::PubSubSink, redis::aio::PubSubStream), String> {
        let bound = self.timeout.saturating_mul(2);
        let connect = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(&self.channel).await?;
            Ok::<_, redis::RedisError>(pubsub.split())
        };
        match tokio::time::timeout(bound, connect).await {
            Ok(Ok(split)) => Ok(split),
            Ok(Err(e)) => Err(format!("redis: {e}")),
            Err(_) => Err(format!("redis did not answer within {} ms", bound.as_millis())),
        }
    }

    /// Delivers what arrives on the subscription until it fails; returns why.
    async fn pump(
        &self,
        shared: &Shared,
        sink: &mut redis::aio::PubSubSink,
        messages: &mut redis::aio::PubSubStream,
    ) -> String {
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + self.heartbeat, self.heartbeat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                message = messages.next() => {
                    let Some(message) = message else {
                        return "the subscription connection closed".to_owned();
                    };
                    match serde_json::from_slice::<Event>(message.get_payload_bytes()) {
                        Ok(event) => shared.deliver_once(event),
                        Err(e) => {
                            shared.malformed.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(channel = %self.channel, error = %e, "ignoring a message that is not an event");
                        }
                    }
                }
                _ = heartbeat.tick() => {
                    match tokio::time::timeout(self.timeout, sink.ping::<redis::Value>()).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return format!("heartbeat failed: redis: {e}"),
                        Err(_) => {
                            return format!("no answer to a heartbeat within {} ms", self.timeout.as_millis());
                        }
                    }
                }
            }
        }
    }
}

/// The relay task: holds a subscription on the channel and delivers what it receives,
/// subscribing again with backoff when Redis goes away; logs once per outage.
async fn relay(shared: Arc<Shared>, link: Link) {
    let channel = link.channel.as_str();
    let mut delay = RECONNECT_MIN;
    let mut down_since: Option<Instant> = None;
    loop {
        let cause = match link.subscribe().await {
            Ok((mut sink, mut messages)) => {
                shared.set_subscribed(true);
                if let Some(since) = down_since.take() {
                    let outage_ms = u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX);
                    tracing::info!(channel, outage_ms, "event relay subscribed to Redis again");
                } else {
                    tracing::debug!(channel, "event relay subscribed to Redis");
                }
                delay = RECONNECT_MIN;
                let cause = link.pump(&shared, &mut sink, &mut messages).await;
                shared.set_subscribed(false);
                cause
            }
            Err(e) => e,
        };
        if down_since.is_none() {
            down_since = Some(Instant::now());
            shared.outages.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                channel,
                error = %cause,
                "event relay lost Redis: events from other instances are missed until it is back; retrying with backoff"
            );
        }
        tokio::time::sleep(delay).await;
        delay = delay.saturating_mul(2).min(RECONNECT_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_ids_drop_repeats_and_forget_the_oldest() {
        let mut recent = RecentIds::default();
        assert!(recent.insert("a"));
        assert!(!recent.insert("a"));
        for n in 0..RECENT_IDS {
            assert!(recent.insert(&n.to_string()));
        }
        assert_eq!(recent.order.len(), RECENT_IDS);
        assert_eq!(recent.set.len(), RECENT_IDS);
        assert!(recent.insert("a"), "forgotten after {RECENT_IDS} newer ids");
    }
}
