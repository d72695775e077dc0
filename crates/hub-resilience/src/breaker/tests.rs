//! The breaker against a reference model, and a concurrent half-open stampede.

use super::*;
use crate::clock::ManualClock;
use proptest::prelude::*;
use std::sync::atomic::AtomicUsize;

#[derive(Default)]
struct Recorder(Mutex<Vec<Transition>>);

impl BreakerObserver for Recorder {
    fn on_transition(&self, t: &Transition) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(*t);
    }
}

impl Recorder {
    fn take(&self) -> Vec<Transition> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

fn breaker(threshold: u32, recovery_s: u64) -> (CircuitBreaker, Arc<ManualClock>, Arc<Recorder>) {
    let clock = Arc::new(ManualClock::new(0));
    let rec = Arc::new(Recorder::default());
    let b = CircuitBreaker::builder()
        .config(BreakerConfig {
            failure_threshold: threshold,
            recovery: Duration::from_secs(recovery_s),
            half_open_retry_in: Duration::from_millis(1_000),
        })
        .clock(clock.clone())
        .observer(rec.clone())
        .build();
    (b, clock, rec)
}

#[derive(Debug, Clone, Copy)]
enum End {
    Success,
    Failure,
    /// A 4xx/429: the upstream answered.
    Refused,
    Cancel,
}

#[derive(Debug, Clone)]
enum Op {
    Admit,
    Finish(usize, End),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Admit),
        4 => (any::<usize>(), prop_oneof![
            Just(End::Success), Just(End::Failure), Just(End::Refused), Just(End::Cancel)
        ]).prop_map(|(i, e)| Op::Finish(i, e)),
        1 => (0u64..90_000).prop_map(Op::Advance),
    ]
}

/// The reference model: plain fields, no atomics, no generations beyond a counter.
struct Model {
    state: CircuitState,
    failures: u32,
    open_until_ms: u64,
    now_ms: u64,
    epoch: u64,
    threshold: u32,
    recovery_ms: u64,
    transitions: Vec<Transition>,
}

impl Model {
    fn go(&mut self, to: CircuitState) {
        self.transitions.push(Transition {
            from: self.state,
            to,
            consecutive_failures: self.failures,
        });
        self.state = to;
        self.epoch += 1;
        if to == CircuitState::Open {
            self.open_until_ms = self.now_ms + self.recovery_ms;
        }
        if to == CircuitState::Closed {
            self.failures = 0;
        }
    }

    /// `Ok((epoch, probe))` or `Err(retry_in_ms)`.
    fn admit(&mut self) -> Result<(u64, bool), u64> {
        match self.state {
            CircuitState::Closed => Ok((self.epoch, false)),
            CircuitState::Open if self.now_ms >= self.open_until_ms => {
                self.go(CircuitState::HalfOpen);
                Ok((self.epoch, true))
            }
            CircuitState::Open => Err(self.open_until_ms - self.now_ms),
            CircuitState::HalfOpen => Err(1_000),
        }
    }

    fn finish(&mut self, epoch: u64, probe: bool, end: End) {
        if epoch != self.epoch {
            return;
        }
        let failed = match end {
            End::Failure => true,
            End::Success | End::Refused => false,
            End::Cancel if probe => true,
            End::Cancel => return,
        };
        match (self.state, failed) {
            (CircuitState::Closed, true) => {
                self.failures += 1;
                if self.failures >= self.threshold {
                    self.go(CircuitState::Open);
                }
            }
            (CircuitState::Closed, false) => self.failures = 0,
            (CircuitState::HalfOpen, true) => self.go(CircuitState::Open),
            (CircuitState::HalfOpen, false) => self.go(CircuitState::Closed),
            (CircuitState::Open, _) => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn breaker_matches_the_model(threshold in 1u32..6, recovery_s in 1u64..90, ops in proptest::collection::vec(op(), 1..120)) {
        let (b, clock, rec) = breaker(threshold, recovery_s);
        let mut model = Model {
            state: CircuitState::Closed, failures: 0, open_until_ms: 0, now_ms: 0, epoch: 0,
            threshold, recovery_ms: recovery_s * 1_000, transitions: vec![],
        };
        let mut permits: Vec<(Permit<'_>, u64, bool)> = Vec::new();
        for op in ops {
            match op {
                Op::Admit => match (b.admit(), model.admit()) {
                    (Ok(p), Ok((epoch, probe))) => {
                        prop_assert_eq!(p.is_probe(), probe);
                        permits.push((p, epoch, probe));
                    }
                    (Err(Error::CircuitOpen { retry_in }), Err(ms)) => {
                        prop_assert_eq!(retry_in, Duration::from_millis(ms));
                    }
                    (real, model) => prop_assert!(false, "admission differs: {real:?} vs {model:?}"),
                },
                Op::Finish(i, end) if !permits.is_empty() => {
                    let (p, epoch, probe) = permits.swap_remove(i % permits.len());
                    match end {
                        End::Success => p.record::<()>(&Ok(())),
                        End::Failure => p.record::<()>(&Err(Error::Upstream { status: 503, retry_after: None })),
                        End::Refused => p.record::<()>(&Err(Error::RateLimited { retry_after: None })),
                        End::Cancel => drop(p),
                    }
                    model.finish(epoch, probe, end);
                }
                Op::Finish(..) => {}
                Op::Advance(ms) => {
                    clock.advance(Duration::from_millis(ms));
                    model.now_ms += ms;
                }
            }
            prop_assert_eq!(b.state(), model.state);
            prop_assert_eq!(b.consecutive_failures(), model.failures);
            let probes = permits.iter().filter(|(p, epoch, _)| p.is_probe() && *epoch == model.epoch).count();
            prop_assert!(probes <= 1, "{} probes in flight", probes);
            prop_assert_eq!(probes == 1, model.state == CircuitState::HalfOpen);
            prop_assert_eq!(rec.take(), std::mem::take(&mut model.transitions));
        }
    }
}

#[test]
fn opens_after_consecutive_failures_only() {
    let (b, _, rec) = breaker(3, 60);
    let fail = || b.admit().map(|p| p.record::<()>(&Err(Error::Timeout)));
    fail().ok();
    fail().ok();
    // A 404 proves the upstream answers: the count starts again.
    b.admit().map(|p| p.record::<()>(&Err(Error::NotFound))).ok();
    fail().ok();
    fail().ok();
    assert_eq!(b.state(), CircuitState::Closed);
    fail().ok();
    assert_eq!(b.state(), CircuitState::Open);
    assert_eq!(
        rec.take(),
        vec![Transition {
            from: CircuitState::Closed,
            to: CircuitState::Open,
            consecutive_failures: 3
        }]
    );
}

#[test]
fn a_dropped_probe_reopens() {
    let (b, clock, _) = breaker(1, 60);
    b.admit().map(|p| p.failure()).ok();
    clock.advance(Duration::from_secs(60));
    let probe = b.admit();
    assert!(matches!(&probe, Ok(p) if p.is_probe()));
    assert_eq!(b.state(), CircuitState::HalfOpen);
    drop(probe);
    assert_eq!(b.state(), CircuitState::Open);
    match b.admit() {
        Err(Error::CircuitOpen { retry_in }) => assert_eq!(retry_in, Duration::from_secs(60)),
        other => panic!("expected open, got {other:?}"),
    }
}

#[test]
fn late_results_of_an_old_generation_are_ignored() {
    let (b, clock, _) = breaker(1, 10);
    let old = b.admit();
    b.admit().map(|p| p.failure()).ok();
    assert_eq!(b.state(), CircuitState::Open);
    clock.advance(Duration::from_secs(10));
    let probe = b.admit();
    // A success admitted before the circuit opened must not close it.
    old.map(|p| p.success()).ok();
    assert_eq!(b.state(), CircuitState::HalfOpen);
    probe.map(|p| p.success()).ok();
    assert_eq!(b.state(), CircuitState::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_callers_on_a_half_open_breaker_make_one_probe() {
    let clock = Arc::new(ManualClock::new(0));
    let b = Arc::new(
        CircuitBreaker::builder()
            .config(BreakerConfig {
                failure_threshold: 1,
                ..BreakerConfig::default()
            })
            .clock(clock.clone())
            .build(),
    );
    b.admit().map(|p| p.failure()).ok();
    clock.advance(Duration::from_secs(60));

    let probes = Arc::new(AtomicUsize::new(0));
    let rejected = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(tokio::sync::Barrier::new(100));
    let (release_tx, release_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (b, probes, rejected, start) = (b.clone(), probes.clone(), rejected.clone(), start.clone());
        let mut release = release_rx.clone();
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            match b.admit() {
                Ok(p) => {
                    assert!(p.is_probe());
                    probes.fetch_add(1, Ordering::SeqCst);
                    // Hold the probe until everyone has tried.
                    release.wait_for(|r| *r).await.ok();
                    p.success();
                }
                Err(Error::CircuitOpen { .. }) => {
                    rejected.fetch_add(1, Ordering::SeqCst);
                }
                Err(e) => panic!("unexpected {e}"),
            }
        }));
    }
    // Wait (on tokio, not the wall clock) until 99 callers were turned away.
    while rejected.load(Ordering::SeqCst) + probes.load(Ordering::SeqCst) < 100 {
        tokio::task::yield_now().await;
    }
    release_tx.send(true).ok();
    for t in tasks {
        t.await.ok();
    }
    assert_eq!(probes.load(Ordering::SeqCst), 1);
    assert_eq!(rejected.load(Ordering::SeqCst), 99);
    assert_eq!(b.state(), CircuitState::Closed);
}

/// Real threads racing on admission, results, drops and the clock: never two probes at once.
#[test]
fn racing_threads_never_see_two_probes() {
    let clock = Arc::new(ManualClock::new(0));
    let b = Arc::new(
        CircuitBreaker::builder()
            .config(BreakerConfig {
                failure_threshold: 2,
                recovery: Duration::from_millis(5),
                ..BreakerConfig::default()
            })
            .clock(clock.clone())
            .build(),
    );
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_seen = Arc::new(AtomicUsize::new(0));
    let probes = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let (b, clock, in_flight, max_seen, probes) = (
                b.clone(),
                clock.clone(),
                in_flight.clone(),
                max_seen.clone(),
                probes.clone(),
            );
            std::thread::spawn(move || {
                // A small deterministic generator per thread.
                let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ t;
                for _ in 0..20_000 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    if x.is_multiple_of(7) {
                        clock.advance(Duration::from_millis(1));
                    }
                    let Ok(permit) = b.admit() else { continue };
                    let probe = permit.is_probe();
                    if probe {
                        probes.fetch_add(1, Ordering::SeqCst);
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        max_seen.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                    }
                    match x % 3 {
                        0 => permit.success(),
                        1 => permit.failure(),
                        _ => drop(permit),
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(
        probes.load(Ordering::SeqCst) > 10,
        "the race must reach half-open often"
    );
    assert_eq!(max_seen.load(Ordering::SeqCst), 1);
}
