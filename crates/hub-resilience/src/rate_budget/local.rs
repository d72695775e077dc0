//! The rate budget in process: [`gcra`](super::gcra)'s state per key behind one mutex, on a monotonic clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::gcra::{self, Params, State};
use super::{Admission, BudgetKey, Class, LearnedPolicy, RateBudget, RateConfig, Snapshot};
use crate::clock::MonotonicClock;

/// Above this many keys, idle ones (empty bucket, nothing learned, no pause) are dropped.
const PRUNE_ABOVE: usize = 4_096;

/// The [`RateBudget`] of one process: exact, fast, and unaware of other instances.
///
/// Time is the clock's monotonic instant, in microseconds since the budget was made,
/// so tests drive it with a manual clock or tokio's paused time.
#[derive(Debug)]
pub struct LocalBudget {
    params: Params,
    clock: Arc<dyn MonotonicClock>,
    epoch: Instant,
    states: Mutex<HashMap<BudgetKey, State>>,
}

impl LocalBudget {
    /// A budget with `config`'s ceiling (clamped, see [`Params::new`]) on `clock`.
    pub fn new(config: RateConfig, clock: Arc<dyn MonotonicClock>) -> Self {
        Self {
            params: Params::new(&config),
            epoch: clock.instant(),
            clock,
            states: Mutex::new(HashMap::new()),
        }
    }

    /// The clamped parameters in force.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Microseconds since the budget was made. Starts at 1 so that 0 keeps meaning "never".
    fn now(&self) -> u64 {
        gcra::micros(self.clock.instant().saturating_duration_since(self.epoch)).saturating_add(1)
    }

    fn with<R>(&self, key: &BudgetKey, f: impl FnOnce(&Params, &mut State, u64) -> R) -> R {
        let now = self.now();
        let mut states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        if !states.contains_key(key) {
            if states.len() > PRUNE_ABOVE {
                states.retain(|_, s| !idle(s, now));
            }
            states.insert(key.clone(), State::default());
        }
        // Looked up again rather than through `entry`, so a known key costs no allocation.
        let mut absent = State::default();
        let state = states.get_mut(key).unwrap_or(&mut absent);
        f(&self.params, state, now)
    }

    /// [`RateBudget::admit`] without the future.
    pub fn admit_now(&self, key: &BudgetKey, class: Class, max_wait: Duration) -> Admission {
        self.with(key, |p, s, now| gcra::admit(p, s, now, class, gcra::micros(max_wait)))
    }

    /// [`RateBudget::learn`] without the future.
    pub fn learn_now(&self, key: &BudgetKey, policy: &LearnedPolicy) {
        self.with(key, |p, s, now| gcra::learn(p, s, now, policy));
    }

    /// [`RateBudget::pause`] without the future.
    pub fn pause_now(&self, key: &BudgetKey, duration: Duration) {
        self.with(key, |p, s, now| gcra::pause(p, s, now, gcra::micros(duration)));
    }

    /// [`RateBudget::snapshot`] without the future.
    pub fn snapshot_now(&self, key: &BudgetKey) -> Snapshot {
        self.with(key, |p, s, now| gcra::snapshot(p, s, now))
    }
}

/// Nothing in `s` matters any more at `now`.
fn idle(s: &State, now: u64) -> bool {
    s.tat <= now && s.pause_until <= now && s.quota_until <= now && s.window_until <= now
}

#[async_trait]
impl RateBudget for LocalBudget {
    async fn admit(&self, key: &BudgetKey, class: Class, max_wait: Duration) -> Admission {
        self.admit_now(key, class, max_wait)
    }

    async fn learn(&self, key: &BudgetKey, policy: &LearnedPolicy) {
        self.learn_now(key, policy);
    }

    async fn pause(&self, key: &BudgetKey, duration: Duration) {
        self.pause_now(key, duration);
    }

    async fn snapshot(&self, key: &BudgetKey) -> Snapshot {
        self.snapshot_now(key)
    }
}
