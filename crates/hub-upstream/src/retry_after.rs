//! Parsing of the headers upstreams use to say how long to wait: `Retry-After` and `X-RateLimit-Reset`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::rate_headers;

/// Values of `X-RateLimit-Reset` below this many seconds are read as a delay, at or
/// above it as a Unix time (1e9 s is 2001-09-09: no upstream resets a window that long
/// ago, and no window lasts 31 years).
pub const RATE_LIMIT_RESET_EPOCH_THRESHOLD: u64 = 1_000_000_000;

/// Parses a `Retry-After` value (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
///
/// Returns how long to wait from `now`. A date in the past means "now" (zero). A
/// number too large for `u64` saturates, so a caller's cap still applies. Anything
/// else (negative numbers, fractions, garbage) is `None`: the header is ignored.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use hub_upstream::retry_after::parse_retry_after;
/// let now = UNIX_EPOCH + Duration::from_secs(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
/// assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
/// assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now), Some(Duration::from_secs(30)));
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Some(secs) = parse_digits(value) {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses an `X-RateLimit-Reset` value: when the rate-limit window resets.
///
/// The header has no standard; two readings are common, and this function tells them
/// apart by size: a value below [`RATE_LIMIT_RESET_EPOCH_THRESHOLD`] is a delay in
/// seconds (as `RateLimit-Reset` in the IETF draft), a larger one is a Unix time in
/// seconds (GitHub, many others). A fractional part is allowed and rounded up to the
/// next millisecond ([`rate_headers::seconds`]). A reset time in the past means "now" (zero).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use hub_upstream::retry_after::parse_rate_limit_reset;
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// assert_eq!(parse_rate_limit_reset("1700000042", now), Some(Duration::from_secs(42)));
/// assert_eq!(parse_rate_limit_reset("30", now), Some(Duration::from_secs(30)));
/// assert_eq!(parse_rate_limit_reset("1.5", now), Some(Duration::from_millis(1_500)));
/// assert_eq!(parse_rate_limit_reset("-1", now), None);
/// ```
pub fn parse_rate_limit_reset(value: &str, now: SystemTime) -> Option<Duration> {
    let value = rate_headers::seconds(value)?;
    if value < Duration::from_secs(RATE_LIMIT_RESET_EPOCH_THRESHOLD) {
        return Some(value);
    }
    let at = UNIX_EPOCH.checked_add(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// One or more ASCII digits, saturating at `u64::MAX`.
fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn retry_after_forms() {
        let now = at(1_445_412_480);
        for (input, want) in [
            ("0", Some(0)),
            (" 5 ", Some(5)),
            ("Wed, 21 Oct 2015 07:28:00 GMT", Some(0)),
            ("Wed, 21 Oct 2015 07:29:00 GMT", Some(60)),
            ("Tue, 20 Oct 2015 07:28:00 GMT", Some(0)), // in the past: now
            ("Wednesday, 21-Oct-15 07:29:00 GMT", Some(60)), // RFC 850, obsolete but allowed
            ("Wed Oct 21 07:29:00 2015", Some(60)),     // asctime
            ("-5", None),
            ("1.5", None),
            ("", None),
            ("5s", None),
        ] {
            assert_eq!(
                parse_retry_after(input, now),
                want.map(Duration::from_secs),
                "{input:?}"
            );
        }
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn rate_limit_reset_forms() {
        let now = at(1_700_000_000);
        for (input, want_ms) in [
            ("0", Some(0)),
            ("60", Some(60_000)),
            ("999999999", Some(999_999_999_000)),
            ("1700000060", Some(60_000)),
            ("1699999999", Some(0)),
            ("1700000000.25", Some(250)),
            ("0.0001", Some(1)),
            ("1.", None),
            (".5", None),
            ("abc", None),
            ("-3", None),
        ] {
            assert_eq!(
                parse_rate_limit_reset(input, now),
                want_ms.map(Duration::from_millis),
                "{input:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(s in any::<String>(), now in 0u64..4_000_000_000) {
            let _ = parse_retry_after(&s, at(now));
            let _ = parse_rate_limit_reset(&s, at(now));
        }

        #[test]
        fn header_like_strings_never_panic(s in "[0-9 .,:A-Za-z-]{0,40}", now in 0u64..4_000_000_000) {
            let _ = parse_retry_after(&s, at(now));
            let _ = parse_rate_limit_reset(&s, at(now));
        }

        #[test]
        fn delay_seconds_round_trip(n in any::<u64>(), now in 0u64..4_000_000_000) {
            prop_assert_eq!(parse_retry_after(&n.to_string(), at(now)), Some(Duration::from_secs(n)));
        }

        #[test]
        fn http_dates_round_trip(now in 0u64..4_000_000_000, delta in 0u64..1_000_000) {
            let date = httpdate::fmt_http_date(at(now + delta));
            prop_assert_eq!(parse_retry_after(&date, at(now)), Some(Duration::from_secs(delta)));
        }

        #[test]
        fn reset_epochs_round_trip(now in RATE_LIMIT_RESET_EPOCH_THRESHOLD..4_000_000_000, delta in 0u64..100_000) {
            let reset = (now + delta).to_string();
            prop_assert_eq!(parse_rate_limit_reset(&reset, at(now)), Some(Duration::from_secs(delta)));
        }

        #[test]
        fn small_resets_are_delays(n in 0u64..RATE_LIMIT_RESET_EPOCH_THRESHOLD, now in 0u64..4_000_000_000) {
            prop_assert_eq!(parse_rate_limit_reset(&n.to_string(), at(now)), Some(Duration::from_secs(n)));
        }
    }
}
