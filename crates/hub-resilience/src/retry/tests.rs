//! The retry engine over scripted and random error sequences, under tokio's paused clock.

use super::*;
use crate::backoff::Jitter;
use crate::breaker::BreakerConfig;
use crate::budget::BudgetConfig;
use crate::clock::TokioClock;
use hub_core::ConnectCause;
use proptest::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// What the upstream does on one attempt: answer after `ms`, or never (`None`).
#[derive(Debug, Clone)]
struct Step {
    result: Option<Result<(), Error>>,
    ms: u64,
}

fn ok(ms: u64) -> Step {
    Step {
        result: Some(Ok(())),
        ms,
    }
}
fn fail(e: Error, ms: u64) -> Step {
    Step {
        result: Some(Err(e)),
        ms,
    }
}
fn hang() -> Step {
    Step { result: None, ms: 0 }
}
fn s503() -> Error {
    Error::Upstream {
        status: 503,
        retry_after: None,
    }
}

#[derive(Default)]
struct Hook {
    calls: AtomicU32,
    fail: bool,
}

#[async_trait]
impl Reauthenticate for Hook {
    async fn reauthenticate(&self) -> Result<(), Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            Err(Error::Credentials {
                reason: "token endpoint said no".into(),
            })
        } else {
            Ok(())
        }
    }
}

#[derive(Default)]
struct Log {
    retries: Mutex<Vec<(u32, &'static str, Duration)>>,
    attempts: AtomicU32,
}

impl RetryObserver for Log {
    fn on_attempt(&self, _: &AttemptReport<'_>) {
        self.attempts.fetch_add(1, Ordering::SeqCst);
    }
    fn on_retry(&self, r: &RetryReport<'_>) {
        self.retries.lock().unwrap().push((r.attempt, r.reason, r.wait));
    }
}

/// A finished run: the outcome, each attempt's (start, end) since the call began, and the hook's calls.
struct Run {
    outcome: Outcome<()>,
    spans: Vec<(Duration, Option<Duration>)>,
    total: Duration,
    reauths: u32,
}

async fn run_with(
    retry: Retry<'_>,
    idem: Idempotency,
    steps: &[Step],
) -> (Outcome<()>, Vec<(Duration, Option<Duration>)>, Duration) {
    let start = Instant::now();
    let spans = Arc::new(Mutex::new(Vec::new()));
    let outcome = retry
        .run(idem, |a: Attempt| {
            let step = steps.get(a.number as usize - 1).cloned().unwrap_or_else(|| ok(0));
            let spans = spans.clone();
            async move {
                let began = Instant::now() - start;
                spans.lock().unwrap().push((began, None));
                let Some(result) = step.result else {
                    return std::future::pending().await;
                };
                tokio::time::sleep(Duration::from_millis(step.ms)).await;
                spans.lock().unwrap().last_mut().unwrap().1 = Some(Instant::now() - start);
                result
            }
        })
        .await;
    let total = Instant::now() - start;
    let spans = spans.lock().unwrap().clone();
    (outcome, spans, total)
}

/// Runs `steps` through the engine on a fresh paused runtime.
fn check(policy: &RetryPolicy, idem: Idempotency, steps: &[Step], hook: &Hook) -> Run {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let (outcome, spans, total) = run_with(Retry::new(policy).reauth(hook), idem, steps).await;
        Run {
            outcome,
            spans,
            total,
            reauths: hook.calls.load(Ordering::SeqCst),
        }
    })
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn starts(run: &Run) -> Vec<u64> {
    run.spans.iter().map(|(s, _)| s.as_millis() as u64).collect()
}

#[test]
fn transient_failures_retry_with_the_contract_backoff() {
    let r = check(
        &RetryPolicy::default(),
        Idempotency::Idempotent,
        &[fail(s503(), 0), fail(Error::Timeout, 0), ok(0)],
        &Hook::default(),
    );
    assert_eq!(
        r.outcome,
        Outcome {
            result: Ok(()),
            attempts: 3
        }
    );
    assert_eq!(starts(&r), [0, 2_000, 6_000]);
}

#[test]
fn three_attempts_in_all() {
    let r = check(
        &RetryPolicy::default(),
        Idempotency::Keyed,
        &[fail(s503(), 0), fail(s503(), 0), fail(s503(), 0), ok(0)],
        &Hook::default(),
    );
    assert_eq!(
        r.outcome,
        Outcome {
            result: Err(s503()),
            attempts: 3
        }
    );
}

#[test]
fn non_idempotent_writes_are_resent_only_when_not_applied() {
    let p = RetryPolicy::default();
    for (first, attempts) in [
        (Error::Connect(ConnectCause::Refused), 2),
        (Error::Connect(ConnectCause::Tls), 2),
        (Error::Timeout, 1),
        (Error::ConnectionLost, 1),
        (s503(), 1),
        (Error::Decode { reason: "eof".into() }, 1),
        // Refused outright: not applied, so safe to send again.
        (Error::RateLimited { retry_after: None }, 2),
        (Error::Unauthorized, 2),
    ] {
        let r = check(
            &p,
            Idempotency::NonIdempotent,
            &[fail(first.clone(), 0), ok(0)],
            &Hook::default(),
        );
        assert_eq!(r.outcome.attempts, attempts, "{first:?}");
        // The same error on a keyed write is retried.
        let r = check(
            &p,
            Idempotency::Keyed,
            &[fail(first.clone(), 0), ok(0)],
            &Hook::default(),
        );
        assert_eq!(
            r.outcome,
            Outcome {
                result: Ok(()),
                attempts: 2
            },
            "{first:?}"
        );
    }
}

#[test]
fn errors_that_are_not_retryable_end_the_call() {
    for e in [
        Error::NotFound,
        Error::Forbidden,
        Error::Rejected {
            status: 422,
            reason: None,
        },
        Error::CircuitOpen { retry_in: secs(3) },
        Error::InvalidInput {
            field: "id".into(),
            reason: "empty".into(),
        },
    ] {
        let r = check(
            &RetryPolicy::default(),
            Idempotency::Idempotent,
            &[fail(e.clone(), 0), ok(0)],
            &Hook::default(),
        );
        assert_eq!(
            r.outcome,
            Outcome {
                result: Err(e),
                attempts: 1
            }
        );
    }
}

#[test]
fn retry_after_is_honoured_and_capped() {
    let p = RetryPolicy::default();
    let limited = |s| Error::RateLimited {
        retry_after: Some(secs(s)),
    };
    let r = check(
        &p,
        Idempotency::Idempotent,
        &[fail(limited(7), 0), ok(0)],
        &Hook::default(),
    );
    assert_eq!(r.outcome.result, Ok(()));
    assert_eq!(starts(&r), [0, 7_000]);
    // Longer than the time left: fail fast with the upstream's wait.
    let r = check(
        &p,
        Idempotency::Idempotent,
        &[fail(limited(45), 0), ok(0)],
        &Hook::default(),
    );
    assert_eq!(
        r.outcome,
        Outcome {
            result: Err(limited(45)),
            attempts: 1
        }
    );
    assert_eq!(r.total, Duration::ZERO);
    // Longer than the cap: the same.
    let capped = RetryPolicy {
        max_retry_after: secs(5),
        ..p
    };
    let r = check(
        &capped,
        Idempotency::Idempotent,
        &[fail(limited(6), 0), ok(0)],
        &Hook::default(),
    );
    assert_eq!(r.outcome.result, Err(limited(6)));
    // A 503 with Retry-After waits too.
    let r = check(
        &p,
        Idempotency::Idempotent,
        &[
            fail(
                Error::Upstream {
                    status: 503,
                    retry_after: Some(secs(1)),
                },
                0,
            ),
            ok(0),
        ],
        &Hook::default(),
    );
    assert_eq!(starts(&r), [0, 1_000]);
}

#[test]
fn a_401_earns_one_retry_after_reauthentication() {
    let p = RetryPolicy::default();
    let hook = Hook::default();
    let r = check(
        &p,
        Idempotency::Idempotent,
        &[fail(Error::Unauthorized, 0), ok(0)],
        &hook,
    );
    assert_eq!(starts(&r), [0, 0]);
    assert_eq!((r.outcome.result, r.outcome.attempts, r.reauths), (Ok(()), 2, 1));

    let hook = Hook::default();
    let r = check(
        &p,
        Idempotency::Idempotent,
        &[fail(Error::Unauthorized, 0), fail(Error::Unauthorized, 0), ok(0)],
        &hook,
    );
    assert_eq!(
        (r.outcome.result, r.outcome.attempts, r.reauths),
        (Err(Error::Unauthorized), 2, 1)
    );

    let hook = Hook {
        fail: true,
        ..Hook::default()
    };
    let r = check(
        &p,
        Idempotency::Idempotent,
        &[fail(Error::Unauthorized, 0), ok(0)],
        &hook,
    );
    assert_eq!(r.outcome.attempts, 1);
    assert!(matches!(r.outcome.result, Err(Error::Credentials { .. })));
}

#[test]
fn the_deadline_bounds_attempts_and_waits() {
    let p = RetryPolicy {
        deadline: secs(15),
        ..RetryPolicy::default()
    };
    // 10 s per-attempt timeout, 2 s wait, then only 3 s left for attempt two.
    let r = check(&p, Idempotency::Idempotent, &[hang(), hang(), hang()], &Hook::default());
    assert_eq!(
        r.outcome,
        Outcome {
            result: Err(Error::DeadlineExceeded {
                last: Box::new(Error::Timeout)
            }),
            attempts: 2
        }
    );
    assert_eq!(r.total, secs(15));
    assert_eq!(starts(&r), [0, 12_000]);

    // The first attempt cut by the deadline is a plain timeout.
    let p = RetryPolicy {
        deadline: secs(5),
        ..RetryPolicy::default()
    };
    let r = check(&p, Idempotency::Idempotent, &[hang()], &Hook::default());
    assert_eq!(
        r.outcome,
        Outcome {
            result: Err(Error::Timeout),
            attempts: 1
        }
    );
    assert_eq!(r.total, secs(5));

    // A backoff longer than the time left fails at once instead of sleeping.
    let p = RetryPolicy {
        deadline: secs(3),
        ..RetryPolicy::default()
    };
    let r = check(
        &p,
        Idempotency::Idempotent,
        &[fail(s503(), 1_500), ok(0)],
        &Hook::default(),
    );
    assert_eq!(
        r.outcome.result,
        Err(Error::DeadlineExceeded { last: Box::new(s503()) })
    );
    assert_eq!(r.total, Duration::from_millis(1_500));
}

#[tokio::test(start_paused = true)]
async fn a_retry_that_meets_an_open_circuit_stops() {
    let breaker = CircuitBreaker::builder()
        .config(BreakerConfig {
            failure_threshold: 1,
            ..BreakerConfig::default()
        })
        .clock(Arc::new(TokioClock::new()))
        .build();
    let policy = RetryPolicy::default();
    let (outcome, spans, total) = run_with(
        Retry::new(&policy).breaker(&breaker),
        Idempotency::Idempotent,
        &[fail(s503(), 0), ok(0)],
    )
    .await;
    assert_eq!(outcome.attempts, 1);
    assert_eq!(spans.len(), 1);
    match outcome.result {
        Err(Error::CircuitOpen { retry_in }) => assert_eq!(retry_in, secs(60)),
        other => panic!("expected an open circuit, got {other:?}"),
    }
    // It stopped at once instead of waiting for a circuit that stays open.
    assert_eq!(total, Duration::ZERO);

    // A circuit that recovers within the wait lets the retry through as the probe.
    let breaker = CircuitBreaker::builder()
        .config(BreakerConfig {
            failure_threshold: 1,
            recovery: secs(1),
            ..BreakerConfig::default()
        })
        .build();
    let (outcome, spans, _) = run_with(
        Retry::new(&policy).breaker(&breaker),
        Idempotency::Idempotent,
        &[fail(s503(), 0), ok(0)],
    )
    .await;
    assert_eq!((outcome.result, outcome.attempts, spans.len()), (Ok(()), 2, 2));
    assert_eq!(breaker.state(), crate::breaker::CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn an_empty_budget_is_a_distinct_error() {
    let budget = RetryBudget::new(
        BudgetConfig {
            retry_ratio: 0.0,
            min_retries_per_sec: 0,
            window: secs(10),
        },
        Arc::new(TokioClock::new()),
    );
    let policy = RetryPolicy::default();
    let (outcome, _, _) = run_with(
        Retry::new(&policy).budget(&budget),
        Idempotency::Idempotent,
        &[fail(s503(), 0), ok(0)],
    )
    .await;
    assert_eq!(
        outcome,
        Outcome {
            result: Err(Error::RetryBudgetExhausted { last: Box::new(s503()) }),
            attempts: 1
        }
    );
    assert_eq!(budget.counts(), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn every_attempt_and_retry_is_reported_with_its_reason() {
    let log = Log::default();
    let policy = RetryPolicy::default();
    let steps = [
        fail(Error::Connect(ConnectCause::Dns), 0),
        fail(
            Error::RateLimited {
                retry_after: Some(secs(1)),
            },
            0,
        ),
        ok(0),
    ];
    let (outcome, _, _) = run_with(
        Retry::new(&policy).observer(&log).operation("get_ticket"),
        Idempotency::Idempotent,
        &steps,
    )
    .await;
    assert_eq!(outcome.attempts, 3);
    assert_eq!(log.attempts.load(Ordering::SeqCst), 3);
    assert_eq!(
        *log.retries.lock().unwrap(),
        [(1, "connect", secs(2)), (2, "rate_limited", secs(1))]
    );
}

// ---- the model test ---------------------------------------------------------------

fn error() -> impl Strategy<Value = Error> {
    prop_oneof![
        Just(Error::Connect(ConnectCause::Refused)),
        Just(Error::Timeout),
        Just(Error::ConnectionLost),
        (500u16..504, proptest::option::of(0u64..40)).prop_map(|(status, ra)| Error::Upstream {
            status,
            retry_after: ra.map(secs)
        }),
        proptest::option::of(0u64..40).prop_map(|ra| Error::RateLimited {
            retry_after: ra.map(secs)
        }),
        Just(Error::Unauthorized),
        Just(Error::NotFound),
        Just(Error::CircuitOpen { retry_in: secs(5) }),
        Just(Error::Decode { reason: "eof".into() }),
        Just(Error::AnswerUnreadable {
            status: 200,
            reason: "missing field `id`".into()
        }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (0u64..12_000).prop_map(ok),
        6 => (error(), 0u64..12_000).prop_map(|(e, ms)| fail(e, ms)),
        1 => Just(hang()),
    ]
}

fn idempotency() -> impl Strategy<Value = Idempotency> {
    prop_oneof![
        Just(Idempotency::Idempotent),
        Just(Idempotency::Keyed),
        Just(Idempotency::NonIdempotent)
    ]
}

fn jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated)
    ]
}

/// What an attempt ended with as the engine saw it, and when.
fn seen(step: &Step, start: Duration, end: Option<Duration>, timeout: Duration) -> (Result<(), Error>, Duration) {
    match (&step.result, end) {
        (Some(r), Some(end)) => (r.clone(), end),
        _ => (Err(Error::Timeout), start + timeout),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn the_engine_keeps_its_promises(
        idem in idempotency(),
        max_attempts in 1u32..5,
        jitter in jitter(),
        seed in any::<u64>(),
        per_attempt_s in 1u64..15,
        deadline_s in 1u64..40,
        steps in proptest::collection::vec(step(), 0..6),
    ) {
        let policy = RetryPolicy {
            max_attempts,
            backoff: Backoff { jitter, ..Backoff::default() },
            per_attempt_timeout: secs(per_attempt_s),
            deadline: secs(deadline_s),
            jitter_seed: Some(seed),
            ..RetryPolicy::default()
        };
        let hook = Hook::default();
        let run = check(&policy, idem, &steps, &hook);
        let n = run.outcome.attempts as usize;

        prop_assert_eq!(n, run.spans.len());
        prop_assert!(n >= 1 && n <= max_attempts as usize);
        prop_assert!(run.total <= policy.deadline, "ran {:?} past a {:?} deadline", run.total, policy.deadline);

        let mut backoff_retries = 0u32;
        let mut reauth_retries = 0u32;
        let mut prev_delay = policy.backoff.initial;
        for i in 1..n {
            let (start, end) = run.spans[i - 1];
            let step = steps.get(i - 1).cloned().unwrap_or_else(|| ok(0));
            let timeout = policy.per_attempt_timeout.min(policy.deadline - start);
            let (result, end) = seen(&step, start, end, timeout);
            let Err(err) = result else {
                prop_assert!(false, "retried after a success");
                unreachable!()
            };
            // Never resend an outcome-unknown non-idempotent write, nor any write the
            // upstream accepted.
            prop_assert!(
                idem != Idempotency::NonIdempotent || err.delivery() != Delivery::Unknown,
                "resent a {:?} write after {:?}", idem, err
            );
            prop_assert!(
                idem == Idempotency::Idempotent || err.delivery() != Delivery::Applied,
                "resent a {:?} write the upstream accepted ({:?})", idem, err
            );
            prop_assert!(!matches!(err, Error::CircuitOpen { .. }), "retried an open circuit");
            let gap = run.spans[i].0 - end;
            if err.needs_reauth() {
                reauth_retries += 1;
                prop_assert_eq!(gap, Duration::ZERO);
            } else if let Some(asked) = err.retry_after() {
                prop_assert!(err.classify().retryable);
                prop_assert_eq!(gap, asked);
                prop_assert!(asked <= policy.max_retry_after);
            } else {
                prop_assert!(err.classify().retryable, "retried {:?}", err);
                backoff_retries += 1;
                let base = policy.backoff.base_delay(backoff_retries);
                let ok = match jitter {
                    Jitter::None => gap == base,
                    Jitter::Full => gap <= base,
                    Jitter::Equal => gap >= base / 2 && gap <= base,
                    Jitter::Decorrelated => gap >= policy.backoff.initial && gap <= (prev_delay * 3).min(policy.backoff.max),
                };
                prop_assert!(ok, "wait {:?} out of bounds for retry {} with {:?}", gap, backoff_retries, jitter);
                prev_delay = gap;
            }
        }
        prop_assert!(reauth_retries <= 1);
        prop_assert_eq!(run.reauths, reauth_retries);

        // How the call ended.
        let (start, end) = run.spans[n - 1];
        let step = steps.get(n - 1).cloned().unwrap_or_else(|| ok(0));
        let timeout = policy.per_attempt_timeout.min(policy.deadline - start);
        let (last, end) = seen(&step, start, end, timeout);
        match (&run.outcome.result, &last) {
            (Ok(()), Ok(())) => {}
            (Err(Error::DeadlineExceeded { last: inner }), Err(e)) => prop_assert_eq!(inner.as_ref(), e),
            (Err(Error::Timeout), Err(Error::Timeout)) => {}
            (Err(got), Err(e)) => {
                prop_assert_eq!(got, e);
                // It ended early only for a reason.
                let reason = n == max_attempts as usize
                    || (idem == Idempotency::NonIdempotent && e.delivery() == Delivery::Unknown)
                    || !e.classify().retryable
                    || matches!(e, Error::CircuitOpen { .. })
                    || e.retry_after().is_some_and(|ra| ra > policy.max_retry_after || end + ra >= policy.deadline);
                prop_assert!(reason, "gave up on {:?} after {} attempts", e, n);
            }
            (got, want) => prop_assert!(false, "ended with {:?}, last attempt saw {:?}", got, want),
        }
    }
}
