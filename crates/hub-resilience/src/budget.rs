//! A retry budget per upstream: retries may be at most a share of recent requests plus a small floor.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::clock::{MonotonicClock, TokioClock};

/// How many retries an upstream's callers may make (tower's and Finagle's model).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetConfig {
    /// Retries allowed per request in the window (0.2 = one retry per five requests).
    pub retry_ratio: f64,
    /// Retries always allowed per second of the window, however few requests there were.
    pub min_retries_per_sec: u32,
    /// The sliding window over which requests and retries are counted (split into 10 slots).
    pub window: Duration,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            retry_ratio: 0.2,
            min_retries_per_sec: 10,
            window: Duration::from_secs(10),
        }
    }
}

const SLOTS: usize = 10;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    index: u64,
    requests: u64,
    retries: u64,
}

#[derive(Debug)]
struct Ring {
    slots: [Slot; SLOTS],
}

/// The retry budget of one upstream, shared by every call to it.
///
/// Every call deposits once ([`RetryBudget::deposit`]); every retry withdraws
/// ([`RetryBudget::try_withdraw`]), which succeeds while the retries in the window stay
/// within `min_retries_per_sec × window + retry_ratio × requests`. During an outage the
/// retries therefore add at most that share to the load instead of multiplying it.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use hub_resilience::budget::{BudgetConfig, RetryBudget};
/// use hub_resilience::clock::ManualClock;
/// let budget = RetryBudget::new(
///     BudgetConfig { retry_ratio: 0.5, min_retries_per_sec: 0, window: Duration::from_secs(10) },
///     Arc::new(ManualClock::new(0)),
/// );
/// for _ in 0..4 {
///     budget.deposit();
/// }
/// assert!(budget.try_withdraw());
/// assert!(budget.try_withdraw());
/// assert!(!budget.try_withdraw()); // 2 retries for 4 requests is the limit
/// ```
#[derive(Debug)]
pub struct RetryBudget {
    config: BudgetConfig,
    clock: Arc<dyn MonotonicClock>,
    epoch: Instant,
    slot_len: Duration,
    ring: Mutex<Ring>,
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self::new(BudgetConfig::default(), Arc::new(TokioClock::new()))
    }
}

impl RetryBudget {
    /// A budget on `clock`.
    pub fn new(config: BudgetConfig, clock: Arc<dyn MonotonicClock>) -> Self {
        let window = config.window.max(Duration::from_millis(SLOTS as u64));
        Self {
            config: BudgetConfig { window, ..config },
            epoch: clock.instant(),
            clock,
            slot_len: window / SLOTS as u32,
            ring: Mutex::new(Ring {
                slots: [Slot::default(); SLOTS],
            }),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &BudgetConfig {
        &self.config
    }

    /// Counts one request (a call's first attempt).
    pub fn deposit(&self) {
        self.with_slot(|slot, _| {
            slot.requests = slot.requests.saturating_add(1);
        });
    }

    /// Takes one retry from the budget; `false` when it is spent (do not retry).
    pub fn try_withdraw(&self) -> bool {
        let config = self.config;
        self.with_slot(|slot, (requests, retries)| {
            let floor = f64::from(config.min_retries_per_sec) * config.window.as_secs_f64();
            #[allow(clippy::cast_precision_loss)]
            let allowed = floor + config.retry_ratio.max(0.0) * requests as f64;
            #[allow(clippy::cast_precision_loss)]
            let ok = (retries as f64) + 1.0 <= allowed;
            if ok {
                slot.retries = slot.retries.saturating_add(1);
            }
            ok
        })
    }

    /// Requests and retries counted in the current window.
    pub fn counts(&self) -> (u64, u64) {
        self.with_slot(|_, counts| counts)
    }

    /// Runs `f` on the current slot with the window's (requests, retries) before it.
    fn with_slot<R>(&self, f: impl FnOnce(&mut Slot, (u64, u64)) -> R) -> R {
        let elapsed = self.clock.instant().saturating_duration_since(self.epoch);
        let index = u64::try_from(elapsed.as_nanos() / self.slot_len.as_nanos().max(1)).unwrap_or(u64::MAX);
        let mut ring = self.ring.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (mut requests, mut retries) = (0, 0);
        for s in &ring.slots {
            if s.index <= index && index - s.index < SLOTS as u64 {
                requests += s.requests;
                retries += s.retries;
            }
        }
        let pos = usize::try_from(index % SLOTS as u64).unwrap_or(0);
        let slot = &mut ring.slots[pos];
        if slot.index != index {
            *slot = Slot {
                index,
                ..Slot::default()
            };
        }
        f(slot, (requests, retries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Deposit,
        Withdraw,
        Advance(u64),
    }

    proptest! {
        /// The budget against a model that keeps every event with its slot number.
        #[test]
        fn budget_matches_the_model(
            ratio in 0.0f64..1.0,
            floor in 0u32..3,
            window_s in 1u64..20,
            ops in proptest::collection::vec(prop_oneof![
                4 => Just(Op::Deposit), 4 => Just(Op::Withdraw), 1 => (0u64..5_000).prop_map(Op::Advance)
            ], 1..200),
        ) {
            let clock = Arc::new(ManualClock::new(0));
            let config = BudgetConfig { retry_ratio: ratio, min_retries_per_sec: floor, window: Duration::from_secs(window_s) };
            let budget = RetryBudget::new(config, clock.clone());
            let slot_ms = window_s * 1_000 / SLOTS as u64;
            let mut now_ms = 0u64;
            let mut events: Vec<(u64, bool)> = Vec::new(); // (slot, is_retry)
            for op in ops {
                let slot = now_ms / slot_ms;
                let live = |events: &Vec<(u64, bool)>, retry: bool| {
                    events.iter().filter(|(s, r)| *r == retry && slot - s < SLOTS as u64).count() as f64
                };
                match op {
                    Op::Deposit => { budget.deposit(); events.push((slot, false)); }
                    Op::Withdraw => {
                        let want = live(&events, true) + 1.0 <= f64::from(floor) * window_s as f64 + ratio * live(&events, false);
                        prop_assert_eq!(budget.try_withdraw(), want);
                        if want { events.push((slot, true)); }
                    }
                    Op::Advance(ms) => { clock.advance(Duration::from_millis(ms)); now_ms += ms; }
                }
            }
        }
    }

    #[test]
    fn an_outage_cannot_multiply_load() {
        let clock = Arc::new(ManualClock::new(0));
        let budget = RetryBudget::new(
            BudgetConfig {
                retry_ratio: 0.2,
                min_retries_per_sec: 1,
                window: Duration::from_secs(10),
            },
            clock.clone(),
        );
        let mut retries = 0;
        for _ in 0..1_000 {
            budget.deposit();
            // Every request fails and would retry twice.
            retries += usize::from(budget.try_withdraw());
            retries += usize::from(budget.try_withdraw());
        }
        assert_eq!(retries, 10 + 200);
        // The window slides: old requests and retries are forgotten.
        clock.advance(Duration::from_secs(10));
        assert_eq!(budget.counts(), (0, 0));
    }
}
