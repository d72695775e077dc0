//! The wall clock the stores read, injectable so expiry is tested without sleeping.

use std::fmt;
use std::sync::Mutex;

use time::OffsetDateTime;

/// Tells the stores what time it is.
///
/// Every lease, retention and invalidation time the stores compare comes from here
/// (never from the database server's clock), so several hub instances must keep their
/// clocks synchronised (NTP) and tests can move time by hand.
///
/// ```
/// use hub_store::clock::{Clock, ManualClock};
/// use time::macros::datetime;
/// let clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
/// clock.advance(std::time::Duration::from_secs(90));
/// assert_eq!(clock.now(), datetime!(2030-01-01 0:01:30 UTC));
/// ```
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> OffsetDateTime;
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
    pub fn advance(&self, by: std::time::Duration) {
        let mut now = self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }

    /// Sets the clock to `to` (backwards too).
    pub fn set(&self, to: OffsetDateTime) {
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Unix microseconds of `t`, as stored in the SQL tables.
pub(crate) fn to_us(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// The time stored as Unix microseconds `us`.
pub(crate) fn from_us(us: i64) -> Result<OffsetDateTime, hub_core::StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000).map_err(|e| hub_core::StoreError::Corrupt {
        reason: format!("timestamp {us} out of range: {e}"),
    })
}

/// Unix milliseconds of `t`, as the cache stores them (0 before 1970).
pub(crate) fn to_ms(t: OffsetDateTime) -> u64 {
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// A duration in microseconds, saturating.
pub(crate) fn duration_us(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn microseconds_round_trip() {
        let t = datetime!(2031-05-06 7:08:09.123456 UTC);
        assert_eq!(from_us(to_us(t)).ok(), Some(t));
        assert_eq!(to_ms(t) % 1000, 123);
    }
}
