//! Zendesk Support API v2: tickets, comments through ticket updates, users, and create idempotency.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, StatusCode, Uri};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::auth;
use crate::clock::{parse, rfc3339};
use crate::idempotency::{Expiry, Refusals, fingerprint};
use crate::ledger::EffectKind;
use crate::reply::Reply;
use crate::state::{SimState, lock};
use crate::system::System;
use crate::systems::at;

const STATUSES: [&str; 6] = ["new", "open", "pending", "hold", "solved", "closed"];
const PRIORITIES: [&str; 4] = ["low", "normal", "high", "urgent"];
/// The user the API credentials belong to.
const API_USER: u64 = 9000;

struct User {
    id: u64,
    name: &'static str,
    email: &'static str,
    role: &'static str,
}

/// A user as the account holds it: the seeded ones, and end-users made by ticket creates
/// that name a requester the account does not know.
#[derive(Debug, Clone)]
struct UserRec {
    id: u64,
    name: String,
    email: Option<String>,
    external_id: Option<String>,
    role: &'static str,
}

/// The external id of the seeded customer Carol (the payments systems' `CUST-1001`).
const CAROL_EXTERNAL_ID: &str = "CUST-1001";

const USERS: [User; 4] = [
    User {
        id: 9000,
        name: "Hub Integration",
        email: "agent@example.com",
        role: "admin",
    },
    User {
        id: 9001,
        name: "Alice Agent",
        email: "alice@example.com",
        role: "agent",
    },
    User {
        id: 9002,
        name: "Bob Agent",
        email: "bob@example.com",
        role: "agent",
    },
    User {
        id: 9101,
        name: "Carol Customer",
        email: "carol@example.com",
        role: "end-user",
    },
];

#[derive(Debug, Clone)]
struct Comment {
    id: u64,
    body: String,
    public: bool,
    author_id: u64,
}

/// A Zendesk ticket.
#[derive(Debug, Clone)]
pub(crate) struct Ticket {
    id: u64,
    subject: String,
    description: String,
    status: String,
    priority: Option<String>,
    kind: Option<String>,
    requester_id: u64,
    assignee_id: Option<u64>,
    external_id: Option<String>,
    tags: Vec<String>,
    custom_fields: Vec<Value>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    comments: Vec<Comment>,
    /// Every audit of the ticket, oldest first, as `GET …/audits` lists them.
    audits: Vec<Value>,
}

/// Zendesk's tickets.
#[derive(Debug)]
pub(crate) struct Data {
    tickets: BTreeMap<u64, Ticket>,
    users: Vec<UserRec>,
    next_ticket: u64,
    next_event: u64,
    next_user: u64,
}

impl Data {
    /// Tickets 1 (new), 2 (open, alice), 3 (solved, bob) and 4 (hold, alice).
    pub(crate) fn seeded() -> Self {
        let seeds = [
            (
                1,
                "Card declined at checkout",
                "new",
                "normal",
                None,
                "2026-01-05T09:00:00Z",
            ),
            (
                2,
                "Refund not received",
                "open",
                "high",
                Some(9001),
                "2026-01-06T11:30:00Z",
            ),
            (
                3,
                "Change billing address",
                "solved",
                "low",
                Some(9002),
                "2026-01-07T15:45:00Z",
            ),
            (
                4,
                "Chargeback dispute",
                "hold",
                "urgent",
                Some(9001),
                "2026-01-08T08:15:00Z",
            ),
        ];
        let tickets = seeds
            .into_iter()
            .map(|(id, subject, status, priority, assignee, at)| {
                let t = Ticket {
                    id,
                    subject: subject.to_owned(),
                    description: format!("{subject} (seeded)"),
                    status: status.to_owned(),
                    priority: Some(priority.to_owned()),
                    kind: Some("problem".to_owned()),
                    requester_id: 9101,
                    assignee_id: assignee,
                    external_id: None,
                    tags: Vec::new(),
                    custom_fields: Vec::new(),
                    created_at: parse(at),
                    updated_at: parse(at),
                    comments: vec![Comment {
                        id: 50_000 + id,
                        body: format!("{subject} (seeded)"),
                        public: true,
                        author_id: 9101,
                    }],
                    audits: Vec::new(),
                };
                (id, t)
            })
            .collect();
        let users = USERS
            .iter()
            .map(|u| UserRec {
                id: u.id,
                name: u.name.to_owned(),
                email: Some(u.email.to_owned()),
                external_id: (u.id == 9101).then(|| CAROL_EXTERNAL_ID.to_owned()),
                role: u.role,
            })
            .collect();
        Self {
            tickets,
            users,
            next_ticket: 5,
            next_event: 60_001,
            next_user: 9200,
        }
    }
}

pub(crate) fn routes(router: Router<Arc<SimState>>) -> Router<Arc<SimState>> {
    let s = System::Zendesk;
    router
        .route(&at(s, "/api/v2/tickets"), post(create).get(list))
        .route(&at(s, "/api/v2/tickets.json"), post(create).get(list))
        .route(&at(s, "/api/v2/tickets/{id}"), get(read).put(update))
        .route(&at(s, "/api/v2/tickets/{id}/audits"), get(audits))
        .route(&at(s, "/api/v2/tickets/{id}/audits.json"), get(audits))
        .route(&at(s, "/api/v2/users/{id}"), get(user))
}

fn error(status: StatusCode, error: &str, description: &str) -> Reply {
    Reply::json(status, &json!({"error": error, "description": description}))
}

fn invalid(field: &str, message: &str) -> Reply {
    Reply::json(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({
            "error": "RecordInvalid",
            "description": "Record validation errors",
            "details": {field: [{"description": message, "error": "InvalidValue"}]},
        }),
    )
}

fn not_found() -> Reply {
    error(StatusCode::NOT_FOUND, "RecordNotFound", "Not found")
}

const REFUSALS: Refusals = Refusals {
    mismatch: || {
        error(
            StatusCode::BAD_REQUEST,
            "IdempotentRequestError",
            "Idempotency key was already used with a different request",
        )
    },
    in_flight: || {
        error(
            StatusCode::CONFLICT,
            "IdempotentRequestError",
            "The original request with this idempotency key is still in progress",
        )
    },
    replay_headers: &[("x-idempotency-lookup", "hit")],
    fresh_headers: &[("x-idempotency-lookup", "miss")],
};

fn check_auth(st: &SimState, headers: &HeaderMap) -> Result<(), Reply> {
    let c = &st.credentials;
    let oauth_only = st.settings().zendesk_oauth_only;
    let ok = match (auth::basic(headers), auth::bearer(headers)) {
        (Some(_), _) if oauth_only => false,
        (Some((user, token)), _) => {
            auth::same(&user, &format!("{}/token", c.zendesk_email)) && auth::same(&token, &c.zendesk_api_token)
        }
        (None, Some(token)) => {
            auth::same(token, &c.zendesk_oauth_token) || st.zendesk_tokens.check(headers, st.clock.now()).is_ok()
        }
        (None, None) => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Reply::json(
            StatusCode::UNAUTHORIZED,
            &json!({"error": "Couldn't authenticate you"}),
        ))
    }
}

fn parse_id(raw: &str) -> Option<u64> {
    raw.strip_suffix(".json").unwrap_or(raw).parse().ok()
}

fn user_json(data: &Data, id: u64) -> Value {
    match data.users.iter().find(|u| u.id == id) {
        Some(u) => json!({"id": u.id, "name": u.name, "email": u.email, "external_id": u.external_id,
                          "role": u.role, "active": true}),
        None => json!({"id": id, "name": "Unknown", "email": null, "role": "end-user", "active": false}),
    }
}

/// The `requester` object of a create: an end-user named by `email` or `external_id`
/// (the first that is given), with the `name` a new one is made with.
#[derive(Deserialize)]
struct RequesterIn {
    email: Option<String>,
    external_id: Option<String>,
    name: Option<String>,
}

/// Finds the requester's user, or makes an end-user of it, as Zendesk does; a requester
/// naming neither an e-mail nor an external id, an invalid e-mail, or a new user without
/// a name is refused with Zendesk's 422.
fn requester_id(data: &mut Data, r: &RequesterIn) -> Result<u64, Reply> {
    let found = match (&r.email, &r.external_id) {
        (Some(email), _) => {
            let (local, domain) = email.split_once('@').unwrap_or_default();
            if local.is_empty() || !domain.contains('.') || email.chars().any(|c| c.is_whitespace() || c == ':') {
                return Err(invalid("requester", "Requester: Email is invalid"));
            }
            data.users
                .iter()
                .find(|u| u.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(email)))
        }
        (None, Some(ext)) if !ext.trim().is_empty() => data
            .users
            .iter()
            .find(|u| u.external_id.as_deref() == Some(ext.as_str())),
        _ => return Err(invalid("requester", "Requester: Email or external id is required")),
    };
    if let Some(u) = found {
        return Ok(u.id);
    }
    let Some(name) = r.name.as_deref().filter(|n| !n.trim().is_empty()) else {
        return Err(invalid(
            "requester",
            "Requester: Name: is too short (minimum one character)",
        ));
    };
    let id = data.next_user;
    data.next_user += 1;
    data.users.push(UserRec {
        id,
        name: name.to_owned(),
        email: r.email.clone(),
        external_id: r.external_id.clone(),
        role: "end-user",
    });
    Ok(id)
}

fn ticket_json(base: &str, t: &Ticket) -> Value {
    json!({
        "url": format!("{base}/api/v2/tickets/{}.json", t.id),
        "id": t.id,
        "external_id": t.external_id,
        "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": null}},
        "created_at": rfc3339(t.created_at),
        "updated_at": rfc3339(t.updated_at),
        "type": t.kind,
        "subject": t.subject,
        "raw_subject": t.subject,
        "description": t.description,
        "priority": t.priority,
        "status": t.status,
        "recipient": null,
        "requester_id": t.requester_id,
        "submitter_id": t.requester_id,
        "assignee_id": t.assignee_id,
        "organization_id": null,
        "group_id": null,
        "collaborator_ids": [],
        "follower_ids": [],
        "email_cc_ids": [],
        "has_incidents": false,
        "is_public": t.comments.iter().any(|c| c.public),
        "due_at": null,
        "tags": t.tags,
        "custom_fields": t.custom_fields,
        "satisfaction_rating": null,
        "allow_channelback": false,
        "allow_attachments": true,
    })
}

fn audit_json(
    t: &Ticket,
    audit_id: u64,
    events: Vec<Value>,
    at: OffsetDateTime,
    custom: Option<serde_json::Map<String, Value>>,
) -> Value {
    json!({
        "id": audit_id,
        "ticket_id": t.id,
        "created_at": rfc3339(at),
        "author_id": API_USER,
        "metadata": {"system": {}, "custom": custom.unwrap_or_default()},
        "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": null}},
        "events": events,
    })
}

fn comment_event(c: &Comment, audit_id: u64) -> Value {
    json!({
        "id": c.id,
        "type": "Comment",
        "author_id": c.author_id,
        "body": c.body,
        "html_body": format!("<div class=\"zd-comment\"><p>{}</p></div>", c.body),
        "plain_body": c.body,
        "public": c.public,
        "attachments": [],
        "audit_id": audit_id,
    })
}

#[derive(Deserialize)]
struct Envelope {
    ticket: Option<TicketIn>,
}

#[derive(Deserialize)]
struct TicketIn {
    subject: Option<String>,
    comment: Option<CommentIn>,
    priority: Option<String>,
    status: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    requester_id: Option<u64>,
    /// Creates only: the requester by e-mail or external id, made if unknown.
    requester: Option<RequesterIn>,
    assignee_id: Option<u64>,
    external_id: Option<String>,
    tags: Option<Vec<String>>,
    custom_fields: Option<Vec<Value>>,
    /// Custom metadata kept in the update's audit (`metadata.custom`).
    metadata: Option<serde_json::Map<String, Value>>,
}

#[derive(Deserialize)]
struct CommentIn {
    body: Option<String>,
    html_body: Option<String>,
    public: Option<bool>,
}

impl CommentIn {
    fn text(&self) -> Option<&str> {
        self.body
            .as_deref()
            .or(self.html_body.as_deref())
            .filter(|b| !b.trim().is_empty())
    }
}

fn parse_envelope(body: &[u8]) -> Result<TicketIn, Reply> {
    match serde_json::from_slice::<Envelope>(body) {
        Ok(Envelope { ticket: Some(t) }) => Ok(t),
        Ok(Envelope { ticket: None }) => Err(error(
            StatusCode::BAD_REQUEST,
            "InvalidEndpoint",
            "Parameter ticket is required",
        )),
        Err(e) => Err(error(StatusCode::BAD_REQUEST, "InvalidJSON", &e.to_string())),
    }
}

fn check_values(t: &TicketIn) -> Result<(), Reply> {
    if let Some(p) = &t.priority
        && !PRIORITIES.contains(&p.as_str())
    {
        return Err(invalid("priority", "Priority: is not valid"));
    }
    if let Some(s) = &t.status
        && !STATUSES.contains(&s.as_str())
    {
        return Err(invalid("status", "Status: is not valid"));
    }
    if let Some(a) = t.assignee_id
        && !USERS.iter().any(|u| u.id == a && u.role != "end-user")
    {
        return Err(invalid("assignee", "Assignee: is not an agent"));
    }
    Ok(())
}

async fn create(State(st): State<Arc<SimState>>, headers: HeaderMap, body: Bytes) -> Reply {
    if let Err(r) = check_auth(&st, &headers) {
        return r;
    }
    let key = auth::idempotency_key(&headers);
    let fp = fingerprint(&[b"POST /api/v2/tickets", &body]);
    let store = st.idempotency.zendesk.clone();
    // Zendesk forgets a key some hours after its first use; the same key then creates a
    // second ticket.
    let ttl = i64::try_from(st.settings().zendesk_key_ttl_s).unwrap_or(i64::MAX);
    let expiry = Expiry {
        now: st.clock.now(),
        ttl: time::Duration::seconds(ttl),
    };
    store
        .run_expiring(key, fp, Some(expiry), &REFUSALS, async {
            create_ticket(&st, &body, key)
        })
        .await
}

#[derive(Deserialize)]
struct ListQuery {
    external_id: Option<String>,
}

/// `GET /api/v2/tickets.json`, optionally `?external_id=…`: the tickets (with that
/// external id), oldest first. External ids need not be unique, so several may match.
async fn list(State(st): State<Arc<SimState>>, Query(q): Query<ListQuery>, headers: HeaderMap) -> Reply {
    if let Err(r) = check_auth(&st, &headers) {
        return r;
    }
    let base = st.system_url(System::Zendesk);
    let data = lock(&st.zendesk);
    let tickets: Vec<Value> = data
        .tickets
        .values()
        .filter(|t| q.external_id.is_none() || t.external_id == q.external_id)
        .map(|t| ticket_json(&base, t))
        .collect();
    let count = tickets.len();
    Reply::json(
        StatusCode::OK,
        &json!({"tickets": tickets, "count": count, "next_page": null, "previous_page": null}),
    )
}

fn create_ticket(st: &SimState, body: &[u8], key: Option<&str>) -> Reply {
    let input = match parse_envelope(body) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if let Err(r) = check_values(&input) {
        return r;
    }
    let Some(text) = input.comment.as_ref().and_then(CommentIn::text).map(str::to_owned) else {
        return invalid("description", "Description: cannot be blank");
    };
    let public = input.comment.as_ref().and_then(|c| c.public).unwrap_or(true);
    let now = st.clock.now();
    let base = st.system_url(System::Zendesk);
    let (id, reply) = {
        let mut data = lock(&st.zendesk);
        let requester = match (&input.requester, input.requester_id) {
            (Some(r), _) => match requester_id(&mut data, r) {
                Ok(id) => id,
                Err(reply) => return reply,
            },
            (None, Some(id)) => id,
            // Without one, the API user asks: public comments notify it, not a customer.
            (None, None) => API_USER,
        };
        let id = data.next_ticket;
        data.next_ticket += 1;
        let audit_id = data.next_event;
        let comment_id = data.next_event + 1;
        data.next_event += 2;
        let subject = input
            .subject
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| text.chars().take(50).collect());
        let status = input
            .status
            .unwrap_or_else(|| if input.assignee_id.is_some() { "open" } else { "new" }.to_owned());
        let comment = Comment {
            id: comment_id,
            body: text.clone(),
            public,
            author_id: API_USER,
        };
        let t = Ticket {
            id,
            subject,
            description: text,
            status,
            priority: input.priority,
            kind: input.kind,
            requester_id: requester,
            assignee_id: input.assignee_id,
            external_id: input.external_id,
            tags: input.tags.unwrap_or_default(),
            custom_fields: input.custom_fields.unwrap_or_default(),
            created_at: now,
            updated_at: now,
            comments: vec![comment.clone()],
            audits: Vec::new(),
        };
        let audit = audit_json(
            &t,
            audit_id,
            vec![comment_event(&comment, audit_id)],
            now,
            input.metadata,
        );
        let mut t = t;
        t.audits.push(audit.clone());
        let body = json!({"ticket": ticket_json(&base, &t), "audit": audit});
        data.tickets.insert(id, t);
        (id, body)
    };
    st.effect(System::Zendesk, EffectKind::TicketCreated, &id.to_string(), None, key);
    Reply::json(StatusCode::CREATED, &reply).header("location", &format!("{base}/api/v2/tickets/{id}.json"))
}

#[derive(Deserialize)]
struct ReadQuery {
    include: Option<String>,
}

async fn read(
    State(st): State<Arc<SimState>>,
    Path(raw): Path<String>,
    Query(q): Query<ReadQuery>,
    headers: HeaderMap,
) -> Reply {
    if let Err(r) = check_auth(&st, &headers) {
        return r;
    }
    let Some(id) = parse_id(&raw) else {
        return not_found();
    };
    let base = st.system_url(System::Zendesk);
    let data = lock(&st.zendesk);
    let Some(t) = data.tickets.get(&id) else {
        return not_found();
    };
    let mut body = json!({"ticket": ticket_json(&base, t)});
    if q.include
        .as_deref()
        .is_some_and(|i| i.split(',').any(|p| p.trim() == "users"))
    {
        let mut ids = vec![t.requester_id];
        ids.extend(t.assignee_id);
        ids.dedup();
        body["users"] = Value::Array(ids.into_iter().map(|id| user_json(&data, id)).collect());
    }
    Reply::json(StatusCode::OK, &body)
}

async fn update(State(st): State<Arc<SimState>>, Path(raw): Path<String>, headers: HeaderMap, body: Bytes) -> Reply {
    if let Err(r) = check_auth(&st, &headers) {
        return r;
    }
    let Some(id) = parse_id(&raw) else {
        return not_found();
    };
    let input = match parse_envelope(&body) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if let Err(r) = check_values(&input) {
        return r;
    }
    let key = auth::idempotency_key(&headers);
    let now = st.clock.now();
    let base = st.system_url(System::Zendesk);
    let mut added = None;
    let reply = {
        let mut data = lock(&st.zendesk);
        let audit_id = data.next_event;
        let mut next_event = data.next_event + 1;
        let Some(t) = data.tickets.get_mut(&id) else {
            return not_found();
        };
        if t.status == "closed" {
            return invalid("status", "Status: closed prevents ticket update");
        }
        let mut events = Vec::new();
        if let Some(text) = input.comment.as_ref().and_then(CommentIn::text) {
            let c = Comment {
                id: next_event,
                body: text.to_owned(),
                public: input.comment.as_ref().and_then(|c| c.public).unwrap_or(true),
                author_id: API_USER,
            };
            next_event += 1;
            events.push(comment_event(&c, audit_id));
            added = Some(c.id);
            t.comments.push(c);
        }
        let new_status = input
            .status
            .clone()
            .or_else(|| (added.is_some() && t.status == "new").then(|| "open".to_owned()));
        if let Some(status) = new_status.filter(|s| *s != t.status) {
            events.push(json!({"id": next_event, "type": "Change", "field_name": "status", "value": status, "previous_value": t.status}));
            next_event += 1;
            t.status = status;
        }
        if let Some(p) = input.priority {
            t.priority = Some(p);
        }
        if let Some(a) = input.assignee_id {
            t.assignee_id = Some(a);
        }
        if let Some(s) = input.subject {
            t.subject = s;
        }
        t.updated_at = now;
        let audit = audit_json(t, audit_id, events, now, input.metadata);
        t.audits.push(audit.clone());
        let body = json!({"ticket": ticket_json(&base, t), "audit": audit});
        data.next_event = next_event;
        body
    };
    if let Some(comment) = added {
        st.effect(
            System::Zendesk,
            EffectKind::CommentAdded,
            &comment.to_string(),
            Some(&id.to_string()),
            key,
        );
    }
    Reply::json(StatusCode::OK, &reply)
}

/// `GET /api/v2/tickets/{id}/audits`: every audit, oldest first, or newest first with
/// `sort_order=desc`; each with the custom metadata its update carried.
async fn audits(State(st): State<Arc<SimState>>, Path(raw): Path<String>, headers: HeaderMap, uri: Uri) -> Reply {
    if let Err(r) = check_auth(&st, &headers) {
        return r;
    }
    let Some(id) = parse_id(&raw) else {
        return not_found();
    };
    let descending = uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "sort_order=desc"));
    let data = lock(&st.zendesk);
    let Some(t) = data.tickets.get(&id) else {
        return not_found();
    };
    let mut list = t.audits.clone();
    if descending {
        list.reverse();
    }
    let count = list.len();
    Reply::json(
        StatusCode::OK,
        &json!({"audits": list, "count": count, "next_page": null, "previous_page": null}),
    )
}

async fn user(State(st): State<Arc<SimState>>, Path(raw): Path<String>, headers: HeaderMap) -> Reply {
    if let Err(r) = check_auth(&st, &headers) {
        return r;
    }
    let data = lock(&st.zendesk);
    match parse_id(&raw).filter(|id| data.users.iter().any(|u| u.id == *id)) {
        Some(id) => Reply::json(StatusCode::OK, &json!({"user": user_json(&data, id)})),
        None => not_found(),
    }
}

/// Sets a ticket's status (used by `ticket.updated` webhooks); false when there is no such ticket.
pub(crate) fn set_status(st: &SimState, id: &str, status: &str) -> bool {
    let Some(id) = parse_id(id) else {
        return false;
    };
    let now = st.clock.now();
    let mut data = lock(&st.zendesk);
    match data.tickets.get_mut(&id) {
        Some(t) => {
            status.clone_into(&mut t.status);
            t.updated_at = now;
            true
        }
        None => false,
    }
}
