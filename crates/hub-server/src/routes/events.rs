//! `GET /v1/events`: the live feed over a WebSocket (role `read`).

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::events_ws::{self, EventFilter};
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;

/// What a subscriber refused for the subscription limit is told to wait, in seconds.
const RETRY_AFTER_S: u64 = 5;
/// The largest message (and frame) a subscriber may send. Subscribers only answer pings
/// and close; tungstenite's default, 64 MiB buffered per connection, let one caller with
/// the read role hold that much of the hub's memory per socket.
pub const MAX_INCOMING_MESSAGE: usize = 16 * 1024;
/// The read buffer of one subscription (tungstenite's default is 128 KiB per socket).
const READ_BUFFER: usize = 4 * 1024;

/// Subscribes to hub events.
///
/// Authenticate with `Authorization: Bearer <token>`, or — for browsers, whose WebSocket
/// API cannot set headers — with `?access_token=<token>` (never logged; prefer the header
/// where possible). Each text message is `{"id", "event", "at", "data"}`. A subscriber
/// that falls behind is closed with code 1013 and a reason; idle connections are pinged
/// every 20 s. Beyond `events.max_subscribers` open subscriptions, 503 `overloaded` with
/// `Retry-After`.
#[utoipa::path(
    get, path = "/v1/events", tag = "events", operation_id = "subscribe_to_events",
    params(
        ("topic" = Option<Vec<String>>, Query, description = "Repeatable: transaction.updated, ticket.updated, dlq.enqueued, circuit.changed (default all)"),
        ("transaction_id" = Option<String>, Query, description = "Only events whose data.transaction_id is this"),
        ("ticket_id" = Option<String>, Query, description = "Only events whose data.ticket_id is this"),
        ("access_token" = Option<String>, Query, description = "The bearer token, for browsers that cannot send the header"),
    ),
    responses(
        (status = 101, description = "WebSocket: one text message per event", body = crate::wire::EventMessage),
    ),
    security(("bearer" = []))
)]
pub async fn subscribe(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, Problem> {
    let Query(pairs) = query.map_err(|_| Problem::new(ProblemCode::InvalidBody, "the query string is not valid"))?;
    let filter = EventFilter::parse(&pairs)?;
    let ws = ws.map_err(|r| {
        let mut p = Problem::new(
            ProblemCode::InvalidBody,
            format!("this route is a WebSocket; send an upgrade request ({r})"),
        );
        p.status = StatusCode::UPGRADE_REQUIRED.as_u16();
        p
    })?;
    let settings = state.settings.live;
    let Some(slot) = state.subscribers.try_join(settings.max_subscribers) else {
        metrics::counter!("integration_event_subscribers_refused_total").increment(1);
        let mut p = Problem::new(
            ProblemCode::Overloaded,
            format!(
                "this hub already serves {} live subscriptions, its limit; retry later or on another instance",
                settings.max_subscribers
            ),
        );
        p.retry_after_s = Some(RETRY_AFTER_S);
        return Err(p);
    };
    // Subscribe before answering, so nothing published after the 101 is missed.
    let feed = state.hub.services.events.subscribe();
    let stopping = state.stopping.subscribe();
    let ws = ws
        .read_buffer_size(READ_BUFFER)
        .max_message_size(MAX_INCOMING_MESSAGE)
        .max_frame_size(MAX_INCOMING_MESSAGE);
    Ok(ws.on_upgrade(move |socket| async move {
        let _slot = slot;
        events_ws::run(socket, feed, filter, settings, stopping).await;
    }))
}
