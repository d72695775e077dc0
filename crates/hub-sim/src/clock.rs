//! The simulation's clock: wall-clock time plus an offset that the control API can advance.

use std::sync::atomic::{AtomicI64, Ordering};

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Duration, OffsetDateTime};

/// Wall-clock time shifted by an adjustable offset, so expiry can be tested without sleeping.
///
/// Token and draft expiry use this clock; HMAC timestamp checks use the real wall
/// clock, because they compare against the *client's* clock.
#[derive(Debug, Default)]
pub(crate) struct SimClock {
    offset_ms: AtomicI64,
}

impl SimClock {
    /// The simulated current time.
    pub(crate) fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves simulated time forward (or backward, for a negative duration).
    pub(crate) fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.whole_milliseconds()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// How far simulated time is ahead of the wall clock.
    pub(crate) fn offset(&self) -> Duration {
        Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Puts simulated time back on the wall clock.
    pub(crate) fn reset(&self) {
        self.offset_ms.store(0, Ordering::Relaxed);
    }
}

/// RFC 3339, as most of the simulated systems write timestamps (`2026-01-05T10:00:00Z`).
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

/// Jira's timestamp format (`2026-01-05T10:00:00.000+0000`).
pub(crate) fn jira_time(t: OffsetDateTime) -> String {
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000");
    t.to_offset(time::UtcOffset::UTC).format(&fmt).unwrap_or_default()
}

/// Parses an RFC 3339 timestamp (for seeded data).
pub(crate) fn parse(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &Rfc3339).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_now_forward() {
        let clock = SimClock::default();
        let before = clock.now();
        clock.advance(Duration::hours(2));
        assert!(clock.now() - before >= Duration::hours(2));
        assert_eq!(clock.offset(), Duration::hours(2));
        clock.reset();
        assert!(clock.now() - before < Duration::hours(1));
    }

    #[test]
    fn formats() {
        let t = parse("2026-01-05T10:00:00Z");
        assert_eq!(rfc3339(t), "2026-01-05T10:00:00Z");
        assert_eq!(jira_time(t), "2026-01-05T10:00:00.000+0000");
    }
}
