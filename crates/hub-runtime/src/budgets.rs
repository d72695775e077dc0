//! Each adapter's rate budget as `/readyz` and the supervisor's page show it, read from its endpoint.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hub_app::health::{BudgetStates, BudgetView};
use hub_config::Config;
use hub_resilience::rate_budget::Snapshot;
use hub_upstream::Endpoint;

/// The budgets of a composed hub's endpoints ([`crate::Composed::budgets`]).
pub struct EndpointBudgets(Vec<Rated>);

/// One endpoint with a budget, and the ceiling it was configured with.
struct Rated {
    endpoint: Arc<Endpoint>,
    store: &'static str,
    requests_per_s: f64,
    burst: u32,
}

impl EndpointBudgets {
    /// The endpoints among `endpoints` whose adapter has `[adapters.X.rate]`; `shared` when
    /// `[store] redis_url` makes every budget a shared one.
    pub fn new(config: &Config, shared: bool, endpoints: &[Arc<Endpoint>]) -> Self {
        let rated = config
            .adapters
            .iter()
            .into_iter()
            .filter_map(|(name, a)| {
                let rate = a.rate.as_ref()?;
                let endpoint = endpoints.iter().find(|e| e.adapter() == name)?;
                Some(Rated {
                    endpoint: Arc::clone(endpoint),
                    store: if shared { "redis" } else { "local" },
                    requests_per_s: rate.requests_per_s,
                    burst: rate.burst,
                })
            })
            .collect();
        Self(rated)
    }
}

#[async_trait]
impl BudgetStates for EndpointBudgets {
    async fn budgets(&self) -> Vec<(String, BudgetView)> {
        let mut views = Vec::with_capacity(self.0.len());
        for r in &self.0 {
            if let Some(snapshot) = r.endpoint.rate_snapshot().await {
                let view = view(r.store, r.requests_per_s, r.burst, &snapshot);
                views.push((r.endpoint.adapter().to_owned(), view));
            }
        }
        views
    }
}

/// What `snapshot` says, as requests per second and milliseconds.
pub fn view(store: &'static str, requests_per_s: f64, burst: u32, snapshot: &Snapshot) -> BudgetView {
    let per_s = |interval: Duration| {
        let s = interval.as_secs_f64();
        if s > 0.0 { 1.0 / s } else { requests_per_s }
    };
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    BudgetView {
        store,
        requests_per_s,
        burst,
        effective_requests_per_s: per_s(snapshot.interval).min(requests_per_s),
        remaining: snapshot.remaining,
        paused_for_ms: ms(snapshot.paused_for),
        learned_requests_per_s: snapshot.quota_interval.map(per_s),
        window_requests_per_s: snapshot.window_interval.map(per_s),
        window_resets_in_ms: snapshot.window_resets_in.map(ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_as_rates_and_a_pause_in_milliseconds() {
        let snapshot = Snapshot {
            remaining: 3,
            interval: Duration::from_millis(500),
            paused_for: Duration::from_millis(1_500),
            quota_interval: Some(Duration::from_millis(250)),
            window_interval: Some(Duration::from_secs(2)),
            window_resets_in: Some(Duration::from_secs(40)),
        };
        let v = view("redis", 10.0, 20, &snapshot);
        assert_eq!(v.effective_requests_per_s, 2.0);
        assert_eq!(v.learned_requests_per_s, Some(4.0));
        assert_eq!(v.window_requests_per_s, Some(0.5));
        assert_eq!(
            (v.window_resets_in_ms, v.paused_for_ms, v.remaining),
            (Some(40_000), 1_500, 3)
        );
        assert_eq!((v.store, v.requests_per_s, v.burst), ("redis", 10.0, 20));
    }

    #[test]
    fn nothing_learned_shows_the_ceiling() {
        let snapshot = Snapshot {
            interval: Duration::from_millis(100),
            ..Snapshot::default()
        };
        let v = view("local", 10.0, 5, &snapshot);
        assert_eq!(v.effective_requests_per_s, 10.0);
        assert_eq!(
            (v.learned_requests_per_s, v.window_requests_per_s, v.window_resets_in_ms),
            (None, None, None)
        );
        // A zero interval (never the case for a configured budget) reads as the ceiling.
        assert_eq!(
            view("local", 10.0, 5, &Snapshot::default()).effective_requests_per_s,
            10.0
        );
    }
}
