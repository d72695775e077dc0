//! `/v1/audit`: the audit trail of upstream calls (admin).

use axum::Json;
use axum::extract::State;
use hub_core::AuditQuery;

use crate::extract::QueryMap;
use crate::problem::Problem;
use crate::state::AppState;
use crate::wire::{AuditPage, AuditRecordBody, query_time, query_token};

/// Lists audit records, newest first.
#[utoipa::path(
    get, path = "/v1/audit", tag = "audit", operation_id = "list_audit_records",
    params(
        ("adapter" = Option<String>, Query, pattern = "^[!-~]{1,512}$"),
        ("operation" = Option<String>, Query, pattern = "^[!-~]{1,512}$"),
        ("since" = Option<String>, Query, description = "RFC 3339", format = DateTime),
        ("until" = Option<String>, Query, description = "RFC 3339", format = DateTime),
        ("limit" = Option<u32>, Query, description = "1..500, default 50", minimum = 1, maximum = 500),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page", pattern = "^[!-~]{1,512}$"),
    ),
    responses(
        (status = 200, description = "A page", body = AuditPage),
    ),
    security(("bearer" = []))
)]
pub async fn list(State(state): State<AppState>, query: QueryMap) -> Result<Json<AuditPage>, Problem> {
    let q = AuditQuery {
        adapter: query.parse("adapter", query_token)?,
        operation: query.parse("operation", query_token)?,
        since: query.parse("since", query_time)?,
        until: query.parse("until", query_time)?,
        limit: query.limit("limit", 1, 500, 50)?,
        cursor: query.parse("cursor", query_token)?,
    };
    let page = state
        .hub
        .services
        .audit
        .query(&q)
        .await
        .map_err(|e| Problem::store_listing("audit", &e))?;
    Ok(Json(AuditPage {
        items: page.items.into_iter().map(AuditRecordBody::from).collect(),
        next_cursor: page.next_cursor,
    }))
}
