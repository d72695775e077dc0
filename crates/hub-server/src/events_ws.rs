//! One `/v1/events` WebSocket: filters the live feed, sends through a bounded buffer,
//! pings idle connections, and closes a subscriber that falls behind rather than
//! slowing the hub.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, close_code};
use bytes::Bytes;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use hub_core::{Event, EventStream, Lagged, Topic};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::problem::{Problem, ProblemCode};

/// Which events a subscriber wants (query parameters of `GET /v1/events`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// `topic` (repeatable); empty for every topic.
    pub topics: Vec<Topic>,
    /// `transaction_id`: only events whose `data.transaction_id` is this.
    pub transaction_id: Option<String>,
    /// `ticket_id`: only events whose `data.ticket_id` is this.
    pub ticket_id: Option<String>,
}

/// The query parameter a browser may carry its bearer token in (never logged).
pub const ACCESS_TOKEN_PARAM: &str = "access_token";

impl EventFilter {
    /// Reads the query's pairs; an unknown topic, a malformed id or an unknown parameter
    /// is a 422 (`invalid_id` 400 for ids), naming the parameter.
    ///
    /// ```
    /// use hub_server::events_ws::EventFilter;
    /// let pairs = [("topic", "ticket.updated"), ("topic", "dlq.enqueued"), ("ticket_id", "T-1")]
    ///     .map(|(k, v)| (k.to_owned(), v.to_owned()));
    /// let f = EventFilter::parse(&pairs).unwrap();
    /// assert_eq!(f.topics.len(), 2);
    /// assert!(EventFilter::parse(&[("topic".to_owned(), "nope".to_owned())]).is_err());
    /// ```
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, Problem> {
        let mut filter = Self::default();
        for (name, value) in pairs {
            match name.as_str() {
                "topic" => {
                    let topic = Topic::parse(value).ok_or_else(|| {
                        let all: Vec<&str> = Topic::ALL.iter().map(|t| t.as_str()).collect();
                        Problem::invalid_body("topic", format!("must be one of {}", all.join(", ")))
                    })?;
                    if !filter.topics.contains(&topic) {
                        filter.topics.push(topic);
                    }
                }
                "transaction_id" => {
                    let id: hub_core::TransactionId = crate::extract::parse_id(name, value)?;
                    filter.transaction_id = Some(id.as_str().to_owned());
                }
                "ticket_id" => {
                    let id: hub_core::TicketId = crate::extract::parse_id(name, value)?;
                    filter.ticket_id = Some(id.as_str().to_owned());
                }
                ACCESS_TOKEN_PARAM => {}
                other => {
                    return Err(Problem::new(
                        ProblemCode::InvalidBody,
                        format!(
                            "{other}: not a parameter of this route (topic, transaction_id, ticket_id, access_token)"
                        ),
                    ));
                }
            }
        }
        Ok(filter)
    }

    /// Whether `event` passes every filter given.
    pub fn matches(&self, event: &Event) -> bool {
        let field = |name: &str, wanted: &Option<String>| {
            wanted
                .as_deref()
                .is_none_or(|w| event.data.get(name).and_then(Value::as_str) == Some(w))
        };
        (self.topics.is_empty() || self.topics.contains(&event.topic))
            && field("transaction_id", &self.transaction_id)
            && field("ticket_id", &self.ticket_id)
    }
}

/// How each connection is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveSettings {
    /// Messages waiting to be written to one client; a client that lets it fill is closed.
    pub send_buffer: usize,
    /// How often an idle connection is pinged; one silent for three intervals is closed.
    pub heartbeat: Duration,
    /// The longest one write to a client may take.
    pub send_timeout: Duration,
    /// At most this many subscriptions at once; one more is refused before the upgrade.
    pub max_subscribers: usize,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            send_buffer: 64,
            heartbeat: Duration::from_secs(20),
            send_timeout: Duration::from_secs(10),
            max_subscribers: 4096,
        }
    }
}

/// How many subscriptions are open, shared by the clones of one hub's state.
///
/// ```
/// use std::sync::Arc;
/// use hub_server::events_ws::Subscribers;
/// let open = Arc::new(Subscribers::default());
/// let first = open.try_join(1).unwrap();
/// assert!(open.try_join(1).is_none());
/// drop(first);
/// assert_eq!(open.count(), 0);
/// assert!(open.try_join(1).is_some());
/// ```
#[derive(Debug, Default)]
pub struct Subscribers(AtomicUsize);

impl Subscribers {
    /// A slot when fewer than `max` subscriptions are open; dropping it frees it.
    pub fn try_join(self: &Arc<Self>, max: usize) -> Option<SubscriberSlot> {
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1))
            .ok()
            .map(|_| SubscriberSlot(self.clone()))
    }

    /// How many subscriptions are open.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

/// One open subscription's place under [`LiveSettings::max_subscribers`].
#[derive(Debug)]
pub struct SubscriberSlot(Arc<Subscribers>);

impl Drop for SubscriberSlot {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn close(code: u16, reason: &str) -> Option<CloseFrame> {
    Some(CloseFrame {
        code,
        reason: reason.into(),
    })
}

fn dropped(reason: &'static str) {
    metrics::counter!("integration_event_subscribers_dropped_total", "reason" => reason).increment(1);
}

/// Runs one subscriber until it or the feed ends, or `stopping` turns `true` (the hub is
/// shutting down: closed with 1001).
pub async fn run(
    socket: WebSocket,
    mut events: EventStream,
    filter: EventFilter,
    settings: LiveSettings,
    mut stopping: watch::Receiver<bool>,
) {
    metrics::gauge!("integration_event_subscribers").increment(1.0);
    let (sink, mut incoming) = socket.split();
    let (out, queue) = mpsc::channel::<Message>(settings.send_buffer.max(1));
    let (close_tx, close_rx) = oneshot::channel();
    let writer = tokio::spawn(write(sink, queue, close_rx, settings.send_timeout));
    let heartbeat = settings.heartbeat.max(Duration::from_millis(10));
    let mut ticks = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
    let mut last_heard = Instant::now();
    let frame = loop {
        if *stopping.borrow_and_update() {
            break close(close_code::AWAY, "the hub is shutting down; reconnect");
        }
        tokio::select! {
            changed = stopping.changed() => if changed.is_err() {
                break close(close_code::AWAY, "the hub is shutting down; reconnect");
            },
            item = events.next() => match item {
                None => break close(close_code::AWAY, "the event feed ended"),
                Some(Err(Lagged { missed })) => {
                    dropped("lagged");
                    tracing::info!(missed, "events subscriber lagged; closing it");
                    break close(close_code::AGAIN, &format!("lagged: missed {missed} events; reconnect"));
                }
                Some(Ok(event)) if filter.matches(&event) => {
                    let text = match serde_json::to_string(&event) {
                        Ok(t) => t,
                        Err(e) => {
                            tracing::error!(error = %e, "an event could not be serialised");
                            continue;
                        }
                    };
                    match out.try_send(Message::Text(text.into())) {
                        Ok(()) => {}
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            dropped("slow");
                            tracing::info!("events subscriber reads too slowly; closing it");
                            break close(close_code::AGAIN, "send buffer full: reading too slowly; reconnect");
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => break None,
                    }
                }
                Some(Ok(_)) => {}
            },
            msg = incoming.next() => match msg {
                None | Some(Err(_) | Ok(Message::Close(_))) => break None,
                Some(Ok(_)) => last_heard = Instant::now(),
            },
            _ = ticks.tick() => {
                if last_heard.elapsed() > heartbeat * 3 {
                    dropped("silent");
                    break close(close_code::POLICY, "no answer to pings");
                }
                if let Err(mpsc::error::TrySendError::Full(_)) = out.try_send(Message::Ping(Bytes::new())) {
                    dropped("slow");
                    break close(close_code::AGAIN, "send buffer full: reading too slowly; reconnect");
                }
            }
        }
    };
    let _ = close_tx.send(frame);
    drop(out);
    let _ = writer.await;
    metrics::gauge!("integration_event_subscribers").decrement(1.0);
}

/// Writes queued messages; on a close request sends the close frame (dropping what is
/// still queued) and ends; gives up on a write that takes longer than `timeout`.
async fn write(
    mut sink: SplitSink<WebSocket, Message>,
    mut queue: mpsc::Receiver<Message>,
    mut close_rx: oneshot::Receiver<Option<CloseFrame>>,
    timeout: Duration,
) {
    loop {
        tokio::select! {
            biased;
            frame = &mut close_rx => {
                if let Ok(Some(frame)) = frame {
                    let _ = tokio::time::timeout(timeout, sink.send(Message::Close(Some(frame)))).await;
                }
                break;
            }
            msg = queue.recv() => match msg {
                Some(m) => match tokio::time::timeout(timeout, sink.send(m)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) | Err(_) => return,
                },
                None => break,
            },
        }
    }
    let _ = tokio::time::timeout(timeout, sink.close()).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::OffsetDateTime;

    fn event(topic: Topic, data: Value) -> Event {
        Event {
            id: "e".to_owned(),
            topic,
            at: OffsetDateTime::UNIX_EPOCH,
            data,
        }
    }

    fn filter(q: &[(&str, &str)]) -> Result<EventFilter, Problem> {
        let pairs: Vec<(String, String)> = q.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        EventFilter::parse(&pairs)
    }

    #[test]
    fn filters() {
        let t1 = event(Topic::TransactionUpdated, serde_json::json!({"transaction_id": "TX-1"}));
        let k1 = event(Topic::TicketUpdated, serde_json::json!({"ticket_id": "T-1"}));
        let dlq = event(Topic::DlqEnqueued, serde_json::json!({"dlq_id": "d"}));
        for (q, expected) in [
            (vec![], [true, true, true]),
            (vec![("topic", "ticket.updated")], [false, true, false]),
            (
                vec![("topic", "ticket.updated"), ("topic", "dlq.enqueued")],
                [false, true, true],
            ),
            (vec![("transaction_id", "TX-1")], [true, false, false]),
            (vec![("transaction_id", "TX-2")], [false, false, false]),
            (vec![("ticket_id", "T-1"), ("access_token", "x")], [false, true, false]),
        ] {
            let f = filter(&q).unwrap();
            assert_eq!([&t1, &k1, &dlq].map(|e| f.matches(e)), expected, "{q:?}");
        }
        assert_eq!(filter(&[("topic", "x")]).unwrap_err().status, 422);
        assert_eq!(filter(&[("transaction_id", "a b")]).unwrap_err().status, 400);
        assert_eq!(filter(&[("topics", "ticket.updated")]).unwrap_err().status, 422);
    }

    proptest! {
        #[test]
        fn parsing_never_panics(q in proptest::collection::vec(("[a-z_]{0,15}", "\\PC{0,20}"), 0..5)) {
            let _ = EventFilter::parse(&q);
        }
    }
}
