use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;

use super::gcra::{self, Params, State};
use super::*;
use crate::clock::ManualClock;

fn params(rate_per_s: f64, burst: u32, reserve: f64) -> Params {
    Params::new(&RateConfig {
        write_reserve: reserve,
        ..RateConfig::new(rate_per_s, burst)
    })
}

#[derive(Debug, Clone)]
enum Op {
    Advance(u64),
    Admit(Class, u64),
    Pause(u64),
}

fn class() -> impl Strategy<Value = Class> {
    prop_oneof![Just(Class::Read), Just(Class::Write)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u64..3_000_000).prop_map(Op::Advance),
        8 => (class(), prop_oneof![Just(0u64), 0u64..5_000_000]).prop_map(|(c, w)| Op::Admit(c, w)),
        1 => (0u64..4_000_000).prop_map(Op::Pause),
    ]
}

/// The reference: admitted send times must stay within `burst + elapsed / T` over every
/// span, and a paused budget sends nothing before the pause ends.
#[derive(Debug, Default)]
struct Model {
    sent: Vec<u64>,
    /// (from, until) of every pause so far: admissions asked for after it send after it.
    pauses: Vec<(u64, u64)>,
}

impl Model {
    fn check_rate(&self, interval: u64, burst: u64) -> Result<(), TestCaseError> {
        let mut sent = self.sent.clone();
        sent.sort_unstable();
        for i in 0..sent.len() {
            for j in i..sent.len() {
                let n = (j - i + 1) as u64;
                // n ≤ (sent_j − sent_i) / T + burst
                prop_assert!(
                    n.saturating_sub(burst) * interval <= sent[j] - sent[i],
                    "{n} sends within {} µs at T={interval} burst={burst}",
                    sent[j] - sent[i]
                );
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    /// Any arrival sequence of reads, writes and pauses: sends never exceed rate × span +
    /// burst, nothing is sent during a pause, a refusal consumes nothing and its
    /// `retry_after` is honest (asking again then is admitted at once).
    #[test]
    fn gcra_matches_the_model(
        rate in 0.5f64..200.0,
        burst in 1u32..20,
        reserve in 0.0f64..0.9,
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let p = params(rate, burst, reserve);
        let mut s = State::default();
        let mut now = 1u64;
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Advance(d) => now += d,
                Op::Pause(d) => {
                    gcra::pause(&p, &mut s, now, d);
                    model.pauses.push((now, now + d));
                }
                Op::Admit(class, max_wait) => {
                    let before = s;
                    let sent = match gcra::admit(&p, &mut s, now, class, max_wait) {
                        Admission::Now => Some(now),
                        Admission::Wait(d) => {
                            let d = gcra::micros(d);
                            prop_assert!(d > 0 && d <= max_wait);
                            Some(now + d)
                        }
                        Admission::Refused { retry_after } => {
                            prop_assert_eq!(s, before, "a refusal consumed a slot");
                            let r = gcra::micros(retry_after);
                            prop_assert!(r > max_wait);
                            let mut again = s;
                            prop_assert_eq!(gcra::admit(&p, &mut again, now + r, class, 0), Admission::Now);
                            None
                        }
                    };
                    if let Some(sent) = sent {
                        model.sent.push(sent);
                        for &(_, until) in &model.pauses {
                            prop_assert!(sent >= until, "sent at {sent} during a pause until {until}");
                        }
                    }
                }
            }
        }
        model.check_rate(p.interval_us, p.burst)?;
    }

    /// Reads that are sent at once never take the write reserve: after any sequence of
    /// them, a burst of writes still gets ⌊reserve × (burst − 1)⌋ slots at once.
    #[test]
    fn reads_never_take_the_write_reserve(
        rate in 0.5f64..200.0,
        burst in 1u32..40,
        reserve in 0.0f64..1.0,
        reads in proptest::collection::vec(0u64..500_000, 0..60),
    ) {
        let p = params(rate, burst, reserve);
        let mut s = State::default();
        let mut now = 1u64;
        for gap in reads {
            now += gap;
            let _ = gcra::admit(&p, &mut s, now, Class::Read, 0);
        }
        let mut writes = 0u64;
        while gcra::admit(&p, &mut s, now, Class::Write, 0) == Admission::Now {
            writes += 1;
        }
        let tau = (p.burst - 1) * p.interval_us;
        let reserved = tau - ((tau as f64) * p.read_share).floor() as u64;
        prop_assert!(writes >= reserved / p.interval_us, "{writes} writes, reserve {reserved} µs at T={}", p.interval_us);
    }

    /// After the vendor says `remaining` requests are left until `resets_in`, no more than
    /// that many are sent before the reset, whatever arrives; a quota of `limit` per
    /// `window` holds every span to `window / limit` per request plus the burst.
    #[test]
    fn learned_limits_are_respected(
        rate in 1.0f64..500.0,
        burst in 1u32..30,
        history in proptest::collection::vec((0u64..200_000, class()), 0..30),
        remaining in 0u64..50,
        resets_ms in 1u64..5_000,
        limit in 1u64..100,
        window_ms in 1u64..60_000,
        arrivals in proptest::collection::vec((0u64..100_000, class(), 0u64..20_000_000), 1..200),
    ) {
        let p = params(rate, burst, 0.2);
        let mut s = State::default();
        let mut now = 1u64;
        for (gap, class) in history {
            now += gap;
            let _ = gcra::admit(&p, &mut s, now, class, 0);
        }
        let mut window = s;
        let learned_at = now;
        let reset = resets_ms * 1_000;
        gcra::learn(&p, &mut window, now, &LearnedPolicy {
            quota: None,
            remaining: Some(Remaining { remaining, resets_in: Duration::from_micros(reset) }),
        });
        let mut quota = s;
        gcra::learn(&p, &mut quota, now, &LearnedPolicy {
            quota: Some(Quota { limit, window: Duration::from_millis(window_ms) }),
            remaining: None,
        });
        let (mut in_window, mut quota_sent) = (0u64, Vec::new());
        for (gap, class, max_wait) in arrivals {
            now += gap;
            if let Some(w) = gcra::admit(&p, &mut window, now, class, max_wait).wait()
                && now + gcra::micros(w) < learned_at + reset
            {
                in_window += 1;
            }
            if let Some(w) = gcra::admit(&p, &mut quota, now, class, max_wait).wait() {
                quota_sent.push(now + gcra::micros(w));
            }
        }
        prop_assert!(in_window <= remaining, "{in_window} sent before the reset, {remaining} were left");
        let interval = p.interval_us.max((window_ms * 1_000).div_ceil(limit));
        // The bucket may still hold what it held before the quota was learned: one burst more.
        Model { sent: quota_sent, pauses: vec![] }.check_rate(interval, p.burst * 2)?;
    }

    /// Hostile values (zeros, huge numbers, NaN rates) are clamped and never panic.
    #[test]
    fn hostile_values_never_panic(
        rate in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(0.0), Just(-1.0), any::<f64>()],
        burst in any::<u32>(),
        reserve in prop_oneof![Just(f64::NAN), Just(-3.0), Just(7.0), any::<f64>()],
        limit in any::<u64>(),
        window in any::<u64>(),
        remaining in any::<u64>(),
        resets in any::<u64>(),
        pause in any::<u64>(),
        now in 1u64..(1u64 << 52),
    ) {
        let p = Params::new(&RateConfig {
            requests_per_s: rate,
            burst,
            write_reserve: reserve,
            max_learned: Duration::from_secs(u64::MAX),
            learned_ttl: Duration::MAX,
        });
        prop_assert!(p.interval_us >= 1 && p.burst >= 1 && (0.0..=1.0).contains(&p.read_share));
        let mut s = State::default();
        gcra::learn(&p, &mut s, now, &LearnedPolicy {
            quota: Some(Quota { limit, window: Duration::from_micros(window) }),
            remaining: Some(Remaining { remaining, resets_in: Duration::from_micros(resets) }),
        });
        gcra::pause(&p, &mut s, now, pause);
        let horizon = now + gcra::MAX_LEARNED.as_micros() as u64 * 3 + p.burst * p.interval_us;
        prop_assert!(s.tat <= horizon && s.pause_until <= horizon, "{s:?}");
        let _ = gcra::admit(&p, &mut s, now, Class::Read, u64::MAX);
        let _ = gcra::snapshot(&p, &s, now);
        // Everything stays exact in a double (the Redis script's numbers).
        prop_assert!(s.tat < 1u64 << 53);
    }
}

#[tokio::test]
async fn the_local_budget_runs_on_its_clock() {
    let clock = Arc::new(ManualClock::new(0));
    let budget = LocalBudget::new(RateConfig::new(2.0, 3), clock.clone());
    let (a, b) = (BudgetKey::new("zendesk:a"), BudgetKey::new("zendesk:b"));
    for _ in 0..3 {
        assert_eq!(budget.admit(&a, Class::Write, Duration::ZERO).await, Admission::Now);
    }
    assert_eq!(
        budget.admit(&a, Class::Write, Duration::ZERO).await,
        Admission::Refused {
            retry_after: Duration::from_millis(500)
        }
    );
    // Another account has its own budget.
    assert_eq!(budget.admit(&b, Class::Write, Duration::ZERO).await, Admission::Now);
    clock.advance(Duration::from_millis(500));
    assert_eq!(budget.admit(&a, Class::Write, Duration::ZERO).await, Admission::Now);
    assert_eq!(budget.snapshot(&a).await.remaining, 0);
    clock.advance(Duration::from_secs(10));
    let snap = budget.snapshot(&a).await;
    assert_eq!((snap.remaining, snap.interval), (3, Duration::from_millis(500)));
}

#[tokio::test]
async fn reads_leave_the_reserve_to_writes() {
    let clock = Arc::new(ManualClock::new(0));
    // Burst 11: τ = 10 T; reads use 8 T of it, so 9 reads go at once and 2 writes after them.
    let budget = LocalBudget::new(RateConfig::new(1.0, 11), clock);
    let key = BudgetKey::new("jira:site");
    let mut reads = 0;
    while budget.admit(&key, Class::Read, Duration::ZERO).await == Admission::Now {
        reads += 1;
    }
    let mut writes = 0;
    while budget.admit(&key, Class::Write, Duration::ZERO).await == Admission::Now {
        writes += 1;
    }
    assert_eq!((reads, writes), (9, 2));
}

#[tokio::test]
async fn a_pause_holds_everyone_and_then_resumes_without_a_burst() {
    let clock = Arc::new(ManualClock::new(0));
    let budget = LocalBudget::new(RateConfig::new(10.0, 5), clock.clone());
    let key = BudgetKey::new("generic:token");
    budget.pause(&key, Duration::from_secs(30)).await;
    assert_eq!(budget.snapshot(&key).await.paused_for, Duration::from_secs(30));
    assert_eq!(
        budget.admit(&key, Class::Write, Duration::from_secs(1)).await,
        Admission::Refused {
            retry_after: Duration::from_secs(30)
        }
    );
    assert_eq!(
        budget.admit(&key, Class::Write, Duration::from_secs(60)).await,
        Admission::Wait(Duration::from_secs(30))
    );
    clock.advance(Duration::from_secs(30));
    assert_eq!(
        budget.admit(&key, Class::Write, Duration::ZERO).await,
        Admission::Refused {
            retry_after: Duration::from_millis(100)
        }
    );
}

#[tokio::test]
async fn a_vendor_saying_nothing_is_left_pauses_until_its_reset() {
    let clock = Arc::new(ManualClock::new(0));
    let budget = LocalBudget::new(RateConfig::new(100.0, 10), clock.clone());
    let key = BudgetKey::new("zendesk:acme");
    let policy = LearnedPolicy {
        quota: Some(Quota {
            limit: 60,
            window: Duration::from_secs(60),
        }),
        remaining: Some(Remaining {
            remaining: 0,
            resets_in: Duration::from_secs(12),
        }),
    };
    budget.learn(&key, &policy).await;
    let snap = budget.snapshot(&key).await;
    assert_eq!(snap.paused_for, Duration::from_secs(12));
    assert_eq!(snap.quota_interval, Some(Duration::from_secs(1)));
    assert_eq!(snap.interval, Duration::from_secs(1));
    assert!(
        !budget
            .admit(&key, Class::Write, Duration::from_secs(11))
            .await
            .is_admitted()
    );
}
