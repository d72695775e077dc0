//! `/v1/dlq`: review, replay and discard dead-lettered writes (admin).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use hub_app::{ReplayError, Replayed};
use hub_core::{DlqError, DlqFilter, DlqId, DlqStatus, Operation};

use crate::auth::Principal;
use crate::correlation::Correlation;
use crate::extract::{EmptyBody, OptionalJson, PathId, QueryMap};
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;
use crate::wire::{DiscardRequest, DlqEntryBody, DlqPage, query_token, wiring_problem};

fn dlq_problem(err: &DlqError) -> Problem {
    match err {
        DlqError::NotFound => Problem::new(ProblemCode::NotFound, "no such dead-letter entry"),
        DlqError::Conflict { status, claimed } => Problem::new(
            ProblemCode::DlqConflict,
            if *claimed {
                "the entry is being replayed by another request".to_owned()
            } else {
                format!("the entry is {}, not pending", status.as_str())
            },
        ),
        DlqError::Store(e) => Problem::store("dlq", e),
    }
}

fn parse_status(raw: &str) -> Result<DlqStatus, String> {
    match raw {
        "pending" => Ok(DlqStatus::Pending),
        "replayed" => Ok(DlqStatus::Replayed),
        "discarded" => Ok(DlqStatus::Discarded),
        _ => Err("must be pending, replayed or discarded".to_owned()),
    }
}

/// Lists entries, newest first.
#[utoipa::path(
    get, path = "/v1/dlq", tag = "dlq", operation_id = "list_dlq_entries",
    params(
        ("status" = Option<crate::wire::DlqStatusName>, Query, description = "pending, replayed or discarded"),
        ("adapter" = Option<String>, Query, pattern = "^[!-~]{1,512}$"),
        ("operation" = Option<String>, Query, pattern = "^[!-~]{1,512}$"),
        ("limit" = Option<u32>, Query, description = "1..200, default 50", minimum = 1, maximum = 200),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page", pattern = "^[!-~]{1,512}$"),
    ),
    responses(
        (status = 200, description = "A page", body = DlqPage),
    ),
    security(("bearer" = []))
)]
pub async fn list(State(state): State<AppState>, query: QueryMap) -> Result<Json<DlqPage>, Problem> {
    let filter = DlqFilter {
        status: query.parse("status", parse_status)?,
        adapter: query.parse("adapter", query_token)?,
        operation: query.parse("operation", query_token)?,
        limit: query.limit("limit", 1, 200, 50)?,
        cursor: query.parse("cursor", query_token)?,
    };
    let page = state
        .hub
        .dead_letters(&filter)
        .await
        .map_err(|e| Problem::store_listing("dlq", &e))?;
    Ok(Json(DlqPage {
        items: page.items.into_iter().map(DlqEntryBody::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One entry.
#[utoipa::path(
    get, path = "/v1/dlq/{id}", tag = "dlq", operation_id = "get_dlq_entry",
    params(("id" = String, Path, description = "The contract's id rule", pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")),
    responses(
        (status = 200, description = "The entry", body = DlqEntryBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_entry(
    State(state): State<AppState>,
    PathId(id): PathId<DlqId>,
) -> Result<Json<DlqEntryBody>, Problem> {
    state
        .hub
        .dead_letter(&id)
        .await
        .map(|entry| Json(entry.into()))
        .map_err(|e| dlq_problem(&e))
}

/// Runs a pending entry's write again with its idempotency key. A comment whose earlier
/// outcome is unknown is first looked for upstream and not sent again when found.
#[utoipa::path(
    post, path = "/v1/dlq/{id}/replay", tag = "dlq", operation_id = "replay_dlq_entry",
    params(
        ("id" = String, Path, description = "The contract's id rule", pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"),
        ("force" = Option<bool>, Query, description = "Send a write whose earlier outcome is unknown and cannot be checked upstream (a comment to a system that neither deduplicates nor can be asked), accepting that it may take effect twice"),
    ),
    responses(
        (status = 200, description = "Replayed: the entry, now `replayed`, with the result", body = DlqEntryBody),
    ),
    security(("bearer" = []))
)]
pub async fn replay(
    State(state): State<AppState>,
    Extension(corr): Extension<Correlation>,
    principal: Option<Extension<Principal>>,
    PathId(id): PathId<DlqId>,
    query: QueryMap,
    _body: EmptyBody,
) -> Result<Response, Problem> {
    let actor = principal.ok_or_else(|| wiring_problem("principal"))?.0.name;
    let force = query
        .parse("force", |raw| match raw {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err("must be true or false".to_owned()),
        })?
        .unwrap_or(false);
    // Run in its own task: a client that disconnects cannot cut the replay short
    // between the upstream call and recording its outcome. The task is in the
    // request's trace.
    let hub = state.hub.clone();
    hub.spawn_in_trace(async move { replay_entry(&state, &corr, actor, id, force).await })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "the replay task failed");
            Problem::new(ProblemCode::Internal, "the replay could not be completed")
        })?
}

async fn replay_entry(
    state: &AppState,
    corr: &Correlation,
    actor: Arc<str>,
    id: DlqId,
    force: bool,
) -> Result<Response, Problem> {
    match state
        .hub
        .replay(&id, &actor, corr.call_context(), force)
        .await
        .map_err(|e| dlq_problem(&e))?
    {
        Replayed::Done(entry) => Ok(Json(DlqEntryBody::from(*entry)).into_response()),
        Replayed::Failed {
            error: ReplayError::Upstream(e),
            operation,
            ..
        } => {
            let p = match Operation::parse(&operation) {
                Some(op) => Problem::upstream(&e, op),
                None => Problem::new(ProblemCode::UpstreamUnavailable, e.to_string()),
            };
            Err(p.with_dlq_id(&id))
        }
        Replayed::Failed {
            error: ReplayError::Unreplayable(e),
            ..
        } => Err(Problem::new(ProblemCode::DlqConflict, format!("the entry cannot be replayed: {e}")).with_dlq_id(&id)),
        Replayed::Failed {
            error: e @ ReplayError::OutcomeUnknown,
            ..
        } => Err(Problem::new(ProblemCode::DlqConflict, format!("{e} (?force=true)")).with_dlq_id(&id)),
    }
}

/// Gives up a pending entry.
#[utoipa::path(
    post, path = "/v1/dlq/{id}/discard", tag = "dlq", operation_id = "discard_dlq_entry",
    params(("id" = String, Path, description = "The contract's id rule", pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")),
    request_body(content = Option<DiscardRequest>, description = "Optional reason"),
    responses(
        (status = 200, description = "The entry, now `discarded`", body = DlqEntryBody),
    ),
    security(("bearer" = []))
)]
pub async fn discard(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    PathId(id): PathId<DlqId>,
    OptionalJson(req): OptionalJson<DiscardRequest>,
) -> Result<Json<DlqEntryBody>, Problem> {
    let actor = principal.ok_or_else(|| wiring_problem("principal"))?.0.name;
    let entry = state
        .hub
        .discard(&id, &actor, req.reason)
        .await
        .map_err(|e| dlq_problem(&e))?;
    Ok(Json(entry.into()))
}
