//! The rate budget shared on Redis: instances share one rate, one instance's pause and
//! learned limits hold for all, the script computes what the in-process budget does, and
//! with Redis gone admissions come from the local fallback and come back. Each test has
//! its own key prefix.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hub_resilience::clock::{ManualClock, TokioClock};
use hub_resilience::rate_budget::{
    Admission, BudgetKey, Class, LearnedPolicy, LocalBudget, Quota, RateBudget, RateConfig, Remaining,
};
use hub_store::{RedisBudget, SharedBudgetOptions, StoreConfig};
use proptest::prelude::*;

use crate::support::{Proxy, redis_url};

/// Bounds a failure only: a healthy test never waits this long.
const FAILURE_BOUND: Duration = Duration::from_secs(20);

/// One request per 1000 s: the milliseconds a test takes never free a slot.
const SLOW: f64 = 0.001;

fn prefix() -> String {
    format!("hub-test:rate:{}", uuid::Uuid::new_v4().simple())
}

fn budget_on(url: &str, prefix: &str, rate: RateConfig, instances_hint: u32) -> RedisBudget {
    let options = SharedBudgetOptions {
        instances_hint,
        // Generous for a loaded test machine; the fallback tests take Redis away entirely.
        timeout: Duration::from_secs(2),
        ..SharedBudgetOptions::new("generic", prefix)
    };
    RedisBudget::open(url, &StoreConfig::default(), rate, options, Arc::new(TokioClock::new())).unwrap()
}

fn budget(prefix: &str, rate: RateConfig) -> RedisBudget {
    budget_on(&redis_url(), prefix, rate, 1)
}

/// Admits writes that go at once until one does not; their number.
async fn drain(budget: &RedisBudget, key: &BudgetKey) -> usize {
    let mut n = 0;
    while budget.admit(key, Class::Write, Duration::ZERO).await == Admission::Now {
        n += 1;
        assert!(n < 1_000, "the budget never ran out");
    }
    n
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_rate() {
    let prefix = prefix();
    let (a, b) = (
        budget(&prefix, RateConfig::new(SLOW, 5)),
        budget(&prefix, RateConfig::new(SLOW, 5)),
    );
    let key = BudgetKey::new("acme:token-1");
    for _ in 0..3 {
        assert_eq!(a.admit(&key, Class::Write, Duration::ZERO).await, Admission::Now);
    }
    assert_eq!(drain(&b, &key).await, 2, "B gets what A left of the burst");
    assert!(!a.admit(&key, Class::Write, Duration::ZERO).await.is_admitted());
    assert!(!a.is_degraded() && !b.is_degraded());
    // Another account is another budget.
    assert_eq!(drain(&b, &BudgetKey::new("acme:token-2")).await, 5);
    assert_eq!(b.snapshot(&key).await.remaining, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_on_one_instance_holds_the_other() {
    let prefix = prefix();
    let rate = RateConfig::new(100.0, 10);
    let (a, b) = (budget(&prefix, rate), budget(&prefix, rate));
    let key = BudgetKey::new("acme:token-1");
    assert_eq!(b.admit(&key, Class::Write, Duration::ZERO).await, Admission::Now);
    a.pause(&key, Duration::from_secs(60)).await; // A's upstream answered 429, Retry-After: 60
    let Admission::Refused { retry_after } = b.admit(&key, Class::Write, Duration::from_secs(30)).await else {
        panic!("B was admitted during A's pause");
    };
    assert!((59.0..=60.0).contains(&secs(retry_after)), "{retry_after:?}");
    let snap = b.snapshot(&key).await;
    assert_eq!(snap.remaining, 0);
    assert!((59.0..=60.0).contains(&secs(snap.paused_for)), "{snap:?}");
    // A caller that can wait out the pause gets a slot at its end.
    let wait = b
        .admit(&key, Class::Write, Duration::from_secs(61))
        .await
        .wait()
        .unwrap();
    assert!((59.0..=60.0).contains(&secs(wait)), "{wait:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learned_limits_narrow_every_instance() {
    let prefix = prefix();
    let rate = RateConfig::new(100.0, 10);
    let (a, b) = (budget(&prefix, rate), budget(&prefix, rate));
    let key = BudgetKey::new("acme:token-1");
    // Two left until the reset in 60 s: spread 30 s apart, the second at 30 s.
    let policy = LearnedPolicy {
        quota: None,
        remaining: Some(Remaining {
            remaining: 2,
            resets_in: Duration::from_secs(60),
        }),
    };
    a.learn(&key, &policy).await;
    assert_eq!(b.admit(&key, Class::Write, Duration::ZERO).await, Admission::Now);
    let wait = b
        .admit(&key, Class::Write, Duration::from_secs(45))
        .await
        .wait()
        .unwrap();
    assert!((29.0..=30.0).contains(&secs(wait)), "{wait:?}");
    // The third would go at the reset, not before it.
    let Admission::Refused { retry_after } = b.admit(&key, Class::Write, Duration::from_secs(58)).await else {
        panic!("a third request before the reset");
    };
    assert!((59.0..=60.0).contains(&secs(retry_after)), "{retry_after:?}");
    let snap = a.snapshot(&key).await;
    assert_eq!(snap.window_interval, Some(Duration::from_secs(30)));

    // A quota of 6 per minute: one every 10 s, whatever the configured 100/s.
    let other = BudgetKey::new("acme:token-2");
    let quota = LearnedPolicy {
        quota: Some(Quota {
            limit: 6,
            window: Duration::from_secs(60),
        }),
        remaining: None,
    };
    b.learn(&other, &quota).await;
    let snap = a.snapshot(&other).await;
    assert_eq!(
        (snap.interval, snap.quota_interval),
        (Duration::from_secs(10), Some(Duration::from_secs(10)))
    );
    assert_eq!(snap.remaining, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_leave_the_write_reserve_on_redis_too() {
    let prefix = prefix();
    let b = budget(&prefix, RateConfig::new(SLOW, 11));
    let key = BudgetKey::new("acme:token-1");
    let mut reads = 0;
    while b.admit(&key, Class::Read, Duration::ZERO).await == Admission::Now {
        reads += 1;
    }
    assert_eq!((reads, drain(&b, &key).await), (9, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_gone_the_local_budget_answers_and_redis_takes_over_again() {
    let prefix = prefix();
    let proxy = Proxy::start().await;
    // Four per 1000 s shared; alone, this instance of two may take two.
    let a = budget_on(&proxy.url(), &prefix, RateConfig::new(SLOW, 4), 2);
    let key = BudgetKey::new("acme:token-1");
    assert_eq!(a.admit(&key, Class::Write, Duration::ZERO).await, Admission::Now);
    assert!(!a.is_degraded());

    proxy.cut();
    let answers = [
        a.admit(&key, Class::Write, Duration::ZERO).await,
        a.admit(&key, Class::Write, Duration::ZERO).await,
        a.admit(&key, Class::Write, Duration::ZERO).await,
    ];
    assert!(a.is_degraded());
    assert_eq!(answers[..2], [Admission::Now, Admission::Now], "{answers:?}");
    assert!(
        !answers[2].is_admitted(),
        "the fallback admits rate / instances_hint: {answers:?}"
    );
    // A pause learned meanwhile holds locally.
    a.pause(&BudgetKey::new("acme:token-9"), Duration::from_secs(30)).await;
    assert!(
        !a.admit(&BudgetKey::new("acme:token-9"), Class::Write, Duration::ZERO)
            .await
            .is_admitted()
    );

    proxy.restore();
    let deadline = Instant::now() + FAILURE_BOUND;
    while a.is_degraded() {
        assert!(Instant::now() < deadline, "the shared budget never came back");
        let _ = a.snapshot(&key).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Redis still holds the one slot taken before the cut: three of four are left.
    assert_eq!(drain(&a, &key).await, 3);
}

/// What the vendor says is left is shared out among the instances in the fallback too:
/// with Redis gone, each of three instances spreads a third of it to the reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fallback_learns_its_share_of_what_is_left() {
    let prefix = prefix();
    let key = BudgetKey::new("acme:token-1");
    let said = LearnedPolicy {
        quota: None,
        remaining: Some(Remaining {
            remaining: 6,
            resets_in: Duration::from_secs(60),
        }),
    };
    let mut intervals = Vec::new();
    for instances in [1, 3] {
        let b = budget_on("redis://127.0.0.1:1", &prefix, RateConfig::new(1_000.0, 100), instances);
        b.learn(&key, &said).await;
        intervals.push(b.fallback().snapshot_now(&key).window_interval.map(secs));
    }
    assert_eq!(intervals, [Some(10.0), Some(30.0)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_never_answers_costs_one_timeout_not_an_error() {
    let prefix = prefix();
    let proxy = Proxy::start().await;
    let a = budget_on(&proxy.url(), &prefix, RateConfig::new(SLOW, 2), 1);
    let a = a.with_rate(
        RateConfig::new(SLOW, 2),
        SharedBudgetOptions {
            timeout: Duration::from_millis(50),
            ..SharedBudgetOptions::new("generic", &prefix)
        },
        Arc::new(TokioClock::new()),
    );
    let key = BudgetKey::new("acme:token-1");
    assert_eq!(a.admit(&key, Class::Write, Duration::ZERO).await, Admission::Now);
    proxy.freeze(); // connections stay open; nothing comes back
    assert_eq!(a.admit(&key, Class::Write, Duration::ZERO).await, Admission::Now);
    assert!(a.is_degraded());
    // A closed port is the same: the fallback answers.
    let closed = budget_on("redis://127.0.0.1:1", &prefix, RateConfig::new(SLOW, 2), 1);
    assert_eq!(closed.admit(&key, Class::Read, Duration::ZERO).await, Admission::Now);
    assert!(closed.is_degraded());
}

#[derive(Debug, Clone)]
enum Op {
    Admit(Class, u64),
    Pause(u64),
    Learn(LearnedPolicy),
}

fn op() -> impl Strategy<Value = Op> {
    let class = prop_oneof![Just(Class::Read), Just(Class::Write)];
    // Waits in whole 1000 s steps, half a step off the slots, so the seconds a run takes
    // on Redis's clock never change a decision.
    let learn = (
        proptest::option::of((0u64..20, 1u64..200_000)),
        proptest::option::of((0u64..20, 0u64..200_000)),
    )
        .prop_map(|(q, r)| {
            Op::Learn(LearnedPolicy {
                quota: q.map(|(limit, s)| Quota {
                    limit,
                    window: Duration::from_secs(s),
                }),
                remaining: r.map(|(remaining, s)| Remaining {
                    remaining,
                    resets_in: Duration::from_secs(s),
                }),
            })
        });
    prop_oneof![
        6 => (class, 0u64..6).prop_map(|(c, k)| Op::Admit(c, k * 1_000_000 + 500_000)),
        1 => (0u64..5_000).prop_map(Op::Pause),
        2 => learn,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The Lua script and the in-process budget decide alike on any sequence.
    #[test]
    fn the_script_computes_the_in_process_formula(burst in 1u32..8, ops in proptest::collection::vec(op(), 1..25)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let rate = RateConfig::new(SLOW, burst);
            let redis = budget(&prefix(), rate);
            let local = LocalBudget::new(rate, Arc::new(ManualClock::new(0)));
            let key = BudgetKey::new("acme:token-1");
            for op in ops {
                match op {
                    Op::Admit(class, wait_ms) => {
                        let max_wait = Duration::from_millis(wait_ms);
                        let (r, l) = (redis.admit(&key, class, max_wait).await, local.admit(&key, class, max_wait).await);
                        prop_assert_eq!(r.is_admitted(), l.is_admitted(), "{:?} vs {:?}", r, l);
                        let gap = |a: &Admission| match a {
                            Admission::Refused { retry_after } => *retry_after,
                            other => other.wait().unwrap_or_default(),
                        };
                        let (gr, gl) = (gap(&r), gap(&l));
                        prop_assert!(gr.abs_diff(gl) < Duration::from_secs(60), "{:?} vs {:?}", r, l);
                    }
                    Op::Pause(s) => {
                        redis.pause(&key, Duration::from_secs(s)).await;
                        local.pause(&key, Duration::from_secs(s)).await;
                    }
                    Op::Learn(policy) => {
                        redis.learn(&key, &policy).await;
                        local.learn(&key, &policy).await;
                    }
                }
                let (r, l) = (redis.snapshot(&key).await, local.snapshot(&key).await);
                prop_assert_eq!(r.remaining, l.remaining);
                prop_assert_eq!(r.interval, l.interval);
                prop_assert_eq!(r.quota_interval, l.quota_interval);
                prop_assert_eq!(r.window_interval, l.window_interval);
            }
            prop_assert!(!redis.is_degraded());
            Ok(())
        })?;
    }
}
