//! A per-adapter circuit breaker: consecutive failures open it, and after the recovery time exactly one probe decides.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hub_core::Error;
use tokio::time::Instant;

use crate::clock::{MonotonicClock, TokioClock};
use crate::observe::NoopObserver;

/// The breaker's state, as `/readyz` and the `integration_circuit_breaker_state` gauge show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CircuitState {
    /// Calls go through; consecutive failures are counted.
    Closed,
    /// Calls are rejected until the recovery time has passed and a caller takes the probe.
    Open,
    /// One probe is in flight; every other call is rejected.
    HalfOpen,
}

impl CircuitState {
    /// `closed`, `open` or `half_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }

    /// The gauge value: 0 closed, 1 open, 2 half-open.
    pub fn gauge(self) -> u8 {
        match self {
            Self::Closed => 0,
            Self::Open => 1,
            Self::HalfOpen => 2,
        }
    }

    fn from_bits(bits: u64) -> Self {
        match bits & STATE_MASK {
            0 => Self::Closed,
            1 => Self::Open,
            _ => Self::HalfOpen,
        }
    }
}

/// When the breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failed attempts that open the circuit (at least 1).
    pub failure_threshold: u32,
    /// How long the circuit stays open before one probe is let through.
    pub recovery: Duration,
    /// The `retry_in` reported to callers rejected while the probe is in flight.
    pub half_open_retry_in: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            recovery: Duration::from_secs(60),
            half_open_retry_in: Duration::from_secs(1),
        }
    }
}

/// One change of state, with the count just before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The state left.
    pub from: CircuitState,
    /// The state entered.
    pub to: CircuitState,
    /// Consecutive failures counted just before the transition.
    pub consecutive_failures: u32,
}

/// Told of every transition (log it, count it, publish `circuit.changed`, set the gauge).
///
/// Called while the breaker's lock is held, so transitions arrive in order: keep it
/// quick and never call back into the breaker.
pub trait BreakerObserver: Send + Sync {
    /// The breaker changed state.
    fn on_transition(&self, transition: &Transition);
}

const STATE_MASK: u64 = 0b11;

/// The circuit breaker of one upstream.
///
/// A caller asks for a [`Permit`] before each attempt and reports the attempt's result
/// on it. Failures are what [`hub_core::Classification::breaker_failure`] says (connect
/// errors, timeouts, lost connections, 5xx); other errors (4xx, 429) prove the upstream
/// answers and count as successes; a dropped permit is neutral, except for the probe,
/// whose drop counts as a failure so the breaker never sticks half-open.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use hub_core::Error;
/// use hub_resilience::breaker::{BreakerConfig, CircuitBreaker, CircuitState};
/// use hub_resilience::clock::ManualClock;
///
/// let clock = Arc::new(ManualClock::new(0));
/// let breaker = CircuitBreaker::builder()
///     .config(BreakerConfig { failure_threshold: 2, ..BreakerConfig::default() })
///     .clock(clock.clone())
///     .build();
/// for _ in 0..2 {
///     let permit = breaker.admit().unwrap();
///     permit.record::<()>(&Err(Error::Timeout));
/// }
/// assert_eq!(breaker.state(), CircuitState::Open);
/// assert!(matches!(breaker.admit(), Err(Error::CircuitOpen { .. })));
///
/// clock.advance(Duration::from_secs(60));
/// let probe = breaker.admit().unwrap(); // the one probe
/// assert!(probe.is_probe());
/// assert!(breaker.admit().is_err()); // everyone else waits
/// probe.success();
/// assert_eq!(breaker.state(), CircuitState::Closed);
/// ```
pub struct CircuitBreaker {
    /// `generation << 2 | state`, for the lock-free fast path and `state()`.
    fast: AtomicU64,
    /// Mirror of `Inner::consecutive_failures`, read without the lock.
    failures: AtomicU32,
    inner: Mutex<Inner>,
    config: BreakerConfig,
    clock: Arc<dyn MonotonicClock>,
    observer: Arc<dyn BreakerObserver>,
}

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("state", &self.state())
            .field("consecutive_failures", &self.consecutive_failures())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Inner {
    state: CircuitState,
    generation: u64,
    consecutive_failures: u32,
    open_until: Instant,
}

/// Builds a [`CircuitBreaker`].
#[derive(Default)]
pub struct BreakerBuilder {
    config: BreakerConfig,
    clock: Option<Arc<dyn MonotonicClock>>,
    observer: Option<Arc<dyn BreakerObserver>>,
}

impl BreakerBuilder {
    /// Thresholds and times.
    pub fn config(mut self, config: BreakerConfig) -> Self {
        self.config = config;
        self
    }

    /// The clock (default: [`TokioClock`]).
    pub fn clock(mut self, clock: Arc<dyn MonotonicClock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Who is told of transitions (default: nobody).
    pub fn observer(mut self, observer: Arc<dyn BreakerObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The breaker, closed.
    pub fn build(self) -> CircuitBreaker {
        let clock = self.clock.unwrap_or_else(|| Arc::new(TokioClock::new()));
        let now = clock.instant();
        CircuitBreaker {
            fast: AtomicU64::new(0),
            failures: AtomicU32::new(0),
            inner: Mutex::new(Inner {
                state: CircuitState::Closed,
                generation: 0,
                consecutive_failures: 0,
                open_until: now,
            }),
            config: BreakerConfig {
                failure_threshold: self.config.failure_threshold.max(1),
                ..self.config
            },
            clock,
            observer: self.observer.unwrap_or_else(|| Arc::new(NoopObserver)),
        }
    }
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        Self::builder().build()
    }
}

impl CircuitBreaker {
    /// A builder with the contract's defaults (5 failures, 60 s, tokio's clock).
    pub fn builder() -> BreakerBuilder {
        BreakerBuilder::default()
    }

    /// The current state, without changing it.
    ///
    /// An open circuit whose recovery time has passed still reads `Open` until a caller
    /// takes the probe.
    pub fn state(&self) -> CircuitState {
        CircuitState::from_bits(self.fast.load(Ordering::Acquire))
    }

    /// Consecutive failures counted while closed.
    pub fn consecutive_failures(&self) -> u32 {
        self.failures.load(Ordering::Acquire)
    }

    /// The configuration in force.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// How long until the breaker would admit a call, without changing anything:
    /// `None` when closed, the time until the probe when open (zero once it is due),
    /// `half_open_retry_in` while the probe is in flight.
    pub fn retry_in(&self) -> Option<Duration> {
        if self.state() == CircuitState::Closed {
            return None;
        }
        let inner = self.lock();
        match inner.state {
            CircuitState::Closed => None,
            CircuitState::Open => Some(inner.open_until.saturating_duration_since(self.clock.instant())),
            CircuitState::HalfOpen => Some(self.config.half_open_retry_in),
        }
    }

    /// Admits one attempt, or rejects it at once with [`Error::CircuitOpen`] carrying the
    /// time until the next probe.
    ///
    /// When closed this is one atomic load. After the recovery time, the first caller
    /// gets the probe permit ([`Permit::is_probe`]) and the circuit turns half-open.
    pub fn admit(&self) -> Result<Permit<'_>, Error> {
        let bits = self.fast.load(Ordering::Acquire);
        if CircuitState::from_bits(bits) == CircuitState::Closed {
            return Ok(self.permit(bits >> 2, false));
        }
        let mut inner = self.lock();
        let now = self.clock.instant();
        match inner.state {
            CircuitState::Closed => Ok(self.permit(inner.generation, false)),
            CircuitState::Open if now >= inner.open_until => {
                self.transition(&mut inner, CircuitState::HalfOpen);
                Ok(self.permit(inner.generation, true))
            }
            CircuitState::Open => Err(Error::CircuitOpen {
                retry_in: inner.open_until - now,
            }),
            CircuitState::HalfOpen => Err(Error::CircuitOpen {
                retry_in: self.config.half_open_retry_in,
            }),
        }
    }

    fn permit(&self, generation: u64, probe: bool) -> Permit<'_> {
        Permit {
            breaker: self,
            generation,
            probe,
            done: false,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn transition(&self, inner: &mut Inner, to: CircuitState) {
        let t = Transition {
            from: inner.state,
            to,
            consecutive_failures: inner.consecutive_failures,
        };
        inner.state = to;
        inner.generation = inner.generation.wrapping_add(1);
        match to {
            CircuitState::Open => inner.open_until = self.clock.instant() + self.config.recovery,
            CircuitState::Closed => inner.consecutive_failures = 0,
            CircuitState::HalfOpen => {}
        }
        self.failures.store(inner.consecutive_failures, Ordering::Release);
        let bits = (inner.generation << 2) | u64::from(to.gauge());
        self.fast.store(bits, Ordering::Release);
        self.observer.on_transition(&t);
    }

    fn on_success(&self, generation: u64, probe: bool) {
        if !probe {
            let bits = self.fast.load(Ordering::Acquire);
            if bits == generation << 2 && self.failures.load(Ordering::Acquire) == 0 {
                return;
            }
        }
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        match inner.state {
            CircuitState::Closed => {
                inner.consecutive_failures = 0;
                self.failures.store(0, Ordering::Release);
            }
            CircuitState::HalfOpen => self.transition(&mut inner, CircuitState::Closed),
            CircuitState::Open => {}
        }
    }

    fn on_failure(&self, generation: u64) {
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        match inner.state {
            CircuitState::Closed => {
                inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
                self.failures.store(inner.consecutive_failures, Ordering::Release);
                if inner.consecutive_failures >= self.config.failure_threshold {
                    self.transition(&mut inner, CircuitState::Open);
                }
            }
            CircuitState::HalfOpen => self.transition(&mut inner, CircuitState::Open),
            CircuitState::Open => {}
        }
    }
}

/// The right to make one attempt; report its result with [`Permit::record`].
///
/// Dropping it unreported is a cancellation: neutral for an ordinary attempt, a
/// failure for the probe.
#[derive(Debug)]
#[must_use = "report the attempt's result on the permit"]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    generation: u64,
    probe: bool,
    done: bool,
}

impl Permit<'_> {
    /// Whether this is the half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// Reports the attempt's result, classified by [`Error::classify`].
    pub fn record<T>(self, result: &Result<T, Error>) {
        match result {
            Err(e) if e.classify().breaker_failure => self.failure(),
            _ => self.success(),
        }
    }

    /// The upstream answered.
    pub fn success(mut self) {
        self.done = true;
        self.breaker.on_success(self.generation, self.probe);
    }

    /// The attempt failed in a way that counts against the upstream.
    pub fn failure(mut self) {
        self.done = true;
        self.breaker.on_failure(self.generation);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.done && self.probe {
            self.breaker.on_failure(self.generation);
        }
    }
}

#[cfg(test)]
mod tests;
