//! The problem answers each operation can give, written into the OpenAPI document from one table.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, ResponseBuilder, Type};

/// One problem answer: its status, its `code`, and when it is given.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The problem's `code`.
    pub code: &'static str,
    /// When the route answers it.
    pub when: &'static str,
}

const fn answer(status: u16, code: &'static str, when: &'static str) -> Answer {
    Answer { status, code, when }
}

/// Routes behind the bearer-token check.
const BEARER: &[Answer] = &[
    answer(401, "unauthorized", "no bearer token, or an unknown one"),
    answer(403, "forbidden", "the token's role does not include this route"),
];
/// Routes with a path id.
const PATH_ID: &[Answer] = &[answer(400, "invalid_id", "a path id breaks the id rule")];
/// Routes with query parameters.
const QUERY: &[Answer] = &[answer(
    422,
    "invalid_body",
    "a query parameter is malformed (named in `detail`)",
)];
/// Listings with a cursor.
const CURSOR: &[Answer] = &[answer(
    422,
    "invalid_body",
    "`cursor` is not a next_cursor this hub issued",
)];
/// Routes that read a body.
const BODY: &[Answer] = &[
    answer(
        408,
        "invalid_body",
        "the body did not arrive within the body read timeout",
    ),
    answer(
        413,
        "payload_too_large",
        "the body is larger than the limit (1 MiB by default)",
    ),
    answer(
        422,
        "invalid_body",
        "the body is not what the route takes: not JSON, a wrong type, an unknown or missing field (named in `detail`)",
    ),
];
/// Writes that take `Idempotency-Key`.
const KEY: &[Answer] = &[
    answer(
        409,
        "idempotency_in_flight",
        "the first request with this Idempotency-Key is still running; or its claim lapsed, it may have taken effect and the upstream can neither deduplicate nor be asked, so nothing was sent and the write awaits the supervisor (`dlq_id`)",
    ),
    answer(
        409,
        "dlq_conflict",
        "the first request with this Idempotency-Key was dead-lettered and the supervisor discarded it (`dlq_id`, the reason in `detail`)",
    ),
    answer(
        422,
        "idempotency_mismatch",
        "this Idempotency-Key was used for another request (another route, ids or body, or another caller); nothing of that request is revealed",
    ),
    answer(
        422,
        "invalid_body",
        "Idempotency-Key is not 1 to 255 visible ASCII characters",
    ),
];
/// The commit, which requires `Idempotency-Key`.
const KEY_REQUIRED: &[Answer] = &[answer(400, "idempotency_key_missing", "no Idempotency-Key header")];
/// Routes that call an upstream system.
const UPSTREAM: &[Answer] = &[
    answer(404, "not_found", "the upstream system has no such resource"),
    answer(
        422,
        "upstream_rejected",
        "the upstream refused the request (its 400, 409 or 422)",
    ),
    answer(
        429,
        "rate_limited",
        "the upstream's rate limit, or the hub's budget for it, leaves no room before the deadline (`Retry-After`, `retry_after_s`); a write the budget refused was not sent and is not dead-lettered: retry it with the same Idempotency-Key",
    ),
    answer(
        502,
        "upstream_unavailable",
        "the upstream failed or could not be reached (a write is dead-lettered: `dlq_id`)",
    ),
    answer(
        503,
        "circuit_open",
        "the adapter's circuit is open: nothing is sent (`Retry-After` until the probe)",
    ),
    answer(
        504,
        "upstream_timeout",
        "the upstream did not answer within the deadline",
    ),
];
/// Writes: beyond [`UPSTREAM`], an accepted write whose answer cannot be used and the
/// hub's own stores.
const WRITE: &[Answer] = &[
    answer(
        502,
        "upstream_answer_unreadable",
        "the upstream accepted the write (answered 2xx) but its answer cannot be used; not dead-lettered, never re-sent",
    ),
    answer(
        503,
        "store_unavailable",
        "the idempotency store or the dead-letter queue could not be used, or the write's audit record could not be made durable first: nothing was sent (`Retry-After`)",
    ),
    answer(
        503,
        "overloaded",
        "the hub already runs server.max_write_tasks writes: nothing was sent (`Retry-After`)",
    ),
    answer(
        500,
        "internal",
        "the write could not be completed (a defect of the hub)",
    ),
];
/// Routes that use one of the hub's stores.
const STORE: &[Answer] = &[answer(503, "store_unavailable", "a hub store could not be used")];
/// Routes on one dead-letter entry.
const DLQ_ENTRY: &[Answer] = &[answer(404, "not_found", "no such dead-letter entry")];
/// Routes that change a dead-letter entry.
const DLQ_CHANGE: &[Answer] = &[
    answer(
        409,
        "dlq_conflict",
        "the entry is not pending, is being replayed by another request, or cannot be replayed",
    ),
    answer(
        500,
        "internal",
        "the change could not be completed (a defect of the hub)",
    ),
];
/// `/v1/events`.
const EVENTS: &[Answer] = &[
    answer(
        400,
        "invalid_id",
        "a transaction_id or ticket_id filter breaks the id rule",
    ),
    answer(
        422,
        "invalid_body",
        "an unknown topic or query parameter, or a query string that is not valid",
    ),
    answer(426, "invalid_body", "not a WebSocket upgrade request"),
    answer(
        503,
        "overloaded",
        "the hub already serves its limit of live subscriptions (`Retry-After`)",
    ),
];
/// Webhooks: signature checks instead of a bearer token.
const WEBHOOK: &[Answer] = &[
    answer(
        401,
        "unauthorized",
        "a missing webhook header, a timestamp more than 5 minutes off, or no matching signature",
    ),
    answer(
        422,
        "invalid_body",
        "webhook-id is not 1 to 255 visible ASCII characters",
    ),
    answer(
        503,
        "store_unavailable",
        "the memory of seen webhook ids could not be used (the sender retries)",
    ),
];

/// Every operation (by `operationId`) with the problem answers it can give.
pub const OPERATIONS: &[(&str, &[&[Answer]])] = &[
    ("create_ticket", &[BEARER, BODY, KEY, UPSTREAM, WRITE]),
    ("get_ticket", &[BEARER, PATH_ID, UPSTREAM]),
    ("add_ticket_comment", &[BEARER, PATH_ID, BODY, KEY, UPSTREAM, WRITE]),
    ("get_transaction", &[BEARER, PATH_ID, UPSTREAM]),
    ("list_customer_transactions", &[BEARER, PATH_ID, QUERY, UPSTREAM]),
    ("create_draft", &[BEARER, BODY, KEY, UPSTREAM, WRITE]),
    (
        "commit_draft",
        &[BEARER, PATH_ID, BODY, KEY_REQUIRED, KEY, UPSTREAM, WRITE],
    ),
    ("cancel_draft", &[BEARER, PATH_ID, BODY, KEY, UPSTREAM, WRITE]),
    ("list_dlq_entries", &[BEARER, QUERY, CURSOR, STORE]),
    ("get_dlq_entry", &[BEARER, PATH_ID, DLQ_ENTRY, STORE]),
    (
        "replay_dlq_entry",
        &[BEARER, PATH_ID, BODY, DLQ_ENTRY, DLQ_CHANGE, UPSTREAM, WRITE, STORE],
    ),
    (
        "discard_dlq_entry",
        &[BEARER, PATH_ID, BODY, DLQ_ENTRY, DLQ_CHANGE, STORE],
    ),
    ("list_audit_records", &[BEARER, QUERY, CURSOR, STORE]),
    ("subscribe_to_events", &[BEARER, EVENTS]),
    ("receive_transaction_updated_webhook", &[BODY, WEBHOOK]),
    ("receive_ticket_updated_webhook", &[BODY, WEBHOOK]),
    ("get_health", &[]),
    ("get_readiness", &[]),
    ("get_metrics", &[]),
    ("get_openapi_document", &[]),
];

/// The problem answers of `operation_id`, merged per status (codes in table order, each once);
/// `None` for an operation the table does not know.
pub fn answers(operation_id: &str) -> Option<Vec<(u16, Vec<Answer>)>> {
    let (_, groups) = OPERATIONS.iter().find(|(id, _)| *id == operation_id)?;
    let mut merged: Vec<(u16, Vec<Answer>)> = Vec::new();
    for a in groups.iter().flat_map(|g| g.iter()) {
        match merged.iter_mut().find(|(s, _)| *s == a.status) {
            Some((_, list)) => {
                if !list.iter().any(|b| b.code == a.code && b.when == a.when) {
                    list.push(*a);
                }
            }
            None => merged.push((a.status, vec![*a])),
        }
    }
    merged.sort_by_key(|(s, _)| *s);
    Some(merged)
}

/// Codes whose answers carry `Retry-After` (`store_unavailable`: a write refused unsent).
const RETRY_AFTER_CODES: &[&str] = &["rate_limited", "circuit_open", "overloaded", "store_unavailable"];

/// The document's response for one status: the problem schema, a description listing
/// each code and when it is given, and `Retry-After` where one of them sends it.
pub fn response(answers: &[Answer]) -> utoipa::openapi::Response {
    let description = answers
        .iter()
        .map(|a| format!("`{}`: {}", a.code, a.when))
        .collect::<Vec<_>>()
        .join("; ");
    let mut builder = ResponseBuilder::new().description(description).content(
        crate::problem::PROBLEM_JSON,
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build(),
    );
    if answers.iter().any(|a| RETRY_AFTER_CODES.contains(&a.code)) {
        builder = builder.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
                .description(Some(
                    "Seconds to wait before trying again (rate_limited, circuit_open, overloaded, store_unavailable)",
                ))
                .build(),
        );
    }
    builder.build()
}
