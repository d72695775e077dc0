//! `/v1/dlq`: review, replay and discard dead-lettered writes (admin).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use hub_core::{ConversationId, DlqError, DlqFilter, DlqId, DlqStatus, IdempotencyKey, ReplayOutcome};

use crate::auth::Principal;
use crate::correlation::Correlation;
use crate::extract::{EmptyBody, OptionalJson, PathId, QueryMap};
use crate::problem::{Problem, ProblemCode, ProblemDetails};
use crate::replay::ReplayError;
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
    get, path = "/v1/dlq", tag = "dlq",
    params(
        ("status" = Option<String>, Query, description = "pending, replayed or discarded"),
        ("adapter" = Option<String>, Query), ("operation" = Option<String>, Query),
        ("limit" = Option<u32>, Query, description = "1..200, default 50"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses(
        (status = 200, description = "A page", body = DlqPage),
        (status = "4XX", description = "Problem", body = ProblemDetails, content_type = "application/problem+json"),
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
        .services
        .dlq
        .list(&filter)
        .await
        .map_err(|e| Problem::store("dlq", &e))?;
    Ok(Json(DlqPage {
        items: page.items.into_iter().map(DlqEntryBody::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One entry.
#[utoipa::path(
    get, path = "/v1/dlq/{id}", tag = "dlq",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The entry", body = DlqEntryBody),
        (status = "4XX", description = "Problem", body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_entry(
    State(state): State<AppState>,
    PathId(id): PathId<DlqId>,
) -> Result<Json<DlqEntryBody>, Problem> {
    match state.services.dlq.get(&id).await {
        Ok(Some(entry)) => Ok(Json(entry.into())),
        Ok(None) => Err(dlq_problem(&DlqError::NotFound)),
        Err(e) => Err(Problem::store("dlq", &e)),
    }
}

/// Runs a pending entry's write again with its idempotency key.
#[utoipa::path(
    post, path = "/v1/dlq/{id}/replay", tag = "dlq",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Replayed: the entry, now `replayed`, with the result", body = DlqEntryBody),
        (status = 409, description = "Not pending", body = ProblemDetails, content_type = "application/problem+json"),
        (status = "5XX", description = "Failed again (the entry stays pending)", body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn replay(
    State(state): State<AppState>,
    Extension(corr): Extension<Correlation>,
    principal: Option<Extension<Principal>>,
    PathId(id): PathId<DlqId>,
    _body: EmptyBody,
) -> Result<Response, Problem> {
    let actor = principal.ok_or_else(|| wiring_problem("principal"))?.0.name;
    // Run in its own task: a client that disconnects cannot cut the replay short
    // between the upstream call and recording its outcome.
    tokio::spawn(async move {
        let answer = replay_entry(&state, &corr, actor, id).await;
        crate::dead_letter::refresh_pending_gauge(&state);
        answer
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "the replay task failed");
        Problem::new(ProblemCode::Internal, "the replay could not be completed")
    })?
}

async fn replay_entry(state: &AppState, corr: &Correlation, actor: String, id: DlqId) -> Result<Response, Problem> {
    let dlq = &state.services.dlq;
    let claim = dlq
        .claim_replay(&id, &actor, state.settings.replay_lease)
        .await
        .map_err(|e| dlq_problem(&e))?;
    let failure = &claim.entry.failure;
    let mut ctx = corr.call_context();
    if ctx.conversation_id.is_none()
        && let Some(c) = failure
            .conversation_id
            .as_deref()
            .and_then(|c| ConversationId::parse(c).ok())
    {
        ctx = ctx.with_conversation_id(c);
    }
    if let Some(k) = failure
        .idempotency_key
        .as_deref()
        .and_then(|k| IdempotencyKey::parse(k).ok())
    {
        ctx = ctx.with_idempotency_key(k);
    }
    let (adapter, operation) = (failure.adapter.clone(), failure.operation.clone());
    match state.replayer.replay(&claim.entry, &ctx).await {
        Ok(result) => {
            let entry = dlq
                .finish_replay(&claim, ReplayOutcome::Succeeded { result })
                .await
                .map_err(|e| dlq_problem(&e))?;
            tracing::info!(dlq_id = %id, actor = %actor, "dead-letter entry replayed");
            Ok(Json(DlqEntryBody::from(entry)).into_response())
        }
        Err(err) => {
            let (outcome, problem) = match &err {
                ReplayError::Upstream(e) => (
                    ReplayOutcome::Failed {
                        error: e.to_string(),
                        error_code: e.code().to_owned(),
                        attempts: ctx.attempts.get(),
                    },
                    Problem::upstream(e, &adapter, &operation),
                ),
                ReplayError::Unreplayable(e) => (
                    ReplayOutcome::Failed {
                        error: e.to_string(),
                        error_code: "unreplayable".to_owned(),
                        attempts: 0,
                    },
                    Problem::new(ProblemCode::DlqConflict, format!("the entry cannot be replayed: {e}")),
                ),
            };
            tracing::warn!(dlq_id = %id, actor = %actor, error = %err, "dead-letter replay failed");
            dlq.finish_replay(&claim, outcome).await.map_err(|e| dlq_problem(&e))?;
            Err(problem.with_dlq_id(&id))
        }
    }
}

/// Gives up a pending entry.
#[utoipa::path(
    post, path = "/v1/dlq/{id}/discard", tag = "dlq",
    params(("id" = String, Path)),
    request_body(content = Option<DiscardRequest>, description = "Optional reason"),
    responses(
        (status = 200, description = "The entry, now `discarded`", body = DlqEntryBody),
        (status = 409, description = "Not pending", body = ProblemDetails, content_type = "application/problem+json"),
        (status = "4XX", description = "Problem", body = ProblemDetails, content_type = "application/problem+json"),
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
        .services
        .dlq
        .discard(&id, &actor, req.reason)
        .await
        .map_err(|e| dlq_problem(&e))?;
    tracing::info!(dlq_id = %id, actor = %actor, "dead-letter entry discarded");
    crate::dead_letter::refresh_pending_gauge(&state);
    Ok(Json(entry.into()))
}
