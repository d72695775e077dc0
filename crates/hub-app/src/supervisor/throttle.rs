//! Throttling failed sign-ins per client address and per account: after a number of failures within a window, further attempts wait.
//!
//! Each subject (an address, or an account: the token's configured name, or a digest
//! of the submitted credential when it names no token) keeps the times of its recent
//! failures. With `max_failures` of them inside the last `window`, the subject is
//! throttled until the oldest leaves the window; a successful sign-in clears its
//! address and account. IPv6 addresses count per /64, the block one client usually
//! holds. Time is passed in, so the state machine is tested without sleeping. The
//! counts live in this instance's memory.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// How many failures are allowed, over what window, for how many subjects at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleSettings {
    /// Failures allowed within the window; the next attempt is throttled.
    pub max_failures: usize,
    /// How long a failure counts.
    pub window: Duration,
    /// Subjects tracked at most; beyond, the one whose last failure is oldest is forgotten.
    pub max_subjects: usize,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window: Duration::from_secs(15 * 60),
            max_subjects: 10_000,
        }
    }
}

/// Who a sign-in attempt is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// The client's address (an IPv6 address's /64).
    Address(IpAddr),
    /// The account: `name:<token name>` or `credential:<digest of what was submitted>`.
    Account(String),
}

impl Subject {
    /// The subject for a client at `addr` (IPv4-mapped IPv6 as IPv4, other IPv6 as its /64).
    ///
    /// ```
    /// use hub_app::supervisor::throttle::Subject;
    /// let a = Subject::address("2001:db8:1:2:aaaa::1".parse().unwrap());
    /// assert_eq!(a, Subject::address("2001:db8:1:2:bbbb::9".parse().unwrap()));
    /// assert_eq!(Subject::address("::ffff:192.0.2.7".parse().unwrap()), Subject::address("192.0.2.7".parse().unwrap()));
    /// ```
    pub fn address(addr: IpAddr) -> Self {
        let ip = match addr {
            IpAddr::V4(v4) => IpAddr::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
            },
        };
        Self::Address(ip)
    }

    /// The account of a known token, by its configured name.
    pub fn token(name: &str) -> Self {
        Self::Account(format!("name:{name}"))
    }

    /// The account of a submitted credential that names no token (its digest only).
    pub fn credential(submitted: &str) -> Self {
        let digest: String = Sha256::digest(submitted.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Self::Account(format!("credential:{digest}"))
    }

    /// The metric label: `address` or `account`.
    pub fn scope(&self) -> &'static str {
        match self {
            Self::Address(_) => "address",
            Self::Account(_) => "account",
        }
    }
}

/// The failed sign-ins of every subject.
///
/// ```
/// use std::time::{Duration, Instant};
/// use hub_app::supervisor::throttle::{Subject, Throttle, ThrottleSettings};
/// let throttle = Throttle::new(ThrottleSettings { max_failures: 2, window: Duration::from_secs(60), ..ThrottleSettings::default() });
/// let (client, t0) = (Subject::address("192.0.2.7".parse().unwrap()), Instant::now());
/// throttle.failed(&client, t0);
/// assert_eq!(throttle.retry_after(&client, t0), None);
/// throttle.failed(&client, t0 + Duration::from_secs(10));
/// assert_eq!(throttle.retry_after(&client, t0 + Duration::from_secs(10)), Some(Duration::from_secs(50)));
/// assert_eq!(throttle.retry_after(&client, t0 + Duration::from_secs(60)), None);
/// ```
#[derive(Debug, Default)]
pub struct Throttle {
    settings: ThrottleSettings,
    failures: Mutex<HashMap<Subject, VecDeque<Instant>>>,
}

impl Throttle {
    /// No failures yet.
    pub fn new(settings: ThrottleSettings) -> Self {
        Self {
            settings,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// The settings.
    pub fn settings(&self) -> ThrottleSettings {
        self.settings
    }

    /// Forgets the failures of `times` that left the window at `now`.
    fn prune(times: &mut VecDeque<Instant>, window: Duration, now: Instant) {
        while times
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            times.pop_front();
        }
    }

    /// How long `subject` must wait at `now`, or `None` when it may try.
    pub fn retry_after(&self, subject: &Subject, now: Instant) -> Option<Duration> {
        let max = self.settings.max_failures.max(1);
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let times = failures.get_mut(subject)?;
        Self::prune(times, self.settings.window, now);
        if times.len() < max {
            return None;
        }
        // The attempt is allowed again once enough failures have left the window.
        let freeing = times.get(times.len() - max)?;
        let until = *freeing + self.settings.window;
        Some(until.saturating_duration_since(now))
    }

    /// Counts a failed attempt of `subject` at `now`.
    pub fn failed(&self, subject: &Subject, now: Instant) {
        let max = self.settings.max_failures.max(1);
        let window = self.settings.window;
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if !failures.contains_key(subject) && failures.len() >= self.settings.max_subjects.max(1) {
            failures.retain(|_, times| {
                Self::prune(times, window, now);
                !times.is_empty()
            });
            while failures.len() >= self.settings.max_subjects.max(1) {
                let stalest = failures
                    .iter()
                    .min_by_key(|(_, times)| times.back().copied())
                    .map(|(s, _)| s.clone());
                let Some(stalest) = stalest else { break };
                failures.remove(&stalest);
            }
        }
        let times = failures.entry(subject.clone()).or_default();
        Self::prune(times, window, now);
        times.push_back(now);
        // Only the newest `max` matter for when the subject may try again.
        while times.len() > max {
            times.pop_front();
        }
    }

    /// Clears `subject`'s failures (it signed in).
    pub fn succeeded(&self, subject: &Subject) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(subject);
    }

    /// How many subjects are tracked.
    pub fn tracked(&self) -> usize {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// Seconds to announce in `Retry-After`: `wait` rounded up, at least one.
///
/// ```
/// use std::time::Duration;
/// use hub_app::supervisor::throttle::retry_after_secs;
/// assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
/// assert_eq!(retry_after_secs(Duration::from_millis(59_001)), 60);
/// ```
pub fn retry_after_secs(wait: Duration) -> u64 {
    let s = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    s.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const WINDOW_S: u64 = 60;
    const MAX: usize = 3;

    fn settings(max_subjects: usize) -> ThrottleSettings {
        ThrottleSettings {
            max_failures: MAX,
            window: Duration::from_secs(WINDOW_S),
            max_subjects,
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Fail(usize),
        Succeed(usize),
        Check(usize),
        Advance(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..3usize).prop_map(Op::Fail),
            1 => (0..3usize).prop_map(Op::Succeed),
            3 => (0..3usize).prop_map(Op::Check),
            2 => (0..40u64).prop_map(Op::Advance),
        ]
    }

    fn subject(i: usize) -> Subject {
        match i {
            0 => Subject::address("192.0.2.1".parse().unwrap()),
            1 => Subject::token("ops"),
            _ => Subject::credential("guess"),
        }
    }

    /// The reference: every failure time per subject, kept forever; a subject is
    /// throttled while `MAX` of them are younger than the window, until the
    /// `MAX`-newest one leaves it.
    fn model_wait(times: &[u64], now: u64) -> Option<u64> {
        let recent: Vec<u64> = times.iter().copied().filter(|t| now < t + WINDOW_S).collect();
        (recent.len() >= MAX).then(|| recent[recent.len() - MAX] + WINDOW_S - now)
    }

    proptest! {
        #[test]
        fn the_throttle_follows_the_model(ops in prop::collection::vec(op(), 1..80)) {
            let throttle = Throttle::new(settings(100));
            let t0 = Instant::now();
            let mut now = 0u64;
            let mut model: Vec<Vec<u64>> = vec![Vec::new(); 3];
            for op in ops {
                match op {
                    Op::Fail(i) => {
                        throttle.failed(&subject(i), t0 + Duration::from_secs(now));
                        model[i].push(now);
                    }
                    Op::Succeed(i) => {
                        throttle.succeeded(&subject(i));
                        model[i].clear();
                    }
                    Op::Check(i) => {
                        let got = throttle.retry_after(&subject(i), t0 + Duration::from_secs(now));
                        prop_assert_eq!(got, model_wait(&model[i], now).map(Duration::from_secs), "subject {} at {}", i, now);
                    }
                    Op::Advance(s) => now += s,
                }
            }
        }
    }

    #[test]
    fn subjects_are_counted_apart() {
        let throttle = Throttle::new(settings(100));
        let t0 = Instant::now();
        let a = Subject::address("192.0.2.1".parse().unwrap());
        for _ in 0..MAX {
            throttle.failed(&a, t0);
        }
        assert_eq!(throttle.retry_after(&a, t0), Some(Duration::from_secs(WINDOW_S)));
        let b = Subject::address("192.0.2.2".parse().unwrap());
        assert_eq!(throttle.retry_after(&b, t0), None);
        assert_eq!(throttle.retry_after(&Subject::token("ops"), t0), None);
        throttle.succeeded(&a);
        assert_eq!(throttle.retry_after(&a, t0), None);
    }

    #[test]
    fn the_memory_is_bounded_and_forgets_the_stalest_first() {
        let throttle = Throttle::new(settings(3));
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let subjects: Vec<Subject> = (0..5).map(|i| Subject::token(&format!("t{i}"))).collect();
        for (i, s) in subjects.iter().take(3).enumerate() {
            for _ in 0..MAX {
                throttle.failed(s, at(i as u64));
            }
        }
        throttle.failed(&subjects[3], at(5));
        assert_eq!(throttle.tracked(), 3);
        assert_eq!(throttle.retry_after(&subjects[0], at(5)), None, "the stalest went");
        assert!(throttle.retry_after(&subjects[1], at(5)).is_some());
        // Subjects whose failures all left the window go before any other.
        throttle.failed(&subjects[4], at(200));
        assert_eq!(throttle.tracked(), 1);
    }

    #[test]
    fn credentials_are_kept_as_digests() {
        let Subject::Account(a) = Subject::credential("canary-guess") else {
            panic!("an account")
        };
        assert!(!a.contains("canary-guess") && a.starts_with("credential:"), "{a}");
        assert_ne!(Subject::credential("x"), Subject::credential("y"));
        assert_ne!(Subject::token("x"), Subject::credential("x"));
    }
}
