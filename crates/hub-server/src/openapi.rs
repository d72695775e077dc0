//! The OpenAPI 3.1 document of the API, generated from the handlers and wire types.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::problem::ProblemDetails;
use crate::routes::{audit, dlq, drafts, events, health, tickets, transactions, webhooks};
use crate::wire;

pub mod answers;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// Adds each operation's problem answers from [`answers::OPERATIONS`].
struct ProblemAnswers;

impl Modify for ProblemAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ];
            for op in operations.into_iter().flatten() {
                let Some(by_status) = op.operation_id.as_deref().and_then(answers::answers) else {
                    continue;
                };
                for (status, list) in by_status {
                    op.responses
                        .responses
                        .insert(status.to_string(), answers::response(&list).into());
                }
            }
        }
    }
}

/// The API's OpenAPI description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Integration Hub API", description = "The hub's HTTP API (contract section 1). Errors are application/problem+json (RFC 9457)."),
    paths(
        tickets::create_ticket, tickets::get_ticket, tickets::add_comment,
        transactions::get_transaction, transactions::get_history,
        drafts::create_draft, drafts::commit, drafts::cancel,
        dlq::list, dlq::get_entry, dlq::replay, dlq::discard,
        audit::list,
        events::subscribe,
        webhooks::transaction_updated, webhooks::ticket_updated,
        health::healthz, health::readyz, health::metrics,
        serve,
    ),
    components(schemas(
        ProblemDetails,
        wire::CreateTicketRequest, wire::AddCommentRequest, wire::CreateDraftRequest, wire::DiscardRequest,
        wire::CreatedTicketBody, wire::TicketBody, wire::CommentBody, wire::TransactionBody, wire::HistoryBody,
        wire::HistoryItem, wire::DraftBody, wire::CommitBody, wire::CancelBody, wire::DlqEntryBody, wire::DlqPage,
        wire::AuditRecordBody, wire::AuditPage, wire::HealthBody, wire::ReadyBody, wire::AdapterReadiness,
        wire::TransactionWebhook, wire::TicketWebhook, wire::EventMessage, wire::PriorityName, wire::DlqStatusName,
    )),
    modifiers(&BearerAuth, &ProblemAnswers),
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", operation_id = "get_openapi_document", responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json")))]
pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests;
