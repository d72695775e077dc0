//! The HTTP control API under `/_sim/`: the same operations as [`crate::Control`].

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::config::Settings;
use crate::control::Control;
use crate::faults::FaultRule;
use crate::ledger::{EffectFilter, RequestFilter};
use crate::rate_limits::RateLimit;
use crate::reply::Reply;
use crate::system::System;
use crate::webhooks::{WebhookError, WebhookRequest};

type Ctl = State<Control>;

/// The control routes.
pub(crate) fn routes(control: Control) -> Router {
    Router::new()
        .route(
            "/_sim/health",
            get(|| async { Reply::json(StatusCode::OK, &json!({"status": "ok"})) }),
        )
        .route("/_sim/info", get(info))
        .route("/_sim/faults", get(list_faults).post(add_fault).delete(clear_faults))
        .route("/_sim/faults/{id}", delete(remove_fault))
        .route("/_sim/outage/{system}", post(outage_on).delete(outage_off))
        .route("/_sim/seed", post(seed))
        .route("/_sim/ledger/requests", get(requests))
        .route("/_sim/ledger/effects", get(effects))
        .route("/_sim/ledger/tokens", get(tokens))
        .route("/_sim/ledger/rate_limited", get(rate_limited))
        .route("/_sim/rate_limits", get(rate_limits))
        .route(
            "/_sim/rate_limits/{system}",
            put(set_rate_limit).delete(remove_rate_limit),
        )
        .route("/_sim/notifications", get(notifications))
        .route("/_sim/webhooks", post(webhook))
        .route("/_sim/reset", post(reset))
        .route("/_sim/clock", get(clock))
        .route("/_sim/clock/advance", post(advance))
        .route("/_sim/settings", get(settings).put(update_settings))
        .route("/_sim/vault/{mount}/{*path}", put(vault))
        .route("/_sim/transactions/{id}/status", put(transaction_status))
        .route("/_sim/transactions/copies", post(transaction_copies))
        .with_state(control)
}

fn ok<T: Serialize>(value: &T) -> Reply {
    Reply::json(StatusCode::OK, value)
}

fn bad(status: StatusCode, message: &str) -> Reply {
    Reply::json(status, &json!({"error": message}))
}

async fn info(State(c): Ctl) -> Reply {
    ok(&c.info())
}

async fn list_faults(State(c): Ctl) -> Reply {
    ok(&c.faults())
}

async fn add_fault(State(c): Ctl, Json(rule): Json<FaultRule>) -> Reply {
    match c.add_fault(rule) {
        Ok(id) => Reply::json(StatusCode::CREATED, &json!({"id": id})),
        Err(e) => bad(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
    }
}

#[derive(Deserialize)]
struct SystemQuery {
    system: Option<System>,
}

async fn clear_faults(State(c): Ctl, Query(q): Query<SystemQuery>) -> Reply {
    ok(&json!({"removed": c.clear_faults(q.system)}))
}

async fn remove_fault(State(c): Ctl, Path(id): Path<u64>) -> Reply {
    if c.remove_fault(id) {
        Reply::empty(StatusCode::NO_CONTENT)
    } else {
        bad(StatusCode::NOT_FOUND, "no such fault")
    }
}

fn system(name: &str) -> Result<System, Reply> {
    name.parse().map_err(|_| bad(StatusCode::NOT_FOUND, "no such system"))
}

async fn outage_on(State(c): Ctl, Path(name): Path<String>) -> Reply {
    match system(&name) {
        Ok(s) => {
            c.set_outage(s, true);
            ok(&json!({"system": s, "down": true}))
        }
        Err(r) => r,
    }
}

async fn outage_off(State(c): Ctl, Path(name): Path<String>) -> Reply {
    match system(&name) {
        Ok(s) => {
            c.set_outage(s, false);
            ok(&json!({"system": s, "down": false}))
        }
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct Seed {
    seed: u64,
}

async fn seed(State(c): Ctl, Json(s): Json<Seed>) -> Reply {
    c.set_seed(s.seed);
    ok(&json!({"seed": s.seed}))
}

async fn requests(State(c): Ctl, Query(filter): Query<RequestFilter>) -> Reply {
    ok(&json!({"requests": c.requests(&filter), "dropped": c.dropped_records()}))
}

async fn effects(State(c): Ctl, Query(filter): Query<EffectFilter>) -> Reply {
    ok(&json!({"effects": c.effects(&filter)}))
}

async fn rate_limited(State(c): Ctl) -> Reply {
    ok(&c.rate_limited())
}

async fn rate_limits(State(c): Ctl) -> Reply {
    ok(&c.rate_limits())
}

async fn set_rate_limit(State(c): Ctl, Path(name): Path<String>, Json(limit): Json<RateLimit>) -> Reply {
    match system(&name) {
        Ok(s) => {
            c.set_rate_limit(s, Some(limit));
            ok(&c.rate_limits().get(&s))
        }
        Err(r) => r,
    }
}

async fn remove_rate_limit(State(c): Ctl, Path(name): Path<String>) -> Reply {
    match system(&name) {
        Ok(s) => {
            c.set_rate_limit(s, None);
            ok(&json!({"system": s, "limited": false}))
        }
        Err(r) => r,
    }
}

async fn tokens(State(c): Ctl) -> Reply {
    ok(&c.token_requests())
}

async fn notifications(State(c): Ctl) -> Reply {
    ok(&json!({"notifications": c.notifications()}))
}

async fn webhook(State(c): Ctl, Json(request): Json<WebhookRequest>) -> Reply {
    match c.send_webhook(request).await {
        Ok(delivery) => ok(&delivery),
        Err(e @ (WebhookError::Invalid(_) | WebhookError::Secret(_))) => {
            bad(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string())
        }
        Err(e @ WebhookError::Delivery(_)) => bad(StatusCode::BAD_GATEWAY, &e.to_string()),
    }
}

async fn reset(State(c): Ctl) -> Reply {
    c.reset();
    ok(&json!({"reset": true}))
}

fn clock_json(c: &Control) -> Value {
    json!({
        "now": crate::clock::rfc3339(c.now()),
        "offset_s": c.clock_offset().whole_seconds(),
    })
}

async fn clock(State(c): Ctl) -> Reply {
    ok(&clock_json(&c))
}

#[derive(Deserialize)]
struct Advance {
    seconds: u64,
}

async fn advance(State(c): Ctl, Json(a): Json<Advance>) -> Reply {
    c.advance_clock(Duration::from_secs(a.seconds));
    ok(&clock_json(&c))
}

async fn settings(State(c): Ctl) -> Reply {
    ok(&c.settings())
}

/// A partial settings update.
#[derive(Deserialize)]
struct SettingsPatch {
    token_ttl_s: Option<u64>,
    draft_ttl_s: Option<u64>,
    commit_delay_ms: Option<u64>,
    jira_idempotency: Option<bool>,
    zendesk_oauth_only: Option<bool>,
    zendesk_key_ttl_s: Option<u64>,
}

async fn update_settings(State(c): Ctl, Json(p): Json<SettingsPatch>) -> Reply {
    let old = c.settings();
    c.set_settings(Settings {
        token_ttl_s: p.token_ttl_s.unwrap_or(old.token_ttl_s),
        draft_ttl_s: p.draft_ttl_s.unwrap_or(old.draft_ttl_s),
        commit_delay_ms: p.commit_delay_ms.unwrap_or(old.commit_delay_ms),
        jira_idempotency: p.jira_idempotency.unwrap_or(old.jira_idempotency),
        zendesk_oauth_only: p.zendesk_oauth_only.unwrap_or(old.zendesk_oauth_only),
        zendesk_key_ttl_s: p.zendesk_key_ttl_s.unwrap_or(old.zendesk_key_ttl_s),
    });
    ok(&c.settings())
}

async fn vault(
    State(c): Ctl,
    Path((mount, path)): Path<(String, String)>,
    Json(data): Json<Map<String, Value>>,
) -> Reply {
    let version = c.set_vault_secret(&mount, &path, data);
    ok(&json!({"mount": mount, "path": path, "version": version}))
}

#[derive(Deserialize)]
struct StatusBody {
    status: String,
}

async fn transaction_status(State(c): Ctl, Path(id): Path<String>, Json(b): Json<StatusBody>) -> Reply {
    if c.set_transaction_status(&id, &b.status) {
        ok(&json!({"id": id, "status": b.status}))
    } else {
        bad(StatusCode::NOT_FOUND, "no such transaction")
    }
}

#[derive(Deserialize)]
struct CopiesBody {
    count: u64,
}

/// `POST /_sim/transactions/copies {"count": N}`: N copies of `TXN-5001` under fresh ids.
async fn transaction_copies(State(c): Ctl, Json(b): Json<CopiesBody>) -> Reply {
    const MAX: u64 = 1_000_000;
    if b.count == 0 || b.count > MAX {
        return bad(StatusCode::UNPROCESSABLE_ENTITY, "count must be within 1..=1000000");
    }
    match c.add_transactions(b.count) {
        Some((first, last)) => ok(&json!({"first": format!("TXN-{first}"), "last": format!("TXN-{last}"),
                                         "first_number": first, "last_number": last})),
        None => bad(StatusCode::CONFLICT, "the seeded TXN-5001 is gone"),
    }
}
