//! Readiness: whether the hub's own stores answer in time, and each adapter's circuit.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hub_core::{AuditLog, AuditQuery, Cache, DeadLetterQueue, StoreError};
use serde::Serialize;

/// A circuit breaker's state as `/readyz` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    /// Calls go through.
    Closed,
    /// Calls fail fast.
    Open,
    /// One probe is let through.
    HalfOpen,
}

/// Each adapter's circuit state, for `/readyz` (implemented by the composition over hub-resilience's breakers).
pub trait CircuitStates: Send + Sync {
    /// `(adapter name, state)` for every adapter.
    fn circuits(&self) -> Vec<(String, CircuitState)>;
}

/// Any function listing the circuits is a source (e.g. a closure over the adapters' breakers).
impl<F: Fn() -> Vec<(String, CircuitState)> + Send + Sync> CircuitStates for F {
    fn circuits(&self) -> Vec<(String, CircuitState)> {
        self()
    }
}

/// No breakers known (tests, or before the adapters are wired).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCircuits;

impl CircuitStates for NoCircuits {
    fn circuits(&self) -> Vec<(String, CircuitState)> {
        Vec::new()
    }
}

/// One adapter's upstream rate budget as `/readyz` and the supervisor's page show it. A
/// budget is a detail of readiness, never a reason to be unready: a paused budget still
/// answers (stale reads, `429 rate_limited` with `Retry-After`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetView {
    /// Where it is kept: `redis` (every instance shares it) or `local` (this process).
    pub store: &'static str,
    /// The configured ceiling, requests per second for all instances together.
    pub requests_per_s: f64,
    /// The configured burst.
    pub burst: u32,
    /// The rate in force now: the ceiling, or lower where the vendor said so.
    pub effective_requests_per_s: f64,
    /// Writes that could be sent at once.
    pub remaining: u64,
    /// How much longer a vendor's `429` holds every call, in milliseconds (0: none).
    pub paused_for_ms: u64,
    /// The vendor's quota, learned from its rate headers, while it holds.
    pub learned_requests_per_s: Option<f64>,
    /// The vendor's current window: what it says is left, spread to the window's reset…
    pub window_requests_per_s: Option<f64>,
    /// …which comes in this many milliseconds.
    pub window_resets_in_ms: Option<u64>,
}

/// Each adapter's rate budget, for `/readyz` and the page (implemented by the composition
/// over the endpoints' budgets; adapters without a budget are left out).
#[async_trait]
pub trait BudgetStates: Send + Sync {
    /// `(adapter name, budget)` for every adapter with a budget.
    async fn budgets(&self) -> Vec<(String, BudgetView)>;
}

/// No budgets (tests, or a hub without `[adapters.X.rate]`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBudgets;

#[async_trait]
impl BudgetStates for NoBudgets {
    async fn budgets(&self) -> Vec<(String, BudgetView)> {
        Vec::new()
    }
}

/// One store `/readyz` checks.
#[async_trait]
pub trait StoreProbe: Send + Sync {
    /// The name in the readiness body (`sql`, `cache`, …).
    fn name(&self) -> &str;
    /// Whether the store answers.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Probes a [`Cache`] with its `ping`.
pub struct CacheProbe(pub Arc<dyn Cache>);

#[async_trait]
impl StoreProbe for CacheProbe {
    fn name(&self) -> &str {
        "cache"
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.0.ping().await
    }
}

/// Probes the dead-letter queue by counting pending entries.
pub struct DlqProbe(pub Arc<dyn DeadLetterQueue>);

#[async_trait]
impl StoreProbe for DlqProbe {
    fn name(&self) -> &str {
        "dlq"
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.0.pending_count().await.map(drop)
    }
}

/// Probes the audit log with a one-record query.
pub struct AuditProbe(pub Arc<dyn AuditLog>);

#[async_trait]
impl StoreProbe for AuditProbe {
    fn name(&self) -> &str {
        "audit"
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.0
            .query(&AuditQuery {
                limit: 1,
                ..AuditQuery::default()
            })
            .await
            .map(drop)
    }
}

/// One adapter as the supervisor sees it: its circuit (when it has a breaker) and its
/// calls in the error-rate window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdapterHealth<'a> {
    /// The adapter.
    pub adapter: &'a str,
    /// Its circuit, when the adapter has a breaker.
    pub state: Option<CircuitState>,
    /// Its calls in the window.
    pub counts: crate::error_rates::Counts,
}

/// Every adapter with a circuit or with calls in the window, circuits first.
///
/// ```
/// use hub_app::ErrorRates;
/// use hub_app::health::{CircuitState, adapters};
/// let circuits = vec![("ticketing".to_owned(), CircuitState::Open)];
/// let rates = vec![("ticketing".to_owned(), Default::default()), ("sales".to_owned(), Default::default())];
/// let rows = adapters(&circuits, &rates);
/// assert_eq!(rows.iter().map(|r| (r.adapter, r.state)).collect::<Vec<_>>(),
///            [("ticketing", Some(CircuitState::Open)), ("sales", None)]);
/// ```
pub fn adapters<'a>(
    circuits: &'a [(String, CircuitState)],
    rates: &'a [(String, crate::error_rates::Counts)],
) -> Vec<AdapterHealth<'a>> {
    let counts = |adapter: &str| {
        rates
            .iter()
            .find(|(a, _)| a == adapter)
            .map(|(_, c)| *c)
            .unwrap_or_default()
    };
    let mut rows: Vec<AdapterHealth<'a>> = circuits
        .iter()
        .map(|(adapter, state)| AdapterHealth {
            adapter,
            state: Some(*state),
            counts: counts(adapter),
        })
        .collect();
    for (adapter, c) in rates {
        if !circuits.iter().any(|(a, _)| a == adapter) {
            rows.push(AdapterHealth {
                adapter,
                state: None,
                counts: *c,
            });
        }
    }
    rows
}

/// What a readiness check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// Every store answered in time.
    pub ready: bool,
    /// Each store's verdict: `ok`, `timeout` or the store error's code.
    pub stores: BTreeMap<String, String>,
}

/// Pings every store at once (concurrently), each bounded by `timeout`.
pub async fn check(probes: &[Arc<dyn StoreProbe>], timeout: Duration) -> Readiness {
    let pings = probes.iter().map(|probe| async move {
        let verdict = match tokio::time::timeout(timeout, probe.ping()).await {
            Ok(Ok(())) => "ok".to_owned(),
            Ok(Err(e)) => {
                tracing::warn!(store = probe.name(), error = %e, "store not ready");
                e.code().to_owned()
            }
            Err(_) => "timeout".to_owned(),
        };
        (probe.name().to_owned(), verdict)
    });
    let stores: BTreeMap<String, String> = futures_util::future::join_all(pings).await.into_iter().collect();
    Readiness {
        ready: stores.values().all(|v| v == "ok"),
        stores,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Slow;

    #[async_trait]
    impl StoreProbe for Slow {
        fn name(&self) -> &str {
            "slow"
        }
        async fn ping(&self) -> Result<(), StoreError> {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_store_that_does_not_answer_in_time_is_not_ready() {
        let dlq: Arc<dyn StoreProbe> = Arc::new(DlqProbe(Arc::new(hub_core::testing::MemoryDlq::default())));
        let audit: Arc<dyn StoreProbe> = Arc::new(AuditProbe(Arc::new(hub_core::testing::MemoryAudit::default())));
        let ready = check(&[dlq.clone(), audit.clone()], Duration::from_secs(2)).await;
        assert!(ready.ready);
        let slow: Arc<dyn StoreProbe> = Arc::new(Slow);
        let not = check(&[dlq, slow], Duration::from_secs(2)).await;
        assert!(!not.ready);
        assert_eq!(not.stores["slow"], "timeout");
        assert_eq!(not.stores["dlq"], "ok");
    }
}
