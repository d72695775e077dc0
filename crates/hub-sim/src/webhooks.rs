//! Webhooks out: `transaction.updated` and `ticket.updated`, signed per Standard Webhooks, optionally tampered.

use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{ClientError, post_json};
use crate::clock::rfc3339;
use crate::signature::{BadWebhookSecret, webhook_key, webhook_signature};
use crate::state::{SimState, lock};
use crate::system::System;
use crate::systems::{generic, jira, transactions, zendesk};

/// The secret used when a request names none; also stored in Vault at `secret/hub/webhooks`.
pub const DEFAULT_WEBHOOK_SECRET: &str = "whsec_aHViLXNpbSB3ZWJob29rIHNpZ25pbmcga2V5LCAzMmI=";

/// How long a delivery may take.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// How far in the past a stale timestamp is (the receiver allows 5 minutes).
const STALE_BY_S: i64 = 600;

/// The event a webhook announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WebhookEvent {
    /// A transaction's status changed; `data` has `transaction_id` and `status`.
    #[serde(rename = "transaction.updated")]
    TransactionUpdated,
    /// A ticket's status changed; `data` has `ticket_id` and `status`.
    #[serde(rename = "ticket.updated")]
    TicketUpdated,
}

/// A deliberate flaw in a delivery, to test the receiver's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tamper {
    /// Sign with another key.
    BadSignature,
    /// Sign correctly, with a timestamp ten minutes old.
    StaleTimestamp,
}

fn default_secret() -> String {
    DEFAULT_WEBHOOK_SECRET.to_owned()
}

fn yes() -> bool {
    true
}

/// What to send, where, and how (the body of `POST /_sim/webhooks`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookRequest {
    /// Where to POST it (`http://127.0.0.1:8080/webhooks/transaction_updated`).
    pub url: String,
    /// The Standard Webhooks secret, `whsec_<base64>` (default [`DEFAULT_WEBHOOK_SECRET`]).
    #[serde(default = "default_secret")]
    pub secret: String,
    /// The event.
    pub event: WebhookEvent,
    /// The JSON body, an object; `updated_at` is added when missing.
    pub data: Value,
    /// The `webhook-id` (default: a fresh `msg_…`).
    #[serde(default)]
    pub id: Option<String>,
    /// Reuse the id of the previous delivery (a redelivery).
    #[serde(default)]
    pub repeat_last_id: bool,
    /// The `webhook-timestamp` in Unix seconds (default: now).
    #[serde(default)]
    pub timestamp: Option<i64>,
    /// A deliberate flaw.
    #[serde(default)]
    pub tamper: Option<Tamper>,
    /// Also change the simulated data (the transaction's or ticket's status) before sending (default true).
    #[serde(default = "yes")]
    pub apply: bool,
    /// For `ticket.updated`: which ticketing system holds the ticket (default: all that know the id).
    #[serde(default)]
    pub system: Option<System>,
}

impl WebhookRequest {
    /// A `transaction.updated` webhook to `url`, signed with `secret`.
    ///
    /// ```
    /// use hub_sim::WebhookRequest;
    /// let r = WebhookRequest::transaction_updated("http://127.0.0.1:8080/webhooks/transaction_updated", "TXN-5002", "completed");
    /// assert_eq!(r.data["customer_id"], serde_json::Value::Null);
    /// ```
    pub fn transaction_updated(url: &str, transaction_id: &str, status: &str) -> Self {
        Self::new(
            url,
            WebhookEvent::TransactionUpdated,
            serde_json::json!({"transaction_id": transaction_id, "status": status}),
        )
    }

    /// A `ticket.updated` webhook to `url`.
    pub fn ticket_updated(url: &str, ticket_id: &str, status: &str) -> Self {
        Self::new(
            url,
            WebhookEvent::TicketUpdated,
            serde_json::json!({"ticket_id": ticket_id, "status": status}),
        )
    }

    fn new(url: &str, event: WebhookEvent, data: Value) -> Self {
        Self {
            url: url.to_owned(),
            secret: default_secret(),
            event,
            data,
            id: None,
            repeat_last_id: false,
            timestamp: None,
            tamper: None,
            apply: true,
            system: None,
        }
    }
}

/// What was sent and what the receiver answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    /// The `webhook-id` sent.
    pub id: String,
    /// The `webhook-timestamp` sent.
    pub timestamp: i64,
    /// The `webhook-signature` sent.
    pub signature: String,
    /// The exact body sent.
    pub body: String,
    /// Whether the simulated data was changed.
    pub applied: bool,
    /// The receiver's status.
    pub status: u16,
    /// The receiver's body (as text).
    pub response: String,
}

/// Why a webhook was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The request is unusable (data not an object, missing id or status, no previous id).
    #[error("invalid webhook request: {0}")]
    Invalid(String),
    /// The secret is not `whsec_<base64>`.
    #[error(transparent)]
    Secret(#[from] BadWebhookSecret),
    /// The receiver could not be reached or did not answer.
    #[error(transparent)]
    Delivery(#[from] ClientError),
}

fn field<'a>(data: &'a Value, name: &str) -> Result<&'a str, WebhookError> {
    data.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| WebhookError::Invalid(format!("data.{name} must be a string")))
}

fn apply(st: &SimState, req: &WebhookRequest) -> Result<bool, WebhookError> {
    let status = field(&req.data, "status")?;
    Ok(match req.event {
        WebhookEvent::TransactionUpdated => transactions::set_status(st, field(&req.data, "transaction_id")?, status),
        WebhookEvent::TicketUpdated => {
            let id = field(&req.data, "ticket_id")?;
            let systems = match req.system {
                Some(s) => vec![s],
                None => vec![System::Generic, System::Zendesk, System::Jira],
            };
            let mut applied = false;
            for s in systems {
                applied |= match s {
                    System::Generic => generic::set_status(st, id, status),
                    System::Zendesk => zendesk::set_status(st, id, status),
                    System::Jira => jira::set_status(st, id, status),
                    _ => false,
                };
            }
            applied
        }
    })
}

/// Builds, signs and sends one webhook.
pub(crate) async fn send(st: &SimState, req: WebhookRequest) -> Result<WebhookDelivery, WebhookError> {
    let key = webhook_key(&req.secret)?;
    let mut data = req.data.clone();
    let Some(obj) = data.as_object_mut() else {
        return Err(WebhookError::Invalid("data must be a JSON object".to_owned()));
    };
    if !obj.contains_key("updated_at") {
        obj.insert("updated_at".to_owned(), Value::from(rfc3339(st.clock.now())));
    }
    let id = if req.repeat_last_id {
        lock(&st.last_webhook_id)
            .clone()
            .ok_or_else(|| WebhookError::Invalid("no previous webhook id to repeat".to_owned()))?
    } else {
        req.id
            .clone()
            .unwrap_or_else(|| format!("msg_{}", uuid::Uuid::new_v4().simple()))
    };
    let applied = if req.apply { apply(st, &req)? } else { false };
    *lock(&st.last_webhook_id) = Some(id.clone());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let timestamp = match req.tamper {
        Some(Tamper::StaleTimestamp) => req.timestamp.unwrap_or(now) - STALE_BY_S,
        _ => req.timestamp.unwrap_or(now),
    };
    let body = serde_json::to_vec(&data).map_err(|e| WebhookError::Invalid(e.to_string()))?;
    let signing_key = match req.tamper {
        Some(Tamper::BadSignature) => key.iter().map(|b| b ^ 0x5a).chain([0x5a]).collect(),
        _ => key,
    };
    let signature = webhook_signature(&signing_key, &id, timestamp, &body);
    let headers = [
        ("webhook-id".to_owned(), id.clone()),
        ("webhook-timestamp".to_owned(), timestamp.to_string()),
        ("webhook-signature".to_owned(), signature.clone()),
    ];
    let answer = post_json(&req.url, &headers, Bytes::from(body.clone()), DELIVERY_TIMEOUT).await?;
    Ok(WebhookDelivery {
        id,
        timestamp,
        signature,
        body: String::from_utf8_lossy(&body).into_owned(),
        applied,
        status: answer.status,
        response: String::from_utf8_lossy(&answer.body).into_owned(),
    })
}
