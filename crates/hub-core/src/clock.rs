//! The hub's one clock: wall-clock time for everything stored or shared between
//! instances (leases, expiries, retention, cache freshness), injectable so expiry is
//! tested without sleeping. Timers that need monotonic time extend it
//! (`hub_resilience::clock::MonotonicClock`).

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use time::OffsetDateTime;

/// Tells the hub what time it is.
///
/// Several hub instances compare times they stored, so their clocks must be kept in
/// step (NTP); tests move time by hand with [`ManualClock`].
///
/// ```
/// use hub_core::clock::{Clock, ManualClock};
/// use time::macros::datetime;
/// let clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
/// clock.advance(std::time::Duration::from_secs(90));
/// assert_eq!(clock.now(), datetime!(2030-01-01 0:01:30 UTC));
/// assert_eq!(clock.unix_ms(), 1_893_456_090_000);
/// ```
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> OffsetDateTime;

    /// The current time in Unix milliseconds (0 before 1970).
    fn unix_ms(&self) -> u64 {
        u64::try_from(self.now().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
    }
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that moves only when told to, for tests.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<OffsetDateTime>,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        Self { now: Mutex::new(start) }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) += by;
    }

    /// Sets the clock to `to` (backwards too).
    pub fn set(&self, to: OffsetDateTime) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
