//! Upstream rate budgets: a GCRA per vendor account, narrowed by what the vendor says,
//! paused by its `Retry-After`, with a share kept for writes.
//!
//! The port is [`RateBudget`]; [`LocalBudget`] is the in-process implementation and
//! `hub_store::RedisBudget` the one shared by every instance, both computing [`gcra`]'s
//! formula. A caller forms the [`BudgetKey`] (adapter and credential) and parses the
//! vendor's headers into a [`LearnedPolicy`]; this module knows neither.

pub mod gcra;
mod local;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

pub use local::LocalBudget;

/// The account a vendor counts requests against, as the caller names it (for example
/// `zendesk:acme.zendesk.com:token-7f3a`). Opaque here; keep secrets out of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BudgetKey(String);

impl BudgetKey {
    /// A key from the caller's identity of the account.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BudgetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a request reads or writes: reads may not use the write reserve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// A read (may be served stale instead).
    Read,
    /// A write.
    Write,
}

impl Class {
    /// `read` or `write`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }
}

/// The configured ceiling of one budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateConfig {
    /// Sustained requests per second.
    pub requests_per_s: f64,
    /// Requests that may go at once after a quiet spell.
    pub burst: u32,
    /// The share of the burst tolerance kept for writes (0.2: reads use 80 % of it).
    pub write_reserve: f64,
    /// The longest a vendor's header may pause or narrow the budget for.
    pub max_learned: Duration,
    /// How long a learned quota holds without being told again.
    pub learned_ttl: Duration,
}

impl RateConfig {
    /// The default write reserve: 20 % of the burst tolerance.
    pub const DEFAULT_WRITE_RESERVE: f64 = 0.2;

    /// `requests_per_s` with `burst`, the other fields at their defaults.
    pub fn new(requests_per_s: f64, burst: u32) -> Self {
        Self {
            requests_per_s,
            burst,
            ..Self::default()
        }
    }
}

impl Default for RateConfig {
    fn default() -> Self {
        Self {
            requests_per_s: 10.0,
            burst: 10,
            write_reserve: Self::DEFAULT_WRITE_RESERVE,
            max_learned: Duration::from_secs(3_600),
            learned_ttl: Duration::from_secs(900),
        }
    }
}

/// What a budget answers one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Send now.
    Now,
    /// A slot is reserved: send after this wait.
    Wait(Duration),
    /// No slot within the caller's wait; nothing was consumed. The earliest the request
    /// would have gone, from now.
    Refused {
        /// How long until a slot would have been free.
        retry_after: Duration,
    },
}

impl Admission {
    /// `true` unless refused.
    pub const fn is_admitted(&self) -> bool {
        !matches!(self, Self::Refused { .. })
    }

    /// The wait before sending: zero for [`Admission::Now`], `None` when refused.
    pub const fn wait(&self) -> Option<Duration> {
        match self {
            Self::Now => Some(Duration::ZERO),
            Self::Wait(d) => Some(*d),
            Self::Refused { .. } => None,
        }
    }
}

/// A long-run quota a vendor announced: `limit` requests per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Requests per window.
    pub limit: u64,
    /// The window.
    pub window: Duration,
}

/// What is left of the vendor's current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remaining {
    /// Requests left.
    pub remaining: u64,
    /// Until the window resets.
    pub resets_in: Duration,
}

/// What a vendor said about its limits, normalised from whichever header family it uses.
///
/// A budget only ever narrows by it: a quota lengthens the emission interval to
/// `window / limit`; remaining requests are spread to the reset and never exceeded
/// before it; zero remaining pauses until the reset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LearnedPolicy {
    /// The long-run quota, when announced.
    pub quota: Option<Quota>,
    /// The current window, when both what is left and when it resets are known.
    pub remaining: Option<Remaining>,
}

impl LearnedPolicy {
    /// `true` when it says nothing.
    pub fn is_empty(&self) -> bool {
        self.quota.is_none() && self.remaining.is_none()
    }

    /// One instance's share when `instances` divide the account evenly: the quota's limit
    /// and what is left divided, rounded down (a quota keeps at least one request; a share
    /// of nothing left is a pause until the reset), the windows as they are.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hub_resilience::rate_budget::{LearnedPolicy, Quota, Remaining};
    /// let said = LearnedPolicy {
    ///     quota: Some(Quota { limit: 100, window: Duration::from_secs(60) }),
    ///     remaining: Some(Remaining { remaining: 7, resets_in: Duration::from_secs(20) }),
    /// };
    /// let share = said.share(3);
    /// assert_eq!(share.quota.map(|q| (q.limit, q.window)), Some((33, Duration::from_secs(60))));
    /// assert_eq!(share.remaining.map(|r| (r.remaining, r.resets_in)), Some((2, Duration::from_secs(20))));
    /// assert_eq!(said.share(0), said.share(1));
    /// assert_eq!(said.share(1), said);
    /// ```
    #[must_use]
    pub fn share(&self, instances: u32) -> Self {
        let n = u64::from(instances.max(1));
        Self {
            quota: self.quota.map(|q| Quota {
                limit: (q.limit / n).max(1),
                ..q
            }),
            remaining: self.remaining.map(|r| Remaining {
                remaining: r.remaining / n,
                ..r
            }),
        }
    }
}

/// A budget's state for metrics and health pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// Writes that could go at once.
    pub remaining: u64,
    /// The emission interval in force (1 / rate).
    pub interval: Duration,
    /// How much longer a pause holds (zero when none).
    pub paused_for: Duration,
    /// The learned quota's interval, while it holds.
    pub quota_interval: Option<Duration>,
    /// The learned window's interval, until it resets…
    pub window_interval: Option<Duration>,
    /// …in this long.
    pub window_resets_in: Option<Duration>,
}

/// The rate budget port: admission, learning, pausing and a look at the state, for
/// every account of one adapter.
///
/// Implementations never fail: a shared budget whose store is unreachable answers from
/// a local one.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use hub_resilience::clock::ManualClock;
/// use hub_resilience::rate_budget::{Admission, BudgetKey, Class, LocalBudget, RateBudget, RateConfig};
/// let budget = LocalBudget::new(RateConfig::new(1.0, 2), Arc::new(ManualClock::new(0)));
/// let key = BudgetKey::new("zendesk:acme");
/// assert_eq!(budget.admit(&key, Class::Write, Duration::ZERO).await, Admission::Now);
/// assert_eq!(budget.admit(&key, Class::Write, Duration::ZERO).await, Admission::Now);
/// // The third waits a second, or is refused when the caller cannot wait that long.
/// assert_eq!(
///     budget.admit(&key, Class::Write, Duration::ZERO).await,
///     Admission::Refused { retry_after: Duration::from_secs(1) }
/// );
/// assert_eq!(budget.admit(&key, Class::Write, Duration::from_secs(5)).await, Admission::Wait(Duration::from_secs(1)));
/// budget.pause(&key, Duration::from_secs(30)).await; // the vendor answered 429, Retry-After: 30
/// assert!(!budget.admit(&key, Class::Write, Duration::from_secs(5)).await.is_admitted());
/// # }
/// ```
#[async_trait]
pub trait RateBudget: Send + Sync + fmt::Debug {
    /// Admits one request of `class` for `key`, reserving a slot within `max_wait` (the
    /// caller's remaining deadline) or refusing without consuming one.
    async fn admit(&self, key: &BudgetKey, class: Class, max_wait: Duration) -> Admission;

    /// Narrows `key`'s budget by what the vendor said.
    async fn learn(&self, key: &BudgetKey, policy: &LearnedPolicy);

    /// Holds every admission for `key` for `duration` (a 429's `Retry-After`).
    async fn pause(&self, key: &BudgetKey, duration: Duration);

    /// `key`'s state now.
    async fn snapshot(&self, key: &BudgetKey) -> Snapshot;
}

#[cfg(test)]
mod tests;
