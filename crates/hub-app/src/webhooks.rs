//! Webhooks in: verify a Standard Webhooks delivery over its raw bytes, process each
//! `webhook-id` once, invalidate the cached reads it touches, then publish its event.

pub mod signature;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hub_core::{Change, CustomerId, Event, EventPublisher, ReadInvalidation, StoreError, Topic, WebhookIds};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracing::Instrument as _;

use self::signature::{VerifyError, WebhookKeys};

/// How long a `webhook-id` is remembered by default: twice the timestamp tolerance, so a
/// delivery replayed within its validity is always recognised.
pub const DEFAULT_ID_MEMORY: Duration = Duration::from_secs(600);

/// The longest `webhook-id` accepted.
const MAX_ID_LEN: usize = 256;

/// Which webhook route a delivery came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookKind {
    /// `POST /webhooks/transaction_updated`.
    TransactionUpdated,
    /// `POST /webhooks/ticket_updated`.
    TicketUpdated,
}

impl WebhookKind {
    /// The event it is published as.
    pub fn topic(self) -> Topic {
        match self {
            Self::TransactionUpdated => Topic::TransactionUpdated,
            Self::TicketUpdated => Topic::TicketUpdated,
        }
    }
}

/// Why a delivery was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Not signed by a configured key, or too old (the sender must not retry as is).
    #[error("webhook refused: {0}")]
    Unverified(#[from] VerifyError),
    /// Signed, but not a JSON object.
    #[error("{0}")]
    Body(String),
    /// Signed, but a field is not what the route takes.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field (or header) at fault.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The id memory cannot be reached (the sender retries).
    #[error("the webhook id store failed: {0}")]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, reason: impl std::fmt::Display) -> WebhookError {
    WebhookError::Invalid {
        field,
        reason: reason.to_string(),
    }
}

/// The `webhook-*` headers of a delivery, as text (`None` when absent or not text).
#[derive(Debug, Clone, Copy, Default)]
pub struct Signed<'a> {
    /// `webhook-id`.
    pub id: Option<&'a str>,
    /// `webhook-timestamp`.
    pub timestamp: Option<&'a str>,
    /// `webhook-signature`.
    pub signature: Option<&'a str>,
}

/// Reads a delivery's JSON body: an object with the route's id (the contract's id rule),
/// a non-empty `status`, optionally `customer_id` and an RFC 3339 `updated_at`; other
/// fields are allowed and kept. Returns what changed and the payload to publish.
///
/// ```
/// use hub_app::webhooks::{WebhookError, WebhookKind, parse_body};
/// use hub_core::Change;
/// let (change, data) = parse_body(WebhookKind::TicketUpdated, br#"{"ticket_id":"T-1","status":"solved","x":1}"#).unwrap();
/// assert!(matches!(change, Change::Ticket { ref ticket_id } if ticket_id.as_str() == "T-1"));
/// assert_eq!(data["x"], 1);
/// let refused = parse_body(WebhookKind::TicketUpdated, br#"{"ticket_id":"a b","status":"open"}"#);
/// assert!(matches!(refused, Err(WebhookError::Invalid { field: "ticket_id", .. })));
/// ```
pub fn parse_body(kind: WebhookKind, body: &[u8]) -> Result<(Change, Value), WebhookError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| WebhookError::Body(format!("the body is not JSON: {e}")))?;
    let Value::Object(obj) = &value else {
        return Err(WebhookError::Body("the body must be a JSON object".to_owned()));
    };
    required_str(obj, "status")?;
    if let Some(raw) = optional_str(obj, "updated_at")? {
        OffsetDateTime::parse(raw, &Rfc3339).map_err(|_| invalid("updated_at", "not an RFC 3339 time"))?;
    }
    let change = match kind {
        WebhookKind::TransactionUpdated => Change::Transaction {
            transaction_id: id(obj, "transaction_id")?,
            customer_id: optional_str(obj, "customer_id")?
                .map(|raw| CustomerId::parse(raw).map_err(|e| invalid("customer_id", e)))
                .transpose()?,
        },
        WebhookKind::TicketUpdated => Change::Ticket {
            ticket_id: id(obj, "ticket_id")?,
        },
    };
    Ok((change, value))
}

fn required_str<'a>(obj: &'a Map<String, Value>, field: &'static str) -> Result<&'a str, WebhookError> {
    match obj.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) => Err(invalid(field, "must not be empty")),
        Some(_) => Err(invalid(field, "must be a string")),
        None => Err(invalid(field, "missing")),
    }
}

fn optional_str<'a>(obj: &'a Map<String, Value>, field: &'static str) -> Result<Option<&'a str>, WebhookError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(field, "must be a string")),
    }
}

fn id<T: std::str::FromStr<Err = hub_core::IdError>>(
    obj: &Map<String, Value>,
    field: &'static str,
) -> Result<T, WebhookError> {
    required_str(obj, field)?
        .parse()
        .map_err(|e: hub_core::IdError| invalid(field, e))
}

/// Nothing cached (tests, or a hub without caches).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCaches;

#[async_trait]
impl ReadInvalidation for NoCaches {
    async fn invalidate(&self, _: &Change) -> Result<(), StoreError> {
        Ok(())
    }
}

/// In this process only (tests, and the default before the stores are wired).
#[derive(Debug, Default)]
pub struct MemorySeenIds(Mutex<HashMap<String, Instant>>);

/// Entries kept before expired ones are swept.
const MEMORY_SWEEP_AT: usize = 10_000;

#[async_trait]
impl WebhookIds for MemorySeenIds {
    async fn remember(&self, id: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut seen = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.len() >= MEMORY_SWEEP_AT {
            seen.retain(|_, until| *until > now);
        }
        match seen.get(id) {
            Some(until) if *until > now => Ok(false),
            _ => {
                seen.insert(id.to_owned(), now + ttl);
                Ok(true)
            }
        }
    }
}

/// What became of a verified delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// First delivery: caches invalidated, event published.
    Processed,
    /// A `webhook-id` seen before: acknowledged, nothing done.
    Duplicate,
}

/// Receives webhooks: the keys they are signed with, the memory of ids, the caches.
pub struct WebhookReceiver {
    keys: WebhookKeys,
    seen: Arc<dyn WebhookIds>,
    caches: Arc<dyn ReadInvalidation>,
    id_memory: Duration,
}

impl std::fmt::Debug for WebhookReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookReceiver")
            .field("keys", &self.keys)
            .field("id_memory", &self.id_memory)
            .finish_non_exhaustive()
    }
}

impl Default for WebhookReceiver {
    /// No key (every delivery is refused), ids remembered in memory, nothing cached.
    fn default() -> Self {
        Self::new(WebhookKeys::default())
    }
}

impl WebhookReceiver {
    /// A receiver accepting deliveries signed with one of `keys`, remembering ids in
    /// memory for [`DEFAULT_ID_MEMORY`], with no caches until set.
    pub fn new(keys: WebhookKeys) -> Self {
        Self {
            keys,
            seen: Arc::new(MemorySeenIds::default()),
            caches: Arc::new(NoCaches),
            id_memory: DEFAULT_ID_MEMORY,
        }
    }

    /// Remembers ids in `seen` (the SQL store, so every instance agrees).
    #[must_use]
    pub fn with_seen_ids(mut self, seen: Arc<dyn WebhookIds>) -> Self {
        self.seen = seen;
        self
    }

    /// Invalidates through `caches`.
    #[must_use]
    pub fn with_caches(mut self, caches: Arc<dyn ReadInvalidation>) -> Self {
        self.caches = caches;
        self
    }

    /// Remembers ids for `memory` (at least [`DEFAULT_ID_MEMORY`] is advisable).
    #[must_use]
    pub fn with_id_memory(mut self, memory: Duration) -> Self {
        self.id_memory = memory;
        self
    }

    /// Whether no key is configured (every delivery is then refused).
    pub fn has_no_keys(&self) -> bool {
        self.keys.is_empty()
    }

    /// Verifies and processes one delivery at `now` (Unix seconds).
    ///
    /// [`WebhookError::Unverified`] for a missing header, a timestamp more than five
    /// minutes off or no matching signature; [`WebhookError::Invalid`] for a signed body
    /// that is not what the route takes; [`WebhookError::Store`] when the id memory cannot
    /// be reached (the sender retries). A first delivery invalidates the caches, then
    /// publishes the event.
    pub async fn receive(
        &self,
        kind: WebhookKind,
        signed: Signed<'_>,
        body: &[u8],
        now: i64,
        events: &dyn EventPublisher,
    ) -> Result<Received, WebhookError> {
        let topic = kind.topic().as_str();
        // The result is recorded on the use case span where it is counted.
        let result = |result: &'static str| {
            metrics::counter!("integration_webhooks_total", "event" => topic, "result" => result).increment(1);
            tracing::Span::current().record("hub.webhook.result", result);
        };
        async move {
            let id = self.verify(signed, body, now).inspect_err(|e| {
                metrics::counter!("integration_webhook_verification_failures_total", "reason" => e.reason())
                    .increment(1);
                tracing::Span::current().record("hub.webhook.result", "refused");
                tracing::warn!(event = topic, reason = e.reason(), "webhook refused");
            })?;
            if id.is_empty() || id.len() > MAX_ID_LEN || !id.bytes().all(|b| b.is_ascii_graphic()) {
                result("invalid");
                return Err(invalid(
                    "webhook-id",
                    format!("must be 1 to {MAX_ID_LEN} visible ASCII characters"),
                ));
            }
            let (change, data) = parse_body(kind, body).inspect_err(|_| result("invalid"))?;
            match self.seen.remember(&id, self.id_memory).await {
                Err(e) => {
                    tracing::Span::current().record("hub.webhook.result", "store_failed");
                    return Err(e.into());
                }
                Ok(false) => {
                    result("duplicate");
                    tracing::info!(event = topic, webhook_id = %id, "webhook already processed; acknowledged");
                    return Ok(Received::Duplicate);
                }
                Ok(true) => {}
            }
            if let Err(e) = self.caches.invalidate(&change).await {
                // The id is remembered, so a retry would not help: the entries expire with
                // their TTL. Loud, because reads may be stale until then.
                metrics::counter!("integration_webhook_invalidation_failures_total", "event" => topic).increment(1);
                tracing::error!(event = topic, webhook_id = %id, error = %e, "webhook: cache invalidation failed");
            }
            let event = Event {
                id: id.clone(),
                topic: kind.topic(),
                at: OffsetDateTime::now_utc(),
                data,
            };
            if let Err(e) = events.publish(event).await {
                tracing::warn!(event = topic, webhook_id = %id, error = %e, "webhook: event not published");
            }
            result("processed");
            tracing::info!(event = topic, webhook_id = %id, "webhook processed");
            Ok(Received::Processed)
        }
        .instrument(crate::spans::webhook(topic))
        .await
    }

    fn verify(&self, signed: Signed<'_>, body: &[u8], now: i64) -> Result<String, VerifyError> {
        let id = signed.id.ok_or(VerifyError::MissingHeader("webhook-id"))?;
        let timestamp = signed
            .timestamp
            .ok_or(VerifyError::MissingHeader("webhook-timestamp"))?;
        let signature = signed
            .signature
            .ok_or(VerifyError::MissingHeader("webhook-signature"))?;
        self.keys.verify(id, timestamp, signature, body, now)?;
        Ok(id.to_owned())
    }
}

/// The hub's clock in Unix seconds.
pub fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests;
