//! The control handle: faults, ledger, webhooks, reset and the simulated clock, for tests in-process.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::config::Settings;
use crate::faults::{ActiveFault, FaultKind, FaultRule, InvalidFault};
use crate::ledger::{EffectFilter, EffectRecord, RequestFilter, RequestRecord, TokenCounters};
use crate::rate_limits::{ActiveRateLimit, RateLimit};
use crate::state::{SimState, lock};
use crate::system::System;
use crate::systems::notify::Notification;
use crate::systems::transactions;
use crate::webhooks::{WebhookDelivery, WebhookError, WebhookRequest};

/// Fewer records than wanted arrived in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("waited for {wanted} records, found {found}")]
pub struct WaitTimeout {
    /// How many were wanted.
    pub wanted: usize,
    /// How many there were at the deadline.
    pub found: usize,
}

/// Controls a running simulation; cheap to clone. The HTTP control API under `/_sim/` offers the same.
///
/// ```
/// use std::time::Duration;
/// use hub_sim::{RequestFilter, Settings, Sim, SimConfig, System};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sim = Sim::start(SimConfig::default()).await.unwrap();
/// let control = sim.control();
/// control.set_outage(System::Sales, true);
/// control.set_settings(Settings { token_ttl_s: 1, ..control.settings() });
/// control.advance_clock(Duration::from_secs(2)); // every issued token has now expired
/// let sales_requests = control.requests(&RequestFilter { system: Some(System::Sales), ..Default::default() });
/// assert!(sales_requests.is_empty());
/// control.reset();
/// assert!(control.faults().is_empty());
/// # }
/// ```
#[derive(Clone)]
pub struct Control {
    state: Arc<SimState>,
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Control")
            .field("base_url", &self.state.base_url)
            .finish()
    }
}

impl Control {
    pub(crate) fn new(state: Arc<SimState>) -> Self {
        Self { state }
    }

    /// Adds a fault rule; returns its id.
    pub fn add_fault(&self, rule: FaultRule) -> Result<u64, InvalidFault> {
        self.state.faults.add(rule)
    }

    /// Removes one fault rule; false when there was none with that id.
    pub fn remove_fault(&self, id: u64) -> bool {
        self.state.faults.remove(id)
    }

    /// Removes every fault rule of one system, or all; returns how many went.
    pub fn clear_faults(&self, system: Option<System>) -> usize {
        self.state.faults.clear(system)
    }

    /// The active fault rules, with how often each fired.
    pub fn faults(&self) -> Vec<ActiveFault> {
        self.state.faults.list()
    }

    /// Switches a system's total outage on or off.
    pub fn set_outage(&self, system: System, down: bool) {
        if down {
            if !self.is_down(system) {
                // An outage rule has no numbers to validate.
                let _ = self.state.faults.add(FaultRule::new(FaultKind::Outage).system(system));
            }
        } else {
            self.state.faults.remove_outage(system);
        }
    }

    fn is_down(&self, system: System) -> bool {
        self.faults()
            .iter()
            .any(|f| f.rule.kind == FaultKind::Outage && f.rule.system == Some(system))
    }

    /// Limits every credential of `system` to `limit` requests per window (`None`: no
    /// limit, the default), announced in the system's header style ([`crate::RateStyle`]);
    /// over it the system answers 429 with `Retry-After`. Windows start afresh.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use hub_sim::{RateLimit, Sim, SimConfig, System};
    /// let sim = Sim::start(SimConfig::default()).await.unwrap();
    /// sim.control().set_rate_limit(System::Zendesk, Some(RateLimit::new(100, 60)));
    /// assert_eq!(sim.control().rate_limits()[&System::Zendesk].limit, RateLimit::new(100, 60));
    /// assert!(sim.control().rate_limited().is_empty());
    /// # }
    /// ```
    pub fn set_rate_limit(&self, system: System, limit: Option<RateLimit>) {
        self.state.rate_limits.set(system, limit);
    }

    /// The systems with a rate limit.
    pub fn rate_limits(&self) -> BTreeMap<System, ActiveRateLimit> {
        self.state.rate_limits.list()
    }

    /// 429s sent because a rate limit was exceeded, per system, since the last reset.
    pub fn rate_limited(&self) -> BTreeMap<System, u64> {
        self.state.ledger.rate_limited()
    }

    /// Re-seeds the fault dice.
    pub fn set_seed(&self, seed: u64) {
        self.state.faults.set_seed(seed);
    }

    /// Request records matching the filter, oldest first.
    pub fn requests(&self, filter: &RequestFilter) -> Vec<RequestRecord> {
        self.state.ledger.requests(filter)
    }

    /// Effect records matching the filter, oldest first.
    pub fn effects(&self, filter: &EffectFilter) -> Vec<EffectRecord> {
        self.state.ledger.effects(filter)
    }

    /// How many ledger records (requests or effects) were dropped for lack of room.
    pub fn dropped_records(&self) -> u64 {
        self.state.ledger.dropped()
    }

    /// Waits until at least `count` requests match, for at most `timeout`, without polling.
    pub async fn wait_for_requests(
        &self,
        filter: &RequestFilter,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<RequestRecord>, WaitTimeout> {
        self.wait(count, timeout, || self.requests(filter)).await
    }

    /// Waits until at least `count` effects match, for at most `timeout`, without polling.
    ///
    /// For effects that happen in the background (a DLQ replay, a retry after a backoff).
    pub async fn wait_for_effects(
        &self,
        filter: &EffectFilter,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<EffectRecord>, WaitTimeout> {
        self.wait(count, timeout, || self.effects(filter)).await
    }

    /// Waits until the sink holds at least `count` notifications, for at most `timeout`.
    pub async fn wait_for_notifications(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<Notification>, WaitTimeout> {
        self.wait(count, timeout, || self.notifications()).await
    }

    async fn wait<T>(&self, count: usize, timeout: Duration, read: impl Fn() -> Vec<T>) -> Result<Vec<T>, WaitTimeout> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.state.ledger.on_change();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let found = read();
            if found.len() >= count {
                return Ok(found);
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Err(WaitTimeout {
                    wanted: count,
                    found: found.len(),
                });
            }
        }
    }

    /// Token requests of both OAuth2 systems.
    pub fn token_requests(&self) -> TokenCounters {
        self.state.token_counters()
    }

    /// Notifications the sink received, oldest first.
    pub fn notifications(&self) -> Vec<Notification> {
        lock(&self.state.notifications).clone()
    }

    /// Sends a signed webhook and returns what was sent and answered.
    pub async fn send_webhook(&self, request: WebhookRequest) -> Result<WebhookDelivery, WebhookError> {
        crate::webhooks::send(&self.state, request).await
    }

    /// Back to the starting state: seeded data, initial settings, no faults, empty ledger, clock on time.
    pub fn reset(&self) {
        self.state.reset();
    }

    /// Moves the simulated clock forward (token and draft expiry use it).
    pub fn advance_clock(&self, by: Duration) {
        self.state
            .clock
            .advance(time::Duration::try_from(by).unwrap_or(time::Duration::MAX));
    }

    /// The simulated current time.
    pub fn now(&self) -> OffsetDateTime {
        self.state.clock.now()
    }

    /// How far the simulated clock is ahead of the wall clock.
    pub fn clock_offset(&self) -> time::Duration {
        self.state.clock.offset()
    }

    /// The run-time settings.
    pub fn settings(&self) -> Settings {
        self.state.settings()
    }

    /// Replaces the run-time settings (a token TTL below 1 s is raised to 1 s).
    pub fn set_settings(&self, mut settings: Settings) {
        settings.token_ttl_s = settings.token_ttl_s.max(1);
        self.state.set_settings(settings);
    }

    /// Replaces the fields on the Jira project's create screen (by default a new Jira
    /// Software project's, plus `customfield_10050`); a create sending any other field
    /// gets Jira's 400 "Field '…' cannot be set. It is not on the appropriate screen, or
    /// unknown." A reset restores the default.
    pub fn set_jira_create_screen(&self, fields: &[&str]) {
        lock(&self.state.jira).set_screen(fields);
    }

    /// Writes a Vault KV v2 secret (a new version); returns the version.
    pub fn set_vault_secret(&self, mount: &str, path: &str, data: Map<String, Value>) -> u64 {
        let now = self.state.clock.now();
        lock(&self.state.vault).put(mount, path, data, now)
    }

    /// Sets a transaction's status in the status system; false when there is no such transaction.
    pub fn set_transaction_status(&self, id: &str, status: &str) -> bool {
        transactions::set_status(&self.state, id, status)
    }

    /// Adds `count` copies of the seeded `TXN-5001` under fresh ids `TXN-<n>` (for load
    /// tests that need many distinct transactions); returns the first and last `n`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sim = hub_sim::Sim::start(hub_sim::SimConfig::default()).await.unwrap();
    /// assert_eq!(sim.control().add_transactions(3), Some((5008, 5010)));
    /// assert_eq!(sim.control().add_transactions(0), None);
    /// sim.shutdown().await;
    /// # }
    /// ```
    pub fn add_transactions(&self, count: u64) -> Option<(u64, u64)> {
        transactions::add_copies(&self.state, count)
    }

    /// What the simulation serves: base URL, systems, credentials and seeded ids.
    pub fn info(&self) -> Value {
        crate::info::info(&self.state)
    }
}
