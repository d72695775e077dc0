//! The stores' clock (hub-core's, re-exported) and the time encodings of their tables.

use time::OffsetDateTime;

pub use hub_core::clock::{Clock, ManualClock, SystemClock};

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
