//! `/v1/tickets`: open a ticket, read its status, comment on it.

use axum::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use hub_app::WriteOp;
use hub_core::{NewComment, NewTicket, Operation, TicketId};

use crate::auth::Principal;
use crate::conditional::{self, IfNoneMatch};
use crate::correlation::Correlation;
use crate::extract::{JsonBody, PathId};
use crate::idempotency::key_from_headers;
use crate::problem::Problem;
use crate::routes::write;
use crate::state::AppState;
use crate::wire::{AddCommentRequest, CommentBody, CreateTicketRequest, CreatedTicketBody, TicketBody, non_empty};

/// Opens a ticket.
#[utoipa::path(
    post, path = "/v1/tickets", tag = "tickets", operation_id = "create_ticket",
    request_body = CreateTicketRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a repeat return the first answer", pattern = "^[!-~]{1,255}$")),
    responses(
        (status = 201, description = "Created", body = CreatedTicketBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_ticket(
    State(state): State<AppState>,
    Extension(corr): Extension<Correlation>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<CreateTicketRequest>,
) -> Result<Response, Problem> {
    let key = key_from_headers(&headers, false)?;
    non_empty("subject", &req.subject)?;
    let ticket = NewTicket {
        customer_id: req.customer_id,
        subject: req.subject,
        description: req.description,
        priority: req.priority,
    };
    Ok(write(&state, &corr, principal.as_deref(), key, WriteOp::CreateTicket(ticket)).await)
}

/// Reads a ticket's status (cached).
#[utoipa::path(
    get, path = "/v1/tickets/{ticket_id}", tag = "tickets", operation_id = "get_ticket",
    params(("ticket_id" = String, Path, description = "The contract's id rule", example = "TCK-1001", pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")),
    responses(
        (status = 200, description = "The ticket; `Cache-Status` says where it came from, `ETag` validates it", body = TicketBody),
        (status = 304, description = "`If-None-Match` matched the answer's `ETag`: no body"),
    ),
    security(("bearer" = []))
)]
pub async fn get_ticket(
    State(state): State<AppState>,
    Extension(corr): Extension<Correlation>,
    PathId(id): PathId<TicketId>,
    if_none_match: IfNoneMatch,
) -> Result<Response, Problem> {
    let fetched = state
        .hub
        .ticket(&corr.call_context(), &id)
        .await
        .map_err(|e| Problem::upstream(&e, Operation::GetTicketStatus))?;
    Ok(conditional::json_of(
        &if_none_match,
        &TicketBody::from(fetched.value),
        fetched.cache,
    ))
}

/// Adds a comment to a ticket.
#[utoipa::path(
    post, path = "/v1/tickets/{ticket_id}/comments", tag = "tickets", operation_id = "add_ticket_comment",
    request_body = AddCommentRequest,
    params(
        ("ticket_id" = String, Path, description = "The contract's id rule", example = "TCK-1001", pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a repeat return the first answer", pattern = "^[!-~]{1,255}$"),
    ),
    responses(
        (status = 201, description = "Created", body = CommentBody),
    ),
    security(("bearer" = []))
)]
pub async fn add_comment(
    State(state): State<AppState>,
    Extension(corr): Extension<Correlation>,
    principal: Option<Extension<Principal>>,
    PathId(id): PathId<TicketId>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<AddCommentRequest>,
) -> Result<Response, Problem> {
    let key = key_from_headers(&headers, false)?;
    non_empty("comment", &req.comment)?;
    let op = WriteOp::AddComment {
        ticket_id: id,
        comment: NewComment {
            body: req.comment,
            public: req.is_public,
        },
    };
    Ok(write(&state, &corr, principal.as_deref(), key, op).await)
}
