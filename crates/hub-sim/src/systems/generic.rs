//! The original design's generic ticketing API: API-key auth, tickets and comments.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::auth;
use crate::clock::{parse, rfc3339};
use crate::idempotency::{Refusals, fingerprint};
use crate::ledger::EffectKind;
use crate::reply::Reply;
use crate::state::{SimState, lock};
use crate::system::System;
use crate::systems::at;

/// The header carrying the API key.
pub(crate) const API_KEY_HEADER: &str = "x-api-key";

const PRIORITIES: [&str; 4] = ["low", "normal", "high", "urgent"];

/// A generic ticket.
#[derive(Debug, Clone)]
pub(crate) struct Ticket {
    id: String,
    subject: String,
    description: String,
    priority: String,
    status: String,
    assignee: Option<String>,
    custom_fields: Map<String, Value>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    comments: Vec<Comment>,
}

#[derive(Debug, Clone)]
struct Comment {
    _id: String,
    _body: String,
    _public: bool,
}

/// The generic system's tickets.
#[derive(Debug)]
pub(crate) struct Data {
    tickets: HashMap<String, Ticket>,
    next_ticket: u64,
    next_comment: u64,
}

impl Data {
    /// `TCK-1001` (new), `TCK-1002` (pending, alice) and `TCK-1003` (solved, bob).
    pub(crate) fn seeded() -> Self {
        let seeds = [
            (
                "TCK-1001",
                "Card declined at checkout",
                "new",
                "normal",
                None,
                "CUST-1001",
                "2026-01-05T09:00:00Z",
            ),
            (
                "TCK-1002",
                "Refund not received",
                "pending",
                "high",
                Some("alice@example.com"),
                "CUST-1002",
                "2026-01-06T11:30:00Z",
            ),
            (
                "TCK-1003",
                "Change billing address",
                "solved",
                "low",
                Some("bob@example.com"),
                "CUST-1003",
                "2026-01-07T15:45:00Z",
            ),
        ];
        let tickets = seeds
            .into_iter()
            .map(|(id, subject, status, priority, assignee, customer, at)| {
                let mut custom_fields = Map::new();
                custom_fields.insert("customer_id".to_owned(), Value::from(customer));
                let t = Ticket {
                    id: id.to_owned(),
                    subject: subject.to_owned(),
                    description: format!("{subject} (seeded)"),
                    priority: priority.to_owned(),
                    status: status.to_owned(),
                    assignee: assignee.map(str::to_owned),
                    custom_fields,
                    created_at: parse(at),
                    updated_at: parse(at),
                    comments: Vec::new(),
                };
                (id.to_owned(), t)
            })
            .collect();
        Self {
            tickets,
            next_ticket: 1004,
            next_comment: 1,
        }
    }
}

pub(crate) fn routes(router: Router<Arc<SimState>>) -> Router<Arc<SimState>> {
    let s = System::Generic;
    router
        .route(&at(s, "/tickets"), post(create))
        .route(&at(s, "/tickets/{id}"), get(read))
        .route(&at(s, "/tickets/{id}/comments"), post(comment))
}

fn error(status: StatusCode, code: &str, message: &str) -> Reply {
    Reply::json(status, &json!({"error": code, "message": message}))
}

const REFUSALS: Refusals = Refusals {
    mismatch: || {
        error(
            StatusCode::BAD_REQUEST,
            "idempotency_key_reused",
            "this Idempotency-Key was used with another request",
        )
    },
    in_flight: || {
        error(
            StatusCode::CONFLICT,
            "idempotency_key_in_flight",
            "a request with this Idempotency-Key is still being processed",
        )
    },
    replay_headers: &[("x-idempotency-lookup", "hit")],
    fresh_headers: &[("x-idempotency-lookup", "miss")],
};

fn check_auth(st: &SimState, headers: &HeaderMap) -> Result<(), Reply> {
    match auth::header(headers, API_KEY_HEADER) {
        Some(key) if auth::same(key, &st.credentials.generic_api_key) => Ok(()),
        _ => Err(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or invalid X-API-Key",
        )),
    }
}

fn not_found() -> Reply {
    error(StatusCode::NOT_FOUND, "not_found", "no such ticket")
}

#[derive(Deserialize)]
struct NewTicket {
    subject: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    priority: Option<String>,
    #[serde(default)]
    custom_fields: Map<String, Value>,
}

async fn create(State(st): State<Arc<SimState>>, headers: HeaderMap, body: Bytes) -> Reply {
    if let Err(r) = check_auth(&st, &headers) {
        return r;
    }
    let key = auth::idempotency_key(&headers);
    let fp = fingerprint(&[b"POST /tickets", &body]);
    let store = st.idempotency.generic.clone();
    store
        .run(key, fp, &REFUSALS, async { create_ticket(&st, &body, key) })
        .await
}

fn create_ticket(st: &SimState, body: &[u8], key: Option<&str>) -> Reply {
    let input: NewTicket = match serde_json::from_slice(body) {
        Ok(t) => t,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_request", &e.to_string()),
    };
    if input.subject.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "subject must not be empty");
    }
    let priority = input.priority.unwrap_or_else(|| "normal".to_owned());
    if !PRIORITIES.contains(&priority.as_str()) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "priority must be low, normal, high or urgent",
        );
    }
    let now = st.clock.now();
    let id = {
        let mut data = lock(&st.generic);
        let id = format!("TCK-{}", data.next_ticket);
        data.next_ticket += 1;
        data.tickets.insert(
            id.clone(),
            Ticket {
                id: id.clone(),
                subject: input.subject,
                description: input.description,
                priority,
                status: "new".to_owned(),
                assignee: None,
                custom_fields: input.custom_fields,
                created_at: now,
                updated_at: now,
                comments: Vec::new(),
            },
        );
        id
    };
    st.effect(System::Generic, EffectKind::TicketCreated, &id, None, key);
    let url = format!("{}/tickets/{id}", st.system_url(System::Generic));
    Reply::json(StatusCode::CREATED, &json!({"id": id, "url": url, "status": "new"}))
}

async fn read(State(st): State<Arc<SimState>>, Path(id): Path<String>, headers: HeaderMap) -> Reply {
    if let Err(r) = check_auth(&st, &headers) {
        return r;
    }
    let data = lock(&st.generic);
    let Some(t) = data.tickets.get(&id) else {
        return not_found();
    };
    Reply::json(
        StatusCode::OK,
        &json!({
            "id": t.id,
            "subject": t.subject,
            "description": t.description,
            "status": t.status,
            "priority": t.priority,
            "assignee": t.assignee.as_ref().map(|email| json!({"email": email})),
            "custom_fields": t.custom_fields,
            "comment_count": t.comments.len(),
            "created_at": rfc3339(t.created_at),
            "updated_at": rfc3339(t.updated_at),
        }),
    )
}

#[derive(Deserialize)]
struct NewComment {
    body: String,
    #[serde(default = "yes")]
    public: bool,
}

fn yes() -> bool {
    true
}

async fn comment(State(st): State<Arc<SimState>>, Path(id): Path<String>, headers: HeaderMap, body: Bytes) -> Reply {
    if let Err(r) = check_auth(&st, &headers) {
        return r;
    }
    let key = auth::idempotency_key(&headers);
    let fp = fingerprint(&[b"POST /tickets/{id}/comments", id.as_bytes(), &body]);
    let store = st.idempotency.generic.clone();
    store
        .run(key, fp, &REFUSALS, async { add_comment(&st, &id, &body, key) })
        .await
}

fn add_comment(st: &SimState, ticket: &str, body: &[u8], key: Option<&str>) -> Reply {
    let input: NewComment = match serde_json::from_slice(body) {
        Ok(c) => c,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_request", &e.to_string()),
    };
    if input.body.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "body must not be empty");
    }
    let now = st.clock.now();
    let id = {
        let mut data = lock(&st.generic);
        let n = data.next_comment;
        let Some(t) = data.tickets.get_mut(ticket) else {
            return not_found();
        };
        let id = format!("CMT-{n}");
        t.comments.push(Comment {
            _id: id.clone(),
            _body: input.body,
            _public: input.public,
        });
        t.updated_at = now;
        data.next_comment += 1;
        id
    };
    st.effect(System::Generic, EffectKind::CommentAdded, &id, Some(ticket), key);
    Reply::json(StatusCode::CREATED, &json!({"id": id}))
}

/// Sets a ticket's status (used by `ticket.updated` webhooks); false when there is no such ticket.
pub(crate) fn set_status(st: &SimState, id: &str, status: &str) -> bool {
    let now = st.clock.now();
    let mut data = lock(&st.generic);
    match data.tickets.get_mut(id) {
        Some(t) => {
            status.clone_into(&mut t.status);
            t.updated_at = now;
            true
        }
        None => false,
    }
}
