//! The retry policy and engine: classification-driven retries under one overall deadline that never duplicate a write.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use hub_core::{Delivery, Error};
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::breaker::CircuitBreaker;
use crate::budget::RetryBudget;

/// Whether an operation may be sent again after the upstream may have received it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Idempotency {
    /// Sending it twice has the effect of sending it once (a GET, a PUT of a whole resource).
    Idempotent,
    /// It carries an idempotency key the upstream honours, so a resend is deduplicated.
    Keyed,
    /// A resend may duplicate its effect: it is retried only when the error proves the
    /// request was not applied — it never left ([`Delivery::NotSent`]: connect refused,
    /// DNS, TLS handshake) or the upstream refused it outright ([`Delivery::Refused`]:
    /// 401, 429) — never after an outcome-unknown failure (timeout, reset, 5xx).
    NonIdempotent,
}

impl Idempotency {
    /// Whether a request that failed with `err` may be sent again.
    ///
    /// ```
    /// use hub_core::{ConnectCause, Error};
    /// use hub_resilience::retry::Idempotency;
    /// assert!(Idempotency::NonIdempotent.may_resend(&Error::Connect(ConnectCause::Refused)));
    /// assert!(!Idempotency::NonIdempotent.may_resend(&Error::Timeout));
    /// assert!(!Idempotency::NonIdempotent.may_resend(&Error::Upstream { status: 503, retry_after: None }));
    /// // Refused outright (not applied): a 401 earns its re-authenticated retry, a 429 its wait.
    /// assert!(Idempotency::NonIdempotent.may_resend(&Error::Unauthorized));
    /// assert!(Idempotency::NonIdempotent.may_resend(&Error::RateLimited { retry_after: None }));
    /// assert!(Idempotency::Keyed.may_resend(&Error::Timeout));
    /// // A write the upstream accepted is done: never sent again, keyed or not.
    /// let applied = Error::AnswerUnreadable { status: 200, reason: "missing field `id`".into() };
    /// assert!(!Idempotency::Keyed.may_resend(&applied));
    /// assert!(!Idempotency::NonIdempotent.may_resend(&applied));
    /// ```
    pub fn may_resend(self, err: &Error) -> bool {
        match self {
            Self::Idempotent => true,
            Self::Keyed => err.delivery() != Delivery::Applied,
            // The upstream either never saw it or answered that it did not apply it (401, 429, 4xx).
            Self::NonIdempotent => matches!(err.delivery(), Delivery::NotSent | Delivery::Refused),
        }
    }

    /// `idempotent`, `keyed` or `non_idempotent`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idempotent => "idempotent",
            Self::Keyed => "keyed",
            Self::NonIdempotent => "non_idempotent",
        }
    }
}

/// How often, how long and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Delays between attempts when the upstream did not say how long to wait.
    pub backoff: Backoff,
    /// The longest `Retry-After` the engine will wait; a longer one ends the call at
    /// once with the upstream's error (which keeps its `retry_after`).
    pub max_retry_after: Duration,
    /// The longest one attempt may take.
    pub per_attempt_timeout: Duration,
    /// The overall deadline of a call: every attempt and every wait.
    pub deadline: Duration,
    /// A fixed seed for the backoff's jitter (tests only; `None`: a fresh seed per call).
    pub jitter_seed: Option<u64>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            backoff: Backoff::default(),
            max_retry_after: Duration::from_secs(30),
            per_attempt_timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(30),
            jitter_seed: None,
        }
    }
}

/// What an attempt is told about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first attempt.
    pub number: u32,
    /// The time this attempt has (the engine also enforces it).
    pub timeout: Duration,
    /// The call's overall deadline.
    pub deadline: Instant,
}

/// The result of a call and how many attempts reached for the upstream (audit records need it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome<T> {
    /// The value, or the error that ended the call.
    pub result: Result<T, Error>,
    /// Attempts made; 0 when none was (an open circuit, a cache hit).
    pub attempts: u32,
}

impl<T> Outcome<T> {
    /// Transforms the value, keeping the attempt count.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        Outcome {
            result: self.result.map(f),
            attempts: self.attempts,
        }
    }
}

/// One finished attempt, as reported to a [`RetryObserver`].
#[derive(Debug, Clone, Copy)]
pub struct AttemptReport<'a> {
    /// The operation's name (a metrics label).
    pub operation: &'a str,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// How long it took.
    pub elapsed: Duration,
    /// Its error, `None` on success.
    pub error: Option<&'a Error>,
}

/// One retry about to happen, as reported to a [`RetryObserver`].
#[derive(Debug, Clone, Copy)]
pub struct RetryReport<'a> {
    /// The operation's name (a metrics label).
    pub operation: &'a str,
    /// The attempt that failed (the retry is attempt + 1).
    pub attempt: u32,
    /// Why: the failed attempt's [`Error::code`] (`upstream_5xx`, `timeout`, `unauthorized`, …).
    pub reason: &'static str,
    /// How long the engine waits first.
    pub wait: Duration,
}

/// Told of every attempt and every retry (count `integration_retries_total{reason}`, audit attempts).
pub trait RetryObserver: Send + Sync {
    /// An attempt finished.
    fn on_attempt(&self, _report: &AttemptReport<'_>) {}
    /// A retry is scheduled.
    fn on_retry(&self, _report: &RetryReport<'_>) {}
}

/// Obtains fresh credentials after a 401, before the one retry it earns.
#[async_trait]
pub trait Reauthenticate: Send + Sync {
    /// Drops cached credentials and fetches new ones; an error ends the call with it.
    async fn reauthenticate(&self) -> Result<(), Error>;
}

/// One call's retry engine: a policy plus the optional breaker, budget, re-authentication
/// hook and observer of the upstream.
///
/// The rules, in the order they apply after a failed attempt:
///
/// 1. a success, or the last allowed attempt, ends the call;
/// 2. an attempt cut short by the deadline ends it with [`Error::DeadlineExceeded`]
///    (or [`Error::Timeout`] when it was the first attempt: there was no earlier failure);
/// 3. [`Error::CircuitOpen`] and errors that are not `retryable` end it, except a 401,
///    which earns exactly one retry after [`Reauthenticate::reauthenticate`] runs;
/// 4. a request the upstream may have received is resent only if [`Idempotency::may_resend`];
/// 5. the wait is the upstream's `Retry-After` when it gave one — one longer than
///    `max_retry_after` or than the time left ends the call with the upstream's error
///    (keeping its `retry_after`) — else the next backoff delay, which ends the call with
///    [`Error::DeadlineExceeded`] if it would not leave time for another attempt;
/// 6. the retry budget must allow it, else [`Error::RetryBudgetExhausted`].
///
/// Each attempt is admitted by the breaker first; a rejection ends the call with
/// [`Error::CircuitOpen`] (an attempt that never reached for the upstream is not counted),
/// and so does a retry whose wait would end before the circuit admits calls again —
/// at once, without waiting.
/// Each attempt's timeout is the smaller of `per_attempt_timeout` and the time left.
///
/// Time is tokio's, so tests run under `tokio::time::pause()`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use hub_core::Error;
/// use hub_resilience::retry::{Idempotency, Retry, RetryPolicy};
///
/// let policy = RetryPolicy::default();
/// let mut failures = 2;
/// let outcome = Retry::new(&policy)
///     .run(Idempotency::Idempotent, |_attempt| {
///         let fail = failures > 0;
///         failures -= 1;
///         async move { if fail { Err(Error::Upstream { status: 503, retry_after: None }) } else { Ok("done") } }
///     })
///     .await;
/// assert_eq!(outcome.result, Ok("done"));
/// assert_eq!(outcome.attempts, 3);
/// # }
/// ```
#[derive(Clone, Copy)]
pub struct Retry<'a> {
    policy: &'a RetryPolicy,
    breaker: Option<&'a CircuitBreaker>,
    budget: Option<&'a RetryBudget>,
    reauth: Option<&'a dyn Reauthenticate>,
    observer: &'a dyn RetryObserver,
    operation: &'a str,
}

impl std::fmt::Debug for Retry<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retry")
            .field("policy", self.policy)
            .field("operation", &self.operation)
            .finish_non_exhaustive()
    }
}

impl<'a> Retry<'a> {
    /// An engine with `policy` and nothing else.
    pub fn new(policy: &'a RetryPolicy) -> Self {
        Self {
            policy,
            breaker: None,
            budget: None,
            reauth: None,
            observer: &crate::observe::NoopObserver,
            operation: "call",
        }
    }

    /// Admits every attempt through `breaker` and reports its result there.
    pub fn breaker(mut self, breaker: &'a CircuitBreaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// Spends retries from `budget`.
    pub fn budget(mut self, budget: &'a RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Runs `hook` before the one retry a 401 earns.
    pub fn reauth(mut self, hook: &'a dyn Reauthenticate) -> Self {
        self.reauth = Some(hook);
        self
    }

    /// Reports attempts and retries to `observer`.
    pub fn observer(mut self, observer: &'a dyn RetryObserver) -> Self {
        self.observer = observer;
        self
    }

    /// Names the operation in reports.
    pub fn operation(mut self, operation: &'a str) -> Self {
        self.operation = operation;
        self
    }

    /// Runs `op` until it succeeds or a rule above ends the call.
    pub async fn run<T, F, Fut>(self, idempotency: Idempotency, mut op: F) -> Outcome<T>
    where
        F: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let policy = self.policy;
        let start = Instant::now();
        let deadline = start + policy.deadline;
        let max_attempts = policy.max_attempts.max(1);
        // Seeded on the first backoff: a call that succeeds at once never touches the RNG.
        let mut delays = None;
        let mut attempts = 0u32;
        let mut reauthenticated = false;
        if let Some(budget) = self.budget {
            budget.deposit();
        }
        let end = |result: Result<T, Error>, attempts: u32| Outcome { result, attempts };

        loop {
            let permit = match self.breaker.map(CircuitBreaker::admit).transpose() {
                Ok(permit) => permit,
                Err(open) => return end(Err(open), attempts),
            };
            attempts += 1;
            let began = Instant::now();
            let left = deadline.saturating_duration_since(began);
            let cut_by_deadline = policy.per_attempt_timeout >= left;
            let timeout = policy.per_attempt_timeout.min(left);
            let attempt = Attempt {
                number: attempts,
                timeout,
                deadline,
            };
            let result = match tokio::time::timeout_at(began + timeout, op(attempt)).await {
                Ok(result) => result,
                Err(_) => Err(Error::Timeout),
            };
            if let Some(permit) = permit {
                permit.record(&result);
            }
            self.observer.on_attempt(&AttemptReport {
                operation: self.operation,
                attempt: attempts,
                elapsed: began.elapsed(),
                error: result.as_ref().err(),
            });
            let err = match result {
                Ok(value) => return end(Ok(value), attempts),
                Err(err) => err,
            };
            if err == Error::Timeout && cut_by_deadline {
                return end(Err(past_deadline(err, attempts)), attempts);
            }
            if attempts >= max_attempts || !idempotency.may_resend(&err) {
                return end(Err(err), attempts);
            }
            let reauth = err.needs_reauth();
            let wait = if reauth {
                if reauthenticated {
                    return end(Err(err), attempts);
                }
                Duration::ZERO
            } else if matches!(err, Error::CircuitOpen { .. }) || !err.classify().retryable {
                return end(Err(err), attempts);
            } else if let Some(asked) = err.retry_after() {
                let left = deadline.saturating_duration_since(Instant::now());
                if asked > policy.max_retry_after || asked >= left {
                    return end(Err(err), attempts);
                }
                asked
            } else {
                delays
                    .get_or_insert_with(|| policy.backoff.delays(policy.jitter_seed))
                    .next()
                    .unwrap_or(policy.backoff.max)
            };
            if wait >= deadline.saturating_duration_since(Instant::now()) {
                return end(Err(past_deadline(err, attempts)), attempts);
            }
            // A retry that would meet an open circuit stops now rather than after the wait.
            if let Some(retry_in) = self.breaker.and_then(CircuitBreaker::retry_in)
                && retry_in > wait
            {
                return end(Err(Error::CircuitOpen { retry_in }), attempts);
            }
            if let Some(budget) = self.budget
                && !budget.try_withdraw()
            {
                return end(Err(Error::RetryBudgetExhausted { last: Box::new(err) }), attempts);
            }
            if reauth {
                reauthenticated = true;
                if let Some(hook) = self.reauth {
                    match tokio::time::timeout_at(deadline, hook.reauthenticate()).await {
                        Ok(Ok(())) => {}
                        Ok(Err(hook_err)) => return end(Err(hook_err), attempts),
                        Err(_) => return end(Err(past_deadline(err, attempts)), attempts),
                    }
                }
            }
            self.observer.on_retry(&RetryReport {
                operation: self.operation,
                attempt: attempts,
                reason: err.code(),
                wait,
            });
            tokio::time::sleep(wait).await;
        }
    }
}

/// The error for a call the deadline ended after `attempts` attempts ending in `last`.
fn past_deadline(last: Error, attempts: u32) -> Error {
    if attempts <= 1 && last == Error::Timeout {
        Error::Timeout
    } else {
        Error::DeadlineExceeded { last: Box::new(last) }
    }
}

#[cfg(test)]
mod tests;
