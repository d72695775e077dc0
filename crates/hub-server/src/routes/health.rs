//! `/healthz`, `/readyz` and `/metrics`: open operational routes.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use hub_app::health::{CircuitState, Readiness};

use crate::state::AppState;
use crate::wire::{AdapterReadiness, HealthBody, ReadyBody};

/// 200 while the process serves.
#[utoipa::path(get, path = "/healthz", tag = "operations", operation_id = "get_health", responses((status = 200, description = "Serving", body = HealthBody)))]
pub async fn healthz() -> Json<HealthBody> {
    Json(HealthBody {
        status: "ok".to_owned(),
    })
}

/// 200 when every store answers, else 503; with each adapter's circuit and rate budget.
#[utoipa::path(
    get, path = "/readyz", tag = "operations", operation_id = "get_readiness",
    responses(
        (status = 200, description = "Ready", body = ReadyBody),
        (status = 503, description = "A store does not answer", body = ReadyBody),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let Readiness { ready, stores } = hub_app::health::check(&state.probes, state.settings.probe_timeout).await;
    let mut budgets = state.budgets.budgets().await;
    let adapters = state
        .circuits
        .circuits()
        .into_iter()
        .map(|(name, s)| {
            let circuit = match s {
                CircuitState::Closed => "closed",
                CircuitState::Open => "open",
                CircuitState::HalfOpen => "half_open",
            };
            let rate = budgets
                .iter()
                .position(|(a, _)| *a == name)
                .map(|i| budgets.swap_remove(i).1);
            let circuit = circuit.to_owned();
            (name, AdapterReadiness { circuit, rate })
        })
        .collect();
    let body = ReadyBody {
        status: if ready { "ready" } else { "not_ready" }.to_owned(),
        stores,
        adapters,
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "get_metrics", responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain; version=0.0.4")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut res = state.metrics.render().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}
