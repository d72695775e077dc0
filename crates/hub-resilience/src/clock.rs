//! The hub's clock with monotonic time added, for deadlines, the breaker and budgets;
//! its wall-clock half (cache entries) is hub-core's one [`hub_core::Clock`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use hub_core::Clock;
use time::OffsetDateTime;
use tokio::time::Instant;

/// The hub's [`Clock`] with monotonic time.
///
/// `instant` is [`tokio::time::Instant`], so code on the default [`TokioClock`] runs
/// under `tokio::time::pause()` in tests without sleeping; the wall-clock half
/// (`now`, `unix_ms`) is what several instances sharing a cache store agree on.
///
/// ```
/// use hub_resilience::clock::{Clock, ManualClock, MonotonicClock};
/// use std::time::Duration;
/// let clock = ManualClock::new(1_000);
/// let t0 = clock.instant();
/// clock.advance(Duration::from_millis(1_500));
/// assert_eq!(clock.instant() - t0, Duration::from_millis(1_500));
/// assert_eq!(clock.unix_ms(), 2_500);
/// ```
pub trait MonotonicClock: Clock {
    /// Monotonic now.
    fn instant(&self) -> Instant;
}

/// The default clock: tokio's (pausable) monotonic time and the system's wall clock.
///
/// [`TokioClock::anchored`] instead derives wall-clock time from tokio's time, so that
/// under a paused runtime cache lifetimes advance with `tokio::time::advance`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use hub_resilience::clock::{Clock, TokioClock};
/// use std::time::Duration;
/// let clock = TokioClock::anchored(5_000);
/// tokio::time::advance(Duration::from_secs(2)).await;
/// assert_eq!(clock.unix_ms(), 7_000);
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock {
    anchor: Option<(Instant, u64)>,
}

impl TokioClock {
    /// Tokio's monotonic time and the system's wall clock.
    pub const fn new() -> Self {
        Self { anchor: None }
    }

    /// Wall-clock time that starts at `unix_ms` now and follows tokio's monotonic time.
    pub fn anchored(unix_ms: u64) -> Self {
        Self {
            anchor: Some((Instant::now(), unix_ms)),
        }
    }
}

impl MonotonicClock for TokioClock {
    fn instant(&self) -> Instant {
        Instant::now()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> OffsetDateTime {
        from_unix_ms(self.unix_ms())
    }

    fn unix_ms(&self) -> u64 {
        match self.anchor {
            Some((at, ms)) => ms.saturating_add(duration_ms(Instant::now().saturating_duration_since(at))),
            None => system_unix_ms(SystemTime::now()),
        }
    }
}

/// A clock that moves only when told to, for synchronous tests and models.
#[derive(Debug)]
pub struct ManualClock {
    base: Instant,
    base_unix_ms: u64,
    offset_ns: AtomicU64,
}

impl ManualClock {
    /// A clock standing at `unix_ms` wall-clock time (and at tokio's now).
    pub fn new(unix_ms: u64) -> Self {
        Self {
            base: Instant::now(),
            base_unix_ms: unix_ms,
            offset_ns: AtomicU64::new(0),
        }
    }

    /// Moves both clocks forward.
    pub fn advance(&self, by: Duration) {
        let ns = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.offset_ns.fetch_add(ns, Ordering::SeqCst);
    }

    fn offset(&self) -> Duration {
        Duration::from_nanos(self.offset_ns.load(Ordering::SeqCst))
    }
}

impl MonotonicClock for ManualClock {
    fn instant(&self) -> Instant {
        self.base + self.offset()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        from_unix_ms(self.unix_ms())
    }

    fn unix_ms(&self) -> u64 {
        self.base_unix_ms.saturating_add(duration_ms(self.offset()))
    }
}

/// Whole milliseconds of a duration, saturating.
pub(crate) fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn from_unix_ms(ms: u64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn system_unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(duration_ms).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let clock = TokioClock::anchored(10);
        let t0 = clock.instant();
        tokio::time::advance(Duration::from_millis(250)).await;
        assert_eq!(clock.instant() - t0, Duration::from_millis(250));
        assert_eq!(clock.unix_ms(), 260);
        assert_eq!(clock.now().unix_timestamp_nanos(), 260_000_000);
    }

    #[test]
    fn system_wall_clock_is_after_2020() {
        assert!(TokioClock::new().unix_ms() > 1_577_836_800_000);
    }
}
