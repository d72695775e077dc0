//! Fault rules set at run time, and the seeded dice that decide which requests they hit.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::system::System;

/// What a fault does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer with a 5xx (`status`, default 503) without running the route.
    Error,
    /// Answer 429, with `Retry-After` when `retry_after_s` or `retry_after` is set.
    RateLimit,
    /// Close the connection without an answer (before the route runs, or after with `after_handler`).
    Reset,
    /// Accept the request and never answer, until the client gives up or `ms` (default: the
    /// configured `hang_max`) passes, then close the connection.
    Hang,
    /// Add `ms` of latency, then go on (other rules still apply).
    Latency,
    /// Answer 200 with a body that is not JSON, without running the route (with
    /// `after_handler`: run the route, then answer its status with that body).
    MalformedJson,
    /// Run the route, then cut its JSON body in half (with a matching `Content-Length`).
    TruncatedJson,
    /// The whole system is down: 503 from every route, as a load balancer in front would say.
    Outage,
    /// Run the route (its effects happen), then change its JSON answer: remove the fields
    /// at the JSON pointers in `remove`, set those in `set` (a field the route did not
    /// send is added). An answer an independent implementation might give.
    Reshape,
}

/// One fault rule: which requests it matches, how often it fires, what it does.
///
/// Built with [`FaultRule::new`] and the builder methods, or posted as JSON to
/// `/_sim/faults`:
///
/// ```
/// use hub_sim::{FaultKind, FaultRule, System};
/// let rule = FaultRule::new(FaultKind::RateLimit)
///     .system(System::Zendesk)
///     .route("POST", "/api/v2/tickets")
///     .retry_after_s(2)
///     .times(1);
/// let json = serde_json::to_value(&rule).unwrap();
/// assert_eq!(json["kind"], "rate_limit");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// What the fault does.
    pub kind: FaultKind,
    /// The system it applies to; `None` for all.
    #[serde(default)]
    pub system: Option<System>,
    /// HTTP method to match (`"POST"`); `None` for any.
    #[serde(default)]
    pub method: Option<String>,
    /// Route to match, relative to the system's prefix: a route template such as
    /// `/api/v2/tickets/{id}`, a concrete path, or a prefix ending in `*`; `None` for any.
    #[serde(default)]
    pub route: Option<String>,
    /// Probability in `0..=1` that a matching request is hit (default 1).
    #[serde(default)]
    pub rate: Option<f64>,
    /// Fire at most this many times, then stop matching.
    #[serde(default)]
    pub times: Option<u64>,
    /// `error`: the status to answer (500..=599, default 503).
    #[serde(default)]
    pub status: Option<u16>,
    /// `rate_limit`: `Retry-After` in seconds.
    #[serde(default)]
    pub retry_after_s: Option<u64>,
    /// `rate_limit`: `Retry-After` sent verbatim (e.g. an HTTP date); wins over `retry_after_s`.
    #[serde(default)]
    pub retry_after: Option<String>,
    /// `latency`: the delay; `hang`: the longest it hangs, in milliseconds.
    #[serde(default)]
    pub ms: Option<u64>,
    /// `reset`, `hang` and `malformed_json`: run the route first (its effects happen), then fail.
    #[serde(default)]
    pub after_handler: bool,
    /// `reshape`: JSON pointers (`/currency`, `/ticket/id`) of fields to remove from the answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
    /// `reshape`: JSON pointers and the values to put there.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub set: std::collections::BTreeMap<String, serde_json::Value>,
}

impl FaultRule {
    /// A rule of this kind matching every request of every system.
    pub fn new(kind: FaultKind) -> Self {
        Self {
            kind,
            system: None,
            method: None,
            route: None,
            rate: None,
            times: None,
            status: None,
            retry_after_s: None,
            retry_after: None,
            ms: None,
            after_handler: false,
            remove: Vec::new(),
            set: std::collections::BTreeMap::new(),
        }
    }

    /// Makes a `reshape` fault remove the field at `pointer` from the answer.
    #[must_use]
    pub fn remove(mut self, pointer: &str) -> Self {
        self.remove.push(pointer.to_owned());
        self
    }

    /// Makes a `reshape` fault set the field at `pointer` to `value`.
    #[must_use]
    pub fn set(mut self, pointer: &str, value: serde_json::Value) -> Self {
        self.set.insert(pointer.to_owned(), value);
        self
    }

    /// Restricts the rule to one system.
    #[must_use]
    pub fn system(mut self, system: System) -> Self {
        self.system = Some(system);
        self
    }

    /// Restricts the rule to one method and route (relative to the system's prefix).
    #[must_use]
    pub fn route(mut self, method: &str, route: &str) -> Self {
        self.method = Some(method.to_owned());
        self.route = Some(route.to_owned());
        self
    }

    /// Sets the probability that a matching request is hit.
    #[must_use]
    pub fn rate(mut self, rate: f64) -> Self {
        self.rate = Some(rate);
        self
    }

    /// Fires at most `n` times.
    #[must_use]
    pub fn times(mut self, n: u64) -> Self {
        self.times = Some(n);
        self
    }

    /// Sets the 5xx status of an `error` fault.
    #[must_use]
    pub fn status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Sets `Retry-After` (seconds) of a `rate_limit` fault.
    #[must_use]
    pub fn retry_after_s(mut self, secs: u64) -> Self {
        self.retry_after_s = Some(secs);
        self
    }

    /// Sets the milliseconds of a `latency` or `hang` fault.
    #[must_use]
    pub fn ms(mut self, ms: u64) -> Self {
        self.ms = Some(ms);
        self
    }

    /// Makes a `reset` or `hang` fault run the route first.
    #[must_use]
    pub fn after_handler(mut self) -> Self {
        self.after_handler = true;
        self
    }

    /// Checks the rule's numbers.
    pub fn validate(&self) -> Result<(), InvalidFault> {
        if let Some(rate) = self.rate
            && !(0.0..=1.0).contains(&rate)
        {
            return Err(InvalidFault("rate must be within 0..=1"));
        }
        if let Some(status) = self.status
            && !(500..=599).contains(&status)
        {
            return Err(InvalidFault("status must be a 5xx"));
        }
        if self.kind == FaultKind::Latency && self.ms.is_none() {
            return Err(InvalidFault("latency needs ms"));
        }
        if self.kind == FaultKind::Reshape && self.remove.is_empty() && self.set.is_empty() {
            return Err(InvalidFault("reshape needs remove or set"));
        }
        let pointers = self.remove.iter().chain(self.set.keys());
        if pointers.clone().any(|p| !p.starts_with('/')) {
            return Err(InvalidFault("reshape pointers start with /"));
        }
        Ok(())
    }

    fn matches(&self, system: System, method: &str, route: &str, path: &str) -> bool {
        if self.system.is_some_and(|s| s != system) {
            return false;
        }
        if self.kind == FaultKind::Outage {
            return true;
        }
        if self.method.as_deref().is_some_and(|m| !m.eq_ignore_ascii_case(method)) {
            return false;
        }
        match self.route.as_deref() {
            None => true,
            Some(want) => match want.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => want == route || want == path,
            },
        }
    }
}

/// A fault rule with numbers out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault rule: {0}")]
pub struct InvalidFault(pub &'static str);

/// A rule as listed by the control API, with its id and how often it fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveFault {
    /// Id for `DELETE /_sim/faults/{id}`.
    pub id: u64,
    /// How many requests it hit so far.
    pub fired: u64,
    /// The rule.
    pub rule: FaultRule,
}

/// What the faults decided for one request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Plan {
    /// Latency to add before anything else.
    pub(crate) latency: Duration,
    /// The fault that takes over the answer, if any.
    pub(crate) action: Option<Action>,
}

/// A fault that takes over the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    Error(u16),
    RateLimit(Option<String>),
    Reset {
        after_handler: bool,
    },
    Hang {
        after_handler: bool,
        max: Duration,
    },
    Malformed {
        after_handler: bool,
    },
    Truncated,
    Outage,
    Reshape {
        remove: Vec<String>,
        set: std::collections::BTreeMap<String, serde_json::Value>,
    },
}

impl Action {
    pub(crate) fn kind(&self) -> FaultKind {
        match self {
            Action::Error(_) => FaultKind::Error,
            Action::RateLimit(_) => FaultKind::RateLimit,
            Action::Reset { .. } => FaultKind::Reset,
            Action::Hang { .. } => FaultKind::Hang,
            Action::Malformed { .. } => FaultKind::MalformedJson,
            Action::Truncated => FaultKind::TruncatedJson,
            Action::Outage => FaultKind::Outage,
            Action::Reshape { .. } => FaultKind::Reshape,
        }
    }
}

struct Slot {
    fault: ActiveFault,
    rng: StdRng,
}

struct Inner {
    seed: u64,
    next_id: u64,
    slots: Vec<Slot>,
}

/// The active fault rules; each rule rolls its own dice, seeded from the sim's seed and its id.
pub(crate) struct Faults {
    inner: Mutex<Inner>,
    /// How many rules exist, so a request with no rules set takes no lock.
    active: AtomicUsize,
    hang_max: Duration,
}

fn rng_for(seed: u64, id: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

impl Faults {
    pub(crate) fn new(seed: u64, hang_max: Duration) -> Self {
        Self {
            inner: Mutex::new(Inner {
                seed,
                next_id: 1,
                slots: Vec::new(),
            }),
            active: AtomicUsize::new(0),
            hang_max,
        }
    }

    fn count(&self, inner: &Inner) {
        self.active.store(inner.slots.len(), Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn add(&self, rule: FaultRule) -> Result<u64, InvalidFault> {
        rule.validate()?;
        let mut inner = self.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        let rng = rng_for(inner.seed, id);
        inner.slots.push(Slot {
            fault: ActiveFault { id, fired: 0, rule },
            rng,
        });
        self.count(&inner);
        Ok(id)
    }

    pub(crate) fn remove(&self, id: u64) -> bool {
        let mut inner = self.lock();
        let before = inner.slots.len();
        inner.slots.retain(|s| s.fault.id != id);
        self.count(&inner);
        inner.slots.len() != before
    }

    /// Removes every rule of one system (or all rules); returns how many went.
    pub(crate) fn clear(&self, system: Option<System>) -> usize {
        let mut inner = self.lock();
        let before = inner.slots.len();
        match system {
            Some(sys) => inner.slots.retain(|s| s.fault.rule.system != Some(sys)),
            None => inner.slots.clear(),
        }
        self.count(&inner);
        before - inner.slots.len()
    }

    /// Removes the outage rules of a system; returns how many went.
    pub(crate) fn remove_outage(&self, system: System) -> usize {
        let mut inner = self.lock();
        let before = inner.slots.len();
        inner
            .slots
            .retain(|s| !(s.fault.rule.kind == FaultKind::Outage && s.fault.rule.system == Some(system)));
        self.count(&inner);
        before - inner.slots.len()
    }

    pub(crate) fn list(&self) -> Vec<ActiveFault> {
        self.lock().slots.iter().map(|s| s.fault.clone()).collect()
    }

    /// Re-seeds the dice of every rule (present and future).
    pub(crate) fn set_seed(&self, seed: u64) {
        let mut inner = self.lock();
        inner.seed = seed;
        for slot in &mut inner.slots {
            slot.rng = rng_for(seed, slot.fault.id);
        }
    }

    pub(crate) fn reset(&self, seed: u64) {
        let mut inner = self.lock();
        inner.seed = seed;
        inner.next_id = 1;
        inner.slots.clear();
        self.count(&inner);
    }

    /// Decides what happens to a request; `route` is the matched template, `path` the concrete path.
    pub(crate) fn plan(&self, system: System, method: &str, route: &str, path: &str) -> Plan {
        let mut plan = Plan::default();
        if self.active.load(Ordering::Relaxed) == 0 {
            return plan;
        }
        let mut inner = self.lock();
        for slot in &mut inner.slots {
            let rule = &slot.fault.rule;
            if rule.times.is_some_and(|n| slot.fault.fired >= n) || !rule.matches(system, method, route, path) {
                continue;
            }
            let is_latency = rule.kind == FaultKind::Latency;
            if !is_latency && plan.action.is_some() {
                continue;
            }
            let rate = rule.rate.unwrap_or(1.0);
            let hit = rate >= 1.0 || slot.rng.random::<f64>() < rate;
            if !hit {
                continue;
            }
            slot.fault.fired += 1;
            let rule = &slot.fault.rule;
            let action = match rule.kind {
                FaultKind::Latency => {
                    plan.latency += Duration::from_millis(rule.ms.unwrap_or(0));
                    continue;
                }
                FaultKind::Error => Action::Error(rule.status.unwrap_or(503)),
                FaultKind::RateLimit => Action::RateLimit(
                    rule.retry_after
                        .clone()
                        .or_else(|| rule.retry_after_s.map(|s| s.to_string())),
                ),
                FaultKind::Reset => Action::Reset {
                    after_handler: rule.after_handler,
                },
                FaultKind::Hang => Action::Hang {
                    after_handler: rule.after_handler,
                    max: rule.ms.map_or(self.hang_max, Duration::from_millis),
                },
                FaultKind::MalformedJson => Action::Malformed {
                    after_handler: rule.after_handler,
                },
                FaultKind::TruncatedJson => Action::Truncated,
                FaultKind::Outage => Action::Outage,
                FaultKind::Reshape => Action::Reshape {
                    remove: rule.remove.clone(),
                    set: rule.set.clone(),
                },
            };
            plan.action = Some(action);
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sequence(seed: u64) -> Vec<bool> {
        let faults = Faults::new(seed, Duration::from_secs(1));
        faults
            .add(FaultRule::new(FaultKind::Error).system(System::Generic).rate(0.5))
            .unwrap();
        (0..64)
            .map(|_| {
                faults
                    .plan(System::Generic, "GET", "/tickets/{id}", "/tickets/1")
                    .action
                    .is_some()
            })
            .collect()
    }

    #[test]
    fn same_seed_same_sequence() {
        assert_eq!(sequence(42), sequence(42));
        assert_ne!(sequence(42), sequence(43));
        let hits = sequence(42).iter().filter(|h| **h).count();
        assert!((16..=48).contains(&hits), "{hits}");
    }

    #[test]
    fn matching_and_times() {
        let faults = Faults::new(0, Duration::from_secs(1));
        faults
            .add(
                FaultRule::new(FaultKind::RateLimit)
                    .system(System::Zendesk)
                    .route("POST", "/api/v2/tickets")
                    .retry_after_s(3)
                    .times(2),
            )
            .unwrap();
        faults.add(FaultRule::new(FaultKind::Latency).ms(5)).unwrap();
        let p = faults.plan(System::Zendesk, "GET", "/api/v2/tickets/{id}", "/api/v2/tickets/1");
        assert_eq!(p.action, None);
        assert_eq!(p.latency, Duration::from_millis(5));
        for _ in 0..2 {
            let p = faults.plan(System::Zendesk, "POST", "/api/v2/tickets", "/api/v2/tickets");
            assert_eq!(p.action, Some(Action::RateLimit(Some("3".to_owned()))));
        }
        assert_eq!(
            faults
                .plan(System::Zendesk, "POST", "/api/v2/tickets", "/api/v2/tickets")
                .action,
            None
        );
        assert_eq!(faults.list()[0].fired, 2);
    }

    #[test]
    fn retry_after_verbatim_wins() {
        let faults = Faults::new(0, Duration::from_secs(1));
        let mut rule = FaultRule::new(FaultKind::RateLimit).retry_after_s(5);
        rule.retry_after = Some("Wed, 21 Oct 2026 07:28:00 GMT".to_owned());
        faults.add(rule).unwrap();
        let plan = faults.plan(System::Jira, "GET", "/x", "/x");
        assert_eq!(
            plan.action,
            Some(Action::RateLimit(Some("Wed, 21 Oct 2026 07:28:00 GMT".to_owned())))
        );
        let rule: FaultRule = serde_json::from_str(r#"{"kind":"hang","ms":25,"after_handler":true}"#).unwrap();
        assert_eq!(rule, FaultRule::new(FaultKind::Hang).ms(25).after_handler());
    }

    #[test]
    fn outage_covers_every_route_and_prefix_rules_match() {
        let faults = Faults::new(0, Duration::from_secs(1));
        let id = faults
            .add(
                FaultRule::new(FaultKind::Outage)
                    .system(System::Sales)
                    .route("GET", "/nothing"),
            )
            .unwrap();
        assert_eq!(
            faults.plan(System::Sales, "POST", "/x", "/x").action,
            Some(Action::Outage)
        );
        assert!(faults.remove(id));
        faults
            .add(FaultRule::new(FaultKind::Reset).route("POST", "/transactions/drafts/*"))
            .unwrap();
        assert!(
            faults
                .plan(System::Sales, "POST", "/t/{id}", "/transactions/drafts/D1/commit")
                .action
                .is_some()
        );
        assert!(
            faults
                .plan(System::Sales, "POST", "/t", "/transactions/drafts")
                .action
                .is_none()
        );
        assert!(FaultRule::new(FaultKind::Error).rate(1.5).validate().is_err());
        assert!(FaultRule::new(FaultKind::Error).status(404).validate().is_err());
    }
}
