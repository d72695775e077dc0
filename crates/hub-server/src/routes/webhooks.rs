//! `POST /webhooks/*`: signed deliveries from the external systems (no bearer token).

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};

use hub_app::WebhookKind;
use hub_app::webhooks::{Signed, WebhookError};

use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;

async fn receive(
    state: &AppState,
    kind: WebhookKind,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, Problem> {
    let body = body.map_err(|r| crate::extract::body_rejection(&r))?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signed = Signed {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    match state
        .webhooks
        .receive(kind, signed, &body, now, state.hub.services.events.as_ref())
        .await
    {
        Ok(_) => Ok(StatusCode::NO_CONTENT),
        Err(e @ WebhookError::Unverified(_)) => Err(Problem::new(ProblemCode::Unauthorized, e.to_string())),
        Err(WebhookError::Body(reason)) => Err(Problem::new(ProblemCode::InvalidBody, reason)),
        Err(WebhookError::Invalid { field, reason }) => Err(Problem::invalid_body(field, reason)),
        Err(WebhookError::Store(e)) => Err(Problem::store("webhook ids", &e)),
    }
}

/// A transaction changed: invalidates its status (and the customer's history when
/// `customer_id` is given), then publishes `transaction.updated`.
#[utoipa::path(
    post, path = "/webhooks/transaction_updated", tag = "webhooks", operation_id = "receive_transaction_updated_webhook",
    params(
        ("webhook-id" = String, Header, description = "Unique per delivery; a repeated id is acknowledged and ignored"),
        ("webhook-timestamp" = i64, Header, description = "Unix seconds; more than 5 minutes off is refused"),
        ("webhook-signature" = String, Header, description = "Space-separated `v1,<base64 HMAC-SHA256 of id.timestamp.body>`"),
    ),
    request_body(content = crate::wire::TransactionWebhook, description = "Other fields are allowed and published as sent"),
    responses(
        (status = 204, description = "Accepted (or a repeated delivery, ignored)"),
    )
)]
pub async fn transaction_updated(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, Problem> {
    receive(&state, WebhookKind::TransactionUpdated, &headers, body).await
}

/// A ticket changed: invalidates its status, then publishes `ticket.updated`.
#[utoipa::path(
    post, path = "/webhooks/ticket_updated", tag = "webhooks", operation_id = "receive_ticket_updated_webhook",
    params(
        ("webhook-id" = String, Header, description = "Unique per delivery; a repeated id is acknowledged and ignored"),
        ("webhook-timestamp" = i64, Header, description = "Unix seconds; more than 5 minutes off is refused"),
        ("webhook-signature" = String, Header, description = "Space-separated `v1,<base64 HMAC-SHA256 of id.timestamp.body>`"),
    ),
    request_body(content = crate::wire::TicketWebhook, description = "Other fields are allowed and published as sent"),
    responses(
        (status = 204, description = "Accepted (or a repeated delivery, ignored)"),
    )
)]
pub async fn ticket_updated(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, Problem> {
    receive(&state, WebhookKind::TicketUpdated, &headers, body).await
}
