//! RFC 3339 timestamps in UTC with microseconds for log lines, the calendar part computed
//! once per second per thread.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

/// `YYYY-MM-DDTHH:MM:SS.`: the part of a timestamp that changes once a second.
const PREFIX_LEN: usize = 20;

thread_local! {
    /// The second last formatted on this thread and its prefix.
    static LAST: Cell<(u64, [u8; PREFIX_LEN])> = const { Cell::new((u64::MAX, [0; PREFIX_LEN])) };
}

/// Appends `t` as `2026-12-04T10:03:20.123456Z` (times before 1970 as the epoch).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let mut line = Vec::new();
/// hub_telemetry::logging::timestamp::write(&mut line, UNIX_EPOCH + Duration::from_micros(1_796_378_587_000_042));
/// assert_eq!(line, b"2026-12-04T10:03:07.000042Z");
/// ```
pub fn write(buf: &mut Vec<u8>, t: SystemTime) {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let prefix = LAST.with(|last| {
        let (cached, prefix) = last.get();
        if cached == secs {
            return prefix;
        }
        let prefix = calendar(secs);
        last.set((secs, prefix));
        prefix
    });
    buf.extend_from_slice(&prefix);
    let mut micros = since.subsec_micros();
    let mut digits = [b'0'; 6];
    for d in digits.iter_mut().rev() {
        // A digit: `micros % 10` is below 10.
        *d = b'0' + u8::try_from(micros % 10).unwrap_or(0);
        micros /= 10;
    }
    buf.extend_from_slice(&digits);
    buf.push(b'Z');
}

/// The prefix of the second `secs` after the epoch.
fn calendar(secs: u64) -> [u8; PREFIX_LEN] {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let mut out = [0u8; PREFIX_LEN];
    put(&mut out[0..4], y);
    out[4] = b'-';
    put(&mut out[5..7], m);
    out[7] = b'-';
    put(&mut out[8..10], d);
    out[10] = b'T';
    put(&mut out[11..13], rem / 3600);
    out[13] = b':';
    put(&mut out[14..16], rem % 3600 / 60);
    out[16] = b':';
    put(&mut out[17..19], rem % 60);
    out[19] = b'.';
    out
}

/// Writes `n` as decimal digits filling `out` (zero-padded, the high digits cut).
fn put(out: &mut [u8], mut n: u64) {
    for d in out.iter_mut().rev() {
        *d = b'0' + u8::try_from(n % 10).unwrap_or(0);
        n /= 10;
    }
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    use super::*;

    fn formatted(t: SystemTime) -> String {
        let mut buf = Vec::new();
        write(&mut buf, t);
        String::from_utf8(buf).unwrap()
    }

    proptest! {
        /// Every instant up to the year 9999 reads back as itself, whatever was formatted before.
        #[test]
        fn agrees_with_the_time_crate(micros in 0u64..253_402_300_799_000_000, earlier in 0u64..253_402_300_799) {
            let _ = formatted(UNIX_EPOCH + Duration::from_secs(earlier));
            let t = UNIX_EPOCH + Duration::from_micros(micros);
            let ours = formatted(t);
            let parsed = OffsetDateTime::parse(&ours, &Rfc3339).unwrap();
            prop_assert_eq!(parsed, OffsetDateTime::from(t));
            prop_assert_eq!(ours.len(), 27);
        }
    }

    #[test]
    fn a_time_before_the_epoch_is_the_epoch() {
        assert_eq!(
            formatted(UNIX_EPOCH - Duration::from_secs(5)),
            "1970-01-01T00:00:00.000000Z"
        );
    }

    #[test]
    fn leap_days_and_year_ends() {
        let at = |s: &str| SystemTime::from(OffsetDateTime::parse(s, &Rfc3339).unwrap());
        for s in [
            "2024-02-29T23:59:59.999999Z",
            "2000-02-29T00:00:00.000000Z",
            "2100-03-01T00:00:00.000001Z",
            "1999-12-31T23:59:59.500000Z",
        ] {
            assert_eq!(formatted(at(s)), s);
        }
    }
}
